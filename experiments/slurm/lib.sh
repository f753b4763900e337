# Sourced by submit.sh, sweep.sbatch and merge.sbatch.

# The attnprec binary: $ATTNPREC, else `attnprec` on PATH (make install), else the release build
# of the checkout ($1, `swift build -c release`). Prints its path, or one line naming all three.
attnprec_binary() {
  local who=$1 repo=$2
  if [ -n "${ATTNPREC:-}" ]; then
    [ -x "$ATTNPREC" ] || { echo "$who: ATTNPREC=$ATTNPREC is not an executable file; expected the path of attnprec" >&2; return 2; }
    echo "$ATTNPREC"; return 0
  fi
  if command -v attnprec >/dev/null 2>&1; then command -v attnprec; return 0; fi
  if [ -x "$repo/.build/release/attnprec" ]; then echo "$repo/.build/release/attnprec"; return 0; fi
  echo "$who: no attnprec binary: expected \$ATTNPREC, attnprec on PATH (make install PREFIX=...), or $repo/.build/release/attnprec (swift build -c release)" >&2
  return 2
}
