#!/usr/bin/env bash
# run-tests.sh [BINARY]: the Python package's tests in a virtual environment of its own (Debian
# refuses system-wide pip installs): numpy, safetensors, pytest and PyYAML from PyPI, the package
# installed from this folder, the tests run against BINARY (default: the release build's
# attnprec). Tests needing torch or pandas skip, saying so (-rs), where those are missing.
# ATTNPREC_PY_VENV moves the environment (default: .build/python-venv beside Package.swift).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
bin="${1:-$(cd "$root" && swift build -c release --show-bin-path 2>/dev/null)/attnprec}"
venv="${ATTNPREC_PY_VENV:-$root/.build/python-venv}"
[ -x "$bin" ] || { echo "run-tests.sh: $bin: no attnprec binary (build it first)" >&2; exit 2; }
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check numpy safetensors pytest pyyaml
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "$here"
cd "$here"
ATTNPREC_BIN="$bin" ATTNPREC_REQUIRE_BINARY=1 "$venv/bin/python" -m pytest -q -rs -p no:cacheprovider tests
