#!/usr/bin/python3
"""Density benchmark (issue 5): one small PHP page spread over N sites, random
Host per request, served by

  ours           prefork + mod_php + mod_tenant_tag (TenantMap dbm, policy of N
                 tenants) + LD_PRELOAD libsandbox.so, TenantKernelConfine On
  ours-nokernel  the same with TenantKernelConfine Off
  baseline       the same prefork + mod_php, no module, no preload
  fpm-ondemand   Apache event + mod_proxy_fcgi, one PHP-FPM pool (uid, socket)
                 per site, pm=ondemand
  fpm-static     the same, pm=static with 1 child per site
  itk            prefork + mpm-itk + mod_php, one vhost and uid per site

Each (setup, N) gets a fresh ServerRoot/config under the scratch folder,
loopback only. Per point: req/s, p50/p99 (wrk --latency), total PSS of every
process of the setup (/proc/PID/smaps_rollup, right after the load), process
count, errors (non-2xx, wrong site, socket errors). Called by
scripts/bench_density.sh; see there for the options.
"""
import argparse
import csv
import datetime
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES = "/usr/lib/apache2/modules"
APACHE = "/usr/sbin/apache2"
FPM = "/usr/sbin/php-fpm8.2"
UID_BASE = 200000          # site I runs as uid/gid UID_BASE+I (fpm, itk); no users needed
# RLIMIT_NOFILE of every server started (same for all setups): 65536 or the
# hard limit when that is lower (an unprivileged container cannot raise it).
NOFILE = min(65536, resource.getrlimit(resource.RLIMIT_NOFILE)[1])

ALL_SETUPS = ["ours", "ours-nokernel", "baseline", "fpm-ondemand", "fpm-static", "itk"]
LABEL = {
    "ours": "ours: prefork+mod_php+mod_tenant_tag+libsandbox, kernel layer On",
    "ours-nokernel": "ours, TenantKernelConfine Off",
    "baseline": "prefork+mod_php, no isolation (baseline)",
    "fpm-ondemand": "PHP-FPM pool per site, pm=ondemand",
    "fpm-static": "PHP-FPM pool per site, pm=static 1 child",
    "itk": "mpm-itk, uid per site",
}
PLOT_TITLE = {
    "ours": "ours: shared pool + mod_tenant_tag + libsandbox (kernel layer On)",
    "ours-nokernel": "ours, kernel layer Off",
    "baseline": "prefork + mod_php, no isolation",
    "fpm-ondemand": "PHP-FPM pool per site, ondemand",
    "fpm-static": "PHP-FPM pool per site, static 1 child",
    "itk": "mpm-itk, uid per site",
}
PER_SITE = ("fpm-ondemand", "fpm-static", "itk")   # "per-site-pool" setups of the targets


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def tpl(name, **kv):
    with open(os.path.join(HERE, name)) as fh:
        text = fh.read()
    for k, v in kv.items():
        text = text.replace(f"@{k}@", str(v))
    left = re.findall(r"@[A-Z]+@", text)
    assert not left, f"{name}: unfilled {left}"
    return text


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write(path, text, mode=0o644):
    with open(path, "w") as fh:
        fh.write(text)
    os.chmod(path, mode)


def raise_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


# ---------------------------------------------------------------- processes
def proc_table():
    """pid -> ppid for every process."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    out[int(d)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    return out


def tree(root):
    """root and all its descendants that are alive now."""
    if not root:
        return []
    table = proc_table()
    if root not in table:
        return []
    kids = {}
    for pid, ppid in table.items():
        kids.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def pss_uss_kb(pid):
    """(PSS, USS) of pid in kB. PSS splits each shared page among every process
    on the machine that maps it (so other programs running libphp or libc
    shift it a little); USS (private pages only) does not, but leaves out
    everything shared, opcache's memory included."""
    pss = uss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith(("Private_Clean:", "Private_Dirty:")):
                    uss += int(line.split()[1])
    except OSError:
        pass
    return pss, uss


def mappings(pid):
    """PSS and private dirty kB of pid per mapped object (for the per-worker breakdown)."""
    maps, cur = [], None
    try:
        with open(f"/proc/{pid}/smaps") as fh:
            for line in fh:
                f = line.split()
                if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                    cur = [f[5] if len(f) > 5 else "[anon]", 0, 0]
                    maps.append(cur)
                elif f[0] == "Pss:":
                    cur[1] += int(f[1])
                elif f[0] in ("Private_Dirty:",):
                    cur[2] += int(f[1])
    except OSError:
        return []
    agg = {}
    for name, pss, priv in maps:
        a = agg.setdefault(os.path.basename(name), [0, 0])
        a[0] += pss
        a[1] += priv
    return agg


