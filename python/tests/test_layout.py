"""Layouts: thd passes, bthd and bhtd are brought to [T, H, …], a head-first dump read as
token-first is refused with one message."""

import numpy as np
import pytest

from attnprec import AttnprecInputError
from attnprec._layout import parse_specs, to_cli_layout
from attnprec._tensors import as_tensor

GDN_TABLE = """\
| tensor        | shape      | meaning                          |
|---------------|------------|----------------------------------|
| q             | [T, H, K]  | queries                          |
| k             | [T, H, K]  | keys                             |
| v             | [T, HV, V] | values                           |
| g             | [T, HV]    | log decay: α = exp(g)            |
| beta          | [T, HV]    | write strength                   |
| initial_state | [HV, K, V] | state (optional; zero when absent) |
| gk            | [T, HV, K] | per-channel log decay (also read as 'g2') |
"""
SPECS = parse_specs(GDN_TABLE)


def tensors(shape_of):
    rng = np.random.default_rng(0)
    return {n: as_tensor(rng.standard_normal(s).astype(np.float32), n) for n, s in shape_of.items()}


def test_table_is_parsed():
    assert SPECS["q"].dims == ("T", "H", "K") and SPECS["q"].headed
    assert SPECS["initial_state"].optional and not SPECS["initial_state"].timed
    assert SPECS["gk"].aliases == ("g2",)


def test_layouts_agree():
    T, H, HV, K = 7, 2, 4, 3
    thd = tensors({"q": (T, H, K), "v": (T, HV, K), "beta": (T, HV), "initial_state": (HV, K, K)})
    bthd = {n: as_tensor(t.array[None], n) for n, t in thd.items()}
    bhtd = {n: as_tensor(np.swapaxes(t.array, 0, 1)[None] if n != "initial_state" else t.array[None], n) for n, t in thd.items()}
    for layout, given in (("thd", thd), ("bthd", bthd), ("bhtd", bhtd)):
        out = to_cli_layout("gated_deltanet", given, layout, SPECS)
        for n in thd:
            assert np.array_equal(out[n].array, thd[n].array), (layout, n)
            assert out[n].array.flags.c_contiguous


def test_head_first_read_as_token_first_is_refused():
    T, H = 2048, 16
    head_first = tensors({"q": (1, H, T, 8), "k": (1, H, T, 8), "v": (1, H, T, 8), "beta": (1, H, T)})
    with pytest.raises(AttnprecInputError, match=r"tensor 'q': read as layout='bthd' it has 16 positions and 2048 heads.*pass layout='bhtd'"):
        to_cli_layout("gated_deltanet", head_first, "bthd", SPECS)
    with pytest.raises(AttnprecInputError, match=r"tensor 'q': shape \[1, 16, 2048, 8\] has a batch axis but layout='thd'"):
        to_cli_layout("gated_deltanet", head_first, "thd", SPECS)
    assert to_cli_layout("gated_deltanet", head_first, "bhtd", SPECS)["q"].shape == (T, H, 8)


def test_disagreeing_positions_batches_and_ranks_are_refused():
    with pytest.raises(AttnprecInputError, match=r"tensor 'v': 2 positions but 'q' has 6 \(read as layout='bthd'\); is one of them head-first"):
        to_cli_layout("gated_deltanet", tensors({"q": (1, 6, 2, 3), "v": (1, 2, 4, 3)}), "bthd", SPECS)
    with pytest.raises(AttnprecInputError, match="tensor 'q': batch of 2; replay takes one sequence"):
        to_cli_layout("gated_deltanet", tensors({"q": (2, 6, 2, 3)}), "bthd", SPECS)
    with pytest.raises(AttnprecInputError, match=r"tensor 'beta': shape \[6, 2\]; layout='bhtd' expects \[B, HV, T\]"):
        to_cli_layout("gated_deltanet", tensors({"beta": (6, 2)}), "bhtd", SPECS)
    with pytest.raises(AttnprecInputError, match="tensor 'x': gated_deltanet replay reads q, k"):
        to_cli_layout("gated_deltanet", tensors({"x": (6, 2)}), "thd", SPECS)
    with pytest.raises(AttnprecInputError, match="layout='tbhd'"):
        to_cli_layout("gated_deltanet", {}, "tbhd", SPECS)


def test_parameters_pass_and_latent_caches_keep_their_accepted_forms():
    specs = parse_specs("| kv_cache | [T, L] | latent |\n| pe_cache | [T, R] | k_pe ([T, 1, R] accepted) |\n"
                        "| wkv_b | [H·(N+V), L] | weight (or viewed [H, N+V, L]) |\n| q_pe | [T, H, R] | queries |\n")
    given = tensors({"kv_cache": (5, 8), "pe_cache": (5, 1, 4), "wkv_b": (2, 6, 8), "q_pe": (5, 2, 4)})
    out = to_cli_layout("mla", given, "thd", specs)
    assert {n: t.shape for n, t in out.items()} == {"kv_cache": (5, 8), "pe_cache": (5, 1, 4), "wkv_b": (2, 6, 8), "q_pe": (5, 2, 4)}
    head_first = {"kv_cache": given["kv_cache"].reshaped((1, 5, 8)), "q_pe": given["q_pe"].moved([1, 0, 2]).reshaped((1, 2, 5, 4)),
                  "wkv_b": given["wkv_b"]}
    out = to_cli_layout("mla", head_first, "bhtd", specs)
    assert out["kv_cache"].shape == (5, 8) and np.array_equal(out["q_pe"].array, given["q_pe"].array)
    assert out["wkv_b"].shape == (2, 6, 8)
