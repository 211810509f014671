#!/usr/bin/python3
"""The Apache parent with a large policy: peak memory (VmHWM) and CPU time
of the parent after start, and after a graceful restart with a changed
policy (one parse per start, docs/design.md "one parse").

    parent_policy.py --lib libsandbox.so --module mod_tenant_tag.so [--tenants 1000000] [--json OUT]

Runs a real Apache (the e2e harness, tests/e2e/conftest.py) with the policy
from tests/bench/gen_policy.py. Prints one line per phase.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
from conftest import Apache, make_tenant_dir  # noqa: E402


def proc_figures(pid):
    with open(f"/proc/{pid}/status") as fh:
        st = dict(l.split(":", 1) for l in fh if ":" in l)
    with open(f"/proc/{pid}/stat") as fh:
        f = fh.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return {"hwm_mb": int(st["VmHWM"].split()[0]) / 1024, "rss_mb": int(st["VmRSS"].split()[0]) / 1024,
            "cpu_s": (int(f[11]) + int(f[12])) / tick}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--module", required=True)
    ap.add_argument("--tenants", type=int, default=1000000)
    ap.add_argument("--json")
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="ts-parent-", dir="/tmp")
    os.chmod(root, 0o755)
    a = Apache({"module": args.module, "libsandbox": args.lib, "cli": None}, root, workers=2, php=False)
    make_tenant_dir(a.root, "site-0000000")
    gen = os.path.join(HERE, "..", "..", "tests", "bench", "gen_policy.py")
    subprocess.run([sys.executable, gen, "--tenants", str(args.tenants), "--out", a.policy_path], check=True)
    size_mb = os.path.getsize(a.policy_path) / 1e6
    a.add_vhost("t.test", [f"DocumentRoot {a.root}/www/site-0000000", "TenantId site-0000000"])
    out = {"tenants": args.tenants, "policy_mb": round(size_mb, 1)}
    try:
        # `apache2 -k start` reads the configuration (and the policy) in the
        # process the command starts, then detaches: the daemon is a fork of
        # it. The start's cost is that process's (waited for: RUSAGE_CHILDREN)
        # plus the daemon's own.
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        a.start()
        out["start_wall_s"] = round(time.time() - t0, 2)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        daemon = proc_figures(a.pid())
        cmd_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        out["start"] = {"cpu_s": cmd_cpu + daemon["cpu_s"], "hwm_mb": max(after.ru_maxrss / 1024, daemon["hwm_mb"]),
                        "rss_mb": daemon["rss_mb"], "command_peak_mb": after.ru_maxrss / 1024}
        # Graceful with a changed file: parsed once more, the old one freed.
        with open(a.policy_path, "a") as fh:
            fh.write("\n")
        a.graceful()
        g = proc_figures(a.pid())
        g["cpu_s"] += cmd_cpu
        out["graceful"] = g
        assert a.get("t.test", "/index.html").status == 200
    finally:
        a.stop()
        subprocess.run(["rm", "-rf", root])
    line = (f"{args.tenants} tenants ({out['policy_mb']} MB policy): start {out['start_wall_s']} s wall, parent "
            f"CPU {out['start']['cpu_s']:.2f} s, peak {out['start']['hwm_mb']:.0f} MB, RSS {out['start']['rss_mb']:.0f} MB; "
            f"after a graceful with a changed policy: CPU {out['graceful']['cpu_s']:.2f} s total, "
            f"peak {out['graceful']['hwm_mb']:.0f} MB, RSS {out['graceful']['rss_mb']:.0f} MB")
    print(line)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
