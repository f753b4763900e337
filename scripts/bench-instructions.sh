#!/usr/bin/env bash
# Compares two attnprec binaries by instructions executed (valgrind's callgrind), bench by bench
# and function by function: a deterministic companion to bench-compare.sh for machines too noisy
# (shared VMs, two cores under load) to time a 5% difference. Instructions are not time — a
# memory-bound kernel's speed depends on bandwidth, and code placement can move timings without
# moving a count — but a code-generation regression (lost specialisation, an added check in a
# loop, a protocol witness call) shows up here exactly, run after run.
#
#   scripts/bench-instructions.sh [--out DIR] [--benches LIST] OLD_BIN NEW_BIN
#
# --benches: comma-separated subset of formats,long,reference,kernels (default
#            formats,long,reference; kernels runs OpenBLAS and the chunked forms under callgrind
#            and took over 14 minutes here without finishing).
#
# Each bench runs with a fixed amount of work: `formats --count 262144 --repeats 1`, `long
# --tokens 2048 --baseline-tokens 2048 --threads 1`, and `reference`/`kernels` with `--seconds
# 0.001` (under callgrind every timed loop then runs its warm-up and one iteration). Prints per
# bench the total instructions of OLD and NEW and old/new (above 1: NEW executes fewer), then
# per bench its 12 costliest functions (self cost, ≥ 1% of its instructions) with their old/new ratio, and
# flags ratios below 0.95. Needs valgrind and python3; the default benches take about 10
# minutes on 2 cores.
set -euo pipefail
die() { echo "bench-instructions: $*" >&2; exit 2; }
OUT="" BENCHES=formats,long,reference
while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT=${2:?}; shift 2 ;;
        --benches) BENCHES=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) break ;;
    esac
done
[ $# = 2 ] || die "expected OLD_BIN NEW_BIN (see --help)"
command -v valgrind >/dev/null || die "valgrind is not installed (apt-get install valgrind)"
for b in "$1" "$2"; do [ -x "$b" ] && [ -f "$b" ] || die "$b: not an executable file"; done
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/attnprec-instr.XXXXXX")}
mkdir -p "$OUT"
# valgrind cannot read the Swift compiler's DWARF: run copies without debug sections.
strip --strip-debug -o "$OUT/old.bin" "$1"
strip --strip-debug -o "$OUT/new.bin" "$2"
args() {
    case $1 in
        formats) echo "--count 262144 --repeats 1" ;;
        long) echo "--tokens 2048 --baseline-tokens 2048 --threads 1" ;;
        reference|kernels) echo "--seconds 0.001" ;;
    esac
}
for b in ${BENCHES//,/ }; do
    case $b in formats|kernels|reference|long) ;; *) die "--benches: unknown bench '$b'; expected formats, long, reference, kernels" ;; esac
done
for b in ${BENCHES//,/ }; do
    for side in old new; do
        # shellcheck disable=SC2046
        valgrind --tool=callgrind --callgrind-out-file="$OUT/$b.$side.cg" "$OUT/$side.bin" bench "$b" $(args $b) \
            > "$OUT/$b.$side.txt" 2>&1 &
    done
    wait || die "a run of bench $b failed; see $OUT/$b.*.txt"
    echo "bench-instructions: $b done" >&2
done
python3 - "$OUT" "$BENCHES" <<'PY'
import re, subprocess, sys
out = sys.argv[1]
def profile(path):
    text = subprocess.run(["callgrind_annotate", "--threshold=100", path], capture_output=True, text=True, check=True).stdout
    total, funcs = None, {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(.*)", line)
        if not m: continue
        n = int(m.group(1).replace(",", ""))
        if "PROGRAM TOTALS" in m.group(2): total = n; continue
        name = re.sub(r"\s*\[[^\]]*\]$", "", m.group(2)).split(":", 1)[-1]
        # The bench harness moved modules; compare the symbol without its module prefix.
        name = re.sub(r"^\$s\d+[A-Za-z]+", "", name)
        funcs[name] = funcs.get(name, 0) + n
    return total, funcs
print("| bench | old instructions | new instructions | old/new |\n|---|---:|---:|---:|")
details = []
for b in sys.argv[2].split(","):
    (to, fo), (tn, fn) = profile(f"{out}/{b}.old.cg"), profile(f"{out}/{b}.new.cg")
    r = to / tn
    print(f"| {b} | {to:,} | {tn:,} | {r:.3f}{' ⚠' if r < 0.95 else ''} |")
    for name in sorted(set(fo) | set(fn), key=lambda k: -max(fo.get(k, 0), fn.get(k, 0)))[:12]:
        o, n = fo.get(name, 0), fn.get(name, 0)
        if max(o, n) < 0.01 * min(to, tn): continue
        ratio = f"{o / n:.3f}" if o and n else ("only old" if o else "only new")
        flag = " ⚠" if (o and n and o / n < 0.95) or not o else ""
        details.append(f"| {b} | `{name[:90]}` | {o:,} | {n:,} | {ratio}{flag} |")
print("\n| bench | function (self) | old | new | old/new |\n|---|---|---:|---:|---:|")
print("\n".join(details))
PY
