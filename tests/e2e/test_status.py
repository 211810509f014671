"""The status page (SetHandler tenant-status) and `tenant-sandbox status`
against a real Apache: denials a tenant causes show up for that tenant and
no other, a slow request shows as in progress, the Prometheus output parses
line by line, top=N bounds the tenant series, hostile targets are escaped,
a tenant's own vhost never gets the page (403, logged), Require restricts
it, and the CLI reads the same numbers from STATE_DIR."""
import json
import os
import re
import subprocess
import threading
import time

import pytest

from conftest import http, make_tenant_dir, policy_for, WWW_DATA

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.path.join(HERE, "..", "..", "conf", "tenant_tag.conf")


def shipped_status_location():
    """The <Location /tenant-status> block of conf/tenant_tag.conf (shipped
    commented out), uncommented: the test serves the page with exactly it."""
    lines, inside = [], False
    for raw in open(CONF):
        line = raw.strip().lstrip("#").strip()
        if line.startswith("<Location /tenant-status>"):
            inside = True
        if inside:
            lines.append(line)
            if line.startswith("</Location>"):
                break
    assert lines and "Require local" in lines, "conf/tenant_tag.conf lost its status example"
    return lines


def state_dir_of(a):
    """This server's TENANT_SANDBOX_STATE_DIR (conftest gives each server its
    own; older harnesses did not, then the test makes one)."""
    d = getattr(a, "state_dir", None)
    if d is None:
        d = os.path.join(a.root, "state")
        os.makedirs(d, exist_ok=True)
        os.chown(d, 0, WWW_DATA.pw_gid)
        os.chmod(d, 0o750)
        a.state_dir = d
        base_env = a.env
        a.env = lambda: {**base_env(), "TENANT_SANDBOX_STATE_DIR": d}
    return d


@pytest.fixture
def status_apache(apache_factory):
    """site-a and site-b (TenantId vhosts; site-a has max_connections 3),
    a status vhost with no tenant serving the shipped <Location> block, a
    status vhost limited to 127.0.0.1 (Require ip), a tenant vhost that names
    the handler itself, and a header-mapped vhost for many tenants."""
    a = apache_factory(workers=4)
    state_dir_of(a)
    a.extra_modules.append("authz_host")
    for t in ("default", "site-a", "site-b", "site-c"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b", "site-c"], unknown="defaults",
                              tenant_rules={"site-a": {"max_connections": 3},
                                            "site-c": {"mode": "audit"}}))
    a.add_vhost("default.test", [f"DocumentRoot {a.root}/www/default"])
    a.tenant_vhost("site-a")
    a.tenant_vhost("site-b")
    a.tenant_vhost("site-c")
    # A tenant's vhost where the handler is named anyway (as a tenant's
    # .htaccess would): must be refused, whatever Require says.
    a.add_vhost("site-a-status.test", [
        f"DocumentRoot {a.root}/www/site-a", "TenantId site-a", "<Location /tenant-status>",
        "SetHandler tenant-status", "Require all granted", "</Location>"])
    a.add_vhost("status.test", ["TenantRequired Off", f"DocumentRoot {a.root}/www/default",
                                *shipped_status_location()])
    a.add_vhost("status-ip.test", ["TenantRequired Off", f"DocumentRoot {a.root}/www/default",
                                   "<Location /tenant-status>", "SetHandler tenant-status",
                                   "Require ip 127.0.0.1", "</Location>"])
    a.add_vhost("mass.test", [f"DocumentRoot {a.root}/www/default", "TenantHeader X-Site-Id",
                              "TenantTrustedProxy 127.0.0.1"])
    a.start()
    return a


def page(a, query="json", host="status.test", **kw):
    return a.get(host, "/tenant-status" + (f"?{query}" if query else ""), **kw)


def tenant_row(doc, tenant):
    rows = [t for t in doc["tenants"] if t["tenant"] == tenant]
    return rows[0] if rows else None