def read_pid(path):
    try:
        with open(path) as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def wait_gone(pids, timeout):
    end = time.time() + timeout
    while time.time() < end:
        alive = [p for p in pids if os.path.exists(f"/proc/{p}") and not _zombie(p)]
        if not alive:
            return True
        time.sleep(0.2)
    return False


def _zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


# ---------------------------------------------------------------- sites
def make_sites(www, n):
    """www/sI/index.php (the same page for every site) + www/sI/site.php (its id).
    Root-owned, world-readable: every site uid (fpm, itk) and www-data can read."""
    os.makedirs(www, exist_ok=True)
    os.chmod(www, 0o755)
    page = ("<?php\n// density benchmark page: a tiny include and one line of output\n"
            "include __DIR__ . '/site.php';\n"
            "echo 'host=', $_SERVER['HTTP_HOST'], ' site=', $site, ' tenant=', $_SERVER['TENANT_ID'] ?? '-', \"\\n\";\n")
    # Not part of the load: check_page() asks s1 for it to see that ours
    # really isolates (another site's file is denied) and the baseline does not.
    os.makedirs(f"{www}/s1", exist_ok=True)
    write(f"{www}/s1/cross.php", "<?php echo @file_get_contents(dirname(__DIR__) . '/s2/site.php') === false "
          "? 'cross=denied' : 'cross=read', \"\\n\";\n")
    for i in range(1, n + 1):
        d = f"{www}/s{i}"
        if os.path.exists(f"{d}/site.php"):
            continue
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        write(f"{d}/index.php", page)
        write(f"{d}/site.php", f"<?php $site = 's{i}.test';\n")


# ---------------------------------------------------------------- wrk
def to_ms(v):
    m = re.match(r"^([0-9.]+)(us|ms|s|m)$", v)
    if not m:
        return float("nan")
    x, u = float(m.group(1)), m.group(2)
    return {"us": x / 1000, "ms": x, "s": x * 1000, "m": x * 60000}[u]


def run_wrk(port, n, mode, secs, conns, threads):
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{secs}s", "--latency", "--timeout", "10s",
           "-s", os.path.join(HERE, "density.lua"), f"http://127.0.0.1:{port}/index.php",
           "--", str(n), mode, str(threads)]
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 60)
    out = r.stdout
    res = {"elapsed": time.time() - t0, "raw": out + r.stderr}
    m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else 0
    for q in ("50", "99"):
        m = re.search(rf"^\s+{q}(?:\.000)?%\s+(\S+)", out, re.M)
        res[f"p{q}"] = to_ms(m.group(1)) if m else float("nan")
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["sock_errors"] = sum(int(x) for x in m.groups()) if m else 0
    res["sock_detail"] = m.group(0) if m else ""
    m = re.search(r"DENSITY ok=(\d+) non2xx=(\d+) wrong=(\d+)", out)
    if m:
        res["ok"], res["non2xx"], res["wrong"] = (int(x) for x in m.groups())
    else:
        res["ok"], res["non2xx"], res["wrong"] = 0, 0, 0
        res["sock_errors"] += 1
    return res


