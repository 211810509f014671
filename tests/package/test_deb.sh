#!/usr/bin/env bash
# The Debian package, end to end, on this machine (root; Debian 12):
#   build it (cpack -G DEB) and check its file list against `cmake --install`,
#   apt-get install it, check every file, the man page, the policy, the
#   state folder; a2enmod tenant_tag; start Debian's apache2 (apache2ctl, the
#   Debian layout, mod_php) as a second instance (/etc/apache2-NAME, a copy of
#   /etc/apache2 with its mods-enabled, listening on 127.0.0.1:free-port only)
#   and serve a tenant page that shows TENANT_ID and a denied cross-tenant
#   read -- once with the systemd drop-in's environment, once with the
#   envvars snippet, and once with neither (must fail closed: 503);
#   reinstall over itself (module stays enabled, operator's policy kept),
#   remove (module disabled, configtest passes, Apache starts and serves),
#   reinstall after remove (module enabled again), purge (nothing left).
# Leaves the machine as it found it (trap): no package, no enabled module,
# no files in /etc/apache2*, no running apache2, no policy-rc.d change.
#
#   test_deb.sh SOURCE_DIR WORK_DIR
# WORK_DIR holds the package build (configured with prefix /usr; kept for
# incremental reruns). Exit 77 (ctest: skipped) when not root.
set -euo pipefail

SRC=$(cd "${1:?usage: test_deb.sh SOURCE_DIR WORK_DIR}" && pwd)
WORK=${2:?usage: test_deb.sh SOURCE_DIR WORK_DIR}
PKG=tenant-sandbox
LIBDIR=/usr/lib/x86_64-linux-gnu/tenant-sandbox
LIB=$LIBDIR/libsandbox.so
MODULE=/usr/lib/apache2/modules/mod_tenant_tag.so
DROPIN=/lib/systemd/system/apache2.service.d/tenant-sandbox.conf
SNIPPET=/usr/share/tenant-sandbox/apache2-envvars.snippet
MARKS=/var/lib/apache2/module

# apt-get waits for the dpkg lock (another apt run on the machine) instead of failing.
apt() { DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=600 "$@"; }
say() { printf 'test_deb: %s\n' "$*"; }
fail() { printf 'test_deb: FAIL: %s\n' "$*" >&2; exit 1; }

if [[ $(id -u) -ne 0 ]]; then
  say "needs root (installs a package and starts Debian's apache2): skipped"
  exit 77
fi
for tool in apt-get dpkg dpkg-deb a2enmod a2dismod apache2ctl cpack curl python3; do
  command -v "$tool" >/dev/null || fail "$tool not found (scripts/deps.sh installs what is needed)"
done
if dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep -qv '^not-installed$'; then
  fail "$PKG is already installed here; this test installs and purges it, so it refuses to run"
fi

# ---- the machine as we found it -----------------------------------------------
TMP=$(mktemp -d /tmp/test_deb.XXXXXX)
INST_NAME="tsdeb$$"
INST=/etc/apache2-$INST_NAME            # a Debian multi-instance config dir
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ETC_BEFORE=$TMP/etc-apache2.before
find /etc/apache2 -printf '%p %y %l\n' | sort > "$ETC_BEFORE"
MARKS_BEFORE=$(find "$MARKS" -name tenant_tag 2>/dev/null | sort || true)
RUN_STATE_EXISTED=no; [[ -d /run/tenant-sandbox ]] && RUN_STATE_EXISTED=$(stat -c '%U:%G %a' /run/tenant-sandbox)
MADE_POLICY_RC=no
MADE_DIRS=()      # created by us, removed (rmdir) in reverse order
MADE_TREES=()     # created by us, removed (rm -rf)

