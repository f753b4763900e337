#!/usr/bin/env bash
# Installs the system libraries attnprec needs (GNU MPFR, OpenBLAS, pkg-config; libxml2 for
# FoundationXML, which the tests use to parse the gate's JUnit XML), only when missing.
# Debian/Ubuntu, as root (or with sudo available).
set -euo pipefail
need=()
for pkg in libmpfr-dev libopenblas-dev pkg-config libxml2; do
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