# ---------------------------------------------------------------- setups
class Setup:
    def __init__(self, name, n, scratch, www, args):
        self.name, self.n, self.www, self.args = name, n, www, args
        self.dir = f"{scratch}/{name}-{n}"
        os.makedirs(f"{self.dir}/run", exist_ok=True)
        os.makedirs(f"{self.dir}/php.d", exist_ok=True)
        shutil.copy(os.path.join(HERE, "php-density.ini"), f"{self.dir}/php.d/99-density.ini")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.conf = f"{self.dir}/httpd.conf"
        self.fpm_conf = f"{self.dir}/fpm.conf"
        self.uses_fpm = name.startswith("fpm-")
        self.state = f"{args.state_root}/{name}-{n}"

    def env(self, preload=False):
        e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C",
             # Debian's scan dir plus ours (':' first = the compiled-in default too)
             "PHP_INI_SCAN_DIR": f":{self.dir}/php.d"}
        if preload:
            e["LD_PRELOAD"] = self.args.lib
            e["TENANT_SANDBOX_STATE_DIR"] = self.state
        return e

    # -- configuration
    def render(self):
        n, d = self.n, self.dir
        common = dict(DIR=d, PORT=self.port, MODULES=MODULES, WWW=self.www, WORKERS=self.args.workers)
        parts = [tpl("httpd-common.conf.in", **common)]
        if self.name in ("ours", "ours-nokernel", "baseline", "itk"):
            parts.append(tpl("mpm-prefork.conf.in", **common))
            parts.append(tpl("modphp.conf.in", **common))
        if self.name in ("ours", "ours-nokernel", "baseline"):
            parts.append(tpl("mass-vhost.conf.in", **common))
        if self.name.startswith("ours"):
            parts.append(tpl("ours.conf.in", **common, MODULE=self.args.module,
                             KERNEL="On" if self.name == "ours" else "Off"))
            self.write_policy_and_map()
        if self.name == "itk":
            # mpm-itk cannot serve a keep-alive connection's next request for
            # another vhost (the child already switched uid: "Couldn't set
            # uid/gid, closing connection", no response). With random Hosts
            # that loses requests, so itk answers each request on its own
            # connection, as it must when a client changes site.
            parts.append(f"LoadModule mpm_itk_module {MODULES}/mpm_itk.so\nKeepAlive Off\n")
            v = open(os.path.join(HERE, "vhost-itk.conf.in")).read()
            parts.append("".join(v.replace("@PORT@", str(self.port)).replace("@WWW@", self.www)
                                 .replace("@I@", str(i)).replace("@UID@", str(UID_BASE + i))
                                 for i in range(1, n + 1)))
        if self.uses_fpm:
            parts.append(tpl("mpm-event.conf.in", **common))
            v = open(os.path.join(HERE, "vhost-fpm.conf.in")).read()
            parts.append("".join(v.replace("@PORT@", str(self.port)).replace("@WWW@", self.www)
                                 .replace("@DIR@", d).replace("@I@", str(i))
                                 for i in range(1, n + 1)))
            self.write_fpm()
        write(self.conf, "\n".join(parts))

    def write_policy_and_map(self):
        d, n = self.dir, self.n
        tenants = ",\n".join(f'  "s{i}": {{}}' for i in range(1, n + 1))
        write(f"{d}/policy.json",
              '{"version": 1, "tenant_root": "%s/{tenant}", "unknown_tenants": "deny",\n'
              ' "defaults": {"read_only": ["/usr/share/zoneinfo", "/usr/share/php"]},\n'
              ' "tenants": {\n%s\n}}\n' % (self.www, tenants))
        write(f"{d}/hosts.txt", "".join(f"s{i}.test s{i}\n" for i in range(1, n + 1)))
        subprocess.run(["httxt2dbm", "-i", f"{d}/hosts.txt", "-o", f"{d}/hosts"], check=True,
                       capture_output=True)
        for f in os.listdir(d):
            if f.startswith("hosts"):
                os.chmod(f"{d}/{f}", 0o644)
        # STATE_DIR as DESIGN.md wants it: root and the Apache group, 0750,
        # on tmpfs as /run/tenant-sandbox is on a Debian host (its shared
        # tables are sparse files: on a disk file system, read-ahead of the
        # mapped holes would count tens of MB that tmpfs never allocates).
        st = self.state
        os.makedirs(st, exist_ok=True)
        shutil.chown(st, "root", "www-data")
        os.chmod(st, 0o750)

    def write_fpm(self):
        d, n = self.dir, self.n
        os.makedirs(f"{d}/fpm", exist_ok=True)
        os.chmod(f"{d}/fpm", 0o755)
        if self.name == "fpm-ondemand":
            pm = ("pm = ondemand\npm.max_children = %d\npm.process_idle_timeout = 10s\n"
                  % self.args.ondemand_children)
        else:
            pm = "pm = static\npm.max_children = 1\n"
        pool = open(os.path.join(HERE, "fpm-pool.conf.in")).read().replace("@DIR@", d).replace("@PM@", pm)
        text = tpl("fpm-global.conf.in", DIR=d, NOFILE=NOFILE)
        text += "".join(pool.replace("@I@", str(i)).replace("@UID@", str(UID_BASE + i))
                        for i in range(1, n + 1))
        write(self.fpm_conf, text)

    # -- lifecycle
    def start(self, timeout):
        self.render()
        t0 = time.time()
        self.fpm = None
        if self.uses_fpm:
            # Foreground master in its own session: its pid is known from the
            # first instant, so stop() can end it and every child even when
            # it is still starting (a daemonizing master that is slow to
            # report back is otherwise left running).
            self.fpm = subprocess.Popen([FPM, "-F", "-y", self.fpm_conf], env=self.env(),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        preexec_fn=raise_nofile, start_new_session=True)
            want = self.n if self.name == "fpm-static" else 0
            while True:
                ready = os.path.exists(f"{self.dir}/fpm/s{self.n}.sock")
                kids = len(tree(self.fpm.pid)) - 1
                if ready and kids >= want:
                    break
                if self.fpm.poll() is not None:
                    raise RuntimeError(f"php-fpm exited ({self.fpm.returncode}){self.tail('fpm.log')}")
                if time.time() - t0 > timeout:
                    raise RuntimeError(f"php-fpm not ready after {timeout} s: {kids} of {want} children "
                                       f"started, last socket {'there' if ready else 'missing'}")
                time.sleep(0.5)
        r = subprocess.run([APACHE, "-f", self.conf, "-k", "start"],
                           env=self.env(preload=self.name.startswith("ours")),
                           capture_output=True, text=True, timeout=timeout, preexec_fn=raise_nofile)
        if r.returncode != 0:
            raise RuntimeError(f"apache2 did not start: {r.stdout}{r.stderr}{self.tail('error.log')}")
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    if read_pid(f"{self.dir}/httpd.pid"):
                        break
            except OSError:
                pass
            if time.time() - t0 > timeout:
                raise RuntimeError("apache2 did not come up\n" + self.tail("error.log"))
            time.sleep(0.2)
        self.start_secs = time.time() - t0

    def tail(self, f, k=20):
        try:
            with open(f"{self.dir}/{f}") as fh:
                return "\n--- " + f + " ---\n" + "".join(fh.readlines()[-k:])
        except OSError:
            return ""

    def roots(self):
        r = {"apache": read_pid(f"{self.dir}/httpd.pid")}
        if self.uses_fpm:
            r["fpm"] = self.fpm.pid if self.fpm else None
        return r

    def stop(self):
        pids = []
        for name, root in self.roots().items():
            pids += tree(root)
        a = read_pid(f"{self.dir}/httpd.pid")
        if a:
            try:
                os.kill(a, signal.SIGTERM)
            except OSError:
                pass
        fpm = getattr(self, "fpm", None)
        if fpm:
            try:
                os.kill(fpm.pid, signal.SIGTERM)
            except OSError:
                pass
        if not wait_gone(pids, 60):
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            wait_gone(pids, 10)
        if fpm:
            try:
                os.killpg(fpm.pid, signal.SIGKILL)  # whatever it forked meanwhile
            except OSError:
                pass
            try:
                fpm.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass

    def memory(self):
        """Total PSS (kB) per part and in all, process count, parent/child split."""
        out = {"procs": 0, "pss": 0, "uss": 0}
        children = []
        for part, root in self.roots().items():
            pids = tree(root)
            both = {p: pss_uss_kb(p) for p in pids}
            kb = {p: v[0] for p, v in both.items()}
            out[f"pss_{part}"] = sum(kb.values())
            out["uss"] = out.get("uss", 0) + sum(v[1] for v in both.values())
            out["pss"] += out[f"pss_{part}"]
            out["procs"] += len(pids)
            if part == "apache":
                out["pss_parent"] = kb.get(root, 0)
                children = [p for p in pids if p != root]
                out["pss_child_median"] = statistics.median([kb[p] for p in children]) if children else 0
        out["children"] = children
        return out

    def check_page(self):
        """One request to the last site: the right site answers (else: why not)."""
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        c.request("GET", "/index.php", headers={"Host": f"s{self.n}.test"})
        r = c.getresponse()
        body = r.read().decode(errors="replace")
        # ours: the request really ran as the site's tenant (mod_tenant_tag set TENANT_ID)
        tenant = f"s{self.n}" if self.name.startswith("ours") else "-"
        ok = r.status == 200 and f"host=s{self.n}.test site=s{self.n}.test tenant={tenant}" in body
        c.close()
        if ok and self.name in ("ours", "ours-nokernel", "baseline"):
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            c.request("GET", "/cross.php", headers={"Host": "s1.test"})
            r = c.getresponse()
            cross = r.read().decode(errors="replace")
            c.close()
            want = "cross=read" if self.name == "baseline" else "cross=denied"
            ok, body = want in cross, f"{body} / cross.php: {r.status} {cross[:100]!r}, wanted {want}"
        self.checked = body.strip()
        return ok, f"{r.status} {body[:200]!r}"


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--module", required=True)
    ap.add_argument("--ns", default="10,100,1000,10000")
    ap.add_argument("--setups", default=",".join(ALL_SETUPS))
    ap.add_argument("--secs", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--warm-cap", type=int, default=20, help="max seconds of the warm-up sweep")
    ap.add_argument("--warm-rand", type=int, default=2, help="seconds of random requests before measuring")
    ap.add_argument("--workers", type=int, default=8, help="prefork MaxRequestWorkers")
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ondemand-children", type=int, default=2)
    ap.add_argument("--mem-budget-mb", type=int, default=0,
                    help="skip a point whose predicted PSS exceeds this (default: half of MemAvailable)")
    ap.add_argument("--start-timeout", type=int, default=180)
    ap.add_argument("--scratch", default="")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    ns = [int(x) for x in args.ns.split(",")]
    setups = args.setups.split(",")
    os.makedirs(args.out, exist_ok=True)
    if not args.mem_budget_mb:
        with open("/proc/meminfo") as fh:
            avail = next(int(l.split()[1]) for l in fh if l.startswith("MemAvailable:"))
        args.mem_budget_mb = avail // 2048
    scratch = args.scratch or __import__("tempfile").mkdtemp(prefix="ts-density.", dir="/tmp")
    os.makedirs(scratch, exist_ok=True)
    os.chmod(scratch, 0o755)
    www = f"{scratch}/www"
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else scratch
    args.state_root = __import__("tempfile").mkdtemp(prefix="ts-density-state.", dir=shm)
    os.chmod(args.state_root, 0o755)
    started = datetime.datetime.utcnow()
    log(f"density: scratch {scratch}, N={ns}, setups={setups}, {args.repeats} x {args.secs}s, "
        f"memory budget {args.mem_budget_mb} MB")
    make_sites(www, max(ns))

    rows = []
    breakdown = []
    last = {}          # setup -> (n, pss_kb) of its last measured point, for the budget
    t_all = time.time()
    try:
        for n in ns:
            for name in setups:
                row = {"setup": name, "n": n, "status": "ok", "reason": ""}
                rows.append(row)
                # A process per site: memory and start time grow with N at
                # least linearly; skip a point the previous one shows cannot fit.
                if name.startswith("fpm") and name in last:
                    pn, pkb, pstart, pstatus = last[name]
                    pred = pkb * n / pn / 1024 if pkb else 0
                    if pred > args.mem_budget_mb:
                        row.update(status="did not run", reason=(
                            f"predicted {pred / 1024:.1f} GB PSS (from {pkb / 1024:.0f} MB at N={pn}, "
                            f"linear in N) > budget {args.mem_budget_mb / 1024:.1f} GB"))
                    elif pstatus != "ok" and "not ready" in pstatus:
                        row.update(status="did not run", reason=(
                            f"N={pn} already could not start within {args.start_timeout} s"))
                    elif pstart * n / pn > args.start_timeout:
                        row.update(status="did not run", reason=(
                            f"start-up predicted {pstart * n / pn:.0f} s (from {pstart:.0f} s at N={pn}, linear "
                            f"in N) > {args.start_timeout} s"))
                    if row["status"] != "ok":
                        log(f"density: {name} N={n}: {row['reason']}")
                        continue
                with open("/proc/loadavg") as fh:
                    row["load1"] = float(fh.read().split()[0])
                s = Setup(name, n, scratch, www, args)
                log(f"density: {name} N={n}: starting")
                try:
                    s.start(args.start_timeout)
                    ok, what = s.check_page()
                    if not ok:
                        raise RuntimeError(f"page check failed: {what}{s.tail('error.log')}{s.tail('fpm.log')}")
                    if "cross=" in getattr(s, "checked", ""):
                        row["cross"] = "denied" if "cross=denied" in s.checked else "read"
                    # Warm-up: every site once (capped), then a short random run.
                    w = run_wrk(s.port, n, "seq", args.warm_cap, args.conns, args.threads)
                    row["warm_sites"] = min(n, w["ok"])
                    row["warm_secs"] = round(w["elapsed"], 1)
                    run_wrk(s.port, n, "rand", args.warm_rand, args.conns, args.threads)
                    reps = []
                    for k in range(args.repeats):
                        r = run_wrk(s.port, n, "rand", args.secs, args.conns, args.threads)
                        r.update(s.memory())
                        reps.append(r)
                        log(f"density:   {name} N={n} #{k + 1}: {r['rps']:.0f} req/s p50 {r['p50']:.2f} ms "
                            f"p99 {r['p99']:.2f} ms PSS {r['pss'] / 1024:.1f} MB procs {r['procs']} "
                            f"non2xx {r['non2xx']} wrong {r['wrong']} sock {r['sock_errors']}")
                    med = lambda key: statistics.median(r[key] for r in reps)
                    row.update(rps=med("rps"), p50_ms=med("p50"), p99_ms=med("p99"),
                               pss_mb=med("pss") / 1024, uss_mb=med("uss") / 1024, pss_apache_mb=med("pss_apache") / 1024,
                               pss_fpm_mb=(med("pss_fpm") / 1024) if s.uses_fpm else 0.0,
                               pss_parent_mb=med("pss_parent") / 1024,
                               pss_child_median_mb=med("pss_child_median") / 1024,
                               procs=int(med("procs")),
                               requests=sum(r["requests"] for r in reps),
                               non2xx=sum(r["non2xx"] for r in reps), wrong=sum(r["wrong"] for r in reps),
                               sock_errors=sum(r["sock_errors"] for r in reps),
                               start_secs=round(s.start_secs, 1))
                    last[name] = (n, med("pss"), s.start_secs, "ok")
                    if name in ("ours", "ours-nokernel", "baseline") and reps[-1]["children"]:
                        child = reps[-1]["children"][0]
                        breakdown.append((name, n, row["pss_child_median_mb"], row["pss_parent_mb"],
                                          mappings(child)))
                    if any(r["sock_errors"] for r in reps):
                        row["reason"] = "; ".join(r["sock_detail"] for r in reps if r["sock_errors"])
                except Exception as e:  # noqa: BLE001 -- a point that cannot run is a result
                    row.update(status="did not run", reason=str(e).strip().splitlines()[0][:200])
                    last[name] = (n, 0, args.start_timeout, row["reason"])
                    log(f"density: {name} N={n}: did not run: {e}")
                finally:
                    s.stop()
                    if not args.keep:
                        shutil.rmtree(s.dir, ignore_errors=True)
                        shutil.rmtree(s.state, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(args.state_root, ignore_errors=True)
        if not args.keep and not args.scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    report(args, rows, breakdown, ns, setups, started, time.time() - t_all)


def fmt(x, spec):
    return format(x, spec) if isinstance(x, (int, float)) and x == x else "n/a"


def report(args, rows, breakdown, ns, setups, started, secs):
    out = args.out
    cols = ["setup", "n", "status", "rps", "rps_ratio", "p50_ms", "p99_ms", "pss_mb", "mem_ratio", "uss_mb",
            "pss_apache_mb", "pss_fpm_mb", "pss_parent_mb", "pss_child_median_mb", "procs",
            "requests", "non2xx", "wrong", "sock_errors", "warm_sites", "warm_secs", "start_secs", "load1", "cross", "reason"]
    base = {r["n"]: r for r in rows if r["setup"] == "baseline" and r["status"] == "ok"}
    for r in rows:
        b = base.get(r["n"])
        if r["status"] == "ok" and b:
            r["rps_ratio"] = r["rps"] / b["rps"] if b["rps"] else float("nan")
            r["mem_ratio"] = r["pss_mb"] / b["pss_mb"] if b["pss_mb"] else float("nan")
    with open(f"{out}/density.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()})

    la = sorted(r["load1"] for r in rows if "load1" in r)
    loads = f"min {la[0]:.1f}, median {statistics.median(la):.1f}, max {la[-1]:.1f}" if la else "n/a"
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem_gb = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal:")) / 2**20
    L = [f"### Density: one PHP page over N sites ({started:%Y-%m-%d %H:%M} UTC{', ' + args.label if args.label else ''})",
         "",
         f"Machine: {os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GB RAM, kernel {platform.release()}, Debian 12, "
         f"PHP 8.2, Apache 2.4. Load generator (wrk -t{args.threads} -c{args.conns}, loopback) and servers share "
         f"the {os.cpu_count()} cores. Each point: fresh server, warm-up sweep over every site "
         f"(capped at {args.warm_cap} s), then {args.repeats} x {args.secs} s of random-Host requests; "
         f"medians. Memory = sum of PSS over every process of the setup right after the load "
         f"(FPM setups: Apache front + FPM master and children). Worker budget: prefork setups "
         f"{args.workers} processes; FPM: ondemand max {args.ondemand_children} children per pool, "
         f"static 1 child per pool. Whole run: {secs / 60:.1f} min; 1-min load average at the "
         f"start of the points: {loads}.",
         "",
         "| setup | N | req/s | x baseline | p50 ms | p99 ms | PSS MB | x baseline | USS MB | procs | errors |",
         "|---|---|---|---|---|---|---|---|---|---|---|"]
    for n in ns:
        for s in setups:
            r = next((r for r in rows if r["setup"] == s and r["n"] == n), None)
            if not r:
                continue
            if r["status"] != "ok":
                L.append(f"| {s} | {n:,} | did not run: {r['reason']} | | | | | | | | |")
                continue
            errs = r["non2xx"] + r["wrong"] + r["sock_errors"]
            L.append(f"| {s} | {n:,} | {r['rps']:.0f} | {fmt(r.get('rps_ratio'), '.3f')} | {r['p50_ms']:.2f} | "
                     f"{r['p99_ms']:.2f} | {r['pss_mb']:.1f} | {fmt(r.get('mem_ratio'), '.2f')} | {r['uss_mb']:.1f} | {r['procs']} | "
                     f"{errs}{' of ' + format(r['requests'], ',') if errs else ''} |")
    L += ["", "Setups:"] + [f"- {s}: {LABEL[s]}" for s in setups]
    cross = {}
    for r in rows:
        if r.get("cross"):
            cross.setdefault(r["setup"], set()).add(r["cross"])
    if cross:
        L += ["", "Isolation check before each point (site s1's PHP reads site s2's file): " + "; ".join(
            f"{k}: {'/'.join(sorted(v))}" for k, v in cross.items()) + "."]
    L += ["", "#### Targets (issue 5)", ""]
    L += targets(rows, ns)
    L += ["", "#### Where ours' memory goes: one prefork worker of ours vs the baseline's, same N", "",
          "PSS in kB by mapping of one worker after the load (opcache's shared memory shows as 'zero'); "
          "the largest differences first.", ""]
    bmap = {(nm, n): (c, p, m) for nm, n, c, p, m in breakdown}
    for nm, n, child_mb, parent_mb, m in breakdown:
        if nm == "baseline" or ("baseline", n) not in bmap:
            continue
        bc, bp, bm = bmap[("baseline", n)]
        diff = sorted(((m.get(k, [0, 0])[0] - bm.get(k, [0, 0])[0], k) for k in set(m) | set(bm)), reverse=True)
        tot = sum(v[0] for v in m.values()) - sum(v[0] for v in bm.values())
        L.append(f"- {nm} N={n:,}: worker {child_mb:.2f} MB vs {bc:.2f} MB, parent {parent_mb:.2f} vs {bp:.2f} MB; "
                 f"this worker {tot:+d} kB: " + ", ".join(f"{k} {d:+d}" for d, k in diff[:6] if d > 0))
    # What grows with N in the baseline itself (PHP, not the isolation).
    bl = [(n, c, m) for nm, n, c, p, m in breakdown if nm == "baseline"]
    if len(bl) >= 2:
        (n0, c0, m0), (n1, c1, m1) = bl[0], bl[-1]
        diff = sorted(((m1.get(k, [0, 0])[0] - m0.get(k, [0, 0])[0], k) for k in set(m0) | set(m1)), reverse=True)
        L.append(f"- baseline worker N={n0:,} -> N={n1:,}: {c0:.2f} -> {c1:.2f} MB: "
                 + ", ".join(f"{k} {d:+d}" for d, k in diff[:5] if d > 0)
                 + " (zero = opcache's shared memory, one compiled copy of each site's scripts; "
                 "[heap]/[anon] = per-worker PHP caches such as the realpath cache)")
    with open(f"{out}/density.md", "w") as fh:
        fh.write("\n".join(L) + "\n")
    plot(out, rows, ns, setups, f"{started:%Y-%m-%d}")
    print("\n".join(L))


def targets(rows, ns):
    get = lambda s, n: next((r for r in rows if r["setup"] == s and r["n"] == n and r["status"] == "ok"), None)
    L = []
    lo_n, hi_n = min(ns), max(ns)
    for s in ("ours", "ours-nokernel"):
        lo, hi = get(s, lo_n), get(s, hi_n)
        if not (lo and hi and hi_n > lo_n):
            continue
        g = hi["pss_mb"] / lo["pss_mb"] - 1
        line = (f"- {s}: memory from N={lo_n:,} to N={hi_n:,}: {lo['pss_mb']:.1f} -> {hi['pss_mb']:.1f} MB "
                f"({g:+.0%}; target within 20%: {'met' if abs(g) <= 0.20 else 'MISSED'})")
        bl, bh = get("baseline", lo_n), get("baseline", hi_n)
        if bl and bh:
            line += (f"; the baseline (no isolation) grows {bl['pss_mb']:.1f} -> {bh['pss_mb']:.1f} MB "
                     f"({bh['pss_mb'] / bl['pss_mb'] - 1:+.0%}) with the same PHP; ours minus baseline (what "
                     f"the isolation costs): {lo['pss_mb'] - bl['pss_mb']:+.1f} MB -> {hi['pss_mb'] - bh['pss_mb']:+.1f} MB")
        L.append(line)
    n = 1000 if 1000 in ns else hi_n
    pools = [p for p in (get(s, n) for s in PER_SITE) if p]
    ran = ", ".join(p["setup"] for p in pools) or "none"
    if pools:
        best = max(pools, key=lambda p: p["rps"])
        L.append(f"- best per-site-pool setup at N={n:,} (highest req/s among those that ran: {ran}): "
                 f"{best['setup']}, {best['rps']:.0f} req/s, {best['pss_mb']:.0f} MB")
        for s in ("ours", "ours-nokernel"):
            o = get(s, n)
            if not o:
                continue
            mr = best["pss_mb"] / o["pss_mb"]
            tr = o["rps"] / best["rps"] if best["rps"] else float("inf")
            L.append(f"- {s} at N={n:,}: {o['rps']:.0f} req/s in {o['pss_mb']:.0f} MB: "
                     f"{best['setup']} needs {mr:.1f}x ours' memory (target >= 10x: {'met' if mr >= 10 else 'MISSED'}), "
                     f"ours serves {tr:.1f}x its throughput (target >= 2x: {'met' if tr >= 2 else 'MISSED'}). "
                     "Against each: " + "; ".join(
                         f"{p['setup']} {p['pss_mb'] / o['pss_mb']:.1f}x ours' memory and "
                         f"{p['rps'] / o['rps']:.3f}x ours' req/s" for p in pools))
    missing = [s for s in PER_SITE if not get(s, n) and any(r["setup"] == s and r["n"] == n for r in rows)]
    for s in missing:
        r = next(r for r in rows if r["setup"] == s and r["n"] == n)
        L.append(f"- {s} at N={n:,} did not run: {r['reason']}")
    return L


def plot(out, rows, ns, setups, stamp):
    dat = f"{out}/density-plot.dat"
    with open(dat, "w") as fh:
        fh.write("# N " + " ".join(f"{s}_rps {s}_pss" for s in setups) + "\n")
        for n in ns:
            vals = []
            for s in setups:
                r = next((r for r in rows if r["setup"] == s and r["n"] == n and r["status"] == "ok"), None)
                vals += [f"{r['rps']:.1f}", f"{r['pss_mb']:.1f}"] if r else ["NaN", "NaN"]
            fh.write(f"{n} " + " ".join(vals) + "\n")
    if not shutil.which("gnuplot"):
        log("density: gnuplot not installed, no plots")
        return
    for what, col, ylabel, png in (("Memory", 2, "total PSS of all processes of the setup (MB, log)",
                                    "density-memory.png"),
                                   ("Throughput", 1, "requests/s (log)", "density-rps.png")):
        cmds = [f'set terminal pngcairo size 1000,720 font "DejaVu Sans,11"' if _has_cairo() else
                "set terminal png size 1000,720",
                f'set output "{out}/{png}"',
                f'set title "{what} vs number of sites: one PHP page, random Host per request\\n'
                f'{stamp}, {os.cpu_count()} cores shared by servers and wrk" noenhanced',
                'set xlabel "sites (N, log)"', f'set ylabel "{ylabel}"',
                "set logscale xy", "set key below noenhanced", "set grid",
                'set datafile missing "NaN"', f"set xrange [{min(ns) / 1.5}:{max(ns) * 1.5}]",
                "set format x \"%.0f\""]
        series = []
        for i, s in enumerate(setups):
            c = 2 + 2 * i + (col - 1)
            series.append(f'"{dat}" using 1:{c} with linespoints lw 2 pt {5 + i} title "{PLOT_TITLE[s]}"')
        cmds.append("plot " + ", ".join(series))
        r = subprocess.run(["gnuplot"], input="\n".join(cmds) + "\n", text=True, capture_output=True)
        if r.returncode != 0:
            log(f"density: gnuplot failed: {r.stderr}")


def _has_cairo():
    r = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
    return "pngcairo" in (r.stdout + r.stderr)


if __name__ == "__main__":
    main()
