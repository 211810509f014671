"""State across requests (THREATS 16): one worker (MaxRequestWorkers 1)
serves A then B. After A's request was aborted by the client, timed out or
hit a fatal error, B's next request on the same worker runs as B and only
as B. Tenant code that runs late (shutdown functions, destructors, output
callbacks) still runs as its tenant."""
import json
import os
import time

import pytest

from conftest import make_tenant_dir, policy_for


@pytest.fixture
def one_worker(apache_factory):
    a = apache_factory(workers=1)
    for t in ("site-a", "site-b", "free"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"]))
    a.tenant_vhost("site-a")
    a.tenant_vhost("site-b")
    a.add_vhost("free.test", [f"DocumentRoot {a.root}/www/free", "TenantSandbox Off"])
    a.start()
    return a


def secret(a, t):
    return os.path.join(a.root, "www", t, "secret.txt")


def assert_b_runs_as_b_only(a, worker_pid):
    r = a.php("site-b.test", "read", secret(a, "site-b"))
    assert r["pid"] == worker_pid, "not the same worker: the test proves nothing"
    assert r["tenant"] == "site-b" and r["ok"], r
    r = a.php("site-b.test", "read", secret(a, "site-a"))
    assert r["tenant"] == "site-b" and not r["ok"], f"B kept A's rights: {r}"
    assert any(f"{a.root}/www/site-a" in l for l in a.denials("site-b"))


def worker_pid(a):
    return a.php("site-a.test", "whoami")["pid"]


def test_after_client_abort(one_worker):
    a = one_worker
    pid = worker_pid(a)
    a.get("site-a.test", "/t.php?op=sleep&arg=2", close_after_send=True)
    time.sleep(0.3)
    assert_b_runs_as_b_only(a, pid)


def test_after_fatal_error(one_worker):
    a = one_worker
    pid = worker_pid(a)
    r = a.get("site-a.test", "/t.php?op=fatal")
    assert r.status == 500 or "undefined_function" in r.text
    assert_b_runs_as_b_only(a, pid)


def test_after_timeout(one_worker):
    a = one_worker
    pid = worker_pid(a)
    a.get("site-a.test", "/t.php?op=timeout", timeout=30)
    assert "Maximum execution time" in a.error_log()
    assert_b_runs_as_b_only(a, pid)


def test_late_tenant_code_still_runs_as_its_tenant(one_worker):
    a = one_worker
    other = secret(a, "site-b")
    # Control: unconfined, the late probes can read B's secret.
    a.php("free.test", "late", other)
    free_dir = os.path.join(a.root, "www", "free")
    for who in ("shutdown", "destructor", "output"):
        with open(os.path.join(free_dir, f"late-{who}.json")) as fh:
            assert json.load(fh)["other_readable"] is True
    r = a.php("site-a.test", "late", other)
    assert r["ok"]
    a_dir = os.path.join(a.root, "www", "site-a")
    for who in ("shutdown", "destructor", "output"):
        path = os.path.join(a_dir, f"late-{who}.json")
        assert os.path.exists(path), f"{who} did not run (or could not write its own folder)"
        with open(path) as fh:
            rec = json.load(fh)
        assert rec["tenant"] == "site-a"
        assert rec["other_readable"] is False, f"{who} ran unconfined"
    assert_b_runs_as_b_only(a, r["pid"])
