"""Studies and gates from Python: ``run``, ``validate``, ``load_results``."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ._binary import run_binary

_NONFINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def nonfinite(x):
    """attnprec's JSON writes NaN/±Inf as the strings "NaN"/"Infinity"/"-Infinity": back to floats."""
    if isinstance(x, str):
        return _NONFINITE.get(x, x)
    if isinstance(x, list):
        return [nonfinite(v) for v in x]
    if isinstance(x, dict):
        return {k: nonfinite(v) for k, v in x.items()}
    return x


def load_results(folder, *, as_frame: bool | None = None):
    """The records of a results folder (``results.jsonl`` of ``attnprec run``): a list of dicts, or
    a pandas DataFrame (nested keys flattened: ``summary.verdict``) when pandas is installed and
    ``as_frame`` is not False."""
    path = Path(folder)
    if path.is_dir():
        path = path / "results.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no results (expected the results.jsonl that `attnprec run` writes)")
    records = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    records.append(nonfinite(json.loads(line)))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{n}: not a JSON record ({e.msg})") from None
    if as_frame is False:
        return records
    try:
        import pandas as pd
    except ImportError:
        if as_frame:
            raise
        return records
    return pd.json_normalize(records, max_level=1)


def _config_file(config, work: Path, default_name: str) -> str:
    """A path passes through; a mapping is written as YAML (JSON is YAML) named by its ``name``."""
    if isinstance(config, (str, os.PathLike)):
        return os.fspath(config)
    if not isinstance(config, Mapping):
        raise TypeError("config: a path or a mapping")
    name = str(config.get("name", default_name))
    path = work / f"{name}.yaml"
    path.write_text(json.dumps(config, indent=2))
    return os.fspath(path)


def _options(**given) -> list[str]:
    """``--flag value`` for each given option (None: left out; True: a bare flag)."""
    args = []
    for key, value in given.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is not None and value is not False:
            args += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return args


def _run_config(command: str, config, default_name: str, options: list[str], ok=(0,)):
    """``attnprec COMMAND CONFIG OPTIONS…`` with a mapping config written to a temporary file."""
    work = Path(tempfile.mkdtemp(prefix=f"attnprec-{command}-"))
    try:
        return run_binary([command, _config_file(config, work, default_name), *options], ok=ok)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(config, out=None, *, jobs=None, force=False, resume=False, shard=None):
    """``attnprec run CONFIG --out OUT`` and its records (:func:`load_results`). ``config``: a
    study config path or a mapping (written as a temporary YAML file)."""
    _run_config("run", config, "study", _options(out=out, jobs=jobs, shard=shard, force=force, resume=resume))
    if out is None:
        name = Path(config).stem if isinstance(config, (str, os.PathLike)) else str(config.get("name", "study"))
        out = Path("reports") / name
    return load_results(out)


@dataclass
class Gate:
    """``attnprec validate``'s verdict: ``passed`` (exit 0) or not (exit 1), the table it printed."""

    passed: bool
    returncode: int
    table: str
    junit: Path | None
    summary: Path | None

    def __bool__(self) -> bool:
        return self.passed


def validate(budgets, *, junit=None, summary=None, jobs=None) -> Gate:
    """``attnprec validate BUDGETS``: a :class:`Gate` (a failed budget is a result, not an
    exception; a bad budgets file raises AttnprecInputError)."""
    r = _run_config("validate", budgets, "budgets", _options(junit=junit, summary=summary, jobs=jobs), ok=(0, 1))
    return Gate(r.returncode == 0, r.returncode, r.stdout, Path(junit) if junit else None, Path(summary) if summary else None)
