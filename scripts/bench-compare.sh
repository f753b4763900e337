#!/usr/bin/env bash
# Compares the throughput of two attnprec binaries: `bench formats`, `bench kernels`,
# `bench reference` and `bench long` of OLD and NEW, interleaved (run 1: each bench with OLD then
# NEW; then runs 2 and 3), so a change in the machine's speed during the comparison hits both.
# Prints a markdown table: bench | row | old median | new median | new/old, where new/old is a
# speed ratio (for rows measured in seconds, old/new), and flags rows whose ratio is below 0.95.
# A last column gives each row's median ratio to the baseline its bench measured in the same
# process (memcpy, the fp32-state loop, …; the bench's own "ratio"), old → new: it moves less
# than the raw numbers when the machine's speed changes.
#
#   scripts/bench-compare.sh [--runs N] [--benches LIST] [--quick] [--out DIR] OLD_BIN NEW_BIN
#
# --benches: comma-separated subset of formats,kernels,reference,long (default all).
# --quick:   small sizes to check the script itself (formats bfloat16 only on 2^22 elements,
#            0.1 s measurements, a 16k-token long run); its numbers are noisy.
# --out:     where the JSON of every run is kept (default a new folder under /tmp).
# With the default sizes one run of the four benches should take about a minute per binary on a
# quiet 2-core machine (an estimate from the CPU seconds each used here and the README's
# figures: long ≈ 30 s, kernels ≈ 15 s, formats ≈ 6 s, reference ≈ 3 s; kernels adds a child run
# of its chunked rows when OPENBLAS_CORETYPE is set), so the whole comparison (3 × 2 runs)
# 5–7 minutes. Benchmarks are only comparable on a quiet machine: the load average is printed
# before and after. Needs python3 (no packages).
set -euo pipefail

die() { echo "bench-compare: $*" >&2; exit 2; }
RUNS=3 BENCHES=formats,kernels,reference,long QUICK=0 OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=${2:?}; shift 2 ;;
        --benches) BENCHES=${2:?}; shift 2 ;;
        --quick) QUICK=1; shift ;;
        --out) OUT=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) break ;;
    esac
done
[ $# = 2 ] || die "expected OLD_BIN NEW_BIN (see --help)"
OLD=$1 NEW=$2
for b in "$OLD" "$NEW"; do [ -x "$b" ] && [ -f "$b" ] || die "$b: not an executable file"; done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs: expected a positive integer, got '$RUNS'"
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/attnprec-bench.XXXXXX")}
mkdir -p "$OUT"

args_for() {
    if [ $QUICK = 1 ]; then
        case $1 in
            formats) echo "--only bfloat16 --count 4194304 --repeats 2" ;;
            kernels) echo "--seconds 0.1" ;;
            reference) echo "--seconds 0.1" ;;
            long) echo "--tokens 16384 --baseline-tokens 4096" ;;
        esac
    fi
}
for b in ${BENCHES//,/ }; do
    case $b in formats|kernels|reference|long) ;; *) die "--benches: unknown bench '$b'; expected formats, kernels, reference, long" ;; esac
done

echo "bench-compare: OLD $OLD ($(sha256sum "$OLD" | cut -c1-16)), NEW $NEW ($(sha256sum "$NEW" | cut -c1-16))" >&2
echo "bench-compare: $RUNS runs of [$BENCHES]$([ $QUICK = 1 ] && echo ' (--quick)'), JSON in $OUT; load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
start=$(date +%s.%N)
for r in $(seq 1 "$RUNS"); do
    for b in ${BENCHES//,/ }; do
        for side in old new; do
            bin=$OLD; [ $side = new ] && bin=$NEW
            t0=$(date +%s.%N)
            # shellcheck disable=SC2046 # the options are separate words
            "$bin" bench "$b" $(args_for "$b") --json "$OUT/$b.$side.$r.json" > "$OUT/$b.$side.$r.txt" 2>&1 \
                || die "$side bench $b (run $r) failed; see $OUT/$b.$side.$r.txt"
            awk -v a="$t0" -v b="$(date +%s.%N)" -v s="$side" -v n="$b" -v r="$r" \
                'BEGIN { printf "bench-compare: run %d %-9s %-3s %6.1f s\n", r, n, s, b - a }' >&2
        done
    done
done
awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "bench-compare: %.0f s in all", b - a }' >&2
echo "; load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$OUT" "$RUNS" "$BENCHES" <<'EOF'
import json, statistics, sys

out, runs, benches = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")

def lower_is_better(unit):
    return unit in ("s", "ms", "us", "ns") or unit.split("/")[0] in ("s", "ms", "us", "ns")

def fmt(x, unit):
    return f"{x:.4g} {unit}"

print("| bench | row | old median | new median | new/old | in-run ratio old → new |")
print("|---|---|---:|---:|---:|---|")
flagged = 0
for b in benches:
    rows = {}  # name -> {"unit": u, "old": [...], "new": [...]}
    for side in ("old", "new"):
        for r in range(1, runs + 1):
            for m in json.load(open(f"{out}/{b}.{side}.{r}.json")):
                e = rows.setdefault(m["name"], {"unit": m["unit"], "old": [], "new": [], "old_ratio": [], "new_ratio": []})
                e[side].append(m["value"])
                e[side + "_ratio"].append(m["ratio"])
    for name, e in rows.items():
        if not e["old"] or not e["new"]:
            side = "old" if e["old"] else "new"
            print(f"| {b} | {name} | {fmt(statistics.median(e['old']), e['unit']) if e['old'] else '—'} | "
                  f"{fmt(statistics.median(e['new']), e['unit']) if e['new'] else '—'} | only in {side} ⚠ | |")
            flagged += 1
            continue
        o, n = statistics.median(e["old"]), statistics.median(e["new"])
        ratio = (o / n if lower_is_better(e["unit"]) else n / o) if o > 0 and n > 0 else float("nan")
        flag = " ⚠ slower" if not ratio >= 0.95 else ""
        flagged += bool(flag)
        inrun = f"{statistics.median(e['old_ratio']):.3f} → {statistics.median(e['new_ratio']):.3f}"
        print(f"| {b} | {name} | {fmt(o, e['unit'])} | {fmt(n, e['unit'])} | {ratio:.3f}{flag} | {inrun} |")
print()
print(f"new/old is a speed ratio (old/new for rows in seconds), medians of {runs} run(s); "
      f"{flagged} row(s) flagged below 0.95.")
EOF
