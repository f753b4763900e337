"""``attnprec.capture``: record the inputs of FLA's public ops and of
``torch.nn.functional.scaled_dot_product_attention`` during a forward pass, as replay-ready
``.safetensors`` files.

Patched where they are looked up: the op's own module, ``fla.ops``, every imported module that
took the function by name (``fla.layers.*``, your code), and ``torch.nn.functional``. Call sites
that hold their own copy (vLLM's vendored kernels, transformers' torch fallbacks such as
``torch_chunk_gated_delta_rule``, ``torch._C`` entry points) are not seen.
"""

from __future__ import annotations

import inspect
import math
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._tensors import Tensor, as_tensor, write_npy, write_safetensors

FLA_LAYOUT = "bthd"


@dataclass(frozen=True)
class OpSpec:
    variant: str
    modules: tuple[str, ...]
    params: tuple[str, ...]
    """Positional parameter names, used when the function has no Python signature."""


_GDN = ("q", "k", "v", "g", "beta", "scale", "initial_state", "output_final_state")
_GLA = ("q", "k", "v", "g", "scale", "initial_state", "output_final_state")
OPS: dict[str, OpSpec] = {
    "chunk_gated_delta_rule": OpSpec("gated_deltanet", ("fla.ops.gated_delta_rule", "fla.ops"), _GDN),
    "fused_recurrent_gated_delta_rule": OpSpec("gated_deltanet", ("fla.ops.gated_delta_rule", "fla.ops"), _GDN),
    "chunk_kda": OpSpec("kda", ("fla.ops.kda", "fla.ops"), _GDN),
    "fused_recurrent_kda": OpSpec("kda", ("fla.ops.kda", "fla.ops"), _GDN),
    "chunk_gla": OpSpec("gla", ("fla.ops.gla", "fla.ops"), _GLA),
    "fused_chunk_gla": OpSpec("gla", ("fla.ops.gla", "fla.ops"), _GLA),
    "fused_recurrent_gla": OpSpec("gla", ("fla.ops.gla", "fla.ops"), ("q", "k", "v", "gk", "gv", "scale", "initial_state")),
    "chunk_simple_gla": OpSpec("gla", ("fla.ops.simple_gla", "fla.ops"), ("q", "k", "v", "g", "g_gamma", "scale", "initial_state")),
    "fused_recurrent_simple_gla": OpSpec("gla", ("fla.ops.simple_gla", "fla.ops"), ("q", "k", "v", "g", "g_gamma", "scale", "initial_state")),
    "scaled_dot_product_attention": OpSpec(
        "mha", ("torch.nn.functional",), ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")),
}


class Skip(Exception):
    """A call replay cannot represent; recorded in ``capture.skipped`` with the reason."""


@dataclass
class CapturedCall:
    """One recorded call: ``id`` is the caller's path and a counter (``layers.0.attn#0``)."""

    id: str
    op: str
    variant: str
    caller: str
    path: Path
    tokens: int
    scale: float | None
    """The call's ``scale`` when it was not the kernel's default 1/sqrt(K); None otherwise."""
    qk_l2norm: bool
    metadata: dict = field(default_factory=dict)
    output: Path | None = None
    """The op's own output o in replay's layout (``…-N.o.npy``), compared as ``kernel``."""

    def replay(self, recipes=None, **kwargs):
        from .replay import replay

        kwargs.setdefault("qk_l2norm", self.qk_l2norm)
        if self.output is not None and self.output.exists():
            kwargs.setdefault("compare", {"kernel": self.output})
        if self.scale is not None:
            kwargs.setdefault("scale", self.scale)
        return replay(self.variant, self.path, recipes, **kwargs)


def _bind(fn, spec: OpSpec, args, kwargs) -> dict:
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments) | dict(bound.arguments.get("kwargs", {}) or {})
    except (TypeError, ValueError):
        named = dict(zip(spec.params, args))
        named.update(kwargs)
        return named


def _flag(value, default=False) -> bool:
    return default if value is None else bool(value)


