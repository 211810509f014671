#!/usr/bin/env bash
# All benchmarks of issue 5, one results file:
#   scripts/bench.sh [--quick] [--out DIR] [--only LIST]
#     --quick    fewer rounds / shorter runs, whole script < 5 min (not for publication)
#     --out DIR  default docs/bench: writes DIR/results.md and DIR/raw/<stamp>/ (every raw figure)
#     --only     comma list of parts to run: calls,switch,http,density,kernel (default: all)
# Parts: 1 per call (bench_calls, Google Benchmark, modes interleaved; plus
# callgrind instruction and strace system-call counts per call), 2+3 tenant
# switch / policy scale / worker memory after fork (bench_switch) and the
# TenantMap dbm of hosts (bench_dbm), 4 per request through Apache
# (bench/perf/bench_http.py), 5 density (scripts/bench_density.sh, density
# engineer), kernel layer On vs Off (scripts/bench_kernel.sh). Interface of
# the part scripts: [--quick] [--build DIR] --out DIR (docs/bench/README.md).
# Ratios are taken within one run: the machine is shared and noisy, and the
# load generator (wrk) runs on the same cores as the server.
# Needs root (Apache drops to www-data); traffic only on 127.0.0.1.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
quick=0 out="$here/docs/bench" only="calls,switch,http,density,kernel"
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    --only) only=$2; shift ;;
    *) echo "usage: $0 [--quick] [--out DIR] [--only calls,switch,http,density,kernel]" >&2; exit 2 ;;
  esac
  shift
done
want() { [[ ",$only," == *",$1,"* ]]; }
[[ $(id -u) -eq 0 ]] || { echo "bench.sh: run as root (Apache switches to www-data)" >&2; exit 2; }
"$here/scripts/deps.sh" --bench

build="${BUILD_DIR:-$here/build/bench}"
mkdir -p "$build"
build=$(cd "$build" && pwd)
echo "bench.sh: building in $build (RelWithDebInfo)"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j"$(nproc)" --target sandbox tenant-sandbox mod_tenant_tag bench_calls bench_ops bench_switch \
  > "$build/build.log" 2>&1 || { tail -30 "$build/build.log"; exit 1; }
cc -O2 -o "$build/bench_dbm" "$here/tests/bench/bench_dbm.c" $(apr-1-config --cflags --cppflags --includes) \
  $(apu-1-config --includes) $(apu-1-config --link-ld) $(apr-1-config --link-ld)
cc -O2 -shared -fPIC -o "$build/openat2_shim.so" "$here/tests/bench/openat2_shim.c" -ldl

