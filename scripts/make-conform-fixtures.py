#!/usr/bin/env python3
"""Writes the conformance fixtures: encodings made by ml_dtypes (an independent quantizer)
that `attnprec formats conform` must accept, bit for bit.

    pip install numpy ml_dtypes
    python3 scripts/make-conform-fixtures.py    # writes Tests/NumberFormatsTests/Fixtures/conform/

The fixtures are committed; the tests (ConformCLITests) read them without Python.
- input.npy: float32 [16, 64], bfloat16-like values (ties at every narrower width), values in
  every format's subnormal range, overflowing values, ±0, +NaN.
- codes_<format>.npy: ml_dtypes' `astype` of the input (its overflow gives Inf or NaN, or
  saturates where the format has neither: the `ieee` policy), viewed as uint8 / uint16.
- mxfp8_e4m3 and mxfp4 (block 32, OCP floor rule): scales from the block maximum's exponent,
  elements clamped to ±max and cast by ml_dtypes, scales as e8m0 bytes.
- manifest.json: one entry per case: spec string, codes file, scales file.
"""
import json, os
import numpy as np
import ml_dtypes

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "NumberFormatsTests", "Fixtures", "conform")

FORMATS = ["float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e3m4",
           "float6_e2m3fn", "float6_e3m2fn", "float4_e2m1fn", "bfloat16", "float16"]


def make_input():
    rng = np.random.default_rng(22)
    x = (rng.standard_normal((16, 64)) * 2).astype(ml_dtypes.bfloat16).astype(np.float32)
    tiny = np.array([2.0 ** -k * f for k in (3, 7, 9, 12, 16, 20, 26) for f in (1.0, 1.5, -1.25)], dtype=np.float32)
    x[1, :tiny.size] = tiny
    x[2, :10] = [500.0, -1000.0, 70000.0, -1e30, 0.0, -0.0, np.nan, 6.5, 7.0, -464.0]
    return x


def mx(x, elem, emax, maxval):
    blocks = x.reshape(x.shape[0], -1, 32)
    amax = np.abs(blocks).max(axis=2, keepdims=True)
    e = np.where(amax > 0, np.floor(np.log2(np.where(amax > 0, amax, 1))) - emax, -127).clip(-127, 127)
    scale = (2.0 ** e).astype(np.float32)
    q = np.clip(blocks / scale, -maxval, maxval).astype(elem)
    codes = q.view(np.uint8).reshape(x.shape)
    return codes, (e + 127).astype(np.uint8).reshape(x.shape[0], -1)


def main():
    os.makedirs(OUT, exist_ok=True)
    x = make_input()
    np.save(os.path.join(OUT, "input.npy"), x)
    manifest = []
    for name in FORMATS:
        t = getattr(ml_dtypes, name) if hasattr(ml_dtypes, name) else np.dtype(name)
        with np.errstate(all="ignore"):
            y = x.astype(t)
        codes = y.view(np.uint16 if y.dtype.itemsize == 2 else np.uint8)
        f = "codes_%s.npy" % name
        np.save(os.path.join(OUT, f), codes)
        manifest.append({"format": name + "/ieee", "codes": f})
    finite = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0).clip(-1e4, 1e4)
    np.save(os.path.join(OUT, "input_mx.npy"), finite)
    for fam, elem, emax, maxval in [("mxfp8_e4m3", ml_dtypes.float8_e4m3fn, 8, 448.0), ("mxfp4", ml_dtypes.float4_e2m1fn, 2, 6.0)]:
        codes, scales = mx(finite, elem, emax, maxval)
        np.save(os.path.join(OUT, "codes_%s.npy" % fam), codes)
        np.save(os.path.join(OUT, "scales_%s.npy" % fam), scales)
        manifest.append({"format": fam, "input": "input_mx.npy", "codes": "codes_%s.npy" % fam, "scales": "scales_%s.npy" % fam})
    with open(os.path.join(OUT, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
