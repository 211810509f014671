#!/usr/bin/python3
"""Writes docs/bench/results.md from one scripts/bench.sh run's raw folder."""
import argparse, csv, glob, json, os, platform, statistics


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"


def calls(raw):
    med = {}
    for mode in ("none", "passthrough", "tenant"):
        per = {}
        for f in sorted(glob.glob(f"{raw}/calls.{mode}.*.json")):
            for b in json.load(open(f))["benchmarks"]:
                if b.get("aggregate_name") == "median":
                    per.setdefault(b["run_name"], []).append(b["real_time"])
        med[mode] = {k: (statistics.median(v), len(v)) for k, v in per.items()}
    if not med["none"]:
        return []
    names = {"BM_OpenClose": "open + close (file in the tenant's tree, 2 levels down)", "BM_Stat": "stat (2 levels down)",
             "BM_StatRoot": "stat (file directly in the tenant's root)", "BM_FopenFclose": "fopen + fclose",
             "BM_OpendirReaddir": "opendir + readdir (34 entries)", "BM_ConnectClose": "connect + close, loopback (SO_LINGER 0)"}
    target = {"BM_OpenClose": 1.3, "BM_Stat": 1.3, "BM_StatRoot": 1.3, "BM_ConnectClose": 1.1}
    L = ["## 1. Per call (Google Benchmark, `tests/bench/bench_calls.cpp`)", "",
         "Median of the per-round medians; the three modes alternate round by round in rotated order. "
         "Targets: passthrough <= 1.05; tenant set: open/stat <= 1.3, connect <= 1.1.", "",
         "| call | none (ns) | passthrough (ns) | tenant set (ns) | passthrough / none | tenant / none | target |",
         "|---|---|---|---|---|---|---|"]
    for k, (n, _) in med["none"].items():
        p = med["passthrough"].get(k, (None,))[0]
        t = med["tenant"].get(k, (None,))[0]
        tg = target.get(k)
        tr = t / n if t else None
        mark = "" if tg is None or tr is None else (" met" if tr <= tg else " **missed**")
        if p and p / n > 1.05:
            mark += " (passthrough **missed**)"
        L.append(f"| {names.get(k, k)} | {n:.0f} | {p:.0f} | {t:.0f} | {p / n:.2f} | {tr:.2f} | "
                 f"{('<= ' + str(tg)) if tg else ''}{mark} |")
    rounds = max(v[1] for v in med["none"].values())
    L += ["", f"({rounds} rounds.)"]
    cc = f"{raw}/calls-counts.csv"
    if os.path.exists(cc):
        rows = list(csv.DictReader(open(cc)))
        by = {(r["op"], r["mode"]): r for r in rows}
        L += ["", "User-space instructions (callgrind) and system calls (strace) per call, the stable measure:", "",
              "| call | instr. none | instr. passthrough | instr. tenant | syscalls none | syscalls tenant |", "|---|---|---|---|---|---|"]
        for op in dict.fromkeys(r["op"] for r in rows):
            g = lambda m, f: by.get((op, m), {}).get(f, "") or "n/a"
            L.append(f"| {op} | {g('none', 'instructions')} | {g('passthrough', 'instructions')} | {g('tenant', 'instructions')} | "
                     f"{g('none', 'syscalls')} | {g('tenant', 'syscalls')} |")
    return L


