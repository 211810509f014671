#!/usr/bin/env bash
# The demo: two tenants on one real Apache (prefork + mod_php) with
# mod_tenant_tag and libsandbox, on 127.0.0.1:$PORT (default 8080).
# Shows each site serving its own page, site A's PHP failing to read B's
# secret, to list B's folder and to connect to a denied address, the denial
# lines in the error log, and a spoofed tenant header refused.
# Stops the server it started when it ends (or on Ctrl-C); leaves nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-8080}
APACHE=/usr/sbin/apache2
MODULES=/usr/lib/apache2/modules

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$'; printf ' %q' "$@"; echo; "$@"; echo; }

"$here/scripts/deps.sh"

say "Building (cmake into build/demo)"
build="$here/build/demo"
mkdir -p "$build"   # a fresh clone has no build/ yet (the logs go next to it)
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTS_BUILD_TESTS=OFF \
      -DTS_BUILD_BENCH=OFF > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j"$(nproc)" --target sandbox mod_tenant_tag tenant-sandbox > "$build.build.log" 2>&1 ||
  { tail -40 "$build.build.log"; exit 1; }
module="$build/mod_tenant_tag/mod_tenant_tag.so"
libsandbox="$build/libsandbox/libsandbox.so"
echo "built $module and $libsandbox"

demo=$(mktemp -d /tmp/tenant-sandbox-demo.XXXXXX)
chmod 755 "$demo"
conf="$demo/httpd.conf"
stop() {
  if [[ -s "$demo/httpd.pid" ]]; then
    pid=$(cat "$demo/httpd.pid")
    LD_PRELOAD="$libsandbox" "$APACHE" -f "$conf" -k stop 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$demo"
}
trap stop EXIT
trap 'exit 130' INT TERM

say "Two tenants under $demo/www"
for t in site-a site-b; do
  d="$demo/www/$t"
  mkdir -p "$d/sessions" "$d/tmp"
  echo "Welcome to $t" > "$d/index.html"
  echo "the secret of $t" > "$d/secret.txt"
  cat > "$d/attack.php" <<'PHP'
<?php
// Tenant code trying to reach beyond its own folder.
$other = $_GET['other'];
echo "I am ", $_SERVER['TENANT_ID'], "\n";
$s = @file_get_contents("$other/secret.txt");
echo "read  $other/secret.txt: ", $s === false ? "FAILED (" . error_get_last()['message'] . ")" : "GOT: $s", "\n";
$l = @scandir($other);
echo "list  $other: ", $l === false ? "FAILED" : "GOT: " . implode(' ', $l), "\n";
$c = @fsockopen('127.0.0.2', 9, $errno, $errstr, 2);
echo "connect 127.0.0.2:9: ", $c === false ? "FAILED ($errstr)" : "CONNECTED", "\n";
PHP
  chown -R www-data:www-data "$d"
done
ls -l "$demo/www"/*

cat > "$demo/policy.json" <<JSON
{
  "version": 1,
  "tenant_root": "$demo/www/{tenant}",
  "unknown_tenants": "deny",
  "defaults": {
    "read_only": ["/usr/share/zoneinfo", "/etc/ssl/certs", "/usr/share/php", "/dev/urandom",
                  "/etc/hosts", "/etc/host.conf", "/etc/resolv.conf", "/etc/nsswitch.conf",
                  "/etc/gai.conf", "/etc/services", "/etc/protocols"],
    "ip_allow": ["127.0.0.1/32", "::1/128"]
  },
  "tenants": { "site-a": {}, "site-b": {} }
}
JSON
"$build/libsandbox/tenant-sandbox" check "$demo/policy.json"

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
StartServers 2
MaxRequestWorkers 4
LoadModule authz_core_module $MODULES/mod_authz_core.so
LoadModule mime_module $MODULES/mod_mime.so
LoadModule dir_module $MODULES/mod_dir.so
LoadModule php_module $MODULES/libphp8.2.so
LoadModule tenant_tag_module $module
TypesConfig /etc/mime.types
DirectoryIndex index.html
ErrorLog $demo/error.log
LogFormat "%v tenant=%{TENANT_ID}e \"%r\" %>s" tenant
CustomLog $demo/access.log tenant
<Directory />
  AllowOverride None
  Require all denied
</Directory>
<Directory $demo/www>
  Require all granted
</Directory>
<FilesMatch "\.php\$">
  SetHandler application/x-httpd-php
</FilesMatch>
php_admin_flag opcache.validate_permission on
TenantSandbox On
TenantPolicy $demo/policy.json
# Default vhost: the tenant may come from X-Site-Id, but only from a front
# proxy at 127.0.0.5 -- which does not exist here, so nobody is trusted.
<VirtualHost *:$PORT>
  ServerName default.test
  DocumentRoot $demo/www
  TenantHeader X-Site-Id
  TenantTrustedProxy 127.0.0.5
</VirtualHost>
CONF
for t in site-a site-b; do
  cat >> "$conf" <<CONF
<VirtualHost *:$PORT>
  ServerName $t.test
  DocumentRoot $demo/www/$t
  TenantId $t
  php_admin_value session.save_path $demo/www/$t/sessions
  php_admin_value upload_tmp_dir $demo/www/$t/tmp
  php_admin_value sys_temp_dir $demo/www/$t/tmp
</VirtualHost>
CONF
done

say "Starting Apache on 127.0.0.1:$PORT with LD_PRELOAD=$libsandbox"
LD_PRELOAD="$libsandbox" "$APACHE" -f "$conf" -k start
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
  sleep 0.1
done

url="http://127.0.0.1:$PORT"
say "Each site serves its own page"
run curl -s -H "Host: site-a.test" "$url/"
run curl -s -H "Host: site-b.test" "$url/"

say "Site A's PHP tries to read B's secret, list B's folder, connect to 127.0.0.2"
run curl -s -H "Host: site-a.test" "$url/attack.php?other=$demo/www/site-b"
say "Site B's own PHP, for contrast, attacking A"
run curl -s -H "Host: site-b.test" "$url/attack.php?other=$demo/www/site-a"

say "The denials in Apache's error log, with the tenant id"
grep 'tenant-sandbox: deny' "$demo/error.log" | sed 's/^/  /' || echo "  (none found!)"

say "A client sending a spoofed tenant header straight to Apache"
run curl -s -o /dev/null -w "HTTP %{http_code}\n" -H "X-Site-Id: site-b" "$url/site-b/secret.txt"
grep -E 'AH10914|AH10910' "$demo/error.log" | sed 's/^/  /'

say "Access log (TENANT_ID per request)"
sed 's/^/  /' "$demo/access.log"

say "Stopping Apache and removing $demo"
