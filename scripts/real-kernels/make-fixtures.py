# Issue 18: real-kernel fixtures (SDPA flash; FLA 0.6.0 chunk and fused_recurrent), one head each.
import os, sys, json, time, math
import numpy as np, torch, torch.nn.functional as F
from safetensors.torch import save_file
out = os.environ.get("OUT", "/tmp/out"); os.makedirs(out, exist_ok=True)
dev = "cuda"
torch.backends.cuda.matmul.allow_tf32 = False
import fla
from fla.ops.gated_delta_rule import chunk_gated_delta_rule, fused_recurrent_gated_delta_rule
from fla.ops.kda import chunk_kda, fused_recurrent_kda
from fla.ops.gla import chunk_gla, fused_recurrent_gla
from fla.ops.simple_gla import chunk_simple_gla, fused_recurrent_simple_gla
meta = {"torch": torch.__version__, "fla": getattr(fla, "__version__", "?"), "gpu": torch.cuda.get_device_name(0)}
print(meta, flush=True)
rng = np.random.default_rng(18)

def bf16_exact(x, fp16_too=False):
    t = torch.tensor(x, dtype=torch.float64)
    if fp16_too:
        t = torch.where(t.abs() < 2.0 ** -14, torch.zeros_like(t), t)
    b = t.to(torch.bfloat16)
    if fp16_too:
        assert torch.equal(b.to(torch.float16).to(torch.float64), b.to(torch.float64))
    return b

def l2n(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)

def rel_last(o, ref, Ts, last=64):
    o = o.double().reshape(o.shape[0], -1); ref = ref.double().reshape(ref.shape[0], -1)
    e = (o - ref).norm(dim=1) / ref.norm(dim=1)
    return {T: float(e[T - last:T].mean()) for T in Ts}

def save(name, tensors, extra):
    m = dict(meta); m.update(extra)
    save_file({k: v.contiguous().cpu() for k, v in tensors.items()}, f"{out}/{name}.safetensors", metadata={k: str(v) for k, v in m.items()})
    print(name, {k: (tuple(v.shape), str(v.dtype)) for k, v in tensors.items()}, flush=True)

# --- softmax: SDPA flash backend, causal, one head, d = 128, T = 2048 (inputs exact in bf16 and fp16)
T, D = 2048, 128
q, k, v = (bf16_exact(rng.standard_normal((T, 1, D)), fp16_too=True) for _ in range(3))
from torch.nn.attention import sdpa_kernel, SDPBackend
res = {}
def sdpa(dt):
    a = [x.to(dev).to(dt).permute(1, 0, 2).unsqueeze(0) for x in (q, k, v)]
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        o = F.scaled_dot_product_attention(*a, is_causal=True)
    return o[0].permute(1, 0, 2).contiguous()
ob, oh = sdpa(torch.bfloat16), sdpa(torch.float16)
a64 = [x.to(dev).double().permute(1, 0, 2) for x in (q, k, v)]
s = (a64[0] @ a64[1].transpose(-1, -2)) / math.sqrt(D)
s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool, device=dev), 1), float("-inf"))
ref = (torch.softmax(s, -1) @ a64[2]).permute(1, 0, 2)
res["fa2_bf16"] = rel_last(ob, ref, [512, 1024, 2048]); res["fa2_fp16"] = rel_last(oh, ref, [512, 1024, 2048])
print("softmax", res, flush=True)
save("sdpa-flash-d128-t2048", {"q": q, "k": k, "v": v, "real_fa2_bf16": ob, "real_fa2_fp16": oh},
     {"kernel": "torch.nn.functional.scaled_dot_product_attention, SDPBackend.FLASH_ATTENTION, is_causal=True, scale=D^-1/2", "layout": "thd"})

# --- FLA recurrent family, one head, K = V = 128; q, k L2-normalised before the bf16 cast
def fla_inputs(T, K, V):
    q = bf16_exact(l2n(rng.standard_normal((T, 1, K)))); k = bf16_exact(l2n(rng.standard_normal((T, 1, K))))
    v = bf16_exact(rng.standard_normal((T, 1, V)))
    return q, k, v
def sig(x): return 1 / (1 + np.exp(-x))
def cuda(*xs, dt=None): return [x.to(dev).unsqueeze(0) if dt is None else x.to(dev).to(dt).unsqueeze(0) for x in xs]

