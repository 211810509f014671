#!/usr/bin/env bash
# Installs the Debian 12 packages the build, the tests and the demo need,
# and nothing when they are all there (quiet, idempotent). Run as root (CI
# and the demo machine are root); otherwise it says what to install.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config
  nlohmann-json3-dev libcap-dev libseccomp-dev catch2 libbenchmark-dev
  # the Apache httpd the module is built against and tested in
  apache2 apache2-dev libapr1-dev libaprutil1-dev
  libapache2-mod-php8.2 php8.2-cli php8.2-curl
  # end-to-end tests: client, front proxy, harness
  curl nginx python3 python3-pytest
  # benchmarks
  wrk
)
[[ "${1:-}" == "--bench" ]] && PACKAGES+=(gnuplot-nox linux-perf)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "deps.sh: missing packages: ${missing[*]} -- run as root or install them" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Debian's apache2 package starts its own server on port 80 when installed;
# the tests and the demo start their own on loopback ports, so keep the
# packaged service from starting (policy-rc.d 101 = "action not allowed").
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" > /tmp/tenant-sandbox-apt.log 2>&1 ||
  { tail -30 /tmp/tenant-sandbox-apt.log >&2; exit 1; }