def cli_status(a, *args):
    cli = os.environ.get("TS_CLI")
    if not cli:
        pytest.skip("TS_CLI not set")
    return subprocess.run([cli, "status", *args], capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", "TENANT_SANDBOX_STATE_DIR": a.state_dir})


def deny_some(a):
    """Three read denials and one connect denial for site-a, nothing for site-b."""
    b_secret = os.path.join(a.root, "www", "site-b", "secret.txt")
    for _ in range(3):
        assert not a.php("site-a.test", "read", b_secret)["ok"]
    assert not a.php("site-a.test", "connect", "127.0.0.2:9")["ok"]
    assert a.php("site-b.test", "whoami")["tenant"] == "site-b"


# ---- Prometheus text exposition format 0.0.4 --------------------------------
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{{LABEL}(?:,{LABEL})*\}})? (-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|NaN|[+-]Inf)(?: -?[0-9]+)?$")
HELP = re.compile(rf"^# HELP ({NAME}) .*$")
TYPE = re.compile(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$")
TENANT_LABEL = re.compile(r'tenant="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text):
    """Checks every line against the exposition grammar; returns
    {metric: [(labels-text, value)]} and the set of tenant label values."""
    assert text.endswith("\n")
    typed, samples, tenants = {}, {}, set()
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if HELP.match(line):
            continue
        m = TYPE.match(line)
        if m:
            assert m.group(1) not in typed, f"line {n}: second TYPE for {m.group(1)}"
            typed[m.group(1)] = m.group(2)
            continue
        m = SAMPLE.match(line)
        assert m, f"line {n} is not valid exposition format: {line!r}"
        name = m.group(1)
        assert name in typed, f"line {n}: sample of {name} before its TYPE"
        if typed[name] == "counter":
            assert name.endswith("_total"), f"line {n}: counter {name} without _total"
        samples.setdefault(name, []).append((line, float(m.group(2))))
        t = TENANT_LABEL.search(line)
        if t:
            tenants.add(t.group(1))
    return typed, samples, tenants


# ---- tests --------------------------------------------------------------------

def test_denials_show_for_their_tenant_only(status_apache):
    a = status_apache
    before = page(a).json()
    assert tenant_row(before, "site-a") is None or tenant_row(before, "site-a")["denials_total"] == 0
    deny_some(a)
    r = page(a)
    assert r.status == 200 and r.headers["content-type"].startswith("application/json")
    doc = r.json()
    row_a = tenant_row(doc, "site-a")
    assert row_a, doc
    assert row_a["denials"]["read"] >= 3
    assert row_a["denials"]["connect"] >= 1
    assert row_a["last_denial"]["op"] in ("connect", "fsockopen") or row_a["last_denial"]["need"] == "connect"
    assert row_a["last_denial"]["errno"] == "EACCES"
    assert row_a["max_connections"] == 3
    row_b = tenant_row(doc, "site-b")
    assert row_b is None or (row_b["denials_total"] == 0 and row_b["last_denial"] is None)
    assert doc["totals"]["denials"]["read"] >= 3
    assert doc["server"]["policy"] == a.policy_path
    assert doc["server"]["policy_tenants"] == 3
    assert doc["server"]["policy_ok"] is True
    assert doc["server"]["kernel"]
    # the per-tenant filter
    only = page(a, "json&tenant=site-a").json()
    assert [t["tenant"] for t in only["tenants"]] == ["site-a"]


def test_audit_mode_counts_apart(status_apache):
    """An audit-mode tenant's would-be denials are counted as audit, never
    as denials (its call succeeded)."""
    a = status_apache
    a_secret = os.path.join(a.root, "www", "site-a", "secret.txt")
    assert a.php("site-c.test", "read", a_secret)["data"] == "secret-of-site-a"
    row = tenant_row(page(a).json(), "site-c")
    assert row and row["audit"]["read"] >= 1 and row["denials_total"] == 0
    assert row["last_denial"]["audit"] is True
    assert row["last_denial"]["target"] == a_secret


def test_counts_are_exact_across_workers(status_apache):
    """40 denied reads from 8 client threads, spread over the 4 workers: the
    shared table counts exactly 40 more (one open() each), however the
    log lines were deduplicated or rate-limited."""
    a = status_apache
    shadow = "/etc/shadow"
    before = tenant_row(page(a).json(), "site-b")
    n0 = before["denials"]["read"] if before else 0
    pids = set()

    def worker():
        for _ in range(5):
            r = a.php("site-b.test", "read", shadow)
            assert not r["ok"]
            pids.add(r["pid"])
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(pids) >= 2, "all requests went to one worker: the test shows nothing"
    assert tenant_row(page(a).json(), "site-b")["denials"]["read"] == n0 + 40


def test_request_in_progress_is_counted(status_apache):
    a = status_apache
    done = []
    t = threading.Thread(target=lambda: done.append(a.php("site-b.test", "sleep", "4")))
    t.start()
    try:
        seen = 0
        end = time.time() + 3.5
        while time.time() < end and not seen:
            row = tenant_row(page(a).json(), "site-b")
            seen = row["requests_in_progress"] if row else 0
            time.sleep(0.2)
        assert seen >= 1, "the sleeping request of site-b never showed as in progress"
    finally:
        t.join()
    assert done and done[0]["ok"]
    end = time.time() + 5
    while time.time() < end and tenant_row(page(a).json(), "site-b")["requests_in_progress"] != 0:
        time.sleep(0.2)
    assert tenant_row(page(a).json(), "site-b")["requests_in_progress"] == 0


def test_prometheus_parses_and_top_bounds_the_tenant_series(status_apache):
    a = status_apache
    deny_some(a)
    # 40 more tenants through the trusted header (unknown_tenants: defaults):
    # their requests are counted, and reading the default vhost's page is
    # outside their root (a denial each).
    for i in range(40):
        a.get("mass.test", "/index.html", headers=[("X-Site-Id", f"bulk-{i:03d}")])
    r = page(a, "prometheus")
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    typed, samples, tenants = parse_prometheus(r.text)
    assert "site-a" in tenants and "_other" in tenants
    assert typed["tenant_sandbox_denials_total"] == "counter"
    assert typed["tenant_sandbox_requests_in_progress"] == "gauge"
    reads_a = [v for line, v in samples["tenant_sandbox_denials_total"]
               if 'tenant="site-a"' in line and 'kind="read"' in line]
    assert reads_a and reads_a[0] >= 3
    total_tenants = samples["tenant_sandbox_tenants"][0][1]
    assert total_tenants >= 42

    _, samples5, tenants5 = parse_prometheus(page(a, "prometheus&top=5").text)
    assert len(tenants5) == 6, tenants5          # five tenants and "_other"
    assert samples5["tenant_sandbox_tenants_shown"][0][1] == 5
    # the aggregate carries the rest: per kind, the tenants' series sum to the total
    for kind in ("read", "connect"):
        total = [v for line, v in samples5["tenant_sandbox_all_denials_total"] if f'kind="{kind}"' in line][0]
        parts = sum(v for line, v in samples5.get("tenant_sandbox_denials_total", []) if f'kind="{kind}"' in line)
        assert parts == total, (kind, parts, total)
    doc = page(a, "json&top=5").json()
    assert doc["shown"] == 5 and len(doc["tenants"]) == 5
    assert doc["other"]["tenants"] == doc["totals"]["tenants"] - 5


def test_html_escapes_a_hostile_target(status_apache):
    a = status_apache
    evil = "/etc/<script>alert(1)</script><img src=x onerror=alert(2)>"
    assert not a.php("site-a.test", "read", evil)["ok"]
    r = page(a, None)
    assert r.status == 200 and r.headers["content-type"].startswith("text/html")
    assert "<script>alert" not in r.text and "<img src=x" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert "site-a" in r.text
    # JSON carries it escaped too, and round-trips
    row = tenant_row(page(a).json(), "site-a")
    assert "<script>alert(1)</script>" in row["last_denial"]["target"]
    assert "<script>" not in page(a).text


def test_refused_inside_a_tenants_request(status_apache):
    a = status_apache
    deny_some(a)
    r = a.get("site-a-status.test", "/tenant-status?json")
    assert r.status == 403
    assert "site-b" not in r.text and "denials" not in r.text
    assert re.search(r"AH109(60|87): (handler )?tenant-status refused inside a request of tenant site-a", a.error_log())
    # the same handler from the status vhost works
    assert page(a).status == 200


def test_require_restricts_it(status_apache):
    a = status_apache
    assert page(a, host="status-ip.test", source="127.0.0.1").status == 200
    r = page(a, host="status-ip.test", source="127.0.0.2")
    assert r.status == 403 and "tenants" not in r.text
    # the shipped block (Require local) admits this host's own loopback
    assert page(a, source="127.0.0.1").status == 200


def test_cli_agrees_with_the_page(status_apache):
    a = status_apache
    deny_some(a)
    doc = page(a).json()
    r = cli_status(a, "--json")
    assert r.returncode == 0, r.stderr
    cli = json.loads(r.stdout)
    for tenant in ("site-a",):
        p, c = tenant_row(doc, tenant), tenant_row(cli, tenant)
        assert c is not None
        for key in ("denials", "audit", "denials_total", "max_connections", "last_denial"):
            assert p[key] == c[key], key
    assert cli["server"]["policy"] == doc["server"]["policy"]
    assert cli["totals"]["denials"] == doc["totals"]["denials"]
    text = cli_status(a)
    assert text.returncode == 0, text.stderr
    assert re.search(r"^site-a\s", text.stdout, re.M)
    assert "EACCES" in text.stdout


def test_cli_names_a_missing_table(status_apache):
    a = status_apache
    os.rename(os.path.join(a.state_dir, "denials"), os.path.join(a.state_dir, "denials.moved"))
    try:
        r = cli_status(a)
        assert r.returncode == 1
        assert f"state file {a.state_dir}/denials: cannot open the file: No such file or directory" in r.stderr
        # the page keeps working from the mapping its parent holds
        assert page(a).status == 200
    finally:
        os.rename(os.path.join(a.state_dir, "denials.moved"), os.path.join(a.state_dir, "denials"))
