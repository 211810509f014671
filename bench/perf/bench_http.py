#!/usr/bin/python3
"""Benchmark 4 (issue 5): per-request cost end to end, wrk on loopback.

Two Apache servers run side by side under scratch ServerRoots (Debian's
apache2 service is never touched), both prefork + mod_php with the same
worker count and PHP settings:
  base  no module, no LD_PRELOAD (the "no isolation" baseline)
  ours  mod_tenant_tag + libsandbox preloaded, TenantPolicy with POLICY_TENANTS
        tenants (site-a plus generated ones); vhost off.test has
        TenantKernelConfine Off, on.test On
Pages (one tenant's tree): static.html (4 KB), hello.php, real.php (20
includes, a file read, a session, one loopback connection to a small
listener this script runs). Every round measures every page on every setup
in rotating order (A/B alternation in one run); figures are medians over
rounds, ratios are ours / base of those medians. After the run: PSS and
private memory of each server's workers (smaps_rollup).

    bench_http.py --lib L --module M --out DIR [--rounds 3 --secs 5 --conns 2 --policy-tenants 1000000]
Writes DIR/http.json (raw) and DIR/http.md. Needs root, wrk, apache2, libapache2-mod-php8.2.
"""
import argparse, json, os, pwd, re, shutil, socket, statistics, subprocess, sys, tempfile, threading, time

MODS = "/usr/lib/apache2/modules"
HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def listener():
    """The 'one loopback connection' of the realistic page: answers one line."""
    srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0)); srv.listen(256)
    def loop():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            try:
                c.recv(64); c.sendall(b"pong\n")
            except OSError:
                pass
            c.close()
    threading.Thread(target=loop, daemon=True).start()
    return srv, srv.getsockname()[1]


def write_site(www, lport):
    site = os.path.join(www, "site-a")
    os.makedirs(os.path.join(site, "inc"), exist_ok=True)
    os.makedirs(os.path.join(site, "tmp"), exist_ok=True)
    open(os.path.join(site, "static.html"), "w").write("<html><body>" + "x" * 4000 + "</body></html>\n")
    open(os.path.join(site, "hello.php"), "w").write('<?php echo "hello\\n";\n')
    for i in range(20):
        open(os.path.join(site, "inc", f"i{i:02d}.php"), "w").write(
            f"<?php\nfunction f{i}($x) {{ return $x + {i}; }}\nclass C{i} {{ public $v = {i}; }}\n")
    open(os.path.join(site, "data.json"), "w").write(json.dumps({"items": list(range(200))}))
    open(os.path.join(site, "real.php"), "w").write(f"""<?php
$s = 0;
for ($i = 0; $i < 20; $i++) {{ require_once sprintf('%s/inc/i%02d.php', __DIR__, $i); $f = "f$i"; $s += $f(1); }}
$d = json_decode(file_get_contents(__DIR__ . '/data.json'), true);
session_start();
$_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
$c = stream_socket_client('tcp://127.0.0.1:{lport}', $errno, $errstr, 2);
if (!$c) {{ http_response_code(500); echo "connect: $errstr\\n"; exit; }}
fwrite($c, "ping\\n"); $pong = fgets($c); fclose($c);
echo "ok $s ", count($d['items']), " ", $_SESSION['n'], " ", trim($pong), "\\n";
""")
    uid = pwd.getpwnam("www-data")
    for dp, dns, fns in os.walk(www):
        for n in dns + fns:
            os.chown(os.path.join(dp, n), uid.pw_uid, uid.pw_gid)
    os.chown(www, uid.pw_uid, uid.pw_gid)
    return site


def conf(d, port, workers, site, ours, module=None, policy=None):
    c = f"""ServerRoot {d}
PidFile {d}/httpd.pid
DefaultRuntimeDir {d}/run
Mutex file:{d}/run default
Listen 127.0.0.1:{port}
ServerName localhost
User www-data
Group www-data
ErrorLog {d}/error.log
LogLevel warn
KeepAlive On
MaxKeepAliveRequests 0
LoadModule mpm_prefork_module {MODS}/mod_mpm_prefork.so
StartServers {workers}
MinSpareServers {workers}
MaxSpareServers {workers}
ServerLimit {workers}
MaxRequestWorkers {workers}
MaxConnectionsPerChild 0
LoadModule authz_core_module {MODS}/mod_authz_core.so
LoadModule mime_module {MODS}/mod_mime.so
LoadModule php_module {MODS}/libphp8.2.so
TypesConfig /etc/mime.types
<Directory />
AllowOverride None
Require all denied
</Directory>
<Directory {os.path.dirname(site)}>
Require all granted
</Directory>
<FilesMatch "\\.php$">
SetHandler application/x-httpd-php
</FilesMatch>
php_admin_value session.save_path {site}/tmp
php_admin_value sys_temp_dir {site}/tmp
php_admin_value upload_tmp_dir {site}/tmp
php_admin_flag opcache.validate_permission on
DocumentRoot {site}
"""
    if ours:
        c += f"""LoadModule tenant_tag_module {module}
TenantSandbox On
TenantPolicy {policy}
<VirtualHost *:{port}>
ServerName off.test
DocumentRoot {site}
TenantId site-a
TenantKernelConfine Off
</VirtualHost>
<VirtualHost *:{port}>
ServerName on.test
DocumentRoot {site}
TenantId site-a
TenantKernelConfine On
</VirtualHost>
"""
    os.makedirs(f"{d}/run", exist_ok=True)
    open(f"{d}/httpd.conf", "w").write(c)


