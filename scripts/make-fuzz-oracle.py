#!/usr/bin/env python3
"""Makes Tests/WorkloadsTests/Fixtures/fuzz-oracle.jsonl: small .npy and .safetensors files,
valid seeds and seeded mutations of them, each labelled ONCE by the reference readers.

    python3 -m venv /tmp/oracle && /tmp/oracle/bin/pip install numpy==2.2.6 safetensors==0.7.0
    /tmp/oracle/bin/python scripts/make-fuzz-oracle.py

One JSON object per line: {"kind": "npy" | "safetensors", "case": name, "reference":
"accept" | "reject", "shape": [...] and "descr" (npy, when accepted), "names": [...]
(safetensors, when accepted), "b64": the file's bytes}. The Swift tests (FuzzOracleTests) need
no Python: they check that attnprec never accepts a file the reference rejects, reads what both
accept the same way, and refuses what the reference accepts only for a reason the README lists.
"""
import base64
import io
import json
import random
import sys
import warnings

import numpy as np
import safetensors
from safetensors.numpy import save as st_save

PINNED = {"numpy": "2.2.6", "safetensors": "0.7.0"}
SEED = 20240616
PER_SEED_NPY = 14
PER_SEED_ST = 12


def check_versions():
    got = {"numpy": np.__version__, "safetensors": safetensors.__version__}
    if got != PINNED:
        sys.exit(f"make-fuzz-oracle.py: expected {PINNED}, found {got} (the labels depend on the versions)")


# ---- .npy ------------------------------------------------------------------------------

def npy_bytes(arr, version=None):
    b = io.BytesIO()
    if version is None:
        np.save(b, arr, allow_pickle=False)
    else:
        np.lib.format.write_array(b, arr, version=version, allow_pickle=False)
    return b.getvalue()


def raw_npy(header, payload=b"", version=1):
    h = header.encode("latin1" if version < 3 else "utf8")
    if version == 1:
        return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + payload
    return b"\x93NUMPY" + bytes([version, 0]) + len(h).to_bytes(4, "little") + h + payload


def npy_seeds():
    r = np.random.default_rng(7)
    seeds = {
        "f32_2x3": npy_bytes(r.standard_normal((2, 3)).astype("<f4")),
        "f64_4": npy_bytes(r.standard_normal(4)),
        "f16_3x2": npy_bytes(r.standard_normal((3, 2)).astype("<f2")),
        "u1_5": npy_bytes(np.arange(5, dtype="u1")),
        "u2_2x2": npy_bytes(np.arange(4, dtype="<u2").reshape(2, 2)),
        "i1_3": npy_bytes(np.array([-1, 0, 1], dtype="i1")),
        "f32_be": npy_bytes(np.arange(3, dtype=">f4")),
        "f32_fortran": npy_bytes(np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3))),
        "f64_v2": npy_bytes(np.arange(2.0), version=(2, 0)),
        "f32_v3": npy_bytes(np.arange(2, dtype="<f4"), version=(3, 0)),
        "f32_scalar": npy_bytes(np.float32(1.5)),
        "f32_empty": npy_bytes(np.zeros((0, 4), dtype="<f4")),
        "i4_2": npy_bytes(np.arange(2, dtype="<i4")),
        "handmade": raw_npy("{'descr':'<f4','fortran_order':False,'shape':(2,)}\n", b"\0" * 8),
        "dup_shape": raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 2), 'shape': (2, 2), }\n", b"\0" * 16),
        "junk_after": raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x\n", b"\0" * 8),
        "bool_shape": raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (True, 2), }\n", b"\0" * 8),
        "object": raw_npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }\n", b"\0" * 8),
        "trailing": npy_bytes(np.arange(2, dtype="<f4")) + b"\0\0\0\0",
    }
    return seeds


NPY_FIELDS = [
    b"'descr'", b"'fortran_order'", b"'shape'", b"<f4", b"<f8", b"False", b"True", b"(", b")", b",",
    b":", b"{", b"}", b"'", b"\"", b" ", b"\n", b"L", b"-1", b"0", b"9999999999999999999", b"|O", b"=f4",
    b">f2", b"|u1", b"<u2", b"|V2", b"#", b"\\", b"'shape': (1,), ", b"None", b"1.5", b"0x10", b"1_0",
]


