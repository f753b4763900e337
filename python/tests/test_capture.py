"""capture: stand-in FLA ops in fake modules (no GPU, no FLA), patched where layers and user code
imported them, recorded as replay dumps and restored afterwards."""

import math
import sys
import types

import numpy as np
import pytest

import attnprec
from attnprec.capture import OPS, Skip, fla_tensors, sdpa_tensors

from conftest import gdn_inputs

CALLS = []


def _standin(q, k, v, g, beta, scale=None, initial_state=None, output_final_state=False,
             use_qk_l2norm_in_kernel=False, cu_seqlens=None, head_first=False):
    CALLS.append(q.shape)
    return np.zeros(v.shape, np.float32), None


def _kda(q, k, v, g, beta, scale=None, initial_state=None, output_final_state=False, use_qk_l2norm_in_kernel=False,
         use_gate_in_kernel=False, cu_seqlens=None):
    return np.zeros(v.shape, np.float32), None


def _simple_gla(q, k, v, g=None, g_gamma=None, scale=None, initial_state=None, output_final_state=False, cu_seqlens=None):
    return np.zeros(v.shape, np.float32), None


@pytest.fixture
def fla(monkeypatch):
    """fla.ops.gated_delta_rule / kda / simple_gla with stand-ins, a layer module and a user module
    that imported them by name."""
    mods = {}
    for name in ["fla", "fla.ops", "fla.ops.gated_delta_rule", "fla.ops.kda", "fla.ops.simple_gla", "fla.layers",
                 "fla.layers.gated_deltanet", "user_model"]:
        mods[name] = types.ModuleType(name)
        monkeypatch.setitem(sys.modules, name, mods[name])
    for m in ("fla.ops.gated_delta_rule", "fla.ops", "fla.layers.gated_deltanet"):
        mods[m].chunk_gated_delta_rule = _standin
        mods[m].fused_recurrent_gated_delta_rule = _standin
    mods["fla.ops.kda"].chunk_kda = _kda
    mods["fla.ops.simple_gla"].chunk_simple_gla = _simple_gla
    mods["user_model"].chunk_kda = _kda

    class Layer:
        def forward(self, x):
            layer_mod = sys.modules["fla.layers.gated_deltanet"]
            b = {n: t[None] for n, t in x.items()}
            o, _ = layer_mod.chunk_gated_delta_rule(b["q"], b["k"], b["v"], b["g"], b["beta"], scale=None,
                                                    use_qk_l2norm_in_kernel=True)
            return o

    class Model:
        def __init__(self):
            self.layers = [Layer(), Layer()]

        def named_modules(self):
            return [("", self), ("layers.0.attn", self.layers[0]), ("layers.1.attn", self.layers[1])]

        def __call__(self, x):
            return [layer.forward(x) for layer in self.layers]

    mods["model"] = Model()
    return mods


def test_capture_records_each_call_by_module_path_and_restores(fla, tmp_path):
    model, x = fla["model"], gdn_inputs(T=20)
    with attnprec.capture(model, out=tmp_path / "dumps") as cap:
        assert fla["fla.layers.gated_deltanet"].chunk_gated_delta_rule is not _standin
        model(x)
        model(x)
    assert fla["fla.layers.gated_deltanet"].chunk_gated_delta_rule is _standin
    assert fla["fla.ops"].chunk_gated_delta_rule is _standin
    assert [c.id for c in cap.calls] == ["layers.0.attn#0", "layers.1.attn#0", "layers.0.attn#1", "layers.1.attn#1"]
    c = cap.calls[0]
    assert c.variant == "gated_deltanet" and c.op == "chunk_gated_delta_rule" and c.qk_l2norm and c.scale is None
    assert c.path.name == "layers.0.attn-0.safetensors" and c.tokens == 20
    tensors, meta = attnprec.read_safetensors(c.path)
    assert sorted(tensors) == ["beta", "g", "k", "q", "v"]
    for n in tensors:
        assert np.array_equal(tensors[n].array, x[n]), n
    assert meta["attnprec.variant"] == "gated_deltanet" and meta["attnprec.qk_l2norm"] == "true"
    assert meta["attnprec.call"] == "layers.0.attn#0" and meta["attnprec.scale"] == "default"


