"""Rolling the sandbox out without breaking sites (issue 6): TenantSandbox
Audit, the request id in denial lines, and `tenant-sandbox learn`.

test_rollout_audit_learn_enforce is the operator's whole path in one test:
site-a's vhost runs with `TenantSandbox Audit`; its PHP reads a file outside
its tree, connects to a loopback listener outside its ip_allow, writes
where it may not, and reads site-b's secret -- all succeed, each is logged
as an "audit" line with request=<UNIQUE_ID> (the same id mod_unique_id puts
in the access log). learn proposes the additions and refuses site-b's root;
its --write output passes `tenant-sandbox check`; after a graceful restart
with that policy and `TenantSandbox On` the learned operations succeed and
site-b's secret is denied.

The files outside the tenant's tree live under /opt and /var/cache (not
under this test's /tmp folder): learn rightly refuses anything in /tmp, a
place every tenant writes to.

TenantKernelConfine Off here: these tests are about the LD_PRELOAD layer's
audit; an Audit vhost skipping the Landlock ruleset is the kernel layer's
(e2e.kernel_layers).
"""
import concurrent.futures
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid

import pytest

from conftest import WWW_DATA, make_tenant_dir, policy_for

UID_LOG_FORMAT = 'LogFormat "%{UNIQUE_ID}e %{TENANT_ID}e \\"%r\\" %>s" uid'


class Listener:
    """A loopback TCP server that accepts and closes (the 'database' the
    tenant's PHP connects to)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            c.close()

    def close(self):
        self.sock.close()


@pytest.fixture
def outside_dirs():
    """/opt/ts-e2e-learn-X/data/info.txt (readable) and /var/cache/ts-e2e-learn-X/
    (writable by www-data): outside every tenant's tree and not shared."""
    tag = uuid.uuid4().hex[:8]
    ro = f"/opt/ts-e2e-learn-{tag}"
    rw = f"/var/cache/ts-e2e-learn-{tag}"
    os.makedirs(os.path.join(ro, "data"))
    with open(os.path.join(ro, "data", "info.txt"), "w") as fh:
        fh.write("outside-info")
    os.chmod(ro, 0o755)
    os.makedirs(rw)
    os.chown(rw, WWW_DATA.pw_uid, WWW_DATA.pw_gid)
    os.chmod(rw, 0o755)
    yield {"ro_file": os.path.join(ro, "data", "info.txt"), "ro_dir": os.path.join(ro, "data"),
           "rw_dir": rw, "rw_file": os.path.join(rw, "out.txt")}
    shutil.rmtree(ro, ignore_errors=True)
    shutil.rmtree(rw, ignore_errors=True)


def audit_server(apache_factory, site_a_mode, extra_vhosts=()):
    a = apache_factory()
    for t in ("site-a", "site-b"):
        make_tenant_dir(a.root, t)
    # site-a may connect only to 192.0.2.0/24: the loopback listener is outside it.
    a.write_policy(policy_for(a.root, ["site-a", "site-b"],
                              tenant_rules={"site-a": {"ip_allow": ["192.0.2.0/24"]}}))
    a.extra_modules.append("unique_id")
    a.server_extra += ["TenantKernelConfine Off", UID_LOG_FORMAT,
                       f"CustomLog {a.root}/uid.log uid"]
    a.tenant_vhost("site-a", [f"TenantSandbox {site_a_mode}"])
    a.tenant_vhost("site-b")
    for name, lines in extra_vhosts:
        a.add_vhost(name, lines)
    return a


def unique_id_of(a, marker):
    """The UNIQUE_ID the access log gives the request whose URL has `marker`
    (written at log_transaction, possibly just after the client has the
    response: wait for it)."""
    end = time.time() + 10
    while time.time() < end:
        with open(os.path.join(a.root, "uid.log")) as fh:
            for line in fh:
                if marker in line:
                    uid = line.split()[0]
                    assert uid != "-", line
                    return uid
        time.sleep(0.1)
    raise AssertionError(f"no access log line for {marker}")


def audit_line(a, tenant, target, need=None):
    lines = [l for l in a.error_log().splitlines()
             if f"tenant-sandbox: audit tenant={tenant} " in l and f'target="{target}"' in l
             and (need is None or f" need={need} " in l)]
    assert lines, f"no audit line for {target}"
    return lines[0]


