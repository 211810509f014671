#!/usr/bin/env bash
# A PNG of the status page (SetHandler tenant-status), taken with Debian's
# headless Chromium.
#
#   scripts/screenshot-status.sh [--url URL] [--out PNG] [--prometheus FILE]
#
# --url URL        take the page from a running server (only loopback URLs);
#                  without it, a demo-like server is built and started on
#                  127.0.0.1:$PORT (default 8089): tenants site-a, site-b and
#                  an audit-mode tenant site-c, some denials (one with a hostile
#                  file name), a slow request in progress, then the page.
# --out PNG        where the screenshot goes (default docs/status-page.png)
# --prometheus F   also save the ?prometheus output there
#
# Installs the `chromium` package when it is missing (apt-get; not part of
# scripts/deps.sh's default list: only this script needs it). Run as root
# (the demo server starts as root and drops to www-data).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-8089}
APACHE=/usr/sbin/apache2
MODULES=/usr/lib/apache2/modules
url="" out="$here/docs/status-page.png" prom=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --url) url=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --prometheus) prom=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "screenshot-status.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if ! command -v chromium > /dev/null; then
  echo "installing chromium (Debian package)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-dejavu-core > /dev/null
fi

shoot() {  # URL PNG
  mkdir -p "$(dirname "$2")"
  # --no-sandbox: Chromium refuses to run as root otherwise; it only ever
  # loads our own loopback page here.
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
           --window-size=1500,760 --screenshot="$2" "$1" 2> /dev/null
  [[ -s "$2" ]] || { echo "chromium wrote no screenshot" >&2; exit 1; }
  echo "wrote $2"
}