def _strip(t: Tensor, name: str, head_first: bool) -> Tensor:
    """[B=1, T, H, …] (or [1, H, T, …] head-first) → [T, H, …]."""
    if t.array.ndim < 2 or t.shape[0] != 1:
        raise Skip(f"'{name}' has shape {list(t.shape)}: replay takes one sequence (batch 1 or cu_seqlens)")
    t = t.reshaped(t.shape[1:])
    if head_first and t.array.ndim >= 2:
        t = t.moved([1, 0, *range(2, t.array.ndim)])
    return t


def _segments(a: dict, tensors: dict[str, Tensor]) -> list[tuple[int, int]]:
    cu = a.get("cu_seqlens")
    T = next(iter(tensors.values())).shape[0]
    if cu is None:
        return [(0, T)]
    cu = [int(x) for x in (cu.detach().cpu().tolist() if hasattr(cu, "detach") else np.asarray(cu).tolist())]
    return list(zip(cu[:-1], cu[1:]))


def fla_tensors(op: str, a: dict) -> tuple[list[dict[str, Tensor]], dict]:
    """The replay tensors of one FLA call (one dump per sequence of ``cu_seqlens``) and its flags."""
    if a.get("use_gate_in_kernel") and "gated_delta" not in op:
        raise Skip("use_gate_in_kernel=True: g is the raw gate, not the log decay replay reads")
    if a.get("gv") is not None:
        raise Skip("gv (value-side decay) is not replayed")
    head_first = _flag(a.get("head_first"))
    names = ["q", "k", "v"]
    if op in ("chunk_gated_delta_rule", "fused_recurrent_gated_delta_rule"):
        names += ["g", "beta"]
    elif op in ("chunk_kda", "fused_recurrent_kda"):
        names += ["g", "beta"]
    timed = {}
    for n in names:
        if a.get(n) is None:
            raise Skip(f"'{n}' not given")
        timed[n] = _strip(as_tensor(a[n], n), n, head_first)
    K = timed["q"].shape[-1]
    if "gated_delta" in op:
        _gdn_gates(a, timed)
    if op in ("chunk_kda", "fused_recurrent_kda"):
        timed["gk"] = timed.pop("g")
    elif op.endswith("simple_gla"):
        timed["gk"] = _simple_gate(a, timed["q"], head_first)
    elif "gla" in op:
        gate = a.get("gk") if op == "fused_recurrent_gla" else a.get("g")
        if gate is None:
            raise Skip("no gate (gk/g) given")
        timed["gk"] = _strip(as_tensor(gate, "gk"), "gk", head_first)
    h0 = a.get("initial_state")
    state = None if h0 is None else as_tensor(h0, "initial_state")
    if state is not None and _flag(a.get("state_v_first")):
        state = state.moved([*range(state.array.ndim - 2), state.array.ndim - 1, state.array.ndim - 2])
    dumps = []
    segments = _segments(a, timed)
    for i, (s, e) in enumerate(segments):
        d = {n: Tensor(np.ascontiguousarray(t.array[s:e]), t.dtype) for n, t in timed.items()}
        if state is not None:
            h = state.array[i] if state.array.ndim == 4 else state.array
            d["initial_state"] = Tensor(np.ascontiguousarray(h), state.dtype)
        dumps.append(d)
    flags = {"scale": a.get("scale"), "default_scale": 1 / math.sqrt(K), "head_first": head_first, "segments": segments,
             "qk_l2norm": _flag(a.get("use_qk_l2norm_in_kernel")) if "delta" in op or "kda" in op else True}
    return dumps, flags


def _gdn_gates(a: dict, timed: dict[str, Tensor]) -> None:
    """Gates FLA computes inside the kernel, computed here in float64 from the same inputs:
    g = −exp(A_log)·softplus(g + dt_bias) (``use_gate_in_kernel``), β = sigmoid(β) or
    2·sigmoid(β) (``use_beta_sigmoid_in_kernel``, ``allow_neg_eigval``)."""
    if _flag(a.get("use_gate_in_kernel")):
        if a.get("A_log") is None:
            raise Skip("use_gate_in_kernel=True without A_log")
        x = timed["g"].to_float64()
        if a.get("dt_bias") is not None:
            x = x + as_tensor(a["dt_bias"], "dt_bias").to_float64()
        softplus = np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20))))
        timed["g"] = Tensor(np.ascontiguousarray(-np.exp(as_tensor(a["A_log"], "A_log").to_float64()) * softplus), "F64")
    if _flag(a.get("use_beta_sigmoid_in_kernel")):
        factor = 2.0 if _flag(a.get("allow_neg_eigval")) else 1.0
        timed["beta"] = Tensor(np.ascontiguousarray(factor / (1 + np.exp(-timed["beta"].to_float64()))), "F64")


