"""What a variant's replay expects (read from ``attnprec variants show``) and the layout check:
every tensor brought to the CLI's ``[T, H, …]`` layout, or refused with one clear message."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ._binary import AttnprecInputError, run_binary
from ._tensors import Tensor

LAYOUTS = ("thd", "bthd", "bhtd")
HEAD_DIMS = {"H", "HV", "HQ", "HKV", "G", "Hi"}
# No model puts more heads than this in one layer; a larger "head" axis is positions read wrongly.
MAX_HEADS = 256


@dataclass(frozen=True)
class Spec:
    name: str
    dims: tuple[str, ...]
    optional: bool
    aliases: tuple[str, ...]

    @property
    def timed(self) -> bool:
        return bool(self.dims) and self.dims[0] == "T"

    @property
    def headed(self) -> bool:
        return self.timed and len(self.dims) > 1 and self.dims[1] in HEAD_DIMS


_ROW = re.compile(r"^\|\s*(\w+)\s*\|\s*\[([^\]]*)\]\s*\|(.*)\|\s*$")


def parse_specs(text: str) -> dict[str, Spec]:
    """The replay table of ``attnprec variants show NAME``."""
    specs = {}
    for line in text.splitlines():
        m = _ROW.match(line)
        if not m:
            continue
        name, dims, meaning = m.group(1), m.group(2), m.group(3)
        optional = "optional" in meaning
        aliases = tuple(re.findall(r"also read as '(\w+)'", meaning))
        specs[name] = Spec(name, tuple(d.strip() for d in dims.split(",")), optional, aliases)
    return specs


@functools.lru_cache(maxsize=None)
def variant_specs(variant: str) -> dict[str, Spec]:
    specs = parse_specs(run_binary(["variants", "show", variant]).stdout)
    if not specs:
        raise AttnprecInputError(f"variant '{variant}': replay not supported (attnprec variants show lists no replay tensors)")
    return specs


def _fmt(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def to_cli_layout(variant: str, tensors: dict[str, Tensor], layout: str, specs: dict[str, Spec]) -> dict[str, Tensor]:
    """``tensors`` in ``layout`` brought to ``[T, H, …]`` (no batch), shapes checked."""
    if layout not in LAYOUTS:
        raise AttnprecInputError(f"layout={layout!r}: expected one of {', '.join(LAYOUTS)}")
    by_name = {a: s for s in specs.values() for a in (s.name, *s.aliases)}
    out: dict[str, Tensor] = {}
    for name, t in tensors.items():
        spec = by_name.get(name)
        if spec is None:
            raise AttnprecInputError(f"tensor '{name}': {variant} replay reads {', '.join(specs)}")
        out[name] = _one(name, t, spec, layout)
    # Missing tensors are left to the binary: it names them with the file, and knows the alternatives.
    _check_positions(out, {n: by_name[n] for n in out}, layout)
    return out


def _one(name: str, t: Tensor, spec: Spec, layout: str) -> Tensor:
    r = len(spec.dims)
    shape = t.shape
    want = _fmt(spec.dims)
    if not spec.timed:
        # Per-head parameters and states ([H], [HV, K, V], wkv_b in either of its forms): a
        # leading batch of 1 goes; the binary checks the rest.
        return t.reshaped(shape[1:]) if layout != "thd" and len(shape) == r + 1 and shape[0] == 1 else t
    if layout == "thd":
        if len(shape) == r or (len(shape) == r + 1 and not spec.headed and shape[1] == 1):
            return t  # [T, 1, R] where the binary accepts it (pe_cache)
        if len(shape) == r + 1:
            raise AttnprecInputError(
                f"tensor '{name}': shape {_fmt(shape)} has a batch axis but layout='thd' expects {want}: "
                f"pass layout='bthd' (FLA's [B, T, H, …]) or layout='bhtd' (head-first, as SDPA takes it)")
        raise AttnprecInputError(f"tensor '{name}': shape {_fmt(shape)}; {want} expected")
    if len(shape) != r + 1:
        b = "[B, " + ", ".join(spec.dims if layout == "bthd" or not spec.headed else (spec.dims[1], "T", *spec.dims[2:])) + "]"
        raise AttnprecInputError(f"tensor '{name}': shape {_fmt(shape)}; layout='{layout}' expects {b}")
    if shape[0] != 1:
        raise AttnprecInputError(f"tensor '{name}': batch of {shape[0]}; replay takes one sequence (pass x[i:i+1])")
    t = t.reshaped(shape[1:])
    if layout == "bhtd" and spec.headed:
        t = t.moved([1, 0, *range(2, r)])
    return t


def _check_positions(tensors: dict[str, Tensor], specs: dict[str, Spec], layout: str) -> None:
    timed = [(n, t) for n, t in tensors.items() if specs[n].timed]
    if not timed:
        return
    first, t0 = timed[0]
    for n, t in timed[1:]:
        if t.shape[0] != t0.shape[0]:
            raise AttnprecInputError(
                f"tensor '{n}': {t.shape[0]} positions but '{first}' has {t0.shape[0]} (read as layout='{layout}'); "
                f"is one of them head-first?")
    for n, t in timed:
        if specs[n].headed and t.shape[1] > MAX_HEADS:
            other = "bhtd" if layout != "bhtd" else "bthd"
            raise AttnprecInputError(
                f"tensor '{n}': read as layout='{layout}' it has {t.shape[0]} positions and {t.shape[1]} heads "
                f"(more than {MAX_HEADS}): it looks like the other layout; pass layout='{other}'")
