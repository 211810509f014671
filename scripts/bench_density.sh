#!/usr/bin/env bash
# bench_density.sh -- issue 5, benchmark 5: one small PHP page spread over N
# sites (random Host per request, wrk on loopback), served by our shared pool
# (prefork + mod_php + mod_tenant_tag + libsandbox, kernel layer On and Off),
# the same prefork + mod_php without isolation (baseline), a PHP-FPM pool per
# site (pm=ondemand, pm=static 1 child) and mpm-itk with a uid per site.
# Every setup and N runs fresh under its own ServerRoot in a scratch folder;
# Debian's apache2 / php8.2-fpm services are never used.
#
#   scripts/bench_density.sh [--quick] [--build DIR] --out DIR [-- DRIVER-OPTIONS]
#
#   --out DIR    writes DIR/density.csv (raw + ratios), DIR/density.md (table,
#                targets, per-worker PSS breakdown), DIR/density-memory.png,
#                DIR/density-rps.png, DIR/density-plot.dat
#   --build DIR  build holding libsandbox/libsandbox.so and
#                mod_tenant_tag/mod_tenant_tag.so (default $BUILD_DIR, else
#                build/bench); built there (targets sandbox mod_tenant_tag) if missing
#   --quick      N=10 and 1000; ours, baseline, fpm-ondemand; 1 x 3 s (~90 s)
#   full         N=10,100,1000,10000; all six setups; 2 x 10 s (~20-25 min)
# Anything after "--" goes to bench/density/density.py (e.g. --ns 10,100
# --setups ours,baseline --secs 5 --repeats 3 --workers 8 --keep).
# Needs root (servers drop to www-data and to one uid per site).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
quick=0 out="" build="${BUILD_DIR:-$here/build/bench}"
extra=()
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    --build) build=$2; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: $0 [--quick] [--build DIR] --out DIR [-- DRIVER-OPTIONS]" >&2; exit 2 ;;
  esac
  shift
done
[[ -n $out ]] || { echo "bench_density.sh: --out DIR is required" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "bench_density.sh: run as root (servers switch uids)" >&2; exit 2; }
"$here/scripts/deps.sh" --bench

lib=$build/libsandbox/libsandbox.so
mod=$build/mod_tenant_tag/mod_tenant_tag.so
if [[ ! -f $lib || ! -f $mod ]]; then
  mkdir -p "$build"
  if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$build/configure.log" 2>&1 ||
      { cat "$build/configure.log"; exit 1; }
  fi
  cmake --build "$build" -j"$(nproc)" --target sandbox mod_tenant_tag > "$build/build-density.log" 2>&1 ||
    { tail -30 "$build/build-density.log"; exit 1; }
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

args=(--out "$out" --lib "$(realpath "$lib")" --module "$(realpath "$mod")")
if ((quick)); then
  args+=(--ns 10,1000 --setups ours,baseline,fpm-ondemand --secs 3 --repeats 1 --warm-cap 4 --warm-rand 1
         --label "quick mode: 1 x 3 s per point, not for publication")
fi
# What else runs on the machine while we measure (the figures depend on it).
{
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  ps -eo pcpu,etime,comm --sort=-pcpu | head -8
} > "$out/density-machine.txt"
/usr/bin/python3 "$here/bench/density/density.py" "${args[@]}" "${extra[@]}"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/density-machine.txt"
echo "density results: $out/density.md $out/density.csv $out/density-memory.png $out/density-rps.png"
