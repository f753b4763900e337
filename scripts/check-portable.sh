#!/usr/bin/env bash
# scripts/check-portable.sh NATIVE PORTABLE [--work DIR]
#
# Checks that the portable binary (`make portable`) travels and computes what the native one does:
#   1. ldd: it needs no Swift toolchain library (libswift*, Foundation, dispatch, ICU), and every
#      library it needs is found; the list is printed;
#   2. `--version` of both (the portable one must say "swift runtime: static");
#   3. the golden study and scenario (Tests/attnprecTests/Golden/*.yaml: every variant, chunked
#      forms included) run by both: results.jsonl must be byte-identical (cmp).
# Both run under OPENBLAS_CORETYPE=Haswell (harmless: no result goes through OpenBLAS since the
# fixed-order gemm). Exit 0 only when everything holds; one line per step.
set -euo pipefail
usage() { echo "usage: scripts/check-portable.sh NATIVE PORTABLE [--work DIR]" >&2; exit 2; }
[ $# -ge 2 ] || usage
native=$(realpath "$1") portable=$(realpath "$2"); shift 2
work=""
while [ $# -gt 0 ]; do
  case "$1" in
    --work) [ $# -ge 2 ] || usage; work=$2; shift 2 ;;
    *) usage ;;
  esac
done
for b in "$native" "$portable"; do
  [ -x "$b" ] || { echo "check-portable: $b: not an executable file" >&2; exit 2; }
done
root=$(cd "$(dirname "$0")/.." && pwd)
golden="$root/Tests/attnprecTests/Golden"
if [ -z "$work" ]; then work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; else mkdir -p "$work"; fi
status=0

libs=$(ldd "$portable" | awk '{print $1}' | sort)
toolchain=$(printf '%s\n' "$libs" | grep -E 'libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime|libicu' || true)
missing=$(ldd "$portable" | grep 'not found' || true)
if [ -n "$toolchain$missing" ]; then
  echo "FAIL ldd: needs ${toolchain//$'\n'/ } ${missing//$'\n'/ }"; status=1
else
  echo "ok   ldd: $(printf '%s ' $libs)"
fi

runtime=$("$portable" --version | sed -n 's/^swift runtime: //p')
case "$runtime" in
  static*) echo "ok   portable --version: swift runtime $runtime" ;;
  *) echo "FAIL portable --version: swift runtime $runtime"; status=1 ;;
esac
echo "     native:   $("$native" --version | sed -n 's/^build flags: //p'), compiled for $("$native" --version | sed -n 's/^cpu features compiled for: //p')"
echo "     portable: $("$portable" --version | sed -n 's/^build flags: //p'), compiled for $("$portable" --version | sed -n 's/^cpu features compiled for: //p')"

for config in study scenario; do
  for which in native portable; do
    bin=$native; [ $which = portable ] && bin=$portable
    start=$(date +%s%N)
    (cd "$golden" && OPENBLAS_CORETYPE=Haswell "$bin" run "$config.yaml" --out "$work/$which-$config" >"$work/$which-$config.log" 2>&1) \
      || { echo "FAIL $config: $which exited $? (log: $work/$which-$config.log)"; status=1; continue 2; }
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    printf -v "t_$which" '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
  done
  if cmp -s "$work/native-$config/results.jsonl" "$work/portable-$config/results.jsonl"; then
    echo "ok   $config: results.jsonl identical ($(wc -l <"$work/native-$config/results.jsonl") records; native ${t_native} s, portable ${t_portable} s)"
  else
    echo "FAIL $config: results.jsonl differ: $(cmp "$work/native-$config/results.jsonl" "$work/portable-$config/results.jsonl" || true)"; status=1
  fi
done
exit $status
