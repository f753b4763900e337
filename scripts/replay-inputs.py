#!/usr/bin/env python3
"""Replay inputs for every variant `attnprec replay` supports, for scripts/check-results.sh:
both binaries replay the same files and their outputs are compared byte for byte.

The CLI cannot dump the toolkit's own (counter-based) inputs, so these are NumPy normals with a
fixed seed, shaped as each variant's `attnprec variants show NAME` lists them, in float32,
float64 and float16 .npy files and one hand-written .safetensors file with bfloat16 q/k (the
shapes and dtypes of ReplayCLITests' GDN dump). The values only need to be the same for the two
binaries of one check, not across NumPy versions.

Writes OUT_DIR/<case>/… and OUT_DIR/cases.txt, one case a line:
    NAME<TAB>replay arguments (space-separated; @IN@ stands for OUT_DIR)

    python3 scripts/replay-inputs.py OUT_DIR [T]
"""
import json
import os
import struct
import sys

import numpy as np

out = sys.argv[1]
T = int(sys.argv[2]) if len(sys.argv) > 2 else 256
rng = np.random.default_rng(20261206)
cases = []


def normal(*shape, scale=1.0, shift=0.0):
    return shift + scale * rng.standard_normal(shape)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def folder(name, dtype=np.float32, **tensors):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    for n, a in tensors.items():
        np.save(os.path.join(d, n + ".npy"), np.asarray(a, dtype=dtype))
    return "@IN@/" + name


def case(name, variant, inputs, *args):
    cases.append(name + "\t" + " ".join(["--variant", variant, inputs, *args]))


def compare_file(name, shape):
    """A stand-in kernel output of o_ref's shape (judged against the reference like a user's)."""
    path = os.path.join(out, name + ".compare.npy")
    np.save(path, normal(*shape).astype(np.float32))
    return "mine=@IN@/" + name + ".compare.npy"