def _simple_gate(a: dict, q: Tensor, head_first: bool) -> Tensor:
    """simple-GLA's per-head gate, [T, H] (or a constant ``g_gamma`` [H]), as gk [T, H, K]."""
    T, H, K = q.shape
    if a.get("g") is not None:
        g = _strip(as_tensor(a["g"], "g"), "g", head_first).to_float64()
    elif a.get("g_gamma") is not None:
        g = np.broadcast_to(as_tensor(a["g_gamma"], "g_gamma").to_float64(), (T, H))
    else:
        raise Skip("neither g nor g_gamma given")
    return Tensor(np.ascontiguousarray(np.broadcast_to(g.reshape(T, H, 1), (T, H, K))), "F64")


def sdpa_tensors(a: dict) -> tuple[list[dict[str, Tensor]], dict, str]:
    """SDPA's q, k, v ([B, H, T, D]) as one causal prefill, its variant by the head counts."""
    if a.get("attn_mask") is not None:
        raise Skip("attn_mask given: replay runs plain causal attention")
    if not _flag(a.get("is_causal")):
        raise Skip("is_causal=False: replay runs causal attention")
    if float(a.get("dropout_p") or 0) != 0:
        raise Skip("dropout_p > 0")
    t = {n: _strip(as_tensor(a[src], n), n, True) for n, src in (("q", "query"), ("k", "key"), ("v", "value"))}
    if t["q"].shape[0] != t["k"].shape[0]:
        raise Skip(f"{t['q'].shape[0]} queries against {t['k'].shape[0]} keys (a decode step): replay takes a prefill")
    hq, hkv = t["q"].shape[1], t["k"].shape[1]
    variant = "mha" if hq == hkv else "mqa" if hkv == 1 else "gqa"
    T = t["q"].shape[0]
    return [t], {"scale": a.get("scale"), "default_scale": 1 / math.sqrt(t["q"].shape[-1]), "qk_l2norm": True,
                 "head_first": True, "segments": [(0, T)]}, variant


def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", s)


