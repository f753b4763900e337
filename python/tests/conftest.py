"""Shared fixtures: the repository root, the attnprec binary (tests that need it skip, saying so,
when none is found: set ATTNPREC_BIN), and a stand-in for torch tensors."""

import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import attnprec

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def binary():
    try:
        return attnprec.find_binary()
    except attnprec.AttnprecError as e:
        if os.environ.get("ATTNPREC_REQUIRE_BINARY"):
            raise
        pytest.skip(f"no attnprec binary ({e})")


def gdn_inputs(T=48, H=2, HV=4, K=8, V=8, seed=0):
    """A small Gated DeltaNet dump in replay's [T, H, …] layout (float32 values)."""
    rng = np.random.default_rng(seed)
    return {
        "q": rng.standard_normal((T, H, K)).astype(np.float32),
        "k": rng.standard_normal((T, H, K)).astype(np.float32),
        "v": rng.standard_normal((T, HV, V)).astype(np.float32),
        "g": (-0.05 * np.log1p(np.exp(rng.standard_normal((T, HV))))).astype(np.float32),
        "beta": (1 / (1 + np.exp(-rng.standard_normal((T, HV))))).astype(np.float32),
    }


def to_bf16_values(a: np.ndarray) -> np.ndarray:
    """float32 values rounded (nearest even) to bfloat16, as float32."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return u.astype(np.uint32).view(np.float32)


class FakeTorchTensor:
    """Enough of torch.Tensor for attnprec's conversion: dtype string, view, numpy."""

    __module__ = "torch"

    def __init__(self, array, dtype):
        self.array, self.dtype = array, dtype

    def detach(self):
        return self

    def cpu(self):
        return self

    def contiguous(self):
        return self

    def view(self, dtype):
        return FakeTorchTensor(self.array.view({"torch.int16": np.int16, "torch.uint8": np.uint8}[str(dtype)]), dtype)

    def numpy(self):
        return self.array


class _DType(str):
    def __str__(self):
        return str.__str__(self)


@pytest.fixture
def fake_torch(monkeypatch):
    """A `torch` module with int16/uint8 dtypes and a tensor maker (bf16 from float32 values)."""
    mod = types.ModuleType("torch")
    mod.int16, mod.uint8 = _DType("torch.int16"), _DType("torch.uint8")
    monkeypatch.setitem(sys.modules, "torch", mod)

    def bf16(values):
        bits = (to_bf16_values(values).view(np.uint32) >> 16).astype(np.uint16).view(np.int16)
        return FakeTorchTensor(bits.view(np.float16), _DType("torch.bfloat16"))  # 2-byte storage

    mod.bf16 = bf16
    return mod