def test_rollout_audit_learn_enforce(apache_factory, paths, outside_dirs):
    if not paths["cli"]:
        pytest.skip("TS_CLI not set")
    lst = Listener()
    try:
        a = audit_server(apache_factory, "Audit")
        a.start()
        b_secret = os.path.join(a.root, "www", "site-b", "secret.txt")
        ops = {
            "read": ("read", outside_dirs["ro_file"]),
            "connect": ("connect", f"127.0.0.1:{lst.port}"),
            "write": ("write", outside_dirs["rw_file"]),
            "secret": ("read", b_secret),
        }
        # 1. Audit: everything works, nothing breaks.
        results = {}
        for name, (op, arg) in ops.items():
            results[name] = a.php("site-a.test", op, arg, marker=f"m-{name}")
            assert results[name]["ok"], (name, results[name])
        assert results["read"]["data"] == "outside-info"
        assert results["secret"]["data"] == "secret-of-site-b"
        assert lst.accepted >= 1
        assert a.denials("site-a") == [], "an Audit vhost must not write deny lines"

        # 2. Each was logged as audit, naming the request (the access log's UNIQUE_ID).
        targets = {"read": outside_dirs["ro_file"], "connect": f"127.0.0.1:{lst.port}",
                   "write": outside_dirs["rw_file"], "secret": b_secret}
        for name, target in targets.items():
            line = audit_line(a, "site-a", target)
            uid = unique_id_of(a, f"marker=m-{name}")
            assert f" request={uid} " in line + " ", (name, uid, line)
            assert line.endswith("(audit mode: allowed)"), line
        assert "op=open" in audit_line(a, "site-a", outside_dirs["rw_file"], need="write")
        assert "op=connect" in audit_line(a, "site-a", f"127.0.0.1:{lst.port}", need="connect")

        # 3. learn: the additions, site-b's root refused, a policy that checks.
        learned = os.path.join(a.root, "learned.json")
        r = subprocess.run([paths["cli"], "learn", "--policy", a.policy_path, "--write", learned,
                            a.error_log_path], capture_output=True, text=True, timeout=60)
        out = r.stdout + r.stderr
        assert r.returncode == 0, out
        assert f"+ read_only {outside_dirs['ro_dir']} " in out, out
        assert f"+ read_write {outside_dirs['rw_dir']} " in out, out
        assert "+ ip_allow 127.0.0.1/32 " in out, out
        assert re.search(r"refused: read_only \S*/www/site-b .*\n#\s+why: inside tenant \"site-b\"'s root", out), out
        assert not re.search(r"^\+.*site-b", out, re.M), "learn must never add site-b's area: " + out
        assert re.search(r"^\+\s+\"127\.0\.0\.1/32\"", out, re.M), "the diff shows the addition: " + out
        chk = subprocess.run([paths["cli"], "check", learned], capture_output=True, text=True)
        assert chk.returncode == 0 and ": ok:" in chk.stdout, chk.stdout + chk.stderr

        # 4. Enforce with the learned policy (graceful restart).
        with open(learned) as fh:
            a.write_policy(fh.read())
        a.vhosts = [[l.replace("TenantSandbox Audit", "TenantSandbox On") for l in v] for v in a.vhosts]
        a.render()
        a.graceful()
        os.unlink(outside_dirs["rw_file"])
        mark = len(a.error_log())
        for name in ("read", "connect", "write"):
            op, arg = ops[name]
            res = a.php("site-a.test", op, arg, marker=f"e-{name}")
            assert res["ok"], (name, res, a.error_log()[mark:])
        with open(outside_dirs["rw_file"]) as fh:
            assert fh.read() == "written"
        res = a.php("site-a.test", "read", b_secret, marker="e-secret")
        assert not res["ok"] and res["data"] is None, res
        new = a.error_log()[mark:]
        deny = [l for l in new.splitlines()
                if "tenant-sandbox: deny tenant=site-a " in l and f'target="{b_secret}"' in l]
        assert deny, new
        uid = unique_id_of(a, "marker=e-secret")
        assert f"request={uid}" in deny[0], deny[0]
        assert "tenant-sandbox: audit" not in new, "On must not audit any more: " + new
    finally:
        lst.close()


