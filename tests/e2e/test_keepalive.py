"""Several tenants on one HTTP/1.1 keep-alive connection (THREATS 23).

Apache 2.4 runs log_transaction when a request's EOR bucket is destroyed;
with pipelining that can be after the NEXT request on the connection has
been read and tagged, so a tag whose lifetime depended on log_transaction
was still set when the next tenant's request arrived, and the worker exited
(AH10916 + AH10918): any client could kill workers at will, and nginx's
upstream keep-alive pool did it by itself. Here every request must be
answered as its own tenant, whatever the order and overlap, on prefork and
event, with no 5xx, no worker exit (the workers' pids do not change), the
right tenant in the access log, and each tenant's leftovers (realpath cache,
persistent sockets, connection budget) cleaned before the next tenant runs.
"""
import os
import random
import re
import socket
import subprocess
import threading
import time

import pytest

from conftest import NGINX, free_port, http, http_pipeline, make_tenant_dir, policy_for

TENANTS = ("site-a", "site-b", "site-c")


def setup_server(apache_factory, mpm="prefork", workers=3, rules=None):
    a = apache_factory(mpm=mpm, workers=workers)
    for t in TENANTS + ("free",):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, list(TENANTS), tenant_rules=rules or {}))
    for t in TENANTS:
        a.tenant_vhost(t)
    a.add_vhost("free.test", [f"DocumentRoot {a.root}/www/free", "TenantSandbox Off"])
    a.start()
    return a


@pytest.fixture
def prefork(apache_factory):
    return setup_server(apache_factory)


def who(tenant, marker, op="whoami", arg=""):
    return (f"{tenant}.test", f"/t.php?op={op}&arg={arg}&m={marker}")


def assert_answers(reqs, resps, a):
    assert len(resps) == len(reqs)
    for (host, path, *_), r in zip(reqs, resps):
        assert r is not None, f"no answer for {host}{path}\n{a.error_log()[-3000:]}"
        assert r.status == 200, f"{host}{path}: {r}\n{a.error_log()[-3000:]}"
        if path.startswith("/t.php"):
            assert r.json()["tenant"] == host[:-len(".test")], (host, path, r)


def assert_no_worker_trouble(a, pids_before):
    log = a.error_log()
    for tag in ("AH10916", "AH10917", "AH10918", "AH10915", "AH10936"):
        assert tag not in log, f"{tag} in the error log:\n{log[-3000:]}"
    assert "exit signal" not in log, log[-3000:]
    assert set(a.children()) == set(pids_before), (
        f"workers changed: {sorted(pids_before)} -> {sorted(a.children())}\n{log[-3000:]}")


def access_lines(a, marker):
    """Access log lines of requests whose URL has m=<marker>."""
    end = time.time() + 10
    while time.time() < end:
        lines = [l for l in a.access_log().splitlines() if f"m={marker} " in l or f"m={marker}&" in l]
        if lines:
            return lines
        time.sleep(0.1)
    return []


@pytest.mark.parametrize("order", [("site-a", "site-b", "site-a"),
                                   ("site-a", "site-a", "site-b"),
                                   ("site-b", "site-a", "site-b", "site-a", "site-c", "site-c", "site-a")])
def test_pipelined_mixes(prefork, order):
    a = prefork
    pids = a.worker_pids()
    tag = f"p{random.randrange(1 << 30)}"
    reqs = [who(t, f"{tag}-{i}") for i, t in enumerate(order)]
    resps = http_pipeline(a.port, reqs)
    assert_answers(reqs, resps, a)
    # The access log names each request's own tenant, and they all shared
    # one connection (same client port, ka= counts up).
    ports = set()
    for i, t in enumerate(order):
        lines = access_lines(a, f"{tag}-{i}")
        assert len(lines) == 1, lines
        assert f"tenant={t} " in lines[0], lines[0]
        ports.add(re.search(r"port=(\d+)", lines[0]).group(1))
    assert len(ports) == 1, ports
    assert_no_worker_trouble(a, pids)