def switch(raw):
    L = []
    rows = [json.load(open(f)) for f in sorted(glob.glob(f"{raw}/switch-*.json"), key=lambda f: int(f.split("-")[-1][:-5]))]
    if rows:
        L += ["## 2. Tenant switch (set + clear of a random tenant, `tests/bench/bench_switch.cpp`)", "",
              "Target: p50 <= 1 us at 1,000,000 tenants.", "",
              "| tenants | p50 (ns) | p90 (ns) | p99 (ns) | samples |", "|---|---|---|---|---|"]
        for r in rows:
            s = r["switch_ns"]
            L.append(f"| {r['tenants']:,} | {s['p50']:.0f} | {s['p90']:.0f} | {s['p99']:.0f} | {r['samples']:,} |")
        L += ["", "## 3. Policy scale (policy of N tenants, 10 % with rules of their own, `tests/bench/gen_policy.py`)", "",
              "Targets at 1,000,000: load <= 2 s, peak <= 256 MB, private memory per forked worker < 5 MB "
              "(the policy stays shared copy-on-write).", "",
              "| tenants | load wall (s) | load CPU (s) | peak RSS (MB) | worker PSS idle (MB) | worker private idle (kB) | "
              "worker private after 10,000 switches (kB) |", "|---|---|---|---|---|---|---|"]
        for r in rows:
            L.append(f"| {r['tenants']:,} | {r['load_wall_s']:.2f} | {r['load_cpu_s']:.2f} | {r['peak_rss_kb'] / 1024:.0f} | "
                     f"{r['worker_idle_kb']['pss'] / 1024:.1f} | {r['worker_idle_kb']['private']} | "
                     f"{r['worker_10k_switches_kb']['private']} |")
        L += ["", "Workers are children forked after the load that load nothing themselves (as prefork's); "
              "PSS splits the shared policy among the parent and its children, private = Private_Clean + Private_Dirty."]
    f = f"{raw}/dbm.json"
    if os.path.exists(f):
        d = json.load(open(f))
        s = d["fetch_ns"]
        L += ["", f"**TenantMap dbm**: {d['hosts']:,} hosts, {d.get('type', '?')} (APR's default DBM on Debian, what "
              f"`httxt2dbm` writes), {d.get('file_mb')} MB, built in {d.get('build_s')} s. One lookup (apr_dbm_fetch, as "
              f"tt_map.c per request): p50 {s['p50'] / 1000:.1f} us, p90 {s['p90'] / 1000:.1f} us, p99 {s['p99'] / 1000:.1f} us; "
              f"open {d['open_us'] / 1000:.1f} ms (once per worker). Private memory of the process: "
              f"{d['private_kb']['before_open']} kB before the open, {d['private_kb']['after_open']} kB after, "
              f"{d['private_kb']['after_lookups']} kB after 100,000 random lookups (Berkeley DB's page cache)."]
    return L


def part(raw, name, fname, log):
    for cand in (f"{raw}/{name}/{fname}", f"{raw}/{fname}"):
        if os.path.exists(cand):
            return open(cand).read().rstrip().splitlines()
    if os.path.exists(f"{raw}/{log}"):
        tail = open(f"{raw}/{log}").read().rstrip().splitlines()[-14:]
        return ["```"] + tail + ["```"]
    return []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True); ap.add_argument("--out", required=True); ap.add_argument("--quick", default="0")
    a = ap.parse_args()
    raw = a.raw
    rel = os.path.relpath(raw, os.path.dirname(a.out))
    mach = open(f"{raw}/machine.txt").read().rstrip().splitlines() if os.path.exists(f"{raw}/machine.txt") else []
    L = [f"# Benchmark results ({os.path.basename(raw)} UTC{', QUICK MODE: short runs, not for publication' if a.quick == '1' else ''})", "",
         f"Machine: {os.cpu_count()} CPUs ({cpu_model()}), kernel {platform.release()}, "
         f"{open('/etc/debian_version').read().strip() if os.path.exists('/etc/debian_version') else ''} Debian. "
         "**The load generator (wrk) and the servers share these CPUs**, and the machine may be shared with other "
         "work: compare ratios within one run, not absolute figures across runs.", "",
         "Run: " + "; ".join(mach), "",
         f"Raw figures: [{rel}]({rel}) (JSON/CSV per benchmark). Reproduce: `sudo scripts/bench.sh` "
         "(`--quick` for a < 5 minute run).", ""]
    if os.path.exists(f"{raw}/failed.txt"):
        L += ["**Failed parts:** " + "; ".join(open(f"{raw}/failed.txt").read().splitlines()), ""]
    for sec in (calls(raw), switch(raw)):
        if sec:
            L += sec + [""]
    h = part(raw, ".", "http.md", "http.log")
    if h:
        L += ["## 4. Per request through Apache (`bench/perf/bench_http.py`)", ""] + h[1:] + [""]
    d = part(raw, "density", "density.md", "density.log")
    if d:
        L += ["## 5. Density (`scripts/bench_density.sh`)", ""] + d + [""]
        for png in sorted(glob.glob(f"{raw}/density/*.png")):
            r = os.path.relpath(png, os.path.dirname(a.out))
            L.append(f"![{os.path.basename(png)}]({r})")
        L.append("")
    k = part(raw, "kernel", "kernel.md", "kernel.log")
    if k:
        L += ["## Kernel layer On vs Off (`scripts/bench_kernel.sh`)", ""] + k + [""]
    open(a.out, "w").write("\n".join(L) + "\n")
    print("\n".join(L))


if __name__ == "__main__":
    main()