def test_audit_vhost_next_to_on_vhost_same_tenant(apache_factory):
    """One tenant served by two vhosts: only the Audit vhost's requests are
    audit. prefork with 1 worker, so both vhosts' requests run in the same
    process, alternately: the audit switch must end with its request."""
    a = apache_factory(workers=1)
    for t in ("site-a", "site-b"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"]))
    a.extra_modules.append("unique_id")
    a.server_extra += ["TenantKernelConfine Off"]
    d = os.path.join(a.root, "www", "site-a")
    a.add_vhost("audit-a.test", [f"DocumentRoot {d}", "TenantId site-a", "TenantSandbox Audit"])
    a.add_vhost("on-a.test", [f"DocumentRoot {d}", "TenantId site-a"])
    a.start()
    b_secret = os.path.join(a.root, "www", "site-b", "secret.txt")
    for round_ in range(3):
        on = a.php("on-a.test", "read", b_secret, round=round_)
        assert not on["ok"], on
        audit = a.php("audit-a.test", "read", b_secret, round=round_)
        assert audit["ok"] and audit["data"] == "secret-of-site-b", audit
        assert on["pid"] == audit["pid"], "same worker for both (prefork, 1 worker)"
    log = a.error_log()
    assert any(f'target="{b_secret}"' in l for l in a.denials("site-a")), log
    assert re.search(r"tenant-sandbox: audit tenant=site-a .*secret\.txt.* request=\S+ \(audit mode: allowed\)", log), log


def test_server_wide_audit_with_an_on_vhost_and_children(apache_factory):
    """TenantSandbox Audit in the main server: vhosts inherit it, one that
    says On enforces. A program the audit request starts (proc_open of
    /bin/cat, not on the exec list) runs and stays audit: it reads site-b's
    secret, and its own line names the same request."""
    a = apache_factory()
    for t in ("site-a", "site-b"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"]))
    a.extra_modules.append("unique_id")
    a.server_extra += ["TenantSandbox Audit", "TenantKernelConfine Off", UID_LOG_FORMAT,
                       f"CustomLog {a.root}/uid.log uid"]
    a.tenant_vhost("site-a")
    a.tenant_vhost("site-b", ["TenantSandbox On"])
    a.start()
    a_secret = os.path.join(a.root, "www", "site-a", "secret.txt")
    b_secret = os.path.join(a.root, "www", "site-b", "secret.txt")
    res = a.php("site-a.test", "proc_cat", b_secret, marker="child")
    assert res["ok"] and res["data"] == "secret-of-site-b", res
    uid = unique_id_of(a, "marker=child")
    log = a.error_log()
    exec_lines = [l for l in log.splitlines() if "tenant-sandbox: audit tenant=site-a" in l and "need=exec" in l]
    assert exec_lines and f"request={uid}" in exec_lines[0], log
    # The child (cat) opened the secret itself: an audit line from its own
    # libsandbox, whose policy copy is audit, with the request's id.
    child_lines = [l for l in log.splitlines()
                   if "tenant-sandbox: audit tenant=site-a" in l and f'target="{b_secret}"' in l
                   and f"request={uid}" in l]
    assert child_lines, log
    res = a.php("site-b.test", "read", a_secret)
    assert not res["ok"], res
    assert any(f'target="{a_secret}"' in l for l in a.denials("site-b")), log



def test_audit_vhost_on_event_mpm(apache_factory):
    """Threaded MPM (event + mod_lua, t.lua): the audit switch and the
    request id live on the tag of the thread serving the request; an On
    vhost of the same tenant served by other threads of the same process at
    the same time stays enforcing."""
    a = apache_factory(mpm="event", php=False)
    a.extra_modules += ["lua", "unique_id"]
    for t in ("site-a", "site-b"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"]))
    a.server_extra += ["TenantKernelConfine Off", "LuaScope thread", "AddHandler lua-script .lua"]
    d = os.path.join(a.root, "www", "site-a")
    a.add_vhost("audit-a.test", [f"DocumentRoot {d}", "TenantId site-a", "TenantSandbox Audit"])
    a.add_vhost("on-a.test", [f"DocumentRoot {d}", "TenantId site-a"])
    a.start()
    www = os.path.join(a.root, "www")

    def one(i):
        host = ("audit-a.test", "on-a.test")[i % 2]
        r = a.get(host, f"/t.lua?base={www}&other=site-b&i={i}")
        return host, r.status, r.text.strip()

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        results = list(pool.map(one, range(120)))
    want = {"audit-a.test": "tenant=site-a own=yes other=yes", "on-a.test": "tenant=site-a own=yes other=no"}
    bad = [(h, s, b) for h, s, b in results if s != 200 or b != want[h]]
    assert not bad, f"{len(bad)} of {len(results)} wrong, e.g. {bad[:5]}"
    log = a.error_log()
    assert re.search(r"tenant-sandbox: audit tenant=site-a .*site-b/secret\.txt.* request=\S+ \(audit mode: allowed\)",
                     log), log
    assert any("site-b/secret.txt" in l for l in a.denials("site-a")), log