def test_static_and_php_pipelined(prefork):
    a = prefork
    pids = a.worker_pids()
    reqs = [("site-a.test", "/index.html"), who("site-b", "s1"), ("site-b.test", "/index.html"),
            ("site-a.test", "/index.html"), who("site-a", "s2"), ("site-c.test", "/index.html")]
    resps = http_pipeline(a.port, reqs)
    assert_answers(reqs, resps, a)
    for (host, path), r in zip(reqs, resps):
        if path == "/index.html":
            assert r.text == f"page-of-{host[:-5]}\n", (host, r)
    assert_no_worker_trouble(a, pids)


def test_slow_page_then_fast_page_of_another_tenant(prefork):
    a = prefork
    pids = a.worker_pids()
    reqs = [who("site-a", "slow", "sleep", "1"), who("site-b", "fast"), who("site-a", "after")]
    resps = http_pipeline(a.port, reqs)
    assert_answers(reqs, resps, a)
    assert_no_worker_trouble(a, pids)


def test_keepalive_not_pipelined(prefork):
    a = prefork
    pids = a.worker_pids()
    reqs = [who(t, f"k{i}") for i, t in enumerate(["site-a", "site-b", "site-b", "site-c", "site-a"] * 4)]
    resps = http_pipeline(a.port, reqs, pipelined=False)
    assert_answers(reqs, resps, a)
    assert_no_worker_trouble(a, pids)


def test_the_other_tenant_on_the_connection_is_still_confined(prefork):
    """B's request right after A's on one connection is B, with B's rules:
    A's secret stays out of reach, B's own file is readable."""
    a = prefork
    secret_a = os.path.join(a.root, "www", "site-a", "secret.txt")
    secret_b = os.path.join(a.root, "www", "site-b", "secret.txt")
    reqs = [who("site-a", "c1", "read", secret_a), who("site-b", "c2", "read", secret_a),
            who("site-b", "c3", "read", secret_b), who("site-a", "c4", "read", secret_b)]
    r = http_pipeline(a.port, reqs)
    assert_answers(reqs, r, a)
    assert [x.json()["ok"] for x in r] == [True, False, True, False], [x.json() for x in r]
    assert any("tenant=site-b" in l and "site-a/secret.txt" in l for l in a.denials())
    assert any("tenant=site-a" in l and "site-b/secret.txt" in l for l in a.denials())


def test_leftovers_are_cleaned_between_tenants_on_one_connection(apache_factory):
    """One worker, one connection: what A left in the worker does not reach B
    -- PHP's realpath cache, A's persistent socket -- and A's connection
    budget is returned after each of its requests."""
    a = setup_server(apache_factory, workers=1, rules={"site-a": {"max_connections": 2}})
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    accepted = []

    def accept():
        while True:
            try:
                accepted.append(srv.accept()[0])
            except OSError:
                return
    threading.Thread(target=accept, daemon=True).start()
    lport = srv.getsockname()[1]
    try:
        reqs = [who("site-a", "l1", "read", os.path.join(a.root, "www", "site-a", "lib.php")),
                who("site-a", "l2", "connect_many", f"127.0.0.1:{lport}:2"),
                who("site-a", "l3", "connect_many", f"127.0.0.1:{lport}:2"),
                who("site-a", "l4", "pconnect", f"127.0.0.1:{lport}"),
                who("site-b", "l5", "realpath_cache"),
                who("site-b", "l6", "pconnect", f"127.0.0.1:{lport}")]
        r = [x.json() for x in http_pipeline(a.port, reqs)]
        assert [x["tenant"] for x in r] == ["site-a"] * 4 + ["site-b"] * 2, r
        # The budget of 2 was given back after l2: l3 got its 2 again.
        assert r[1]["data"] == 2 and r[2]["data"] == 2, r
        # B's realpath cache holds none of A's paths.
        assert not [p for p in r[4]["data"] if "/site-a" in p], r[4]["data"]
        # B's pfsockopen got a connection of its own (A's was neutralised):
        # both writes succeeded, on two different accepted connections.
        assert r[3]["ok"] and r[5]["ok"], r
        time.sleep(0.3)
        got = []
        for c in accepted:
            c.settimeout(0.2)
            try:
                got.append(c.recv(100))
            except OSError:
                got.append(b"")
        assert sum(1 for g in got if g) >= 2, got
    finally:
        srv.close()
    # The control: on the unconfined vhost the realpath cache does list the
    # paths an earlier request of the same worker resolved.
    reqs = [who("site-a", "m1", "read", os.path.join(a.root, "www", "site-a", "lib.php")),
            ("free.test", "/t.php?op=realpath_cache")]
    r = http_pipeline(a.port, reqs)
    assert [p for p in r[1].json()["data"] if "/site-a" in p], r[1].json()


