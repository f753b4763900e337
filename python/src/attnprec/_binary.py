"""Finding and running the attnprec binary.

Order: ``$ATTNPREC_BIN`` (or ``$ATTNPREC``), the binary bundled in a platform wheel
(``attnprec/bin/attnprec``), ``attnprec`` on ``PATH`` (never the wheel's own entry-point shim,
which would call back into Python), then a SwiftPM build folder (``.build/release/attnprec``) of
the checkout this package or the working directory sits in.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

SHIM_MARKER = b"attnprec._cli"


class AttnprecError(RuntimeError):
    """The binary failed (not a bad input): missing, crashed, or exited with an unexpected code."""


class AttnprecInputError(ValueError):
    """The binary refused an input (exit 2): the message is its one stderr line."""


@dataclass(frozen=True)
class Binary:
    path: str
    version: str
    """The first line of ``attnprec --version``."""
    source: str
    """Where it was found: ATTNPREC_BIN, wheel, PATH or build folder."""


def _is_shim(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return True
    return head.startswith(b"#!") and SHIM_MARKER in head


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _candidates():
    for var in ("ATTNPREC_BIN", "ATTNPREC"):
        value = os.environ.get(var)
        if value:
            yield Path(value), var
            return
    yield Path(__file__).resolve().parent / "bin" / "attnprec", "wheel"
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if d:
            p = Path(d) / "attnprec"
            if _executable(p) and not _is_shim(p):
                yield p, "PATH"
    starts = [Path(__file__).resolve().parent, Path.cwd().resolve()]
    for start in starts:
        for d in [start, *start.parents]:
            for sub in (".build/release/attnprec", ".build/debug/attnprec"):
                yield d / sub, "build folder"


@functools.lru_cache(maxsize=None)
def _version(path: str) -> str:
    for flag in ("--version", "version"):
        try:
            r = subprocess.run([path, flag], capture_output=True, text=True, timeout=60)
        except OSError as e:
            raise AttnprecError(f"{path}: cannot run ({e.strerror})") from None
        first = r.stdout.splitlines()[0] if r.stdout else ""
        if r.returncode == 0:
            break
    if r.returncode != 0 or not first.startswith("attnprec"):
        raise AttnprecError(f"{path}: not an attnprec binary (`--version` printed {first!r}, exit {r.returncode})")
    return first


def find_binary() -> Binary:
    """The binary this package runs, its version checked (``attnprec --version`` must answer)."""
    for path, source in _candidates():
        if source in ("ATTNPREC_BIN", "ATTNPREC"):
            if not _executable(path):
                raise AttnprecError(f"${source}={path}: not an executable file")
        elif not _executable(path):
            continue
        p = str(path)
        return Binary(p, _version(p), source)
    raise AttnprecError(
        "no attnprec binary: set ATTNPREC_BIN, install the platform wheel, put attnprec on PATH, "
        "or build it (`swift build -c release --product attnprec`)"
    )


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str


def run_binary(args: list[str], *, ok=(0,), binary: Binary | None = None) -> Completed:
    """Runs the binary; exit 2 raises AttnprecInputError with its one line, another code not in
    ``ok`` raises AttnprecError."""
    b = binary or find_binary()
    r = subprocess.run([b.path, *args], capture_output=True, text=True)
    if r.returncode == 2:
        line = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "bad input"
        raise AttnprecInputError(re.sub(r"^attnprec: ", "", line))
    if r.returncode not in ok:
        tail = r.stderr.strip().splitlines()[-1:] or ["(no message)"]
        raise AttnprecError(f"attnprec {' '.join(args[:1])} exited {r.returncode}: {tail[0]}")
    return Completed(r.returncode, r.stdout, r.stderr)