def apache(d, action, lib=None):
    env = {"PATH": "/usr/sbin:/usr/bin:/bin", "LANG": "C"}
    if lib:
        env["LD_PRELOAD"] = lib
    return subprocess.run(["/usr/sbin/apache2", "-f", f"{d}/httpd.conf", "-k", action], env=env,
                          capture_output=True, text=True)


def to_us(v):
    m = re.match(r"([\d.]+)(us|ms|s)$", v)
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]


def wrk(url, host, secs, conns, lua):
    out = subprocess.run(["wrk", "-t", str(conns), "-c", str(conns), "-d", f"{secs}s", "--latency", "-s", lua,
                          "-H", f"Host: {host}", url], capture_output=True, text=True).stdout
    r = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for p in ("50", "99"):
        m = re.search(rf"^\s+{p}%\s+(\S+)", out, re.M)
        r[f"p{p}_us"] = to_us(m.group(1)) if m else float("nan")
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", out)
    r["socket_errors"] = m.group(1) if m else ""
    return r


def workers_mem(d):
    ppid = open(f"{d}/httpd.pid").read().strip()
    rows = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            st = open(f"/proc/{pid}/stat").read()
            if st[st.rindex(")") + 2:].split()[1] != ppid:
                continue
            kv = {}
            for line in open(f"/proc/{pid}/smaps_rollup"):
                k, _, v = line.partition(":")
                if v.strip().endswith("kB"):
                    kv[k] = int(v.split()[0])
            rows.append({"pid": int(pid), "rss_kb": kv.get("Rss"), "pss_kb": kv.get("Pss"),
                         "private_kb": kv.get("Private_Clean", 0) + kv.get("Private_Dirty", 0),
                         "private_dirty_kb": kv.get("Private_Dirty")})
        except (OSError, ValueError, IndexError):
            pass
    parent = {}
    for line in open(f"/proc/{ppid}/smaps_rollup"):
        k, _, v = line.partition(":")
        if v.strip().endswith("kB"):
            parent[k] = int(v.split()[0])
    return {"workers": rows, "parent_pss_kb": parent.get("Pss"), "parent_rss_kb": parent.get("Rss")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True); ap.add_argument("--module", required=True)
    ap.add_argument("--out", required=True); ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5); ap.add_argument("--conns", type=int, default=2)
    ap.add_argument("--policy-tenants", type=int, default=1000000)
    ap.add_argument("--gen", default=os.path.join(HERE, "../../tests/bench/gen_policy.py"))
    ap.add_argument("--setups", default="base,off,on"); ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    root = tempfile.mkdtemp(prefix="ts-bench-http.")
    os.chmod(root, 0o755)
    srv, lport = listener()
    www = os.path.join(root, "www"); os.makedirs(www)
    site = write_site(www, lport)
    # Policy: site-a (this run's tenant) + generated tenants, 10 % with own rules.
    pol = os.path.join(root, "policy.json")
    gen = subprocess.run([sys.executable, a.gen, "--tenants", str(a.policy_tenants), "--own-rules", "0.1"],
                         capture_output=True, text=True, check=True).stdout
    site_rules = json.dumps({"root": site, "ip_allow": ["127.0.0.0/8"], "ip_deny": [],
                              "read_only": ["/usr/share/zoneinfo", "/usr/share/php"]})
    gen = gen.replace('"tenants": {\n', '"tenants": {\n"site-a": ' + site_rules + ",\n", 1)
    open(pol, "w").write(gen); del gen
    os.chmod(pol, 0o644)
    workers = a.conns + 1
    base, ours = os.path.join(root, "base"), os.path.join(root, "ours")
    pb, po = free_port(), free_port()
    conf(base, pb, workers, site, False)
    conf(ours, po, workers, site, True, a.module, pol)
    lua = os.path.join(root, "session.lua")
    open(lua, "w").write("""local n = 0
function setup(thread) n = n + 1; thread:set("id", n) end
function init(args) wrk.headers["Cookie"] = "PHPSESSID=benchsess" .. id end
""")
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rounds": a.rounds, "secs": a.secs,
              "conns": a.conns, "workers": workers, "policy_tenants": a.policy_tenants + 1, "runs": []}
    started = []
    try:
        for d, lib in ((base, None), (ours, a.lib)):
            t0 = time.time()
            r = apache(d, "start", lib)
            if r.returncode != 0:
                raise SystemExit(f"apache {d} failed to start: {r.stdout}{r.stderr}")
            started.append((d, lib))
            result[f"start_s_{os.path.basename(d)}"] = round(time.time() - t0, 2)
        setups = {"base": (pb, "localhost"), "off": (po, "off.test"), "on": (po, "on.test")}
        setups = {k: v for k, v in setups.items() if k in a.setups.split(",")}
        pages = ["static.html", "hello.php", "real.php"]
        # Ready + correct answers, then warm-up.
        for name, (port, host) in setups.items():
            for page in pages:
                for _ in range(100):
                    try:
                        out = subprocess.run(["curl", "-s", "-m", "5", "-H", f"Host: {host}", f"http://127.0.0.1:{port}/{page}"],
                                             capture_output=True, text=True).stdout
                    except OSError:
                        out = ""
                    if out:
                        break
                    time.sleep(0.2)
                want = {"static.html": "<html>", "hello.php": "hello", "real.php": "ok "}[page]
                if not out.startswith(want):
                    raise SystemExit(f"{name} {page}: unexpected answer {out[:200]!r}")
                wrk(f"http://127.0.0.1:{port}/{page}", host, 1, a.conns, lua)
        order = list(setups)
        for rnd in range(a.rounds):
            for page in pages:
                for name in order[rnd % len(order):] + order[:rnd % len(order)]:
                    port, host = setups[name]
                    r = wrk(f"http://127.0.0.1:{port}/{page}", host, a.secs, a.conns, lua)
                    r.update(round=rnd, page=page, setup=name)
                    result["runs"].append(r)
                    print(f"round {rnd} {page:12s} {name:4s} {r['rps']:9.1f} req/s p50 {r['p50_us']:8.1f} us "
                          f"p99 {r['p99_us']:8.1f} us {'NON-2XX ' + str(r['non2xx']) if r['non2xx'] else ''}", flush=True)
        result["memory"] = {os.path.basename(d): workers_mem(d) for d, _ in started}
        result["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
        for d, _ in started:
            errs = [l for l in open(d + "/error.log") if re.search(r"AH1093[2-6]|\[(crit|alert|emerg)", l)]
            if errs:
                result.setdefault("errors", []).extend(errs[:5])
    finally:
        for d, lib in started:
            apache(d, "stop", lib)
        time.sleep(1)
        srv.close()
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)
    json.dump(result, open(os.path.join(a.out, "http.json"), "w"), indent=1)
    # Summary.
    med = lambda xs: statistics.median(xs) if xs else float("nan")
    L = [f"### Benchmark 4: per request, end to end ({result['date']})", "",
         f"prefork + mod_php, {workers} workers per server, wrk -t{a.conns} -c{a.conns} on loopback, "
         f"{a.rounds} rounds x {a.secs} s per page and setup, setups alternating in rotating order; "
         f"ours: mod_tenant_tag + libsandbox, policy of {a.policy_tenants + 1:,} tenants. Medians over rounds; "
         "ratio = ours / base. Targets: >= 0.97 static, >= 0.95 PHP, p99 within 10 %.", "",
         "| page | setup | req/s | ratio | p50 us | p99 us | p99 ratio |", "|---|---|---|---|---|---|---|"]
    summary = {}
    for page in pages:
        b = [r for r in result["runs"] if r["page"] == page and r["setup"] == "base"]
        brps, b99 = med([r["rps"] for r in b]), med([r["p99_us"] for r in b])
        for name in setups:
            rs = [r for r in result["runs"] if r["page"] == page and r["setup"] == name]
            rps, p50, p99 = med([r["rps"] for r in rs]), med([r["p50_us"] for r in rs]), med([r["p99_us"] for r in rs])
            label = {"base": "no module (base)", "off": "ours, KernelConfine Off", "on": "ours, KernelConfine On"}[name]
            summary[f"{page}/{name}"] = {"rps": rps, "ratio": rps / brps if brps else None, "p50_us": p50, "p99_us": p99,
                                         "p99_ratio": p99 / b99 if b99 else None}
            L.append(f"| {page} | {label} | {rps:.0f} | {rps / brps:.3f} | {p50:.0f} | {p99:.0f} | {p99 / b99:.2f} |")
    result["summary"] = summary
    L += ["", "Worker memory after the run (smaps_rollup, median over workers):", "",
          "| server | workers | PSS per worker (kB) | private per worker (kB) | parent PSS (kB) |", "|---|---|---|---|---|"]
    for k, m in result["memory"].items():
        ws = m["workers"]
        L.append(f"| {'ours (' + format(a.policy_tenants + 1, ',') + '-tenant policy)' if k == 'ours' else 'base'} | {len(ws)} | "
                 f"{med([w['pss_kb'] for w in ws]):.0f} | {med([w['private_kb'] for w in ws]):.0f} | {m['parent_pss_kb']} |")
    if result.get("errors"):
        L += ["", "Errors in the servers' logs:", ""] + ["    " + e.rstrip() for e in result["errors"]]
    L.append(f"\nServer start (incl. policy load): base {result.get('start_s_base')} s, ours {result.get('start_s_ours')} s. "
             f"Load average at the end: {' '.join(result['loadavg_end'])}.")
    json.dump(result, open(os.path.join(a.out, "http.json"), "w"), indent=1)
    open(os.path.join(a.out, "http.md"), "w").write("\n".join(L) + "\n")
    print("\n".join(L))


if __name__ == "__main__":
    main()