def test_many_clients_mixing_tenants(prefork):
    a = prefork
    pids = a.worker_pids()
    errors = []

    def client(n):
        rnd = random.Random(n)
        try:
            for round_ in range(6):
                order = [rnd.choice(TENANTS) for _ in range(rnd.randrange(2, 7))]
                reqs = []
                for i, t in enumerate(order):
                    if rnd.random() < 0.3:
                        reqs.append((f"{t}.test", "/index.html"))
                    else:
                        reqs.append(who(t, f"c{n}-{round_}-{i}"))
                resps = http_pipeline(a.port, reqs, pipelined=rnd.random() < 0.7)
                for (host, path), r in zip(reqs, resps):
                    if r is None or r.status != 200:
                        errors.append((host, path, r))
                    elif path.startswith("/t.php") and r.json()["tenant"] != host[:-5]:
                        errors.append((host, path, r.json()))
                    elif path == "/index.html" and r.text != f"page-of-{host[:-5]}\n":
                        errors.append((host, path, r.text))
        except Exception as e:  # noqa: BLE001 -- reported below
            errors.append(("exception", n, repr(e)))
    threads = [threading.Thread(target=client, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:10]
    assert_no_worker_trouble(a, pids)


HOSTILE = [
    b"GET /t.php?op=whoami HTTP/1.1\r\nHost: unknown.test\r\n\r\n",
    b"GET /t.php?op=whoami HTTP/1.1\r\nHost: site-c.test\r\nX-Site-Id: site-a\r\n\r\n",
    b"GET /t.php?op=whoami HTTP/1.1\r\nHost: ../etc\r\n\r\n",
    b"GET /t.php?op=whoami HTTP/1.1\r\nHost: site-a.test\r\nHost: site-b.test\r\n\r\n",
    b"GET /../../etc/passwd HTTP/1.1\r\nHost: site-b.test\r\n\r\n",
    b"GET /t.php?op=whoami HTTP/1.1\r\nHost: site-c.test\r\nContent-Length: 5\r\n\r\nGET /",
    b"GARBAGE \x00\xff\r\n\r\n",
    b"GET /t.php?op=whoami HTTP/1.1\r\nHost: " + b"x" * 9000 + b"\r\n\r\n",
    b"GET /t.php?op=whoami HTTP/1.1\r\nHost: site-b.test\r\n",  # cut off: never ends
]


def raw_exchange(port, data, timeout=8):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR) if data.endswith(b"\r\n\r\n") else None
        out = b""
        s.settimeout(timeout)
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
    return out


def test_hostile_pipelines_never_end_a_worker(prefork):
    """Whatever a client pipelines between requests of real tenants --
    unknown hosts, a spoofed tenant header, an invalid or duplicated Host,
    a path out of the root, a body eating the next request, garbage, an
    over-long header, a request cut off -- no worker exits, and every real
    request Apache answers is answered as its own tenant (Apache closes the
    connection after a 400; requests after that are simply not read)."""
    a = prefork
    pids = a.worker_pids()
    first = b"GET /t.php?op=whoami HTTP/1.1\r\nHost: site-a.test\r\n\r\n"
    after = (b"GET /t.php?op=whoami HTTP/1.1\r\nHost: site-b.test\r\n\r\n"
             b"GET /t.php?op=whoami HTTP/1.1\r\nHost: site-c.test\r\n\r\n")
    for hostile in HOSTILE:
        data = raw_exchange(a.port, first + hostile + after)
        tenants = re.findall(rb'"tenant":"([a-z-]+)"', data)
        assert tenants[:1] == [b"site-a"], (hostile[:80], data[:1500])
        assert not [t for t in tenants[1:] if t not in (b"site-a", b"site-b", b"site-c")], data[:1500]
        if b"HTTP/1.1 400" not in data and b"HTTP/1.1 408" not in data:
            # Apache kept reading: the two real requests after the hostile
            # one came back as their own tenants, in order.
            assert tenants[-2:] == [b"site-b", b"site-c"], (hostile[:80], data[:2000])
        assert b"HTTP/1.1 5" not in data, (hostile[:80], data[:2000])
    # Still serving every tenant as itself afterwards.
    for t in TENANTS:
        assert http(a.port, "/t.php?op=whoami", host=f"{t}.test").json()["tenant"] == t
    assert_no_worker_trouble(a, pids)


