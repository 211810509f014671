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
  # Debian package (cpack -G DEB): dpkg-shlibdeps computes Depends, file finds the ELF files
  dpkg-dev file
  # WordPress end-to-end test and `demo.sh --wordpress` (tests/e2e/test_wordpress.py):
  # Debian's WordPress (its Depends bring php8.2-gd and php-getid3), its
  # default theme (only a Recommends: with no theme installed the front end
  # is an empty page), PHP's MySQL driver (mysqli, which WordPress talks to
  # the database with) and MariaDB, of which the test starts its own
  # instance on a unix socket.
  # WordPress neither enables anything in /etc/apache2 nor starts a service;
  # MariaDB's postinst would start the packaged service (refused by the
  # policy-rc.d below) and enable it at boot (undone below).
  wordpress wordpress-theme-twentytwentythree php8.2-mysql mariadb-server
)
# Packages whose own service must stay off: enabled at boot by their
# postinst, disabled again here when this script installed them (the tests
# and the demo start their own instances; the packaged one would only be a
# stranger on /run/mysqld and port 3306).
NO_SERVICE=(mariadb-server:mariadb)
# The density benchmark (scripts/bench_density.sh) compares against per-site
# PHP-FPM pools and mpm-itk. Their Debian packages enable confs/modules in
# /etc/apache2 when installed (a2enconf php8.2-fpm, a2enmod mpm_itk); they are
# installed after everything else and whatever they changed under
# /etc/apache2/*-enabled is put back (after the install below), so the
# system apache2 keeps Debian's configuration. The benchmark runs its own
# servers with their own configs.
APACHE_TOUCHING=()
if [[ "${1:-}" == "--bench" ]]; then
  PACKAGES+=(gnuplot-nox linux-perf valgrind strace)
  APACHE_TOUCHING+=(php8.2-fpm libapache2-mpm-itk)
fi

missing_of() {  # prints the packages among "$@" that are not installed
  local p status
  for p in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "installed" ]] || echo "$p"
  done
}
mapfile -t missing < <(missing_of "${PACKAGES[@]}")
missing_no_service=()
for ps in "${NO_SERVICE[@]}"; do
  [[ -z $(missing_of "${ps%%:*}") ]] || missing_no_service+=("$ps")
done
mapfile -t missing_touching < <(missing_of "${APACHE_TOUCHING[@]}")
((${#missing[@]} + ${#missing_touching[@]} == 0)) && exit 0
missing+=("${missing_touching[@]}")

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
apt_install() {
  apt-get install -y -qq --no-install-recommends "$@" >> /tmp/tenant-sandbox-apt.log 2>&1 ||
    { tail -30 /tmp/tenant-sandbox-apt.log >&2; exit 1; }
}
: > /tmp/tenant-sandbox-apt.log
mapfile -t missing_plain < <(missing_of "${PACKAGES[@]}")
((${#missing_plain[@]} == 0)) || apt_install "${missing_plain[@]}"
for ps in "${missing_no_service[@]}"; do
  pkg=${ps%%:*} svc=${ps#*:}
  [[ -z $(missing_of "$pkg") ]] || continue
  # SysV links (update-rc.d) and the systemd unit's wants link
  if [[ -x /etc/init.d/$svc ]]; then update-rc.d "$svc" disable >/dev/null 2>&1 || true; fi
  if command -v deb-systemd-helper >/dev/null; then
    deb-systemd-helper disable "$svc.service" >/dev/null 2>&1 || true
  fi
  if [[ -d /run/systemd/system ]]; then systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
  echo "deps.sh: $pkg installed with its $svc service disabled (not started: policy-rc.d)"
done

# Snapshot of the enabled-links (name -> target) before the packages that
# touch them, then: links they added are removed, links they removed or
# retargeted are put back.
apache_links() {
  local d l
  for d in mods conf sites; do
    [[ -d /etc/apache2/$d-enabled ]] || continue
    for l in /etc/apache2/$d-enabled/*; do
      if [[ -L $l ]]; then printf '%s %s\n' "$l" "$(readlink "$l")"; fi
    done
  done
  return 0
}
if ((${#missing_touching[@]})); then
  before=$(apache_links)
  apt_install "${missing_touching[@]}"
  after=$(apache_links)
  if [[ "$before" != "$after" ]]; then
    while read -r link target; do
      if [[ -n $link ]] && ! grep -qxF "$link $target" <<<"$before"; then rm -f "$link"; fi
    done <<<"$after"
    while read -r link target; do
      if [[ -n $link && ! -L $link ]]; then ln -s "$target" "$link"; fi
    done <<<"$before"
    echo "deps.sh: restored /etc/apache2/*-enabled after ${missing_touching[*]}"
  fi
fi
