#!/usr/bin/env bash
# Benchmarks, reported as ratios within one run (the machine is shared and
# noisy; load generator and server share its 2 cores).
#   scripts/bench.sh            full run
#   scripts/bench.sh --quick    fewer repetitions (a few minutes)
# Writes build/bench/results-<date>.md and prints it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1
"$here/scripts/deps.sh" --bench

build="${BUILD_DIR:-$here/build/bench}"
mkdir -p "$build"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTS_WARNINGS_AS_ERRORS=ON > "$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j"$(nproc)" --target bench_calls sandbox tenant-sandbox > "$build/build.log" 2>&1 ||
  { tail -30 "$build/build.log"; exit 1; }

lib="$build/libsandbox/libsandbox.so"
work=$(mktemp -d "$build/work.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/www/bench/data"
for i in $(seq 1 32); do echo "file $i" > "$work/www/bench/data/f$i.txt"; done
echo "hello" > "$work/www/bench/data/file.txt"
cat > "$work/policy.json" <<JSON
{ "version": 1, "tenant_root": "$work/www/{tenant}", "unknown_tenants": "deny",
  "defaults": { "read_only": ["/usr/share/zoneinfo"], "ip_allow": ["127.0.0.0/8"], "max_connections": 1000000 },
  "tenants": { "bench": {} } }
JSON

reps=5 mintime=0.3
((quick)) && reps=3 mintime=0.1
run() {  # run MODE OUTFILE
  local mode=$1 out=$2
  local -a env=(BENCH_DIR="$work/www/bench/data")
  case $mode in
    passthrough) env+=(LD_PRELOAD="$lib") ;;
    tenant) env+=(LD_PRELOAD="$lib" BENCH_POLICY="$work/policy.json" BENCH_TENANT=bench TENANT_SANDBOX_STATE_DIR="$work/state") ;;
  esac
  env "${env[@]}" "$build/tests/bench/bench_calls" --benchmark_repetitions="$reps" \
    --benchmark_min_time="$mintime" --benchmark_report_aggregates_only=true \
    --benchmark_out="$out" --benchmark_out_format=json > /dev/null 2> "$out.stderr"
}
# Alternate the modes twice so a slow phase of the machine hits all of them.
for round in 1 2; do
  for mode in none passthrough tenant; do run "$mode" "$work/$mode.$round.json"; done
done

result="$build/results-$(date -u +%Y%m%d-%H%M).md"
/usr/bin/python3 - "$work" "$result" <<'PY'
import json, sys, glob, statistics, platform, datetime, os
work, result = sys.argv[1], sys.argv[2]
med = {}
for mode in ("none", "passthrough", "tenant"):
    per = {}
    for f in sorted(glob.glob(f"{work}/{mode}.*.json")):
        for b in json.load(open(f))["benchmarks"]:
            if b.get("aggregate_name") == "median":
                per.setdefault(b["run_name"], []).append(b["real_time"])
    med[mode] = {k: statistics.median(v) for k, v in per.items()}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
lines = [f"# Per-call cost ({datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, {cpu}, kernel {platform.release()})", "",
         "| call | no preload (ns) | passthrough (ns) | tenant set (ns) | passthrough / none | tenant / none |",
         "|---|---|---|---|---|---|"]
for name in med["none"]:
    n, p, t = med["none"][name], med["passthrough"].get(name), med["tenant"].get(name)
    fmt = lambda x: f"{x:.0f}" if x else "n/a"
    ratio = lambda x: f"{x / n:.2f}" if x else "n/a"
    lines.append(f"| {name.removeprefix('BM_')} | {fmt(n)} | {fmt(p)} | {fmt(t)} | {ratio(p)} | {ratio(t)} |")
open(result, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "results: $result"
