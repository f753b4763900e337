#!/usr/bin/env python3
"""Inputs for the README's replay example: one Qwen3-Next-shaped Gated DeltaNet layer
(H = 16 key heads, HV = 32 value heads, K = V = 128) over T positions, dumped the way
flash-linear-attention calls `chunk_gated_delta_rule` (q, k, v in bfloat16 with a batch of 1;
g = log decay and beta in float32), plus the output of a stand-in "kernel": the same recurrence
in NumPy float32 (state float32, q/k L2-normalised in float32) with its output rounded to
bfloat16, as FLA's fused_recurrent kernel returns it.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy ml_dtypes safetensors
    /tmp/venv/bin/python scripts/replay-example.py OUT_DIR [T]
"""
import os
import sys

import ml_dtypes
import numpy as np
from safetensors.numpy import save_file

out = sys.argv[1]
T = int(sys.argv[2]) if len(sys.argv) > 2 else 2048
H, HV, K, V = 16, 32, 128, 128
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(2026)
bf16 = ml_dtypes.bfloat16
q = rng.standard_normal((1, T, H, K)).astype(bf16)
k = rng.standard_normal((1, T, H, K)).astype(bf16)
v = rng.standard_normal((1, T, HV, V)).astype(bf16)
# Qwen3-Next's gate: g = -exp(A_log) * softplus(a + dt_bias), A ~ U(0, 16), dt in [1e-3, 0.1].
A_log = np.log(rng.uniform(1e-4, 16, HV))
dt = np.exp(rng.uniform(np.log(1e-3), np.log(0.1), HV))
dt_bias = dt + np.log(-np.expm1(-dt))
a = rng.standard_normal((1, T, HV))
g = (-np.exp(A_log) * np.logaddexp(0, a + dt_bias)).astype(np.float32)
beta = (1 / (1 + np.exp(-rng.standard_normal((1, T, HV))))).astype(np.float32)
save_file({"q": q, "k": k, "v": v, "g": g, "beta": beta}, os.path.join(out, "gdn.safetensors"))

# The stand-in kernel: float32 arithmetic, float32 state, bf16 output.
f = np.float32
qf, kf, vf = q[0].astype(f), k[0].astype(f), v[0].astype(f)
qf = qf / np.sqrt((qf * qf).sum(-1, keepdims=True) + f(1e-6)) * f(K ** -0.5)
kf = kf / np.sqrt((kf * kf).sum(-1, keepdims=True) + f(1e-6))
rep = HV // H
S = np.zeros((HV, K, V), dtype=f)
o = np.zeros((T, HV, V), dtype=f)
for t in range(T):
    qt, kt = np.repeat(qf[t], rep, axis=0), np.repeat(kf[t], rep, axis=0)
    S *= np.exp(g[0, t]).astype(f)[:, None, None]
    u = (vf[t] - np.einsum("hkv,hk->hv", S, kt)) * beta[0, t][:, None]
    S += kt[:, :, None] * u[:, None, :]
    o[t] = np.einsum("hkv,hk->hv", S, qt)
np.save(os.path.join(out, "o_numpy_fp32.npy"), o)
np.save(os.path.join(out, "o_numpy_bf16.npy"), o.astype(bf16).view(np.uint16))
print("wrote", out)