T = 2048
q, k, v = fla_inputs(T, 128, 128)
beta = bf16_exact(sig(rng.standard_normal((T, 1))))
g = bf16_exact(np.log(sig(rng.standard_normal((T, 1)) + 6)) / 16)  # slow decay, values exact in bf16, fed as fp32
Q, K_, Vv, B = cuda(q, k, v, beta); G = g.float().to(dev).unsqueeze(0)
oc, _ = chunk_gated_delta_rule(Q, K_, Vv, G, B, use_qk_l2norm_in_kernel=False)
orr, _ = fused_recurrent_gated_delta_rule(Q, K_, Vv, g=G, beta=B, use_qk_l2norm_in_kernel=False)
# float64 reference: S_t = a_t S + b_t k (v - S^T k)^T ... o = S^T q * K^-1/2
q64, k64, v64, b64, g64 = (x.to(dev).double()[:, 0] for x in (q, k, v, beta, g))
S = torch.zeros(128, 128, dtype=torch.float64, device=dev); o64 = []
for t in range(T):
    S = S * torch.exp(g64[t]); kt = k64[t]; S = S + b64[t] * torch.outer(kt, v64[t] - S.T @ kt); o64.append(S.T @ q64[t] / math.sqrt(128))
ref = torch.stack(o64).unsqueeze(1)
res["gdn_chunk"] = rel_last(oc[0], ref, [512, 1024, 2048]); res["gdn_recurrent"] = rel_last(orr[0], ref, [512, 1024, 2048])
print("gdn", res["gdn_chunk"], res["gdn_recurrent"], flush=True)
save("fla-gated_deltanet-k128-t2048", {"q": q, "k": k, "v": v, "g": g, "beta": beta, "real_chunk": oc[0], "real_fused_recurrent": orr[0]},
     {"kernel": "fla.ops.gated_delta_rule chunk_gated_delta_rule / fused_recurrent_gated_delta_rule, use_qk_l2norm_in_kernel=False, g fp32", "layout": "thd"})

T = 1024
q, k, v = fla_inputs(T, 128, 128)
beta = bf16_exact(sig(rng.standard_normal((T, 1))))
gk = bf16_exact(np.log(sig(rng.standard_normal((T, 1, 128)) + 3)) / 4)
Q, K_, Vv, B = cuda(q, k, v, beta); GK = gk.float().to(dev).unsqueeze(0)
oc, _ = chunk_kda(Q, K_, Vv, GK, B, use_qk_l2norm_in_kernel=False)
orr, _ = fused_recurrent_kda(Q, K_, Vv, GK, B, use_qk_l2norm_in_kernel=False)
save("fla-kda-k128-t1024", {"q": q, "k": k, "v": v, "gk": gk, "beta": beta, "real_chunk": oc[0], "real_fused_recurrent": orr[0]},
     {"kernel": "fla.ops.kda chunk_kda / fused_recurrent_kda, use_qk_l2norm_in_kernel=False, g fp32", "layout": "thd"})

q, k, v = fla_inputs(T, 128, 128)
gk = bf16_exact(np.log(sig(rng.standard_normal((T, 1, 128)) + 3)) / 4)
Q, K_, Vv = cuda(q, k, v); GK = gk.float().to(dev).unsqueeze(0)
oc, _ = chunk_gla(Q, K_, Vv, GK)
orr, _ = fused_recurrent_gla(Q, K_, Vv, gk=GK)
save("fla-gla-k128-t1024", {"q": q, "k": k, "v": v, "gk": gk, "real_chunk": oc[0], "real_fused_recurrent": orr[0]},
     {"kernel": "fla.ops.gla chunk_gla / fused_recurrent_gla, gk fp32", "layout": "thd"})

q, k, v = fla_inputs(T, 128, 128)
Q, K_, Vv = cuda(q, k, v)
oc, _ = chunk_simple_gla(Q, K_, Vv)
orr, _ = fused_recurrent_simple_gla(Q, K_, Vv)
save("fla-linear-k128-t1024", {"q": q, "k": k, "v": v, "real_chunk": oc[0], "real_fused_recurrent": orr[0]},
     {"kernel": "fla.ops.simple_gla chunk_simple_gla / fused_recurrent_simple_gla, g=None (undecayed linear attention)", "layout": "thd"})
json.dump(res, open(f"{out}/device-errors.json", "w"), indent=1)
print("done", flush=True)
