#!/usr/bin/env bash
# bench_kernel.sh -- what the per-request confined thread (issue 4) costs in
# Apache: a hello-world PHP page of one tenant, served by two vhosts of the
# same server, one with TenantKernelConfine On and one Off, measured with
# wrk in alternation (A/B/A/B...) so both see the same machine load.
#
#   scripts/bench_kernel.sh [BUILD_DIR] [ROUNDS] [SECONDS] [CONNECTIONS]
#   defaults:               build/dev   5        10        2
#
#   BENCH_TENANTS=100   spread the requests over 100 tenants (site-1 ..
#                       site-100, one hello.php each; wrk's Lua script
#                       rotates tenant and path per request): the miss-heavy
#                       case for the per-worker pool of confined threads
#                       (16 per worker). Default 1 (site-a): every request
#                       of a worker after the first hits its thread.
#   BENCH_CONFINED_THREADS=N  the workers' TENANT_SANDBOX_CONFINED_THREADS
#                       (0: a fresh confined thread per request, the old way)
#
# Prints per round and a summary: req/s (median of rounds) for On and Off,
# their ratio, and latency p50/p99 (medians) in microseconds. Apache runs
# prefork (MaxRequestWorkers = CONNECTIONS + 1) with libsandbox preloaded;
# both vhosts pay the worker baseline, only On pays the thread + ruleset.
# Needs root (Apache drops to www-data), wrk, apache2, libapache2-mod-php8.2.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here/build/dev}" && pwd)
rounds=${2:-5}
secs=${3:-10}
conns=${4:-2}
mod=$build/mod_tenant_tag/mod_tenant_tag.so
lib=$build/libsandbox/libsandbox.so
[[ -f $mod && -f $lib ]] || { echo "bench_kernel.sh: build $build first (mod_tenant_tag, sandbox)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench_kernel.sh: wrk not installed" >&2; exit 2; }

root=$(mktemp -d /tmp/ts-bench-kernel.XXXXXX)
chmod 755 "$root"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tenants=${BENCH_TENANTS:-1}
mkdir -p "$root/run"
if [[ $tenants == 1 ]]; then names=(site-a); else mapfile -t names < <(seq -f 'site-%g' 1 "$tenants"); fi
for t in "${names[@]}"; do
  mkdir -p "$root/www/$t/tmp"
  echo '<?php echo "hello\n";' > "$root/www/$t/hello.php"
done
chown -R www-data:www-data "$root/www"
# The tenant comes from the X-Site-Id header (127.0.0.1 is a trusted proxy
# here); unknown_tenants "defaults" admits every site-N with the defaults.
cat > "$root/policy.json" <<EOF
{"version": 1, "tenant_root": "$root/www/{tenant}", "unknown_tenants": "defaults",
 "defaults": {"read_only": ["/usr/share/zoneinfo", "/usr/share/php"]},
 "tenants": {"site-a": {}}}
