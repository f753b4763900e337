"""Tensors in, bits unchanged: dtype mapping, bf16 exactness, the safetensors writer."""

import json

import numpy as np
import pytest
import safetensors

import attnprec
from attnprec._tensors import as_tensor, write_npy

from conftest import to_bf16_values


def test_numpy_dtypes_map_to_safetensors_dtypes():
    for dtype, st in [(np.float64, "F64"), (np.float32, "F32"), (np.float16, "F16"), (np.int8, "I8"), (np.uint8, "U8")]:
        t = as_tensor(np.zeros((2, 3), dtype=dtype), "x")
        assert t.dtype == st and t.shape == (2, 3)
    big = as_tensor(np.arange(4, dtype=">f4"), "x")
    assert big.array.dtype.str == "<f4" and big.array.tolist() == [0, 1, 2, 3]
    with pytest.raises(TypeError, match="tensor 'x': dtype int32"):
        as_tensor(np.zeros(3, dtype=np.int32), "x")
    with pytest.raises(TypeError, match="attnprec.bf16_bits"):
        as_tensor(np.zeros(3, dtype=np.uint16), "x")


def test_bf16_bits_round_trip_exactly():
    rng = np.random.default_rng(1)
    values = to_bf16_values(rng.standard_normal(1000).astype(np.float32) * 1e3)
    bits = (values.view(np.uint32) >> 16).astype(np.uint16)
    t = as_tensor(attnprec.bf16_bits(bits), "q")
    assert t.dtype == "BF16"
    assert np.array_equal(t.to_float64(), values.astype(np.float64))
    with pytest.raises(ValueError, match="16-bit integers"):
        attnprec.Bits(np.zeros(3, np.float32), "BF16")


def test_torch_bf16_goes_through_its_bits(fake_torch):
    values = to_bf16_values(np.linspace(-3, 3, 24, dtype=np.float32)).reshape(2, 3, 4)
    t = as_tensor(fake_torch.bf16(values), "k")
    assert t.dtype == "BF16" and t.shape == (2, 3, 4)
    assert np.array_equal(t.to_float64(), values.astype(np.float64))


def test_safetensors_file_is_valid_for_the_library(tmp_path):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((5, 2, 3)).astype(np.float32)
    bits = (to_bf16_values(a).view(np.uint32) >> 16).astype(np.uint16)
    path = attnprec.write_safetensors(
        tmp_path / "x.safetensors", {"a": as_tensor(a, "a"), "b": as_tensor(attnprec.bf16_bits(bits), "b")}, {"attnprec.op": "test"})
    with safetensors.safe_open(str(path), framework="numpy") as f:
        assert sorted(f.keys()) == ["a", "b"]
        assert f.metadata() == {"attnprec.op": "test"}
        assert np.array_equal(f.get_tensor("a"), a)
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert n % 8 == 0 and raw[8:9] == b"{"
    header = json.loads(raw[8:8 + n])
    assert header["b"] == {"dtype": "BF16", "shape": [5, 2, 3], "data_offsets": [120, 180]}
    assert len(raw) == 8 + n + 180
    back, meta = attnprec.read_safetensors(path)
    assert np.array_equal(back["b"].array, bits) and meta == {"attnprec.op": "test"}


def test_npy_of_bf16_is_u2(tmp_path):
    bits = np.arange(6, dtype=np.uint16).reshape(2, 3)
    p = write_npy(tmp_path / "o.npy", as_tensor(attnprec.bf16_bits(bits), "o"))
    back = np.load(p)
    assert back.dtype.str == "<u2" and np.array_equal(back, bits)