stamp=$(date -u +%Y%m%d-%H%M)
mkdir -p "$out"
out=$(cd "$out" && pwd)
raw="$out/raw/$stamp"
mkdir -p "$raw"
work=$(mktemp -d /tmp/ts-bench.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
lib="$build/libsandbox/libsandbox.so"
mod="$build/mod_tenant_tag/mod_tenant_tag.so"
# What else runs while we measure (the figures depend on it).
{ echo "start $(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
  ps -eo pcpu,comm --sort=-pcpu | awk 'NR>1 && $1>=5 {print "  busy: " $2 " " $1 "% CPU"}' | head -8; } > "$raw/machine.txt"
if [[ -e $here/.git ]]; then
  git -C "$here" log -1 --format='commit %h %s' >> "$raw/machine.txt" 2>/dev/null || true
  [[ -n $(git -C "$here" status --porcelain --untracked-files=no 2>/dev/null) ]] && echo "working tree has uncommitted changes" >> "$raw/machine.txt"
fi
[[ -n ${BENCH_SOURCE:-} ]] && echo "source: $BENCH_SOURCE" >> "$raw/machine.txt"

# ---- 1. per call --------------------------------------------------------
if want calls; then
  echo "bench.sh: 1 per call"
  echo "1 from $(date -u +%T)" >> "$raw/machine.txt"
  mkdir -p "$work/www/bench/data" "$work/state"
  for i in $(seq 1 32); do echo "file $i" > "$work/www/bench/data/f$i.txt"; done
  echo "hello" > "$work/www/bench/data/file.txt"
  echo "hello" > "$work/www/bench/file.txt"
  cat > "$work/policy.json" <<JSON
{ "version": 1, "tenant_root": "$work/www/{tenant}", "unknown_tenants": "deny",
  "defaults": { "read_only": ["/usr/share/zoneinfo"], "ip_allow": ["127.0.0.0/8"], "max_connections": 1000000 },
  "tenants": { "bench": {} } }
JSON
  benv() {  # benv MODE -> env assignments
    echo "BENCH_DIR=$work/www/bench/data"
    case $1 in
      passthrough) echo "LD_PRELOAD=$lib" ;;
      tenant) echo "LD_PRELOAD=$lib"; echo "BENCH_POLICY=$work/policy.json"; echo "BENCH_TENANT=bench"
              echo "TENANT_SANDBOX_STATE_DIR=$work/state" ;;
    esac
  }
  rounds=5 reps=3 mintime=0.3
  ((quick)) && rounds=2 reps=2 mintime=0.05
  # Modes interleaved round by round, each round in a rotated order, so a
  # slow phase of the machine hits every mode alike.
  modes=(none passthrough tenant)
  for r in $(seq 1 "$rounds"); do
    for k in 0 1 2; do
      mode=${modes[$(( (r + k) % 3 ))]}
      mapfile -t e < <(benv "$mode")
      env "${e[@]}" "$build/tests/bench/bench_calls" --benchmark_repetitions="$reps" \
        --benchmark_min_time="$mintime" --benchmark_report_aggregates_only=true \
        --benchmark_out="$raw/calls.$mode.$r.json" --benchmark_out_format=json > /dev/null 2> "$raw/calls.$mode.$r.stderr"
    done
  done
  # Instruction counts (user space; stable on a noisy machine) and system
  # calls per call. Counted as (I(2N) - I(N)) / N.
  n=300 cmodes=(none passthrough tenant)
  cops=(open stat stat_root fopen opendir)
  ((quick)) && n=100 cmodes=(none tenant) cops=(open stat stat_root fopen)
  {
    echo "op,mode,instructions,syscalls"
    for op in "${cops[@]}"; do
      for mode in "${cmodes[@]}"; do
        mapfile -t e < <(benv "$mode")
        ins=""
        # valgrind 3.19 fails openat2 (ENOSYS): count with tests/bench/openat2_shim.c behind libsandbox.
        mapfile -t ve < <(benv "$mode" | sed "s|^LD_PRELOAD=.*|&:$build/openat2_shim.so|")
        if command -v valgrind > /dev/null; then
          c() { env "${ve[@]}" valgrind --tool=callgrind --callgrind-out-file=/dev/null --collect-atstart=no \
                  --toggle-collect=run_ops "$build/tests/bench/bench_ops" "$op" "$1" 2>&1 |
                  sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'; }
          a=$(c "$n"); z=$(c $((2 * n))); ins=$(( (z - a) / n ))
        fi
        sc=""
        if command -v strace > /dev/null; then
          env "${e[@]}" strace -f -c -o "$work/strace.txt" "$build/tests/bench/bench_ops" "$op" 1000 2>/dev/null
          sc=$(awk '$NF=="total" {print int($4 / 1000)}' "$work/strace.txt")
        fi
        echo "$op,$mode,$ins,$sc"
      done
    done
  } > "$raw/calls-counts.csv"
fi

# ---- 2 + 3. tenant switch, policy scale, worker memory, dbm map ----------
if want switch; then
  echo "bench.sh: 2+3 tenant switch, policy scale"
  echo "2+3 from $(date -u +%T)" >> "$raw/machine.txt"
  mkdir -p "$work/state"
  samples=300000 forks=4 dbm_hosts=1000000
  ((quick)) && samples=50000 forks=2 dbm_hosts=100000
  for n in 10 10000 1000000; do
    /usr/bin/python3 "$here/tests/bench/gen_policy.py" --tenants "$n" --own-rules 0.1 --out "$work/p$n.json"
    LD_PRELOAD="$lib" TENANT_SANDBOX_STATE_DIR="$work/state" "$build/tests/bench/bench_switch" "$work/p$n.json" "$n" \
      "$samples" "$forks" > "$raw/switch-$n.json"
    rm -f "$work/p$n.json"
  done
  /usr/bin/python3 -c "
import sys
with open(sys.argv[1], 'w') as f:
    for i in range(int(sys.argv[2])): f.write(f'www.site-{i:07d}.example site-{i:07d}\n')" "$work/hosts.txt" "$dbm_hosts"
  t0=$(date +%s.%N)
  httxt2dbm -i "$work/hosts.txt" -o "$work/hosts" > /dev/null
  t1=$(date +%s.%N)
  "$build/bench_dbm" "$work/hosts" "$dbm_hosts" 100000 |
    /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); d['build_s']=round($t1-$t0,1); d['file_mb']=round($(stat -c %s "$work/hosts")/1e6,1); d['type']='$(file -b "$work/hosts" | sed 's/ (\([A-Za-z]*\),.*/ \1/')'; print(json.dumps(d))" \
    > "$raw/dbm.json"
  rm -f "$work/hosts" "$work/hosts.txt"
fi

# ---- 4. per request through Apache --------------------------------------
if want http; then
  echo "bench.sh: 4 per request (Apache, wrk)"
  echo "4 from $(date -u +%T)" >> "$raw/machine.txt"
  hargs=(--rounds 5 --secs 10)
  ((quick)) && hargs=(--rounds 1 --secs 3)
  [[ -n ${BENCH_HTTP_ARGS:-} ]] && read -ra hargs <<< "$BENCH_HTTP_ARGS"
  /usr/bin/python3 "$here/bench/perf/bench_http.py" --lib "$lib" --module "$mod" --out "$raw" "${hargs[@]}" \
    > "$raw/http.log" 2>&1 || echo "bench_http.py failed (see raw/$stamp/http.log)" >> "$raw/failed.txt"
fi

# ---- 5. density (density engineer's script) ------------------------------
if want density; then
  echo "bench.sh: 5 density"
  echo "5 from $(date -u +%T)" >> "$raw/machine.txt"
  if [[ -x $here/scripts/bench_density.sh || -f $here/scripts/bench_density.sh ]]; then
    d=(); ((quick)) && d=(--quick)
    [[ -n ${BENCH_DENSITY_QUICK:-} ]] && d=(--quick)  # the full density run takes 20-25 min
    bash "$here/scripts/bench_density.sh" "${d[@]}" --build "$build" --out "$raw/density" > "$raw/density.log" 2>&1 ||
      echo "bench_density.sh failed (see raw/$stamp/density.log)" >> "$raw/failed.txt"
  fi
fi

# ---- kernel layer On vs Off (kernel engineer's script) -------------------
if want kernel; then
  echo "bench.sh: kernel layer On vs Off"
  echo "kernel from $(date -u +%T)" >> "$raw/machine.txt"
  if grep -q -- '--out' "$here/scripts/bench_kernel.sh"; then
    k=(); ((quick)) && k=(--quick)
    bash "$here/scripts/bench_kernel.sh" "${k[@]}" --build "$build" --out "$raw/kernel" > "$raw/kernel.log" 2>&1 ||
      echo "bench_kernel.sh failed (see raw/$stamp/kernel.log)" >> "$raw/failed.txt"
  else  # positional form: BUILD ROUNDS SECONDS CONNECTIONS
    kargs=("$build" 3 10 2); ((quick)) && kargs=("$build" 1 3 2)
    bash "$here/scripts/bench_kernel.sh" "${kargs[@]}" > "$raw/kernel.log" 2>&1 ||
      echo "bench_kernel.sh failed (see raw/$stamp/kernel.log)" >> "$raw/failed.txt"
  fi
fi

echo "end $(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$raw/machine.txt"
/usr/bin/python3 "$here/bench/perf/report.py" --raw "$raw" --quick "$quick" --out "$out/results.md"
echo "bench.sh: results in $out/results.md, raw figures in $raw"