def test_event_mpm_pipelined_mixes(apache_factory):
    """The event MPM (threaded; mod_php is not thread-safe, so mod_lua is the
    in-process handler): pipelined mixes from many clients at once."""
    a = apache_factory(mpm="event", php=False)
    a.extra_modules.append("lua")
    for t in TENANTS:
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, list(TENANTS)))
    a.server_extra += ["LuaScope thread", "AddHandler lua-script .lua"]
    for t in TENANTS:
        a.tenant_vhost(t)
    a.start()
    pids = a.worker_pids()
    errors = []

    def client(n):
        order = [TENANTS[(n + i) % 3] for i in range(6)]
        reqs = []
        for i, t in enumerate(order):
            other = TENANTS[(n + i + 1) % 3]
            path = (f"/t.lua?base={a.root}/www&other={other}&m=e{n}-{i}" if i % 3 else "/index.html")
            reqs.append((f"{t}.test", path))
        try:
            for r, (host, path) in zip(http_pipeline(a.port, reqs), reqs):
                t = host[:-5]
                want = f"page-of-{t}" if path == "/index.html" else f"tenant={t} own=yes other=no"
                if r is None or r.status != 200 or r.text.strip() != want:
                    errors.append((host, path, r))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
    threads = [threading.Thread(target=client, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:10]
    assert_no_worker_trouble(a, pids)


def test_nginx_upstream_keepalive_mixing_hosts(apache_factory, tmproot):
    """nginx in front with an upstream keepalive pool reuses its upstream
    connections for every Host: requests of different tenants follow each
    other on one connection to Apache."""
    a = setup_server(apache_factory)
    pids = a.worker_pids()
    nport = free_port()
    nroot = os.path.join(tmproot, "nginx-ka")
    os.makedirs(nroot)
    conf = os.path.join(nroot, "nginx.conf")
    with open(conf, "w") as fh:
        fh.write(f"""
daemon on;
pid {nroot}/nginx.pid;
error_log {nroot}/error.log;
worker_processes 1;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {nroot}/body; proxy_temp_path {nroot}/proxy;
  fastcgi_temp_path {nroot}/fcgi; uwsgi_temp_path {nroot}/uwsgi; scgi_temp_path {nroot}/scgi;
  upstream apache {{ server 127.0.0.1:{a.port}; keepalive 2; }}
  server {{
    listen 127.0.0.1:{nport};
    location / {{
      proxy_pass http://apache;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }}
  }}
}}
""")
    r = subprocess.run([NGINX, "-c", conf, "-p", nroot], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    try:
        for _ in range(50):
            if os.path.exists(f"{nroot}/nginx.pid"):
                break
            time.sleep(0.1)
        errors = []

        def client(n):
            for i in range(15):
                t = TENANTS[(n + i) % 3]
                try:
                    r = http(nport, f"/t.php?op=whoami&m=n{n}-{i}", host=f"{t}.test")
                    if r.status != 200 or r.json()["tenant"] != t:
                        errors.append((t, r))
                except Exception as e:  # noqa: BLE001
                    errors.append(repr(e))
        threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[:10]
        # nginx really reused upstream connections across tenants: some
        # Apache connection carried requests of more than one tenant.
        by_port = {}
        for line in a.access_log().splitlines():
            m = re.search(r"tenant=(\S+) .* port=(\d+) ka=(\d+)", line)
            if m and "m=n" in line:
                by_port.setdefault(m.group(2), set()).add(m.group(1))
        assert any(len(v) > 1 for v in by_port.values()), by_port
        assert_no_worker_trouble(a, pids)
    finally:
        subprocess.run([NGINX, "-c", conf, "-p", nroot, "-s", "stop"], capture_output=True)
