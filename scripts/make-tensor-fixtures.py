#!/usr/bin/env python3
"""Writes the tensor-file fixtures of Tests/WorkloadsTests/Fixtures (run once; the tests need no Python).

NumPy writes the .npy files (np.save / np.lib.format.write_array, versions 1.0, 2.0, 3.0),
ml_dtypes provides bfloat16 and the float8 formats, and the safetensors package writes one
.safetensors file with its own writer (the dtypes its NumPy front end knows); a second
.safetensors file with every dtype (BF16 and F8 too) is written by hand following the format
(8-byte little-endian header length, JSON header padded with spaces, data). expected.json lists
every element's value as the hex bit pattern of the float64 it stands for.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy ml_dtypes safetensors
    /tmp/venv/bin/python scripts/make-tensor-fixtures.py
"""
import json
import os
import struct

import ml_dtypes
import numpy as np
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "WorkloadsTests", "Fixtures")
os.makedirs(OUT, exist_ok=True)
expected = {}


def record(key, array):
    flat = np.ascontiguousarray(array).astype(np.float64).ravel()
    expected[key] = {"shape": list(array.shape), "bits": ["%016x" % struct.unpack("<Q", struct.pack("<d", v))[0] for v in flat]}


rng = np.random.default_rng(20261122)
base = np.concatenate([rng.standard_normal(9) * 3, [0.0, -0.0, 1.0, -2.5, 1e-3, 448.0, -57344.0, 6e-8, 1e-40]])

arrays = {
    "f64": base.reshape(3, 1, 6).astype(np.float64),
    "f32": base.reshape(3, 6).astype(np.float32),
    "f16": base[:12].reshape(2, 6).astype(np.float16),
    "bf16": base.astype(ml_dtypes.bfloat16),
    "e4m3": np.clip(base, -448, 448).astype(ml_dtypes.float8_e4m3fn),
    "e5m2": base.astype(ml_dtypes.float8_e5m2),
    "i8": np.array([-128, -1, 0, 1, 127, 42], dtype=np.int8).reshape(2, 3),
    "u8": np.array([0, 1, 128, 255], dtype=np.uint8),
}

# .npy: NumPy's own writer.
np.save(os.path.join(OUT, "f64.npy"), arrays["f64"])
np.save(os.path.join(OUT, "f32.npy"), arrays["f32"])
np.save(os.path.join(OUT, "f16.npy"), arrays["f16"])
np.save(os.path.join(OUT, "i8.npy"), arrays["i8"])
np.save(os.path.join(OUT, "u8.npy"), arrays["u8"])
np.save(os.path.join(OUT, "bf16_u2.npy"), arrays["bf16"].view(np.uint16))  # bf16 as <u2
np.save(os.path.join(OUT, "bf16_v2.npy"), arrays["bf16"])  # ml_dtypes' own: |V2
np.save(os.path.join(OUT, "f32_fortran.npy"), np.asfortranarray(arrays["f32"]))
np.save(os.path.join(OUT, "f32_big.npy"), arrays["f32"].astype(">f4"))
for version in [(2, 0), (3, 0)]:
    with open(os.path.join(OUT, "f64_v%d.npy" % version[0]), "wb") as f:
        np.lib.format.write_array(f, arrays["f64"], version=version)
for k in ["f64", "f32", "f16", "i8", "u8"]:
    record("npy/" + k, arrays[k])
record("npy/bf16_u2", arrays["bf16"])
record("npy/bf16_v2", arrays["bf16"])
record("npy/f32_fortran", arrays["f32"])
record("npy/f32_big", arrays["f32"])
record("npy/f64_v2", arrays["f64"])
record("npy/f64_v3", arrays["f64"])

# .safetensors written by the safetensors package.
save_file({k: arrays[k] for k in ["f64", "f32", "f16", "i8", "u8"]}, os.path.join(OUT, "numpy_writer.safetensors"),
          metadata={"format": "np"})
for k in ["f64", "f32", "f16", "i8", "u8"]:
    record("st_package/" + k, arrays[k])

# .safetensors with every dtype, written by hand.
names = {"f64": "F64", "f32": "F32", "f16": "F16", "bf16": "BF16", "e4m3": "F8_E4M3", "e5m2": "F8_E5M2", "i8": "I8", "u8": "U8"}
header, blobs, offset = {"__metadata__": {"writer": "make-tensor-fixtures.py"}}, [], 0
for k, dt in names.items():
    b = np.ascontiguousarray(arrays[k]).tobytes()
    header[k] = {"dtype": dt, "shape": list(arrays[k].shape), "data_offsets": [offset, offset + len(b)]}
    blobs.append(b)
    offset += len(b)
    record("st_all/" + k, arrays[k])
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(os.path.join(OUT, "all_dtypes.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))

with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
    f.write("\n")
print("wrote", len(expected), "expectations to", os.path.normpath(OUT))