EOF
# Request i goes to tenant i mod N: /site-i/hello.php with X-Site-Id: site-i.
cat > "$root/rotate.lua" <<EOF
local names, i = {}, 0
for _, t in ipairs({$(printf '"%s",' "${names[@]}")}) do names[#names + 1] = t end
request = function()
  i = i % #names + 1
  return wrk.format(nil, "/" .. names[i] .. "/hello.php", {["X-Site-Id"] = names[i]})
end
EOF
M=/usr/lib/apache2/modules
cat > "$root/httpd.conf" <<EOF
ServerRoot $root
PidFile $root/httpd.pid
DefaultRuntimeDir $root/run
Mutex file:$root/run default
Listen 127.0.0.1:$port
ServerName localhost
User www-data
Group www-data
LoadModule mpm_prefork_module $M/mod_mpm_prefork.so
StartServers $((conns + 1))
MinSpareServers $((conns + 1))
MaxSpareServers $((conns + 1))
ServerLimit $((conns + 1))
MaxRequestWorkers $((conns + 1))
MaxConnectionsPerChild 0
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule mime_module $M/mod_mime.so
LoadModule php_module $M/libphp8.2.so
LoadModule tenant_tag_module $mod
TypesConfig /etc/mime.types
ErrorLog $root/error.log
LogLevel ${BENCH_LOGLEVEL:-warn}
KeepAlive On
MaxKeepAliveRequests 0
<Directory />
AllowOverride None
Require all denied
</Directory>
<Directory $root/www>
Require all granted
</Directory>
<FilesMatch "\.php\$">
SetHandler application/x-httpd-php
</FilesMatch>
TenantSandbox On
TenantPolicy $root/policy.json
TenantHeader X-Site-Id
TenantTrustedProxy 127.0.0.1
<VirtualHost *:$port>
ServerName on.test
DocumentRoot $root/www
TenantKernelConfine On
</VirtualHost>
<VirtualHost *:$port>
ServerName off.test
DocumentRoot $root/www
TenantKernelConfine Off
</VirtualHost>
EOF
stop() {
  if [[ -f $root/httpd.pid ]]; then
    env -i PATH=/usr/sbin:/usr/bin:/bin LD_PRELOAD="$lib" /usr/sbin/apache2 -f "$root/httpd.conf" -k stop || true
    sleep 1
  fi
  if [[ -n ${BENCH_KEEP:-} ]]; then echo "kept $root"; else rm -rf "$root"; fi
}
trap stop EXIT
# BENCH_APACHE_CPUS=0: pin Apache (taskset -c) to see what CPU migration
# of the request thread costs.
pin=(); [[ -n ${BENCH_APACHE_CPUS:-} ]] && pin=(taskset -c "$BENCH_APACHE_CPUS")
# BENCH_NOFILE=1024: the workers' RLIMIT_NOFILE. Confinement::pin puts the
# cached ruleset fds at the top of it, and libsandbox's per-clear socket
# scan (net::on_tenant_cleared) walks every fd up to the highest it saw, so
# the limit shows up in the per-request cost.
[[ -n ${BENCH_NOFILE:-} ]] && ulimit -n "$BENCH_NOFILE"
threads_env=(); [[ -n ${BENCH_CONFINED_THREADS:-} ]] && threads_env=(TENANT_SANDBOX_CONFINED_THREADS="$BENCH_CONFINED_THREADS")
env -i PATH=/usr/sbin:/usr/bin:/bin LANG=C LD_PRELOAD="$lib" "${threads_env[@]}" "${pin[@]}" /usr/sbin/apache2 -f "$root/httpd.conf" -k start
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" -H 'Host: on.test' && break; sleep 0.2; done
for h in on.test off.test; do
  body=$(curl -s "http://127.0.0.1:$port/${names[0]}/hello.php" -H "Host: $h" -H "X-Site-Id: ${names[0]}")
  [[ $body == hello ]] || { echo "bench_kernel.sh: $h did not serve the page: $body" >&2; cat "$root/error.log" >&2; exit 1; }
done
# Warm-up (rulesets cached, PHP opcache filled) on both.
for h in on.test off.test; do wrk -t1 -c"$conns" -d2s -s "$root/rotate.lua" -H "Host: $h" "http://127.0.0.1:$port/" >/dev/null; done

# wrk --latency prints "50% 123.45us" / "1.23ms"; normalise to microseconds.
to_us() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); print v+0} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v*1000} else if (v ~ /s$/) {sub(/s$/,"",v); print v*1000000} else print v}'; }
# CPU time the workers spent (user + system, all their threads, in clock
# ticks) -- the cost per request that other load on a shared machine does
# not distort the way it distorts latency and req/s.
hz=$(getconf CLK_TCK)
worker_ticks() {
  local ppid t=0 pid
  ppid=$(cat "$root/httpd.pid")
  for pid in $(pgrep -P "$ppid"); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
declare -A rps p50 p99 cpu
ratios=""
for i in $(seq "$rounds"); do
  for h in on off; do
    t0=$(worker_ticks)
    out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$root/rotate.lua" -H "Host: $h.test" "http://127.0.0.1:$port/")
    t1=$(worker_ticks)
    nreq=$(awk '/requests in/ {print $1}' <<<"$out")
    c_us=$(awk -v a="$t0" -v b="$t1" -v n="$nreq" -v hz="$hz" 'BEGIN {printf "%.1f", (b-a)*1e6/hz/n}')
    cpu[$h]+="$c_us "
    r=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    l50=$(awk '$1=="50%" {print $2}' <<<"$out" | to_us)
    l99=$(awk '$1=="99%" {print $2}' <<<"$out" | to_us)
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    rps[$h]+="$r "; p50[$h]+="$l50 "; p99[$h]+="$l99 "
    [[ $h == on ]] && on_round=$r
    [[ $h == off ]] && ratios+="$(awk -v a="$on_round" -v b="$r" 'BEGIN {printf "%.4f", a/b}') "
    printf 'round %d %-3s %10s req/s  p50 %8.1f us  p99 %9.1f us  worker CPU %6.1f us/req%s\n' "$i" "$h" "$r" "$l50" "$l99" "$c_us" \
      "${non2xx:+  NON-2XX: $non2xx}"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
on_r=$(median <<<"${rps[on]}"); off_r=$(median <<<"${rps[off]}")
on50=$(median <<<"${p50[on]}"); off50=$(median <<<"${p50[off]}")
on99=$(median <<<"${p99[on]}"); off99=$(median <<<"${p99[off]}")
oncpu=$(median <<<"${cpu[on]}"); offcpu=$(median <<<"${cpu[off]}")
echo "summary (medians of $rounds rounds x ${secs}s, $conns connections, $tenants tenant(s), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)):"
awk -v a="$on_r" -v b="$off_r" -v a50="$on50" -v b50="$off50" -v a99="$on99" -v b99="$off99" 'BEGIN {
  printf "  TenantKernelConfine On : %10.1f req/s  p50 %8.1f us  p99 %9.1f us\n", a, a50, a99
  printf "  TenantKernelConfine Off: %10.1f req/s  p50 %8.1f us  p99 %9.1f us\n", b, b50, b99
  printf "  throughput ratio On/Off: %.3f   added p50: %+.1f us   added p99: %+.1f us\n", a/b, a50-b50, a99-b99 }'
awk -v a="$oncpu" -v b="$offcpu" 'BEGIN {printf "  worker CPU per request: On %.1f us, Off %.1f us, added %+.1f us (ratio Off/On %.3f)\n", a, b, a-b, b/a}'
echo "  per-round ratios On/Off (each On round against the Off round right after it): $ratios-> median $(median <<<"$ratios")"
if grep -q 'AH1093[2-6]' "$root/error.log"; then
  echo "bench_kernel.sh: confinement errors in the log:" >&2; grep 'AH1093[2-6]' "$root/error.log" | head >&2; exit 1
fi
