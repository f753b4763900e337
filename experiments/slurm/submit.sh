#!/usr/bin/env bash
# Submits a study as a Slurm job array of N shards and the merge as a job that runs once every
# shard has succeeded (afterok). Run it from the folder that holds the config and reports/
# (the checkout's root); every path below is relative to it.
#
#   experiments/slurm/submit.sh CONFIG N [OUT] [-- SBATCH_OPTION...]
#
# OUT: default reports/<config base name>. Options after `--` go to the array's sbatch (e.g.
# --cpus-per-task=8); those for both jobs (partition, account, qos) go in sbatch's own
# variables, e.g. SBATCH_PARTITION=short SBATCH_ACCOUNT=lab.
#
# Shard I (task I-1) writes reports/shards/<name>-<array job id>/<task id>/, its log
# reports/shards/attnprec-sweep-<array job id>_<task id>.log; the merge writes OUT and
# reports/shards/attnprec-merge-<job id>.log. Every task runs the same binary: the one found
# here ($ATTNPREC, else attnprec on PATH, else .build/release/attnprec of this checkout),
# passed to the jobs as ATTNPREC (so it must sit on a file system the nodes share).
# Each shard uses the CPUs Slurm allocates it (one unless asked for more).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
fail() { echo "submit.sh: $*" >&2; exit 2; }
args=(); extra=()
while [ $# -gt 0 ]; do
  if [ "$1" = -- ]; then shift; extra=("$@"); break; fi
  args+=("$1"); shift
done
[ ${#args[@]} -ge 2 ] && [ ${#args[@]} -le 3 ] || fail "usage: experiments/slurm/submit.sh CONFIG N [OUT] [-- SBATCH_OPTION...]"
CONFIG=${args[0]} N=${args[1]}
[ -f "$CONFIG" ] || fail "$CONFIG: no such config file (paths are relative to $(pwd))"
[[ "$N" =~ ^[1-9][0-9]*$ ]] || fail "N: expected a shard count ≥ 1, got '$N'"
NAME=$(basename "$CONFIG" .yaml)
OUT=${args[2]:-reports/$NAME}
command -v sbatch >/dev/null || fail "sbatch not found on PATH; expected a Slurm client (or scripts/local-slurm.sh for a local cluster)"
# shellcheck source=lib.sh
source "$here/lib.sh"
BIN=$(attnprec_binary submit.sh "$repo") || exit 2
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
# Slurm opens --output before the job starts: the log folder must exist first.
mkdir -p reports/shards
env=ALL,ATTNPREC=$BIN,ATTNPREC_REPO=$repo
array=$(sbatch --parsable --array="0-$((N - 1))" --export="$env" \
  --output="reports/shards/%x-%A_%a.log" ${extra[@]+"${extra[@]}"} "$here/sweep.sbatch" "$CONFIG")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes --export="$env" \
  --output="reports/shards/%x-%j.log" "$here/merge.sbatch" "$CONFIG" "$array" "$N" "$OUT")
merge=${merge%%;*}
echo "array job $array: $N shards of $CONFIG into reports/shards/$NAME-$array/"
echo "merge job $merge (after every shard succeeds): $OUT"
echo "watch: squeue -j $array,$merge; logs: reports/shards/*-${array}_*.log, reports/shards/attnprec-merge-$merge.log"
