#!/usr/bin/env bash
# The demo: two tenants on one real Apache (prefork + mod_php) with
# mod_tenant_tag and libsandbox, on 127.0.0.1:$PORT (default 8080).
# Shows each site serving its own page, site A's PHP failing to read B's
# secret, to list B's folder and to connect to a denied address, the denial
# lines in the error log, and a spoofed tenant header refused.
#
# scripts/demo.sh --wordpress: two real WordPress sites instead (Debian's
# wordpress package, one copy per site, each with its own database on a
# private MariaDB reached through a socket under /run), on
# 127.0.0.1:$PORT (wp-a) and 127.0.0.1:$((PORT+1)) (wp-b): installs both
# through HTTP, prints the URLs and the admin passwords, and shows wp-a's
# must-use plugin failing to read wp-b's wp-config.php, with the denial
# line. Waits for Enter when run from a terminal, so you can browse them.
#
# Stops the servers it started when it ends (or on Ctrl-C); leaves nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-8080}
APACHE=/usr/sbin/apache2
MODULES=/usr/lib/apache2/modules
PYTHON=/usr/bin/python3
wp_helper="$here/tests/e2e/wordpress.py"   # shared with tests/e2e/test_wordpress.py
mode=plain
case "${1:-}" in
  "") ;;
  --wordpress) mode=wordpress ;;
  *) echo "usage: $0 [--wordpress]" >&2; exit 2 ;;
esac

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
echo "built $build/mod_tenant_tag/mod_tenant_tag.so and $build/libsandbox/libsandbox.so"

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
  if [[ -e "$demo/db/mariadb.json" ]]; then "$PYTHON" "$wp_helper" mariadb-stop "$demo/db" || true; fi
  rm -rf "$demo"
}
trap stop EXIT
trap 'exit 130' INT TERM

# Apache's workers (www-data) must be able to read libsandbox.so: programs
# a tenant starts load it again through LD_PRELOAD, and a library they
# cannot open is skipped by ld.so with only a warning. A clone under a
# private folder (a 0700 home) is not readable to them, so the demo runs
# copies from its own world-readable folder.
mkdir "$demo/lib"
cp "$build/mod_tenant_tag/mod_tenant_tag.so" "$build/libsandbox/libsandbox.so" "$demo/lib/"
chmod 755 "$demo/lib"
chmod 644 "$demo/lib/"*.so
module="$demo/lib/mod_tenant_tag.so"
libsandbox="$demo/lib/libsandbox.so"
start_apache() {  # start_apache [WHERE]
  say "Starting Apache on ${1:-127.0.0.1:$PORT} with LD_PRELOAD=$libsandbox"
  LD_PRELOAD="$libsandbox" "$APACHE" -f "$conf" -k start
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.1
  done
}