def mutate(rng, data, fields, others):
    """One seeded mutation: byte flip, truncation, insertion, deletion, field edit or splice."""
    b = bytearray(data)
    op = rng.randrange(7)
    if op == 0 and b:
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif op == 1 and b:
        b = b[: rng.randrange(len(b))]
    elif op == 2:
        i = rng.randrange(len(b) + 1)
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
    elif op == 3 and b:
        i = rng.randrange(len(b))
        del b[i : i + rng.randint(1, 4)]
    elif op == 4:
        f = rng.choice(fields)
        i = rng.randrange(len(b) + 1)
        if rng.random() < 0.5:
            b[i:i] = f
        else:
            b[i : i + len(f)] = f
    elif op == 5 and others:
        o = rng.choice(others)
        i, j = rng.randrange(len(b) + 1), rng.randrange(len(o) + 1)
        b = b[:i] + o[j:]
    else:
        b += bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(b)


def label_npy(b):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = np.load(io.BytesIO(b), allow_pickle=False)
        if not isinstance(a, np.ndarray):
            return {"reference": "reject"}
        return {"reference": "accept", "shape": list(a.shape), "descr": a.dtype.str}
    except Exception:
        return {"reference": "reject"}


# ---- .safetensors ----------------------------------------------------------------------

def raw_st(header, data=b"", pad=True):
    h = header.encode("utf8")
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return len(h).to_bytes(8, "little") + h + data


def st_seeds():
    r = np.random.default_rng(11)
    return {
        "one_f32": st_save({"q": r.standard_normal((2, 3)).astype("<f4")}),
        "three": st_save({"q": np.ones((2, 2), "<f4"), "k": np.zeros(3, "<f2"), "v": np.arange(4, dtype="u1")}),
        "meta": st_save({"x": np.arange(2.0)}, metadata={"format": "pt", "note": "ok"}),
        "i8_bf16": raw_st('{"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]}}', b"\1\2\3\4"),
        "empty": st_save({}),
        "zero_size": raw_st('{"z":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
        "out_of_order": raw_st('{"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}', b"\0" * 4),
        "dup_name": raw_st('{"q":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"v":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},"q":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}', b"\0" * 4),
        "gap": raw_st('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}}', b"\0" * 5),
        "trailing": st_save({"a": np.arange(2, dtype="u1")}) + b"\0\0",
        "i32": raw_st('{"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
        "extra_key": raw_st('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}', b"\0"),
        "space_first": raw_st(' {"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\0"),
    }


ST_FIELDS = [
    b'"dtype"', b'"shape"', b'"data_offsets"', b'"__metadata__"', b'"F32"', b'"F16"', b'"U8"', b'"BF16"', b'"I64"',
    b"[", b"]", b"{", b"}", b",", b":", b'"', b"0", b"1", b"4", b"8", b"-1", b"1.0", b"1e2", b"null", b"true",
    b"\\u0071", b"\\ud800", b" ", b"\t", b"\x00", b"\xff", b'"q":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},',
    b"18446744073709551616", b"00",
]


def label_st(b):
    try:
        items = safetensors.deserialize(b)
        return {"reference": "accept", "names": sorted(name for name, _ in items)}
    except Exception:
        return {"reference": "reject"}


def main():
    check_versions()
    out_path = sys.argv[1] if len(sys.argv) > 1 else "Tests/WorkloadsTests/Fixtures/fuzz-oracle.jsonl"
    rng = random.Random(SEED)
    lines = []
    for kind, seeds, fields, per, label in [
        ("npy", npy_seeds(), NPY_FIELDS, PER_SEED_NPY, label_npy),
        ("safetensors", st_seeds(), ST_FIELDS, PER_SEED_ST, label_st),
    ]:
        others = list(seeds.values())
        seen = set()
        for name, data in seeds.items():
            cases = [(name, data)]
            for k in range(per):
                m = data
                for _ in range(rng.randint(1, 3)):
                    m = mutate(rng, m, fields, others)
                cases.append((f"{name}~{k}", m))
            for case, b in cases:
                if b in seen:
                    continue
                seen.add(b)
                rec = {"kind": kind, "case": case}
                rec.update(label(b))
                rec["b64"] = base64.b64encode(b).decode()
                lines.append(json.dumps(rec, sort_keys=True))
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    acc = sum('"accept"' in l for l in lines)
    print(f"{out_path}: {len(lines)} cases, {acc} accepted by the reference")


if __name__ == "__main__":
    main()
