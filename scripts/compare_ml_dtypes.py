#!/usr/bin/env python3
"""Optional cross-check (not part of the tests): attnprec's `formats quantize --codes` against
ml_dtypes' astype, nearest-even with IEEE overflow, on every float16 and bfloat16 bit pattern
plus random float32 values. Usage: scripts/compare_ml_dtypes.py path/to/attnprec"""
import subprocess, sys, tempfile, os
import numpy as np
import ml_dtypes

exe = sys.argv[1]
FORMATS = ["float16", "bfloat16", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2",
           "float8_e5m2fnuz", "float8_e3m4", "float6_e2m3fn", "float6_e3m2fn", "float4_e2m1fn",
           "float8_e8m0fnu"]
rng = np.random.default_rng(0)
pats = np.arange(65536, dtype=np.uint32)
x = np.concatenate([
    (pats << 16).view(np.float32),  # every bfloat16
    pats.astype(np.uint16).view(np.float16).astype(np.float32),  # every float16
    rng.standard_normal(200000).astype(np.float32) * np.float32(2.0) ** rng.integers(-30, 30, 200000).astype(np.float32),
    rng.integers(0, 2**32, 200000, dtype=np.uint64).astype(np.uint32).view(np.float32),
]).astype(np.float32)
bad = 0
with tempfile.TemporaryDirectory() as d:
    inp = os.path.join(d, "x.npy"); np.save(inp, x)
    for name in FORMATS:
        out = os.path.join(d, "c.npy")
        subprocess.run([exe, "formats", "quantize", "--format", name, "--overflow", "ieee", "--codes", inp, out],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ours = np.load(out).astype(np.uint32)
        dt = np.float16 if name == "float16" else getattr(ml_dtypes, name)
        ref = x.astype(dt)
        refc = ref.view(np.uint16 if ref.itemsize == 2 else np.uint8).astype(np.uint32)
        nan_in = np.isnan(x)
        # NaN inputs are skipped (payloads differ by design). Known, deliberate difference:
        # ml_dtypes rounds every e8m0 input in (2^-127, 2^-126) up to 2^-126; attnprec rounds
        # to the nearest of the two (values below 1.5*2^-127 go to 2^-127).
        if name == "float8_e8m0fnu":
            nan_in = nan_in | ((np.abs(x) > 2.0**-127) & (np.abs(x) < 1.5 * 2.0**-127))
        mism = (ours != refc) & ~nan_in
        n = int(mism.sum()); bad += n
        print(f"{name:18s} mismatches {n}" + ("" if n == 0 else f"  e.g. x={x[mism][:4]} ours={ours[mism][:4]} ref={refc[mism][:4]}"))
sys.exit(1 if bad else 0)