if [[ -n "$url" ]]; then
  [[ "$url" =~ ^https?://(127\.[0-9.]+|localhost|\[::1\])(:[0-9]+)?/ ]] ||
    { echo "only loopback URLs (127.0.0.0/8, localhost, [::1])" >&2; exit 2; }
  shoot "$url" "$out"
  [[ -z "$prom" ]] || { curl -fsS "${url%%\?*}?prometheus&top=20" > "$prom"; echo "wrote $prom"; }
  exit 0
fi

build=${BUILD_DIR:-$here/build/demo}
# An existing build dir (BUILD_DIR) is built as configured; a new one is
# configured without tests.
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTS_BUILD_TESTS=OFF \
        -DTS_BUILD_BENCH=OFF > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
fi
cmake --build "$build" -j"$(nproc)" --target sandbox mod_tenant_tag tenant-sandbox > "$build.build.log" 2>&1 ||
  { tail -40 "$build.build.log"; exit 1; }
module="$build/mod_tenant_tag/mod_tenant_tag.so"
libsandbox="$build/libsandbox/libsandbox.so"

demo=$(mktemp -d /tmp/tenant-sandbox-status.XXXXXX)
chmod 755 "$demo"
conf="$demo/httpd.conf"
state="$demo/state"   # this server's own STATE_DIR: root:www-data 0750
mkdir -p "$state" && chown root:www-data "$state" && chmod 750 "$state"
stop() {
  if [[ -s "$demo/httpd.pid" ]]; then
    pid=$(cat "$demo/httpd.pid")
    TENANT_SANDBOX_STATE_DIR="$state" LD_PRELOAD="$libsandbox" "$APACHE" -f "$conf" -k stop 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$demo"
}
trap stop EXIT
trap 'exit 130' INT TERM

for t in site-a site-b site-c; do
  d="$demo/www/$t"
  mkdir -p "$d"
  echo "Welcome to $t" > "$d/index.html"
  echo "the secret of $t" > "$d/secret.txt"
  cat > "$d/t.php" <<'PHP'
<?php
// Tenant code reaching beyond its folder (denied), or sleeping (in progress).
if (isset($_GET['sleep'])) { sleep((int)$_GET['sleep']); exit; }
@fsockopen('127.0.0.2', 9, $en, $es, 1);
@file_get_contents($_GET['read'] ?? '/etc/shadow');
echo "done\n";
PHP
  chown -R www-data:www-data "$d"
done
mkdir -p "$demo/www/status"

cat > "$demo/policy.json" <<JSON
{
  "version": 1,
  "tenant_root": "$demo/www/{tenant}",
  "unknown_tenants": "deny",
  "defaults": {
    "read_only": ["/usr/share/zoneinfo", "/usr/share/php", "/dev/urandom", "/etc/hosts",
                  "/etc/host.conf", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/gai.conf",
                  "/etc/services", "/etc/protocols"],
    "ip_allow": ["127.0.0.1/32", "::1/128"]
  },
  "tenants": {
    "site-a": { "max_connections": 8, "max_requests": 4 },
    "site-b": {},
    "site-c": { "mode": "audit" }
  }
}
JSON

cat > "$conf" <<CONF
ServerRoot $demo
PidFile $demo/httpd.pid
DefaultRuntimeDir $demo
Mutex file:$demo default
Listen 127.0.0.1:$PORT
ServerName localhost
User www-data
Group www-data
LoadModule mpm_prefork_module $MODULES/mod_mpm_prefork.so
StartServers 4
MaxRequestWorkers 6
LoadModule authz_core_module $MODULES/mod_authz_core.so
LoadModule authz_host_module $MODULES/mod_authz_host.so
LoadModule mime_module $MODULES/mod_mime.so
LoadModule dir_module $MODULES/mod_dir.so
LoadModule php_module $MODULES/libphp8.2.so
LoadModule tenant_tag_module $module
TypesConfig /etc/mime.types
ErrorLog $demo/error.log
<FilesMatch "\.php$">
  SetHandler application/x-httpd-php
</FilesMatch>
<Directory />
  AllowOverride None
  Require all denied
</Directory>
<Directory $demo/www>
  Require all granted
</Directory>
TenantSandbox On
TenantPolicy $demo/policy.json
# First vhost: the default for Host 127.0.0.1, no tenant -- the status page,
# as conf/tenant_tag.conf shows it (Require local).
<VirtualHost 127.0.0.1:$PORT>
  ServerName status.localhost
  DocumentRoot $demo/www/status
  TenantRequired Off
  <Location /tenant-status>
    SetHandler tenant-status
    Require local
  </Location>
</VirtualHost>
CONF
for t in site-a site-b site-c; do
  printf '<VirtualHost 127.0.0.1:%s>\n  ServerName %s.test\n  DocumentRoot %s\n  TenantId %s\n</VirtualHost>\n' \
    "$PORT" "$t" "$demo/www/$t" "$t" >> "$conf"
done

TENANT_SANDBOX_STATE_DIR="$state" LD_PRELOAD="$libsandbox" "$APACHE" -f "$conf" -k start
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/tenant-status" 2>/dev/null && break; sleep 0.1; done

get() { curl -sS -o /dev/null -H "Host: $1" "http://127.0.0.1:$PORT$2" || true; }
for _ in 1 2 3; do get site-a.test "/t.php?read=$demo/www/site-b/secret.txt"; done
get site-a.test "/t.php?read=/etc/shadow"
get site-a.test "/t.php?read=/srv/www/site-b/%3Cscript%3Ealert(1)%3C/script%3E.php"
get site-b.test "/t.php?read=/root/.ssh/id_rsa"
for _ in 1 2; do get site-c.test "/t.php?read=$demo/www/site-a/secret.txt"; done
for _ in 1 2 3 4 5; do get site-b.test /index.html; get site-a.test /index.html; done
get site-b.test "/t.php?sleep=30" 2> /dev/null &
sleeper=$!
sleep 1.5

shoot "http://127.0.0.1:$PORT/tenant-status" "$out"
[[ -z "$prom" ]] || { curl -fsS "http://127.0.0.1:$PORT/tenant-status?prometheus&top=20" > "$prom"; echo "wrote $prom"; }
kill "$sleeper" 2>/dev/null || true  # the server stop ends the sleeping request