def bf16_bits(x):
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def safetensors(path, tensors):
    """tensors: name -> (dtype name, shape, raw bytes); the format's header, padded to 8 bytes."""
    header, blobs, offset = {}, [], 0
    for n, (dt, shape, raw) in tensors.items():
        header[n] = {"dtype": dt, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


H, HV, K, V = 2, 4, 16, 8
SR = "state=bfloat16/stochastic"
E4 = "float8_e4m3fn/per-token"

# Linear family.
q, k, v = normal(T, H, K), normal(T, H, K), normal(T, H, V)
case("linear", "linear", folder("linear", q=q, k=k, v=v),
     "--recipe", "state=bfloat16", "--recipe", f"state={E4},q=bfloat16", "--recipe", SR,
     "--compare", compare_file("linear", (T, H, V)))
case("linear-initial-state", "linear", folder("linear-init", q=q, k=k, v=v, initial_state=normal(H, K, V)),
     "--recipe", "state=float16")
case("retnet", "retnet", folder("retnet", np.float64, q=q, k=k, v=v),
     "--recipe", "state=bfloat16", "--recipe", "state=bfloat16,decay=bfloat16")
case("lightning-layer", "lightning", folder("lightning", q=q, k=k, v=normal(T, H, K)),
     "--layer", "3", "--layers", "8", "--recipe", "state=bfloat16")
case("lightning-slope", "lightning", folder("lightning-slope", q=q, k=k, v=normal(T, H, K), slope_rate=[0.05, 0.2]),
     "--recipe", "state=bfloat16", "--recipe", "state=float8_e5m2")
gk = np.log(sigmoid(normal(T, H, K) + 3)) / 16
case("gla", "gla", folder("gla", q=q, k=k, v=v, gk=gk),
     "--recipe", "state=bfloat16", "--recipe", "state=bfloat16,decay=bfloat16")

# Delta rule: H key heads shared by HV value heads.
v4 = normal(T, HV, V)
beta = sigmoid(normal(T, HV))
g = -0.1 * np.log1p(np.exp(normal(T, HV)))
case("deltanet", "deltanet", folder("deltanet", q=q, k=k, v=v4, beta=beta),
     "--recipe", "state=bfloat16", "--recipe", f"state={E4},beta=bfloat16")
case("deltanet-no-l2norm", "deltanet", folder("deltanet-raw", q=q * 0.25, k=k * 0.25, v=v4, beta=beta),
     "--no-qk-l2norm", "--recipe", "state=bfloat16")
case("gated_deltanet", "gated_deltanet",
     folder("gdn", q=q, k=k, v=v4, beta=beta, g=g[None], initial_state=normal(HV, K, V, scale=0.1)),
     "--recipe", "state=bfloat16,output=bfloat16", "--recipe", f"state={E4}", "--recipe", SR,
     "--recipe", "state=bfloat16,decay=bfloat16", "--compare", compare_file("gdn", (T, HV, V)))
Tq = min(T, 64)  # the preset's full layer: 16 key heads, 32 value heads, K = V = 128
case("gated_deltanet-qwen3-next", "gated_deltanet",
     folder("gdn-qwen", q=normal(Tq, 16, 128), k=normal(Tq, 16, 128), v=normal(Tq, 32, 128),
            beta=sigmoid(normal(Tq, 32)), g=-0.05 * np.log1p(np.exp(normal(Tq, 32)))),
     "--preset", "qwen3-next", "--recipe", "state=bfloat16")
case("kda", "kda", folder("kda", q=q, k=k, v=v4, beta=beta, gk=-0.1 * np.log1p(np.exp(normal(T, HV, K)))),
     "--recipe", "state=bfloat16", "--recipe", "state=float16,decay=bfloat16")

# The shapes and dtypes of ReplayCLITests.gdnInputs: one .safetensors file, batch of 1, bf16 q/k.
Tf, Hf, HVf, Kf, Vf = 96, 2, 4, 8, 8
f32 = lambda a: np.asarray(a, dtype="<f4").tobytes()
safetensors(os.path.join(out, "gdn-cli.safetensors"), {
    "q": ("BF16", [1, Tf, Hf, Kf], bf16_bits(normal(Tf, Hf, Kf)).astype("<u2").tobytes()),
    "k": ("BF16", [1, Tf, Hf, Kf], bf16_bits(normal(Tf, Hf, Kf)).astype("<u2").tobytes()),
    "v": ("F32", [1, Tf, HVf, Vf], f32(normal(Tf, HVf, Vf))),
    "g": ("F32", [1, Tf, HVf], f32(-0.05 * np.log1p(np.exp(normal(Tf, HVf))))),
    "beta": ("F32", [1, Tf, HVf], f32(sigmoid(normal(Tf, HVf)))),
})
case("gated_deltanet-cli-fixture", "gated_deltanet", "@IN@/gdn-cli.safetensors",
     "--recipe", "state=bfloat16", "--recipe", "state=float16,q=bfloat16,k=bfloat16",
     "--compare", compare_file("gdn-cli", (1, Tf, HVf, Vf)))

# Mamba2: G groups of B/C shared by H heads.
Hm, G, N, P = 4, 2, 16, 8
case("mamba2", "mamba2",
     folder("mamba2", x=normal(T, Hm, P), dt=normal(T, Hm), A_log=np.log(rng.uniform(1, 16, Hm)),
            B=normal(T, G, N), C=normal(T, G, N), D=normal(Hm), dt_bias=normal(Hm, scale=0.5, shift=-3)),
     "--recipe", "state=bfloat16", "--recipe", f"state={E4},dt=bfloat16")

# RWKV-7: w the log decay, a = -kk (unit rows), b = kk * sigmoid(.).
kk = normal(T, H, K)
kk /= np.linalg.norm(kk, axis=-1, keepdims=True)
case("rwkv7", "rwkv7",
     folder("rwkv7", r=normal(T, H, K), w=-0.606531 * sigmoid(normal(T, H, K)), k=normal(T, H, K, scale=0.5),
            v=normal(T, H, K), a=-kk, b=kk * sigmoid(normal(T, H, K))),
     "--recipe", "state=bfloat16")

# Softmax: HQ query heads on HKV key/value heads.
D = 16
for name, hq, hkv, dtype in [("mha", 2, 2, np.float16), ("gqa", 4, 2, np.float32), ("mqa", 4, 1, np.float32), ("swa", 2, 2, np.float32)]:
    case(name, name, folder(name, dtype, q=normal(T, hq, D), k=normal(T, hkv, D), v=normal(T, hkv, D)),
         "--recipe", f"k_cache={E4},v_cache={E4}", "--recipe", "k_cache=bfloat16,v_cache=bfloat16",
         *(["--compare", compare_file(name, (T, hq, D))] if name == "gqa" else []))
sparse = dict(q=normal(T, 4, D), k=normal(T, 2, D), v=normal(T, 2, D))
case("moba", "moba", folder("moba", **sparse), "--block-size", "32", "--top-k", "2",
     "--recipe", f"k_cache={E4},v_cache={E4}")
case("nsa", "nsa", folder("nsa", gates=normal(T, 4, 3), **sparse), "--block-size", "32", "--top-k", "2", "--window", "32",
     "--recipe", f"k_cache={E4},v_cache={E4}")

# MLA / DSA: the latent cache, RoPE part, absorbed wkv_b; DSA's indexer.
Hl, L, R, Nn, Vl, Hi, Di = 2, 32, 8, 16, 16, 2, 16
latent = dict(kv_cache=normal(T, L), pe_cache=normal(T, R), q_nope=normal(T, Hl, Nn), q_pe=normal(T, Hl, R),
              wkv_b=normal(Hl * (Nn + Vl), L, scale=L ** -0.5))
case("mla", "mla", folder("mla", **latent),
     "--recipe", f"latent={E4},rope_cache=bfloat16", "--recipe", "latent=bfloat16")
case("dsa", "dsa", folder("dsa", indexer_q=normal(T, Hi, Di), indexer_k=normal(T, Di), indexer_weights=normal(T, Hi), **latent),
     "--top-k", "32", "--recipe", "latent=bfloat16", "--recipe", "indexer=float8_e4m3fn/block:16/pow2")

with open(os.path.join(out, "cases.txt"), "w") as f:
    f.write("\n".join(cases) + "\n")
print(f"{len(cases)} replay cases, T = {T}, in {out}")
