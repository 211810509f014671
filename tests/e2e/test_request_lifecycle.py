"""Request lifecycle details: subrequests and internal redirects keep the
main request's tenant; TenantRequired Off; TenantSandbox Audit; tenant code
cannot steer libsandbox (FFI, THREATS 21); the connection budget caps
fsockopen; no tag is ever left behind (AH10916/AH10917 never logged)."""
import os

import pytest

from conftest import make_tenant_dir, policy_for


@pytest.fixture
def life(apache_factory):
    a = apache_factory()
    for t in ("site-a", "site-b", "open"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"],
                              tenant_rules={"site-b": {"mode": "audit"},
                                            "site-a": {"max_connections": 2}}))
    a.tenant_vhost("site-a", ["ErrorDocument 404 /t.php?op=whoami", "php_admin_value ffi.enable 1", "TenantNativeCode Allow",
                              "DirectoryIndex t.php"])
    a.tenant_vhost("site-b")
    a.add_vhost("open.test", [f"DocumentRoot {a.root}/www/open", "TenantRequired Off"])
    a.start()
    return a


def test_internal_redirect_and_subrequest_keep_the_tenant(life):
    a = life
    # mod_dir: subrequest lookup of t.php, then an internal redirect to it.
    r = a.get("site-a.test", "/")
    assert r.status == 200 and r.json()["tenant"] == "site-a", r
    # ErrorDocument: internal redirect after a 404.
    r = a.get("site-a.test", "/no-such-page")
    assert r.status == 404 and r.json()["tenant"] == "site-a", r
    log = a.error_log()
    assert "AH10916" not in log and "AH10917" not in log


def test_tenant_required_off_serves_without_tenant(life):
    r = life.php("open.test", "whoami")
    assert r["tenant"] is None


def test_audit_mode_logs_but_allows(life):
    a = life
    secret_a = os.path.join(a.root, "www", "site-a", "secret.txt")
    r = a.php("site-b.test", "read", secret_a)
    assert r["tenant"] == "site-b" and r["ok"], "audit mode must not deny"
    assert any("tenant=site-b" in l and "site-a/secret.txt" in l
               for l in a.error_log().splitlines()), "audit must log what it would deny"


def test_tenant_code_cannot_steer_libsandbox_through_ffi(life):
    a = life
    r = a.php("site-a.test", "ffi", "site-b")
    assert r["clear"] < 0 and r["set"] < 0, r
    assert r["current"] == "site-a" and not r["ok"]
    # still confined as site-a in the same request's worker
    assert not a.php("site-a.test", "read", os.path.join(a.root, "www", "site-b", "secret.txt"))["ok"]


def test_connection_budget_caps_fsockopen(life):
    import socket
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    conns = []
    threading.Thread(target=lambda: [conns.append(srv.accept()) for _ in range(8)], daemon=True).start()
    try:
        r = life.php("site-a.test", "connect_many", f"127.0.0.1:{srv.getsockname()[1]}:3")
        assert r["data"] == 2 and not r["ok"], r
        assert any("uota" in e or "122" in e for e in r["errors"]), r
    finally:
        srv.close()


def test_no_tag_left_behind(life):
    a = life
    for _ in range(10):
        for t in ("site-a", "site-b"):
            assert a.php(f"{t}.test", "whoami")["tenant"] == t
    log = a.error_log()
    assert "AH10916" not in log and "AH10917" not in log and "AH10915" not in log
