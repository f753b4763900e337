"""Capture one FLA GatedDeltaNet layer (Qwen3-Next's heads: 16 key, 32 value, K = V = 128) on a
GPU and write its kernel call as replay-ready files: the README's "From Python" session.

    python capture_fla_gdn.py OUT [TOKENS]

OUT gets the dump (.safetensors, replay's layout), the kernel's own output (.o.npy) and, for
carrying it elsewhere in pieces, the same tensors as a folder of .npy files (OUT/npy/).
"""

import sys
from pathlib import Path

import numpy as np
import torch
from fla.layers import GatedDeltaNet

import attnprec

out, T = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1024
torch.manual_seed(0)
layer = GatedDeltaNet(hidden_size=2048, head_dim=128, num_heads=16, num_v_heads=32, expand_v=1, mode="chunk")
layer = layer.to("cuda", torch.bfloat16).eval()
x = torch.randn(1, T, 2048, device="cuda", dtype=torch.bfloat16)

with torch.no_grad(), attnprec.capture(layer, out=out) as cap:
    layer(x)

print("fla", __import__("fla").__version__, "torch", torch.__version__, torch.cuda.get_device_name())
for c in cap.calls:
    print(c.id, c.op, c.variant, c.tokens, c.path.name, c.output.name if c.output else None, c.metadata)
    tensors, _ = attnprec.read_safetensors(c.path)
    (out / "npy").mkdir(exist_ok=True)
    for name, t in tensors.items():
        np.save(out / "npy" / f"{name}.npy", t.array)
print("skipped:", cap.skipped)