class capture:
    """Context manager recording FLA op and SDPA inputs as replay dumps.

    ``with attnprec.capture(model, out="dumps") as cap: model(x)``, then ``cap.calls`` (what was
    written) and ``cap.replay(recipes)`` (every call replayed, a dict id -> ReplayResult).
    ``model``: names calls by the ``nn.Module`` path that made them (else the Python module's
    name); ``ops``: which op names to patch (default: all of :data:`OPS`); ``modules``: extra
    modules or objects to patch (e.g. a module that imported an op under another name).
    """

    def __init__(self, model=None, out=None, ops=None, modules=(), max_calls=None, outputs=True):
        self.out = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="attnprec-capture-"))
        self.ops = {n: OPS[n] for n in (ops or OPS)}
        self.extra = list(modules)
        self.max_calls = max_calls
        self.outputs = outputs
        self.calls: list[CapturedCall] = []
        self.skipped: list[tuple[str, str, str]] = []
        self._names = {id(m): n for n, m in model.named_modules()} if model is not None else {}
        self._counters: dict[str, int] = {}
        self._patches: list[tuple[object, str, object, object]] = []

    # -- patching ------------------------------------------------------------------------
    def _originals(self, name: str, spec: OpSpec):
        found = []
        for modname in spec.modules:
            mod = sys.modules.get(modname)
            fn = getattr(mod, name, None) if mod is not None else None
            if fn is not None and not getattr(fn, "__attnprec_capture__", False) and fn not in found:
                found.append(fn)
        return found

    def __enter__(self):
        self.out.mkdir(parents=True, exist_ok=True)
        holders = [m for m in list(sys.modules.values()) if m is not None] + self.extra
        for name, spec in self.ops.items():
            for orig in self._originals(name, spec):
                wrapper = self._wrap(name, spec, orig)
                for holder in holders:
                    if getattr(holder, name, None) is orig:
                        setattr(holder, name, wrapper)
                        self._patches.append((holder, name, orig, wrapper))
        return self

    def __exit__(self, *exc):
        for holder, name, orig, wrapper in reversed(self._patches):
            if getattr(holder, name, None) is wrapper:
                setattr(holder, name, orig)
        self._patches.clear()
        return False

    def _wrap(self, name: str, spec: OpSpec, orig):
        def wrapper(*args, **kwargs):
            pending = None
            if self.max_calls is None or len(self.calls) < self.max_calls:
                pending = self._record(name, spec, orig, args, kwargs, sys._getframe(1))
            result = orig(*args, **kwargs)
            if pending and self.outputs:
                self._write_output(pending, result)
            return result

        wrapper.__attnprec_capture__ = True
        wrapper.__wrapped__ = orig
        wrapper.__name__ = getattr(orig, "__name__", name)
        return wrapper

    # -- recording -----------------------------------------------------------------------
    def _caller(self, frame) -> str:
        f = frame
        while f is not None and self._names:
            owner = f.f_locals.get("self")
            if owner is not None and id(owner) in self._names:
                return self._names[id(owner)] or "model"
            f = f.f_back
        return frame.f_globals.get("__name__", "?")

    def _record(self, name: str, spec: OpSpec, orig, args, kwargs, frame) -> None:
        caller = self._caller(frame)
        n = self._counters.get(caller, 0)
        self._counters[caller] = n + 1
        call_id = f"{caller}#{n}"
        a = _bind(orig, spec, args, kwargs)
        try:
            if name == "scaled_dot_product_attention":
                dumps, flags, variant = sdpa_tensors(a)
            else:
                (dumps, flags), variant = fla_tensors(name, a), spec.variant
        except Skip as e:
            self.skipped.append((call_id, name, str(e)))
            return None
        scale = flags["scale"]
        custom = None if scale is None or math.isclose(float(scale), flags["default_scale"], rel_tol=1e-6) else float(scale)
        for i, d in enumerate(dumps):
            sub = call_id if len(dumps) == 1 else f"{call_id}.seq{i}"
            meta = {"attnprec.variant": variant, "attnprec.op": name, "attnprec.call": sub, "attnprec.caller": caller,
                    "attnprec.scale": repr(float(scale)) if scale is not None else "default",
                    "attnprec.qk_l2norm": str(flags["qk_l2norm"]).lower()}
            path = write_safetensors(self.out / f"{_safe(caller)}-{n}{'' if len(dumps) == 1 else f'.seq{i}'}.safetensors", d, meta)
            self.calls.append(CapturedCall(sub, name, variant, caller, path, next(iter(d.values())).shape[0], custom,
                                           flags["qk_l2norm"], meta))
        return self.calls[-len(dumps):], flags

    def _write_output(self, pending, result) -> None:
        """The op's output o ([B, T, H, V], or head-first) beside each dump, in replay's layout."""
        calls, flags = pending
        o = result[0] if isinstance(result, (tuple, list)) else result
        try:
            t = _strip(as_tensor(o, "o"), "o", flags["head_first"])
        except (Skip, TypeError):
            return
        for c, (s, e) in zip(calls, flags["segments"]):
            seg = Tensor(np.ascontiguousarray(t.array[s:e]), t.dtype)
            if seg.dtype in ("F8_E4M3", "F8_E5M2") or seg.array.ndim < 2:
                continue
            c.output = write_npy(c.path.with_name(c.path.name.replace(".safetensors", ".o.npy")), seg)

    def replay(self, recipes=None, **kwargs) -> dict:
        """Every recorded call replayed (see :func:`attnprec.replay`): a dict id -> ReplayResult."""
        return {c.id: c.replay(recipes, **kwargs) for c in self.calls}
