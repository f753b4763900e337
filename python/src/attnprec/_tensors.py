"""Tensors in, bits unchanged: torch or NumPy arrays to (little-endian NumPy array, safetensors
dtype), with bfloat16 and fp8 carried as their raw bits, and replay-ready files written."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# NumPy dtype name -> safetensors dtype, for the dtypes attnprec replay reads.
_NUMPY = {"float64": "F64", "float32": "F32", "float16": "F16", "int8": "I8", "uint8": "U8"}
# Bit patterns NumPy cannot hold natively (ml_dtypes' names): carried as unsigned integers.
_BITS = {"bfloat16": ("BF16", "<u2"), "float8_e4m3fn": ("F8_E4M3", "u1"), "float8_e5m2": ("F8_E5M2", "u1")}
_TORCH = {
    "torch.float64": "F64", "torch.float32": "F32", "torch.float16": "F16",
    "torch.int8": "I8", "torch.uint8": "U8",
}
_TORCH_BITS = {"torch.bfloat16": ("BF16", "int16", "<u2"), "torch.float8_e4m3fn": ("F8_E4M3", "uint8", "u1"),
               "torch.float8_e5m2": ("F8_E5M2", "uint8", "u1")}
_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I8": 1, "U8": 1}


@dataclass(frozen=True)
class Bits:
    """Raw bits of a format NumPy lacks: ``Bits(u16_array, "BF16")`` is a bfloat16 tensor."""

    array: np.ndarray
    dtype: str

    def __post_init__(self):
        if self.dtype not in ("BF16", "F8_E4M3", "F8_E5M2"):
            raise ValueError(f"Bits: dtype {self.dtype!r}; expected BF16, F8_E4M3 or F8_E5M2")
        want = 2 if self.dtype == "BF16" else 1
        if np.asarray(self.array).dtype.itemsize != want or np.asarray(self.array).dtype.kind not in "ui":
            raise ValueError(f"Bits: a {self.dtype} tensor is carried as {8 * want}-bit integers")


def bf16_bits(array) -> Bits:
    """bfloat16 bits held in a uint16/int16 array."""
    return Bits(np.asarray(array), "BF16")


@dataclass
class Tensor:
    """A tensor ready to write: little-endian C-ordered array and its safetensors dtype."""

    array: np.ndarray
    dtype: str

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    def moved(self, order: list[int]) -> "Tensor":
        return Tensor(np.ascontiguousarray(np.transpose(self.array, order)), self.dtype)

    def reshaped(self, shape) -> "Tensor":
        return Tensor(np.ascontiguousarray(self.array.reshape(shape)), self.dtype)

    def to_float64(self) -> np.ndarray:
        """The values (bf16 bits widened exactly to float32, then float64)."""
        a = self.array
        if self.dtype == "BF16":
            return (a.astype("<u4") << 16).view("<f4").astype(np.float64)
        if self.dtype in ("F8_E4M3", "F8_E5M2"):
            raise TypeError(f"{self.dtype} values are not decoded in Python; replay decodes them")
        return a.astype(np.float64)


def is_torch(x) -> bool:
    return type(x).__module__.split(".")[0] == "torch" and hasattr(x, "detach")


def as_tensor(x, name: str) -> Tensor:
    """A torch tensor, NumPy array (ml_dtypes bfloat16/fp8 included), :class:`Bits` or array-like,
    as raw little-endian bits and a safetensors dtype; nothing is rounded."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, Bits):
        a = np.asarray(x.array)
        return Tensor(np.ascontiguousarray(a.view("<u2" if x.dtype == "BF16" else "u1")), x.dtype)
    if is_torch(x):
        t = x.detach().cpu().contiguous()
        kind = str(t.dtype)
        if kind in _TORCH_BITS:
            st, view, np_view = _TORCH_BITS[kind]
            import torch  # present: x is a torch tensor

            return Tensor(np.ascontiguousarray(t.view(getattr(torch, view)).numpy().view(np_view)), st)
        if kind not in _TORCH:
            raise TypeError(f"tensor '{name}': torch dtype {kind}; replay reads {', '.join(sorted(_TORCH) + sorted(_TORCH_BITS))}")
        return Tensor(np.ascontiguousarray(t.numpy()).astype(t.numpy().dtype.newbyteorder("<"), copy=False), _TORCH[kind])
    a = np.asarray(x)
    if a.dtype.name in _BITS:
        st, view = _BITS[a.dtype.name]
        return Tensor(np.ascontiguousarray(a.view(view)), st)
    if a.dtype.name not in _NUMPY:
        hint = " (bfloat16 bits in a uint16 array: wrap it in attnprec.bf16_bits)" if a.dtype.name in ("uint16", "int16") else ""
        raise TypeError(f"tensor '{name}': dtype {a.dtype}; replay reads float64, float32, float16, bfloat16, "
                        f"float8_e4m3fn, float8_e5m2, int8, uint8{hint}")
    return Tensor(np.ascontiguousarray(a.astype(a.dtype.newbyteorder("<"), copy=False)), _NUMPY[a.dtype.name])


def _atomic_write(path: Path, chunks) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            for c in chunks:
                f.write(c)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_safetensors(path, tensors: dict[str, Tensor], metadata: dict[str, str] | None = None) -> Path:
    """Writes ``tensors`` as one .safetensors file (atomically), in the order given, tiling the
    data exactly as the format requires; ``metadata`` goes to ``__metadata__`` (strings only)."""
    header: dict = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    datas = []
    for name, t in tensors.items():
        b = t.array.tobytes(order="C")
        header[name] = {"dtype": t.dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        datas.append(b)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode()
    text += b" " * (-len(text) % 8)
    _atomic_write(Path(path), [len(text).to_bytes(8, "little"), text, *datas])
    return Path(path)


def read_safetensors(path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """The tensors (raw bits, as :func:`write_safetensors` takes them) and metadata of a file."""
    data = Path(path).read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    st_to_np = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "F8_E4M3": "u1", "F8_E5M2": "u1", "I8": "i1", "U8": "u1"}
    for name, e in header.items():
        b, end = e["data_offsets"]
        a = np.frombuffer(data[8 + n + b:8 + n + end], dtype=st_to_np[e["dtype"]]).reshape(e["shape"])
        out[name] = Tensor(a.copy(), e["dtype"])
    return out, meta


def write_npy(path, t: Tensor) -> Path:
    """A tensor as .npy (bfloat16 as ``<u2`` bits, which replay reads as bfloat16)."""
    if t.dtype in ("F8_E4M3", "F8_E5M2"):
        raise TypeError("--compare outputs are read as float64/32/16 or bfloat16; fp8 outputs: widen them first")
    import io

    buf = io.BytesIO()
    np.save(buf, t.array, allow_pickle=False)
    _atomic_write(Path(path), [buf.getvalue()])
    return Path(path)
