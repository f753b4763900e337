#!/usr/bin/env python3
"""Cross-checks `attnprec replay`'s o_ref against the recurrences written out in NumPy float64
(the naive forms of flash-linear-attention, mamba_ssm and plain softmax attention), for every
variant replay supports. Optional: the Swift tests need no Python.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy safetensors
    /tmp/venv/bin/python scripts/check-replay-numpy.py [path/to/attnprec]
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
from safetensors.numpy import save_file

BIN = sys.argv[1] if len(sys.argv) > 1 else ".build/release/attnprec"
rng = np.random.default_rng(7)
T = 64


def l2(x):
    return x / np.sqrt((x * x).sum(-1, keepdims=True) + 1e-6)


def f32(*shape, scale=1.0, shift=0.0):
    return (shift + scale * rng.standard_normal(shape)).astype(np.float32)


def replay(variant, tensors, extra=()):
    d = tempfile.mkdtemp()
    save_file(tensors, os.path.join(d, "in.safetensors"))
    out = os.path.join(d, "out")
    subprocess.run([BIN, "replay", "--variant", variant, os.path.join(d, "in.safetensors"), "--out", out, *extra],
                   check=True, stdout=subprocess.DEVNULL)
    return np.load(os.path.join(out, "o_ref.npy"))


def linear_like(q, k, v, decay, scale_q=True, scale_k=False, per_channel=None):
    T, H, K = q.shape
    V = v.shape[2]
    S, o = np.zeros((H, K, V)), np.zeros((T, H, V))
    for t in range(T):
        for h in range(H):
            a = np.exp(per_channel[t, h])[:, None] if per_channel is not None else decay[h]
            kk = k[t, h] * (K ** -0.5 if scale_k else 1)
            S[h] = a * S[h] + np.outer(kk, v[t, h])
            o[t, h] = S[h].T @ (q[t, h] * (K ** -0.5 if scale_q else 1))
    return o


def delta(q, k, v, beta, g=None, gk=None):
    T, H, K = q.shape
    HV, V = v.shape[1:]
    q, k = l2(q) * K ** -0.5, l2(k)
    S, o = np.zeros((HV, K, V)), np.zeros((T, HV, V))
    for t in range(T):
        for h in range(HV):
            kh = h // (HV // H)
            if g is not None:
                S[h] *= np.exp(g[t, h])
            if gk is not None:
                S[h] *= np.exp(gk[t, h])[:, None]
            u = (v[t, h] - S[h].T @ k[t, kh]) * beta[t, h]
            S[h] += np.outer(k[t, kh], u)
            o[t, h] = S[h].T @ q[t, kh]
    return o


results = []


def check(name, ref, got):
    err = np.abs(ref - got).max() / np.abs(ref).max()
    results.append((name, err))
    print(f"{name:16s} max |o_ref - numpy| / max |numpy| = {err:.2e}")


H, HV, K, V = 2, 4, 16, 8
q, k, v2, v4 = f32(T, H, K), f32(T, H, K), f32(T, H, V), f32(T, HV, V)
d = {n: a.astype(np.float64) for n, a in dict(q=q, k=k, v2=v2, v4=v4).items()}
check("linear", linear_like(d["q"], d["k"], d["v2"], [1.0] * H), replay("linear", dict(q=q, k=k, v=v2)))
check("retnet", linear_like(d["q"], d["k"], d["v2"], [1 - 2.0 ** (-5 - h) for h in range(H)], scale_q=False, scale_k=True),
      replay("retnet", dict(q=q, k=k, v=v2)))
gk = (np.log(1 / (1 + np.exp(-rng.standard_normal((T, H, K)) - 3))) / 16).astype(np.float32)
check("gla", linear_like(d["q"], d["k"], d["v2"], None, per_channel=gk.astype(np.float64)), replay("gla", dict(q=q, k=k, v=v2, gk=gk)))
beta = (1 / (1 + np.exp(-rng.standard_normal((T, HV))))).astype(np.float32)
g = (-0.1 * np.log1p(np.exp(rng.standard_normal((T, HV))))).astype(np.float32)
gkd = (-0.1 * np.log1p(np.exp(rng.standard_normal((T, HV, K))))).astype(np.float32)
b64 = beta.astype(np.float64)
check("deltanet", delta(d["q"], d["k"], d["v4"], b64), replay("deltanet", dict(q=q, k=k, v=v4, beta=beta)))
check("gated_deltanet", delta(d["q"], d["k"], d["v4"], b64, g=g.astype(np.float64)),
      replay("gated_deltanet", dict(q=q, k=k, v=v4, beta=beta, g=g[None])))
check("kda", delta(d["q"], d["k"], d["v4"], b64, gk=gkd.astype(np.float64)), replay("kda", dict(q=q, k=k, v=v4, beta=beta, gk=gkd)))

# Mamba2: x [T,H,P], dt [T,H], A_log [H], B/C [T,G,N], D [H], dt_bias [H].
Hm, G, N, P = 4, 2, 8, 4
x, dt, B, C = f32(T, Hm, P), f32(T, Hm), f32(T, G, N), f32(T, G, N)
A_log, D, dtb = np.log(rng.uniform(1, 16, Hm)).astype(np.float32), f32(Hm), f32(Hm, scale=0.5, shift=-3)
S, o = np.zeros((Hm, N, P)), np.zeros((T, Hm, P))
for t in range(T):
    for h in range(Hm):
        gi = h // (Hm // G)
        delta_t = np.log1p(np.exp(float(dt[t, h]) + float(dtb[h])))
        S[h] = np.exp(-delta_t * np.exp(float(A_log[h]))) * S[h] + np.outer(delta_t * B[t, gi].astype(np.float64), x[t, h])
        o[t, h] = S[h].T @ C[t, gi].astype(np.float64) + float(D[h]) * x[t, h].astype(np.float64)
check("mamba2", o, replay("mamba2", dict(x=x, dt=dt, A_log=A_log, B=B, C=C, D=D, dt_bias=dtb)))

# GQA: softmax over all keys so far, 4 query heads on 2 KV heads.
HQ, HKV, Dh = 4, 2, 16
qs, ks, vs = f32(T, HQ, Dh), f32(T, HKV, Dh), f32(T, HKV, Dh)
o = np.zeros((T, HQ, Dh))
for t in range(T):
    for h in range(HQ):
        kv = h // (HQ // HKV)
        s = ks[: t + 1, kv].astype(np.float64) @ qs[t, h].astype(np.float64) / np.sqrt(Dh)
        w = np.exp(s - s.max())
        o[t, h] = w @ vs[: t + 1, kv] / w.sum()
check("gqa", o, replay("gqa", dict(q=qs, k=ks, v=vs)))

worst = max(e for _, e in results)
print(f"worst {worst:.2e}")
sys.exit(0 if worst < 1e-13 else 1)