def test_user_code_imports_are_patched_and_named_by_python_module(fla, tmp_path):
    rng = np.random.default_rng(3)
    T, H, K = 9, 2, 4
    q, k, v = (rng.standard_normal((1, T, H, K)).astype(np.float32) for _ in range(3))
    g = -np.abs(rng.standard_normal((1, T, H, K))).astype(np.float32)
    beta = rng.random((1, T, H)).astype(np.float32)
    with attnprec.capture(out=tmp_path) as cap:
        sys.modules["user_model"].chunk_kda(q, k, v, g, beta, scale=0.3)
        sys.modules["user_model"].chunk_kda(q, k, v, g, beta, use_gate_in_kernel=True)
    assert sys.modules["user_model"].chunk_kda is _kda
    assert len(cap.calls) == 1 and cap.calls[0].variant == "kda" and cap.calls[0].scale == 0.3
    assert cap.calls[0].id == f"{__name__}#0"
    t, _ = attnprec.read_safetensors(cap.calls[0].path)
    assert sorted(t) == ["beta", "gk", "k", "q", "v"] and np.array_equal(t["gk"].array, g[0])
    assert cap.skipped == [(f"{__name__}#1", "chunk_kda", "use_gate_in_kernel=True: g is the raw gate, not the log decay replay reads")]


def test_varlen_head_first_and_simple_gla_gates():
    rng = np.random.default_rng(4)
    T, H, K = 10, 2, 4
    q = rng.standard_normal((1, H, T, K)).astype(np.float32)
    a = {"q": q, "k": q, "v": q, "g": rng.standard_normal((1, H, T)).astype(np.float32), "beta": np.ones((1, H, T), np.float32),
         "head_first": True, "cu_seqlens": np.array([0, 4, 10]), "initial_state": np.zeros((2, H, K, K), np.float32)}
    dumps, flags = fla_tensors("chunk_gated_delta_rule", a)
    assert [d["q"].shape for d in dumps] == [(4, H, K), (6, H, K)]
    assert np.array_equal(dumps[1]["q"].array, np.swapaxes(q[0], 0, 1)[4:])
    assert dumps[0]["initial_state"].shape == (H, K, K) and flags["default_scale"] == 0.5 and not flags["qk_l2norm"]
    s, _ = fla_tensors("chunk_simple_gla", {"q": q[:, :, :, :].swapaxes(1, 2), "k": q.swapaxes(1, 2), "v": q.swapaxes(1, 2),
                                            "g_gamma": np.array([-0.1, -0.2], np.float32)})
    gk = s[0]["gk"].array
    assert gk.shape == (T, H, K) and np.all(gk[:, 1, :] == np.float64(np.float32(-0.2)))
    with pytest.raises(Skip, match="replay takes one sequence"):
        fla_tensors("chunk_gated_delta_rule", {**a, "head_first": False, "q": np.zeros((2, T, H, K), np.float32)})


def test_sdpa_calls_become_causal_prefills():
    rng = np.random.default_rng(5)
    q = rng.standard_normal((1, 8, 16, 4)).astype(np.float32)
    kv = rng.standard_normal((1, 2, 16, 4)).astype(np.float32)
    dumps, flags, variant = sdpa_tensors({"query": q, "key": kv, "value": kv, "is_causal": True})
    assert variant == "gqa" and dumps[0]["q"].shape == (16, 8, 4) and dumps[0]["k"].shape == (16, 2, 4)
    assert math.isclose(flags["default_scale"], 0.5)
    for a, why in [({"is_causal": False}, "is_causal=False"), ({"is_causal": True, "attn_mask": q}, "attn_mask"),
                   ({"is_causal": True, "query": q[:, :, :1]}, "a decode step")]:
        with pytest.raises(Skip, match=why):
            sdpa_tensors({"query": q, "key": kv, "value": kv, **a})


