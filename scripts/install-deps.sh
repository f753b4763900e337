#!/usr/bin/env bash
# Installs the system libraries attnprec needs (GNU MPFR, OpenBLAS, pkg-config; libxml2 for
# FoundationXML, which the tests use to parse the gate's JUnit XML), only when missing.
# Debian/Ubuntu, as root (or with sudo available).
# With ATTNPREC_SLURM_TEST=1 (`.ci/run` sets it) also Slurm and munge, for the test that runs
# experiments/slurm/ on a one-node cluster (scripts/local-slurm.sh).
set -euo pipefail
pkgs=(libmpfr-dev libopenblas-dev pkg-config libxml2 python3-venv)
if [ "${ATTNPREC_SLURM_TEST:-}" = 1 ]; then pkgs+=(slurm-wlm munge); fi
need=()
for pkg in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    need+=("$pkg")
  fi
done
if [ "${#need[@]}" -eq 0 ]; then exit 0; fi
echo "installing: ${need[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
