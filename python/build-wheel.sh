#!/usr/bin/env bash
# build-wheel.sh BINARY [OUTDIR]: a platform wheel (py3-none-linux_<machine>) of the Python
# package with BINARY bundled as attnprec/bin/attnprec — meant for the portable build
# (`make portable`), which needs no Swift toolchain on the target: glibc and libstdc++ as new
# as the build machine's, libmpfr6, libgmp10 and libopenblas0 (see README "Install and portable
# builds"). Without BINARY, `pip install ./python` gives the pure package that finds a binary
# through ATTNPREC_BIN or PATH.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:?usage: build-wheel.sh BINARY [OUTDIR]}"
out="${2:-$here/dist}"
"$bin" --version >/dev/null || { echo "build-wheel.sh: $bin: not a working attnprec binary" >&2; exit 2; }
mkdir -p "$here/src/attnprec/bin" "$out"
trap 'rm -rf "$here/src/attnprec/bin" "$here/build"' EXIT
install -m 755 "$bin" "$here/src/attnprec/bin/attnprec"
python3 -m pip wheel --no-deps --wheel-dir "$out" "$here"
ls "$out"/attnprec-*.whl
