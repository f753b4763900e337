"""``attnprec.replay``: your tensors through ``attnprec replay``, the answer as NumPy arrays."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from ._binary import AttnprecInputError, find_binary, run_binary
from ._layout import to_cli_layout, variant_specs
from ._tensors import Tensor, as_tensor, write_npy, write_safetensors
from .results import nonfinite

# CLI options of the kernel-profile work; a binary without them refuses them by name.
_PROFILE_FLAGS = {"kernel": "--kernel", "form": "--form", "scale": "--scale"}


@dataclass
class ReplayResult:
    """What one replay wrote, as arrays: ``reference`` (o_ref, float64), ``outputs[label]`` (each
    recipe's emulated output, float32), ``errors[label]`` (relative error per position, recipes and
    compared outputs), ``states`` (final states, ``"ref"`` included), ``certification`` (the
    reference checked against MPFR), ``summary[label]`` (max, mean, last, final state)."""

    out: Path | None
    variant: str
    tokens: int
    reference: np.ndarray
    outputs: dict[str, np.ndarray]
    errors: dict[str, np.ndarray]
    states: dict[str, np.ndarray]
    certification: dict
    summary: dict[str, dict]
    report: str
    raw: dict = field(repr=False)

    def __getitem__(self, label: str) -> np.ndarray:
        return self.outputs[label]

    def table(self) -> str:
        """The answer table of report.md (markdown): one row per series."""
        rows = [ln for ln in self.report.splitlines() if ln.startswith("|")]
        end = next((i for i, ln in enumerate(rows) if ln.startswith("| position")), len(rows))
        return "\n".join(rows[:end])


def _recipe_args(recipes) -> list[str]:
    if recipes is None:
        return []
    if isinstance(recipes, str):
        recipes = [recipes]
    if isinstance(recipes, Mapping):
        recipes = [f"{label}:{spec}" for label, spec in recipes.items()]
    args = []
    for r in recipes:
        args += ["--recipe", str(r)]
    return args


def _flag_args(kernel, form, scale, preset, qk_l2norm, certify_tokens, jobs, extra) -> list[str]:
    args = []
    for key, value in (("kernel", kernel), ("form", form), ("scale", scale)):
        if value is not None:
            args += [_PROFILE_FLAGS[key], repr(float(value)) if key == "scale" else str(value)]
    if preset is not None:
        args += ["--preset", preset]
    if not qk_l2norm:
        args.append("--no-qk-l2norm")
    if certify_tokens is not None:
        args += ["--certify-tokens", str(int(certify_tokens))]
    if jobs is not None:
        args += ["--jobs", str(int(jobs))]
    for k, v in (extra or {}).items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    return args


def _prepare(variant: str, tensors, layout: str, work: Path) -> str:
    """A ready file (path) passes through; a mapping of tensors is checked, brought to the CLI's
    layout and written as one .safetensors file."""
    if isinstance(tensors, (str, os.PathLike)):
        if layout != "thd":
            raise AttnprecInputError(f"layout={layout!r}: a dump file given by path must already be in replay's layout ('thd')")
        return os.fspath(tensors)
    if not isinstance(tensors, Mapping):
        raise TypeError("tensors: a mapping name -> tensor (torch or NumPy), or the path of a replay dump")
    converted = {name: as_tensor(x, name) for name, x in tensors.items()}
    ready = to_cli_layout(variant, converted, layout, variant_specs(variant))
    return os.fspath(write_safetensors(work / "inputs.safetensors", ready))


def _compare_args(compare, variant: str, layout: str, work: Path) -> list[str]:
    if not compare:
        return []
    args = []
    for label, x in compare.items():
        if isinstance(x, (str, os.PathLike)):
            path = os.fspath(x)
        else:
            t = as_tensor(x, f"compare {label}")
            t = _output_layout(t, layout, label)
            path = os.fspath(write_npy(work / f"compare_{len(args)}.npy", t))
        args += ["--compare", f"{label}={path}"]
    return args


def _output_layout(t: Tensor, layout: str, label: str) -> Tensor:
    if layout == "thd":
        return t
    if t.array.ndim < 3 or t.shape[0] != 1:
        raise AttnprecInputError(f"compare '{label}': shape {list(t.shape)}; layout='{layout}' expects [1, …] (one sequence)")
    t = t.reshaped(t.shape[1:])
    return t.moved([1, 0, *range(2, t.array.ndim)]) if layout == "bhtd" else t


def replay(variant: str, tensors, recipes=None, *, kernel=None, form=None, compare=None, preset=None,
           layout: str = "thd", scale=None, qk_l2norm: bool = True, out=None, certify_tokens=None,
           jobs=None, **flags) -> ReplayResult:
    """Runs ``attnprec replay --variant VARIANT`` on ``tensors`` and reads back what it wrote.

    ``tensors``: a mapping name -> torch tensor / NumPy array (bf16 and fp8 carried bit-exactly),
    named as ``attnprec variants show VARIANT`` lists them, in ``layout`` (``"thd"``: [T, H, …];
    ``"bthd"``: FLA's [1, T, H, …]; ``"bhtd"``: head-first [1, H, T, …]); or the path of a dump.
    ``recipes``: ``"role=SPEC,…"`` strings (optionally ``"LABEL:role=SPEC,…"``) or a mapping
    label -> spec. ``compare``: label -> your kernel's output (same layout) or a .npy path.
    ``kernel``/``form``/``scale`` are passed only when given. Other keyword flags
    (``top_k=2048``, ``block_size=64``, ``layer=3``) become ``--top-k 2048`` etc.
    ``out``: the folder to keep (default: a temporary one, removed after reading).
    """
    binary = find_binary()
    keep = out is not None
    work = Path(tempfile.mkdtemp(prefix="attnprec-replay-"))
    try:
        inputs = _prepare(variant, tensors, layout, work)
        target = Path(out) if keep else work / "out"
        args = ["replay", "--variant", variant, inputs, *_recipe_args(recipes),
                *_compare_args(compare, variant, layout, work),
                *_flag_args(kernel, form, scale, preset, qk_l2norm, certify_tokens, jobs, flags), "--out", os.fspath(target)]
        try:
            run_binary(args, binary=binary)
        except AttnprecInputError as e:
            _raise_if_unsupported(e, kernel=kernel, form=form, scale=scale)
            if re.search(r"unknown role '[^'=,]*:", str(e)):
                raise NotImplementedError(f"recipe labels (LABEL:role=SPEC): this attnprec binary ({binary.version}) has none; "
                                          f"update attnprec, or pass recipes without labels") from None
            raise
        return load_replay(target, mmap=keep, out=target if keep else None)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _raise_if_unsupported(e: AttnprecInputError, **given) -> None:
    for key, value in given.items():
        flag = _PROFILE_FLAGS[key]
        if value is not None and f"'{flag}'" in str(e) and "nknown option" in str(e):
            raise NotImplementedError(
                f"{key}={value!r}: this attnprec binary has no {flag} option yet (kernel profiles); "
                f"update attnprec, or leave {key} unset") from None


def load_replay(folder, *, mmap: bool = True, out=None) -> ReplayResult:
    """A replay's output folder as a :class:`ReplayResult` (arrays memory-mapped when ``mmap``)."""
    folder = Path(folder)
    raw = nonfinite(json.loads((folder / "errors.json").read_text()))
    mode = "r" if mmap else None

    def load(name):
        return np.load(folder / name, mmap_mode=mode, allow_pickle=False)

    outputs, errors, states, summary = {}, {}, {}, {}
    for s in raw["series"]:
        label = s["name"]
        errors[label] = np.asarray(s["output_rel_err"], dtype=np.float64)
        summary[label] = {"kind": s["kind"], "max": s["max_output_rel_err"], "mean": s["mean_output_rel_err"],
                          "last": errors[label][-1] if len(errors[label]) else None,
                          "final_state": s.get("final_state_rel_err"), "recipe": s.get("recipe"), "file": s["file"]}
        if s["kind"] == "recipe":
            outputs[label] = load(s["file"])
            state = folder / ("state_" + s["file"][2:])
            if state.exists():
                states[label] = load(state.name)
    if (folder / "state_ref.npy").exists():
        states["ref"] = load("state_ref.npy")
    return ReplayResult(out=out, variant=raw["variant"], tokens=raw["tokens"], reference=load("o_ref.npy"),
                        outputs=outputs, errors=errors, states=states, certification=raw["reference"],
                        summary=summary, report=(folder / "report.md").read_text(), raw=raw)
