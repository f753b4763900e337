"""attnprec.replay against the binary's own outputs: the same bytes, bf16 exact, layouts,
labels, compares, and bad input as one-line errors. Needs the binary (skips, saying so, without)."""

import json
import subprocess

import numpy as np
import pytest

import attnprec
from attnprec._tensors import as_tensor

from conftest import gdn_inputs, to_bf16_values

COMMON = {"certify_tokens": 8, "jobs": 1}


def cli(binary, *args):
    r = subprocess.run([binary.path, *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


def test_api_gives_the_cli_bytes(binary, tmp_path):
    x = gdn_inputs()
    r = attnprec.replay("gated_deltanet", x, {"bf16": "state=bfloat16"}, out=tmp_path / "py", **COMMON)
    dump = attnprec.write_safetensors(tmp_path / "in.safetensors", {n: as_tensor(a, n) for n, a in x.items()})
    cli(binary, "replay", "--variant", "gated_deltanet", dump, "--recipe", "state=bfloat16", "--certify-tokens", 8,
        "--jobs", 1, "--out", tmp_path / "cli")
    for py, c in [("o_ref.npy", "o_ref.npy"), ("o_bf16.npy", "o_state-bfloat16.npy"), ("state_bf16.npy", "state_state-bfloat16.npy"),
                  ("state_ref.npy", "state_ref.npy")]:
        assert (tmp_path / "py" / py).read_bytes() == (tmp_path / "cli" / c).read_bytes(), py
    errors = json.loads((tmp_path / "cli" / "errors.json").read_text())["series"][0]
    assert np.array_equal(r.errors["bf16"], np.array(errors["output_rel_err"]))
    assert r.reference.dtype == np.float64 and r.reference.shape == (48, 4, 8)
    assert r.outputs["bf16"].dtype == np.float32 and r.states["bf16"].shape == (4, 8, 8)
    assert r.certification["pass"] is True and r.certification["certified_tokens"] == 8
    assert r.summary["bf16"]["max"] == errors["max_output_rel_err"] and "| bf16 | recipe |" in r.table()


def test_bf16_inputs_are_exact_and_layouts_agree(binary, fake_torch):
    x = {n: to_bf16_values(a) for n, a in gdn_inputs(T=32).items()}
    as_f32 = attnprec.replay("gated_deltanet", x, **COMMON)
    as_bf16 = attnprec.replay("gated_deltanet", {n: fake_torch.bf16(a) for n, a in x.items()}, **COMMON)
    assert np.array_equal(as_f32.reference, as_bf16.reference)
    head_first = {n: np.swapaxes(a, 0, 1)[None] for n, a in x.items()}
    r = attnprec.replay("gated_deltanet", head_first, layout="bhtd", compare={"mine": np.swapaxes(as_f32.reference, 0, 1)[None]},
                        **COMMON)
    assert np.array_equal(r.reference, as_f32.reference)
    assert np.all(r.errors["mine"] == 0)
    with pytest.raises(attnprec.AttnprecInputError, match="has a batch axis but layout='thd'"):
        attnprec.replay("gated_deltanet", head_first, **COMMON)


def test_bad_input_is_one_line_and_new_options_say_so(binary):
    x = gdn_inputs(T=16)
    x["v"][3, 1, 2] = np.nan
    with pytest.raises(attnprec.AttnprecInputError, match=r"tensor 'v': element \d+ is nan; inputs must be finite") as e:
        attnprec.replay("gated_deltanet", x, **COMMON)
    assert "\n" not in str(e.value)
    help_text = subprocess.run([binary.path, "replay", "--help"], capture_output=True, text=True).stdout
    if "--kernel" in help_text:
        pytest.skip("this binary has --kernel: the NotImplementedError path is gone")
    with pytest.raises(NotImplementedError, match="no --kernel option yet"):
        attnprec.replay("gated_deltanet", gdn_inputs(T=16), kernel="fla-chunk", **COMMON)


def test_captured_call_replays_like_the_dump(binary, tmp_path):
    import sys
    import types

    def chunk_gated_delta_rule(q, k, v, g, beta, scale=None, initial_state=None, use_qk_l2norm_in_kernel=False):
        return v

    mod = types.ModuleType("fla.ops.gated_delta_rule")
    mod.chunk_gated_delta_rule = chunk_gated_delta_rule
    sys.modules["fla.ops.gated_delta_rule"] = mod
    try:
        x = gdn_inputs(T=24)
        with attnprec.capture(out=tmp_path) as cap:
            mod.chunk_gated_delta_rule(*(x[n][None] for n in ("q", "k", "v", "g", "beta")), use_qk_l2norm_in_kernel=True)
        results = cap.replay({"bf16": "state=bfloat16"}, **COMMON)
    finally:
        del sys.modules["fla.ops.gated_delta_rule"]
    direct = attnprec.replay("gated_deltanet", x, {"bf16": "state=bfloat16"}, **COMMON)
    (r,) = results.values()
    assert np.array_equal(r.reference, direct.reference) and np.array_equal(r.errors["bf16"], direct.errors["bf16"])