stop_instance() {   # $1: config dir
  local conf=$1 pidfile pid
  pidfile=/var/run/apache2-${conf##/etc/apache2-}/apache2.pid
  [[ -s $pidfile ]] || return 0
  pid=$(cat "$pidfile")
  APACHE_CONFDIR=$conf apache2ctl stop >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  stop_instance "$INST"
  if dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep -qv '^not-installed$'; then
    say "cleanup: purging $PKG"
    apt purge "$PKG" >/dev/null 2>&1 || { rm -f /etc/apache2/mods-enabled/tenant_tag.*; apt purge "$PKG"; }
  fi
  # a LoadModule of a file that is gone would keep every later apache2 from starting
  local l
  for l in /etc/apache2/mods-enabled/tenant_tag.load /etc/apache2/mods-enabled/tenant_tag.conf; do
    if [[ -L $l && ! -e $l ]] && ! grep -q "^$l " "$ETC_BEFORE"; then rm -f "$l"; fi
  done
  rm -rf "$INST" "/var/log/apache2-$INST_NAME" "/var/run/apache2-$INST_NAME" "/var/lock/apache2-$INST_NAME"
  # a2enmod's marks for the module: as before (purge forgets them)
  if [[ -z $MARKS_BEFORE ]]; then find "$MARKS" -name tenant_tag -delete 2>/dev/null; fi
  if [[ $RUN_STATE_EXISTED != no && ! -d /run/tenant-sandbox ]]; then
    mkdir /run/tenant-sandbox && chown "${RUN_STATE_EXISTED% *}" /run/tenant-sandbox &&
      chmod "${RUN_STATE_EXISTED#* }" /run/tenant-sandbox
  elif [[ $RUN_STATE_EXISTED == no ]]; then
    rm -rf /run/tenant-sandbox
  fi
  local t d i
  for t in "${MADE_TREES[@]}"; do rm -rf "$t"; done
  for ((i = ${#MADE_DIRS[@]} - 1; i >= 0; i--)); do rmdir "${MADE_DIRS[i]}" 2>/dev/null; done
  [[ $MADE_POLICY_RC == yes ]] && rm -f /usr/sbin/policy-rc.d
  find /etc/apache2 -printf '%p %y %l\n' | sort > "$TMP/etc-apache2.after"
  if ! diff -u "$ETC_BEFORE" "$TMP/etc-apache2.after" >&2; then
    say "cleanup: /etc/apache2 is not as it was (diff above)" >&2
    ((rc == 0)) && rc=1
  fi
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Debian's apache2 packages start services from maintainer scripts; nothing
# here may start the system's apache2 (port 80): policy-rc.d 101 = not allowed.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  MADE_POLICY_RC=yes
fi

# ---- 1. build the package ---------------------------------------------------------
say "building the package in $WORK"
mkdir -p "$WORK"
cmake -S "$SRC" -B "$WORK/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
  -DTS_BUILD_TESTS=OFF -DTS_BUILD_BENCH=OFF > "$WORK/configure.log" 2>&1 ||
  { cat "$WORK/configure.log"; fail "configure"; }
cmake --build "$WORK/build" -j"$(nproc)" > "$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; fail "build"; }
rm -f "$WORK"/build/${PKG}_*.deb
(cd "$WORK/build" && cpack -G DEB > "$WORK/cpack.log" 2>&1) || { cat "$WORK/cpack.log"; fail "cpack -G DEB"; }
debs=("$WORK"/build/${PKG}_*_amd64.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || fail "expected one ${PKG}_<version>_amd64.deb, got: ${debs[*]}"
DEB=${debs[0]}
say "built $(basename "$DEB")"

# Control fields: computed library Depends plus apache2.
depends=$(dpkg-deb -f "$DEB" Depends)
say "Depends: $depends"
[[ $depends == *"libc6"* ]] || fail "Depends lacks the shlibdeps-computed libc6: $depends"
[[ $depends == *"apache2 (>= 2.4)"* ]] || fail "Depends lacks apache2 (>= 2.4): $depends"
[[ $(dpkg-deb -f "$DEB" Package) == "$PKG" ]] || fail "Package field"
for s in postinst prerm postrm conffiles; do
  dpkg-deb -I "$DEB" "$s" > "$TMP/ctrl.$s" 2>/dev/null || fail "control member $s missing"
done
head -c 200 "$TMP/ctrl.postinst" | grep -q 'set -e' || fail "postinst without set -e"

# The package holds exactly what `cmake --install` (prefix /usr) installs.
DESTDIR="$TMP/stage" cmake --install "$WORK/build" > "$TMP/install.log" 2>&1 || { cat "$TMP/install.log"; fail "cmake --install"; }
(cd "$TMP/stage" && find . ! -type d | sed 's|^\.||' | sort) > "$TMP/install.files"
dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\.||' | sort > "$TMP/deb.files"
diff -u "$TMP/install.files" "$TMP/deb.files" || fail "package and cmake --install disagree (diff above)"

expected=(
  "$MODULE" "$LIB" /usr/bin/tenant-sandbox /usr/share/man/man1/tenant-sandbox.1.gz
  /etc/apache2/mods-available/tenant_tag.load /etc/apache2/mods-available/tenant_tag.conf
  /etc/tenant-sandbox/policy.json "$DROPIN" /usr/lib/tmpfiles.d/tenant-sandbox.conf "$SNIPPET"
  /usr/share/doc/tenant-sandbox/copyright /usr/share/doc/tenant-sandbox/changelog.gz
)
for f in "${expected[@]}"; do grep -qx "$f" "$TMP/deb.files" || fail "package lacks $f"; done

# ---- 2. install ------------------------------------------------------------------------
say "apt-get install ./$(basename "$DEB")"
(cd "$(dirname "$DEB")" && apt install --no-install-recommends "./$(basename "$DEB")" > "$TMP/apt.log" 2>&1) || { cat "$TMP/apt.log"; fail "apt-get install"; }
for f in "${expected[@]}"; do [[ -f $f ]] || fail "installed package lacks $f"; done
dpkg -L "$PKG" | grep -qx "$LIB" || fail "dpkg -L does not list $LIB"
for c in /etc/tenant-sandbox/policy.json /etc/apache2/mods-available/tenant_tag.load /etc/apache2/mods-available/tenant_tag.conf; do
  grep -qx "$c" "/var/lib/dpkg/info/$PKG.conffiles" || fail "$c is not a conffile"
done
[[ $(stat -c '%U:%G %a' /run/tenant-sandbox) == "root:www-data 3770" ]] ||
  fail "/run/tenant-sandbox is $(stat -c '%U:%G %a' /run/tenant-sandbox), want root:www-data 3770"
grep -q '^d /run/tenant-sandbox 3770 root www-data' /usr/lib/tmpfiles.d/tenant-sandbox.conf || fail "tmpfiles line"
grep -qx "Environment=LD_PRELOAD=$LIB" "$DROPIN" || fail "drop-in does not preload $LIB"
grep -q "^LoadModule tenant_tag_module $MODULE\$" /etc/apache2/mods-available/tenant_tag.load || fail "tenant_tag.load"
[[ -e /etc/apache2/mods-enabled/tenant_tag.load ]] && fail "a fresh install must not enable the module"

# man page: gzipped roff that man renders
zcat /usr/share/man/man1/tenant-sandbox.1.gz | grep -q '^\.TH TENANT-SANDBOX 1' || fail "man page is not a gzipped roff page"
if command -v man >/dev/null; then
  MANWIDTH=80 man -l /usr/share/man/man1/tenant-sandbox.1.gz 2>/dev/null > "$TMP/man.txt" || true
  for w in NAME SYNOPSIS "tenant-sandbox check POLICY" "explain" "run --policy"; do
    grep -q -- "$w" "$TMP/man.txt" || fail "man -l output lacks '$w'"
  done
fi

# CLI
tenant-sandbox --version | grep -q '^tenant-sandbox ' || fail "tenant-sandbox --version"
tenant-sandbox check /etc/tenant-sandbox/policy.json || fail "tenant-sandbox check of the shipped policy"
tenant-sandbox explain --policy /etc/tenant-sandbox/policy.json --tenant site-a read /srv/www/site-b/x >/dev/null &&
  fail "explain allows site-a to read site-b's root"

# ---- 3. enable, and serve a tenant with Debian's apache2 ------------------------------------
a2enmod tenant_tag > "$TMP/a2enmod.log" 2>&1 || { cat "$TMP/a2enmod.log"; fail "a2enmod tenant_tag"; }
[[ -L /etc/apache2/mods-enabled/tenant_tag.load && -L /etc/apache2/mods-enabled/tenant_tag.conf ]] ||
  fail "a2enmod did not enable tenant_tag"
apache2ctl configtest > "$TMP/configtest.log" 2>&1 || { cat "$TMP/configtest.log"; fail "apache2ctl configtest with tenant_tag enabled"; }

# Tenant files under the example policy's tenant_root (/srv/www/{tenant}), in
# folders of our own so nothing an operator has there is touched.
mkdirs() { local d; for d in "$@"; do if [[ ! -d $d ]]; then mkdir -m 0755 "$d"; MADE_DIRS+=("$d"); fi; done; }
mkdirs /srv /srv/www /srv/www/site-a /srv/www/site-b
A=/srv/www/site-a/$INST_NAME
B=/srv/www/site-b/$INST_NAME
mkdir -m 0755 "$A" "$B"; MADE_TREES+=("$A" "$B")
echo "site-a own data" > "$A/own.txt"
echo "site-b SECRET" > "$B/secret.txt"
chmod 0644 "$A/own.txt" "$B/secret.txt"
cat > "$A/index.php" <<EOF
<?php
header('Content-Type: text/plain');
\$own = @file_get_contents(__DIR__ . '/own.txt');
\$other = @file_get_contents('$B/secret.txt');
echo 'TENANT_ID=', \$_SERVER['TENANT_ID'] ?? '(none)', "\n";
echo 'own=', \$own === false ? 'denied' : trim(\$own), "\n";
echo 'cross=', \$other === false ? 'denied' : 'READ ' . trim(\$other), "\n";
EOF

# A second instance of Debian's apache2: /etc/apache2-NAME is a copy of
# /etc/apache2 (mods-enabled included: tenant_tag from a2enmod above, mod_php,
# prefork), with only our vhost and only a loopback Listen.
make_instance() {   # $1: with_tenant (yes|no)
  rm -rf "$INST"
  cp -a /etc/apache2 "$INST"
  rm -f "$INST"/sites-enabled/*
  echo "Listen 127.0.0.1:$PORT" > "$INST/ports.conf"
  mkdir -p "/var/log/apache2-$INST_NAME"
  [[ -e $INST/mods-enabled/php8.2.load ]] || APACHE_CONFDIR=$INST a2enmod -q php8.2 >/dev/null ||
    fail "mod_php (libapache2-mod-php8.2) is not available"
  {
    echo "<VirtualHost 127.0.0.1:$PORT>"
    echo "    ServerName site-a.test"
    echo "    DocumentRoot $A"
    [[ $1 == yes ]] && printf '    TenantId site-a\n    TenantSandbox On\n'
    echo "    DirectoryIndex index.php"
    echo "    <Directory $A>"
    echo "        AllowOverride None"
    echo "        Require all granted"
    echo "    </Directory>"
    echo "</VirtualHost>"
  } > "$INST/sites-enabled/tsdeb.conf"
}

start_instance() {   # extra environment for apache2ctl as arguments (VAR=value ...)
  : > "/var/log/apache2-$INST_NAME/error.log"
  env APACHE_CONFDIR="$INST" "$@" apache2ctl start > "$TMP/start.log" 2>&1 ||
    { cat "$TMP/start.log" "/var/log/apache2-$INST_NAME/error.log"; fail "apache2ctl start ($*)"; }
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0
    sleep 0.1
  done
  cat "/var/log/apache2-$INST_NAME/error.log"; fail "apache2 did not answer on 127.0.0.1:$PORT"
}

get() {   # prints "STATUS\nBODY"
  curl -s -H 'Host: site-a.test' -w '\n%{http_code}' "http://127.0.0.1:$PORT/${1:-}"
}

expect_enforced() {   # $1: how apache2 was started
  local out
  out=$(get index.php)
  say "[$1] $(echo "$out" | tr '\n' ' ')"
  [[ $(tail -n1 <<< "$out") == 200 ]] || { cat "/var/log/apache2-$INST_NAME/error.log"; fail "[$1] tenant page not served"; }
  grep -qx 'TENANT_ID=site-a' <<< "$out" || fail "[$1] TENANT_ID not shown"
  grep -qx 'own=site-a own data' <<< "$out" || fail "[$1] tenant cannot read its own file"
  grep -qx 'cross=denied' <<< "$out" || fail "[$1] cross-tenant read NOT denied"
  grep -q "tenant-sandbox: deny tenant=site-a .*target=\"$B/secret.txt\"" "/var/log/apache2-$INST_NAME/error.log" ||
    { cat "/var/log/apache2-$INST_NAME/error.log"; fail "[$1] no denial line in the error log"; }
}

make_instance yes

# (a) as systemd starts it: apache2.service runs `apachectl start` with the
# drop-in's Environment= lines (this machine may not run systemd, so the
# test applies them the way systemd would).
mapfile -t dropin_env < <(sed -n 's/^Environment=//p' "$DROPIN")
((${#dropin_env[@]} > 0)) || fail "drop-in sets no environment"
start_instance APACHE_STARTED_BY_SYSTEMD=true "${dropin_env[@]}"
expect_enforced "systemd drop-in"
stop_instance "$INST"

# The state the module and libsandbox made in the package's folder (request
# counts, connection budget) is for root and www-data only (DESIGN.md).
[[ $(stat -c '%U:%G %a' /run/tenant-sandbox) == "root:www-data 3770" ]] || fail "/run/tenant-sandbox changed by apache2"
leaky=$(find /run/tenant-sandbox -mindepth 1 -perm /o=rwx)
[[ -z $leaky ]] || fail "state files others can access: $leaky"

# (b) without systemd: the envvars line (an admin's edit; here in a private
# envvars that sources the instance's own, so /etc/apache2/envvars is untouched)
{ echo ". $INST/envvars"; cat "$SNIPPET"; } > "$TMP/envvars"
start_instance APACHE_ENVVARS="$TMP/envvars"
expect_enforced "envvars snippet"
stop_instance "$INST"

# (c) control: no preload line at all -> the module fails closed (503)
start_instance
status=$(get index.php | tail -n1)
stop_instance "$INST"
[[ $status == 503 ]] || fail "without the preload line the tenant page answered $status, want 503"
say "[no preload line] 503 (fail closed)"

# ---- 4. maintainer scripts: idempotent; abort-remove undoes prerm remove ---------------------
info=/var/lib/dpkg/info/$PKG
export DPKG_MAINTSCRIPT_PACKAGE=$PKG   # what dpkg tells maintainer scripts (apache2's helper reads them)
ver=$(dpkg-deb -f "$DEB" Version)
for i in 1 2; do DPKG_MAINTSCRIPT_NAME=postinst "$info.postinst" configure "$ver" > /dev/null || fail "postinst configure (run $i)"; done
[[ -L /etc/apache2/mods-enabled/tenant_tag.load ]] || fail "postinst configure disabled the module"
for i in 1 2; do DPKG_MAINTSCRIPT_NAME=prerm "$info.prerm" remove > /dev/null || fail "prerm remove (run $i)"; done
[[ ! -e /etc/apache2/mods-enabled/tenant_tag.load ]] || fail "prerm remove left the module enabled"
DPKG_MAINTSCRIPT_NAME=postinst "$info.postinst" abort-remove > /dev/null || fail "postinst abort-remove"
[[ -L /etc/apache2/mods-enabled/tenant_tag.load ]] || fail "postinst abort-remove did not enable the module again"
DPKG_MAINTSCRIPT_NAME=prerm "$info.prerm" upgrade "$ver" > /dev/null || fail "prerm upgrade"
[[ -L /etc/apache2/mods-enabled/tenant_tag.load ]] || fail "prerm upgrade disabled the module"

# ---- 5. reinstall over itself (the upgrade path) ---------------------------------------------
printf '\n' >> /etc/tenant-sandbox/policy.json          # an operator's edit of the conffile
sum=$(md5sum < /etc/tenant-sandbox/policy.json)
apt install --reinstall "$DEB" > "$TMP/dpkg-reinstall.log" 2>&1 || { cat "$TMP/dpkg-reinstall.log"; fail "reinstall"; }
[[ -L /etc/apache2/mods-enabled/tenant_tag.load ]] || fail "reinstall/upgrade disabled the module"
# an upgrade with the module enabled restarts apache2 through invoke-rc.d
# (which policy-rc.d vetoes here, and says so)
rc=0; /usr/sbin/policy-rc.d apache2 restart >/dev/null 2>&1 || rc=$?
if ((rc == 101)); then
  grep -q 'denied execution of restart' "$TMP/dpkg-reinstall.log" ||
    { cat "$TMP/dpkg-reinstall.log"; fail "upgrade did not ask invoke-rc.d to restart apache2"; }
fi
[[ $(md5sum < /etc/tenant-sandbox/policy.json) == "$sum" ]] || fail "reinstall replaced the operator's policy.json"

# ---- 6. remove: Apache must still start ----------------------------------------------------
say "apt-get remove $PKG"
apt remove "$PKG" > "$TMP/apt-remove.log" 2>&1 ||
  { cat "$TMP/apt-remove.log"; fail "apt-get remove"; }
for f in "$MODULE" "$LIB" /usr/bin/tenant-sandbox "$DROPIN" /usr/share/man/man1/tenant-sandbox.1.gz; do
  [[ ! -e $f ]] || fail "$f still there after remove"
done
[[ ! -e /etc/apache2/mods-enabled/tenant_tag.load && ! -L /etc/apache2/mods-enabled/tenant_tag.load ]] ||
  fail "remove left tenant_tag enabled"
[[ -f /etc/apache2/mods-available/tenant_tag.load && -f /etc/tenant-sandbox/policy.json ]] ||
  fail "remove must keep the conffiles (until purge)"
apache2ctl configtest > "$TMP/configtest2.log" 2>&1 || { cat "$TMP/configtest2.log"; fail "apache2ctl configtest after remove"; }
# Start a fresh copy of the system's config (it has no tenant_tag now), with
# the stale systemd environment (no daemon-reload yet: LD_PRELOAD of the
# removed library) and the admin's envvars line still in place.
make_instance no
[[ ! -e $INST/mods-enabled/tenant_tag.load ]] || fail "instance still has tenant_tag"
start_instance APACHE_ENVVARS="$TMP/envvars" APACHE_STARTED_BY_SYSTEMD=true "${dropin_env[@]}"
out=$(get own.txt)
stop_instance "$INST"
[[ $(tail -n1 <<< "$out") == 200 && $out == *"site-a own data"* ]] || fail "apache2 after remove: $out"
say "after remove: configtest OK, apache2 started, served, stopped"

# ---- 7. reinstall after remove: enabled again; then purge ------------------------------------
apt install "$DEB" > "$TMP/dpkg-again.log" 2>&1 || { cat "$TMP/dpkg-again.log"; fail "install after remove"; }
[[ -L /etc/apache2/mods-enabled/tenant_tag.load ]] || fail "install after remove did not enable the module again"
# Other processes using libsandbox (probes, other Apache instances) may make
# /run/tenant-sandbox again at any time; what purge must remove is the state
# inside it, so look for a file of ours there.
state_mark=/run/tenant-sandbox/.test_deb.$$
touch "$state_mark"
say "apt-get purge $PKG"
apt purge "$PKG" > "$TMP/apt-purge.log" 2>&1 ||
  { cat "$TMP/apt-purge.log"; fail "apt-get purge"; }
dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep -qv '^not-installed$' && fail "$PKG still known to dpkg"
for f in /etc/apache2/mods-available/tenant_tag.load /etc/apache2/mods-available/tenant_tag.conf \
         /etc/apache2/mods-enabled/tenant_tag.load /etc/tenant-sandbox "$state_mark" "$LIBDIR"; do
  [[ ! -e $f && ! -L $f ]] || fail "$f still there after purge"
done
[[ -z $(find "$MARKS" -name tenant_tag 2>/dev/null) ]] || fail "a2enmod marks left after purge"
# postrm purge again (dpkg may rerun it after an interrupted purge): still succeeds
dpkg-deb -e "$DEB" "$TMP/control"
for i in 1 2; do DPKG_MAINTSCRIPT_NAME=postrm "$TMP/control/postrm" purge > /dev/null || fail "postrm purge rerun $i"; done
apache2ctl configtest > "$TMP/configtest3.log" 2>&1 || { cat "$TMP/configtest3.log"; fail "apache2ctl configtest after purge"; }
say "PASS"