wordpress_demo() {
  local missing socket t port url
  wp() { "$PYTHON" "$wp_helper" "$@"; }
  missing=$(wp missing)
  if [[ -n $missing ]]; then echo "missing packages: $missing (scripts/deps.sh installs them)" >&2; exit 1; fi
  declare -A pw port_of=([wp-a]=$PORT [wp-b]=$((PORT + 1)))

  say "A private MariaDB: own datadir, no TCP, its socket in a folder under /run"
  socket=$(wp mariadb-start "$demo/db")
  ls -ld "$(dirname "$socket")" "$socket" | sed 's/^/  /'
  for t in wp-a wp-b; do
    pw[$t]=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
    wp create-db "$demo/db" "${t/-/_}" "${t/-/_}" "${pw[$t]}"
    echo "  database ${t/-/_}, user ${t/-/_}"
  done

  say "Each site its own copy of WordPress (/usr/share/wordpress) in its tenant folder"
  for t in wp-a wp-b; do
    wp make-site "$demo/www/$t" "$t" "$socket" "${t/-/_}" "${t/-/_}" "${pw[$t]}" \
      $([[ $t == wp-a ]] && echo --attack-plugin)
    echo "  $demo/www/$t: $(du -sh "$demo/www/$t" | cut -f1), wp-config.php with DB_HOST localhost:$socket"
  done
  echo "  wp-a has a hostile must-use plugin: $demo/www/wp-a/wp-content/mu-plugins/ts-attack.php"

  say "The policy: each site's own folder, PHP's timezone data, /dev/urandom, the database socket"
  wp policy "$demo/policy.json" "$demo/www/{tenant}" "$socket" wp-a wp-b
  sed 's/^/  /' "$demo/policy.json"
  echo
  "$build/libsandbox/tenant-sandbox" check "$demo/policy.json"

  cat > "$conf" <<CONF
ServerRoot $demo
PidFile $demo/httpd.pid
DefaultRuntimeDir $demo
Mutex file:$demo default
Listen 127.0.0.1:${port_of[wp-a]}
Listen 127.0.0.1:${port_of[wp-b]}
ServerName localhost
User www-data
Group www-data
LoadModule mpm_prefork_module $MODULES/mod_mpm_prefork.so
StartServers 2
MaxRequestWorkers 4
LoadModule authz_core_module $MODULES/mod_authz_core.so
LoadModule mime_module $MODULES/mod_mime.so
LoadModule dir_module $MODULES/mod_dir.so
LoadModule rewrite_module $MODULES/mod_rewrite.so
LoadModule php_module $MODULES/libphp8.2.so
LoadModule tenant_tag_module $module
TypesConfig /etc/mime.types
DirectoryIndex index.php index.html
ErrorLog $demo/error.log
LogFormat "%{local}p tenant=%{TENANT_ID}e \"%r\" %>s" tenant
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
CONF
  for t in wp-a wp-b; do
    cat >> "$conf" <<CONF
# $t: WordPress's .htaccess (permalinks) is read in its own folder only
<Directory $demo/www/$t>
  AllowOverride FileInfo
</Directory>
<VirtualHost 127.0.0.1:${port_of[$t]}>
  ServerName 127.0.0.1
  DocumentRoot $demo/www/$t
  TenantId $t
  php_admin_value session.save_path $demo/www/$t/sessions
  php_admin_value upload_tmp_dir $demo/www/$t/tmp
  php_admin_value sys_temp_dir $demo/www/$t/tmp
</VirtualHost>
CONF
  done
  start_apache "127.0.0.1:${port_of[wp-a]} and :${port_of[wp-b]}"

  say "Installing both sites through HTTP (install.php, login, /%postname%/ permalinks, a post)"
  for t in wp-a wp-b; do
    port=${port_of[$t]}
    url=$(wp install "$port" "127.0.0.1:$port" "Site $t" "${pw[$t]}" "This post lives in $t's own folder and database.")
    echo "  $t: $url"
  done

  say "The two sites (one Apache, one pool of workers)"
  for t in wp-a wp-b; do
    port=${port_of[$t]}
    echo "  $t: http://127.0.0.1:$port/   admin: http://127.0.0.1:$port/wp-admin/  user admin  password ${pw[$t]}"
    printf '       its front page says: '
    curl -s "http://127.0.0.1:$port/" | grep -o '<title>[^<]*</title>' | head -1
  done

  say "wp-a's must-use plugin tries to read wp-b's wp-config.php, list and write wp-b's uploads"
  url="http://127.0.0.1:${port_of[wp-a]}/?ts_attack=$demo/www/wp-b"
  echo "\$ curl -s '$url' | python3 -m json.tool"
  curl -s "$url" | "$PYTHON" -m json.tool | sed 's/^/  /'

  say "A symlink in wp-a's uploads to wp-b's wp-config.php, fetched from wp-a"
  ln -s "$demo/www/wp-b/wp-config.php" "$demo/www/wp-a/wp-content/uploads/b-config.txt"
  chown -h www-data:www-data "$demo/www/wp-a/wp-content/uploads/b-config.txt"
  run curl -s -o /dev/null -w "HTTP %{http_code}\n" "http://127.0.0.1:${port_of[wp-a]}/wp-content/uploads/b-config.txt"

  say "The denials in Apache's error log, with the tenant id"
  grep 'tenant-sandbox: deny tenant=wp-a' "$demo/error.log" | grep -F "$demo/www/wp-b" | sed 's/^/  /' ||
    echo "  (none found!)"

  say "Access log (port, TENANT_ID, request), the last lines"
  tail -8 "$demo/access.log" | sed 's/^/  /'

  if [[ -t 0 ]]; then
    echo
    read -rp "The sites stay up until you press Enter. " _
  fi
  say "Stopping Apache and MariaDB, removing $demo"
}
if [[ $mode == wordpress ]]; then
  wordpress_demo
  exit 0
fi

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

start_apache

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