def test_sdpa_patch_through_functional_module(monkeypatch, tmp_path):
    F = types.ModuleType("fake_functional")

    def sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        return query

    F.scaled_dot_product_attention = sdpa
    monkeypatch.setitem(sys.modules, "fake_functional", F)
    monkeypatch.setitem(OPS, "scaled_dot_product_attention", OPS["scaled_dot_product_attention"].__class__(
        "mha", ("fake_functional",), OPS["scaled_dot_product_attention"].params))
    x = np.ones((1, 2, 5, 4), np.float32)
    with attnprec.capture(out=tmp_path, ops=["scaled_dot_product_attention"]) as cap:
        F.scaled_dot_product_attention(x, x, x, is_causal=True, scale=0.25)
    assert F.scaled_dot_product_attention is sdpa
    assert [(c.variant, c.scale, c.tokens) for c in cap.calls] == [("mha", 0.25, 5)]


def test_torch_tensors_are_captured_bit_exactly():
    torch = pytest.importorskip("torch", reason="torch not installed: the torch capture path is covered by the fake-tensor tests")
    q = torch.randn(1, 12, 2, 8, dtype=torch.bfloat16)
    a = {"q": q, "k": q, "v": q, "g": torch.zeros(1, 12, 2), "beta": torch.ones(1, 12, 2)}
    dumps, _ = fla_tensors("chunk_gated_delta_rule", a)
    assert dumps[0]["q"].dtype == "BF16"
    assert np.array_equal(dumps[0]["q"].to_float64(), q[0].float().numpy().astype(np.float64))


def test_gates_fla_computes_in_the_kernel_are_computed_in_float64():
    rng = np.random.default_rng(6)
    T, H, K = 6, 2, 4
    q = rng.standard_normal((1, T, H, K)).astype(np.float32)
    g_raw, b_raw = rng.standard_normal((1, T, H)).astype(np.float32), rng.standard_normal((1, T, H)).astype(np.float32)
    A_log, dt_bias = np.array([0.5, -1.0], np.float32), np.array([0.1, 0.2], np.float32)
    h0 = rng.standard_normal((1, H, K, K)).astype(np.float32)  # [N, HV, V, K] with state_v_first
    a = {"q": q, "k": q, "v": q, "g": g_raw, "beta": b_raw, "A_log": A_log, "dt_bias": dt_bias, "use_gate_in_kernel": True,
         "use_beta_sigmoid_in_kernel": True, "allow_neg_eigval": True, "state_v_first": True, "initial_state": h0}
    (d,), _ = fla_tensors("chunk_gated_delta_rule", a)
    x = g_raw[0].astype(np.float64) + dt_bias.astype(np.float64)
    assert np.allclose(d["g"].array, -np.exp(A_log.astype(np.float64)) * np.log1p(np.exp(x)), rtol=1e-15, atol=0)
    assert np.allclose(d["beta"].array, 2 / (1 + np.exp(-b_raw[0].astype(np.float64))), rtol=1e-15, atol=0)
    assert np.array_equal(d["initial_state"].array, np.swapaxes(h0[0], 1, 2))


def test_the_ops_output_is_kept_beside_the_dump(fla, tmp_path):
    x = gdn_inputs(T=10)
    with attnprec.capture(out=tmp_path) as cap:
        sys.modules["fla.ops"].chunk_gated_delta_rule(*(x[n][None] for n in ("q", "k", "v", "g", "beta")))
    (c,) = cap.calls
    assert c.output.name == f"{c.path.stem}.o.npy" and np.load(c.output).shape == x["v"].shape
