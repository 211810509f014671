"""prefork + mod_php, two tenants (TenantId vhosts) and an unconfined
control vhost: each tenant works inside its own folder; every cross-tenant
attempt PHP can express fails and is logged with the right tenant, while the
same attempt from the control vhost succeeds (so the test would fail with
the sandbox removed)."""
import os
import re

import pytest


def secret(a, t):
    return os.path.join(a.root, "www", t, "secret.txt")


def tdir(a, t):
    return os.path.join(a.root, "www", t)


def test_each_site_serves_its_own_page_and_tenant_id(two_tenants):
    a = two_tenants
    assert a.get("site-a.test", "/index.html").text == "page-of-site-a\n"
    assert a.get("site-b.test", "/index.html").text == "page-of-site-b\n"
    assert a.php("site-a.test", "whoami")["tenant"] == "site-a"
    assert a.php("site-b.test", "whoami")["tenant"] == "site-b"
    # %{TENANT_ID}e in LogFormat
    log = open(a.access_log_path).read()
    assert "site-a.test tenant=site-a" in log and "site-b.test tenant=site-b" in log


def test_own_files_read_write_include(two_tenants):
    a = two_tenants
    for t in ("site-a", "site-b"):
        host = f"{t}.test"
        assert a.php(host, "read", secret(a, t))["data"] == f"secret-of-{t}"
        assert a.php(host, "write", os.path.join(tdir(a, t), "tmp", "w.txt"), data=t)["ok"]
        assert open(os.path.join(tdir(a, t), "tmp", "w.txt")).read() == t
        r = a.php(host, "include", os.path.join(tdir(a, t), "lib.php"))
        assert r["ok"] and r["data"] == f"lib-of-{t}"
        assert a.php(host, "scandir", tdir(a, t))["ok"]
        assert a.php(host, "tempnam", os.path.join(tdir(a, t), "tmp"))["ok"]


def test_own_sessions_and_not_the_others(two_tenants):
    a = two_tenants
    r = a.php("site-a.test", "session_write", "value-of-a")
    sid = r["data"]
    assert r["path"].startswith(tdir(a, "site-a"))
    cookie = [("Cookie", f"PHPSESSID={sid}")]
    from urllib.parse import urlencode
    back = a.get("site-a.test", "/t.php?" + urlencode({"op": "session_read"}), headers=cookie).json()
    assert back["data"] == "value-of-a"
    # B presenting A's session id gets nothing (its own save_path) ...
    other = a.get("site-b.test", "/t.php?" + urlencode({"op": "session_read"}), headers=cookie).json()
    assert other["data"] is None
    # ... and cannot read A's session file directly.
    sess_file = os.path.join(tdir(a, "site-a"), "sessions", f"sess_{sid}")
    assert os.path.exists(sess_file)
    assert not a.php("site-b.test", "read", sess_file)["ok"]


CROSS = [
    ("read", lambda a: secret(a, "site-b")),
    ("write", lambda a: os.path.join(tdir(a, "site-b"), "planted.txt")),
    ("scandir", lambda a: tdir(a, "site-b")),
    ("glob", lambda a: tdir(a, "site-b") + "/*"),
    ("globstream", lambda a: tdir(a, "site-b") + "/*"),
    ("tempnam", lambda a: os.path.join(tdir(a, "site-b"), "tmp")),
    ("symlink", lambda a: secret(a, "site-b")),
    ("link", lambda a: secret(a, "site-b")),
    ("include", lambda a: os.path.join(tdir(a, "site-b"), "lib.php")),
]


@pytest.mark.parametrize("op,target", CROSS, ids=[c[0] for c in CROSS])
def test_cross_tenant_file_access_fails_and_is_logged(two_tenants, op, target):
    a = two_tenants
    # The control vhost (no sandbox) succeeds: the attack is real.
    assert a.php("free.test", op, target(a))["ok"], "control: attack should work unconfined"
    planted = os.path.join(tdir(a, "site-b"), "planted.txt")
    if os.path.exists(planted):
        os.unlink(planted)
    r = a.php("site-a.test", op, target(a))
    assert r["tenant"] == "site-a"
    assert not r["ok"], f"site-a could {op} {target(a)}: {r}"
    assert not os.path.exists(planted)
    denials = a.denials("site-a")
    assert any(tdir(a, "site-b") in l for l in denials), f"no denial logged for site-a: {denials}"
    assert not any(f"tenant=site-b " in l for l in a.denials()), "denial blamed on the wrong tenant"


def test_opcache_does_not_serve_another_tenants_script(two_tenants):
    a = two_tenants
    lib_b = os.path.join(tdir(a, "site-b"), "lib.php")
    # B runs its library first: it is now in opcache's shared memory.
    assert a.php("site-b.test", "include", lib_b)["data"] == "lib-of-site-b"
    r = a.php("site-a.test", "include", lib_b)
    assert not r["ok"] and r.get("data", "") == "", r


def test_spoofed_tenant_header_from_client_is_ignored(apache_factory):
    from conftest import make_tenant_dir, policy_for
    a = apache_factory()
    for t in ("site-a", "site-b"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"]))
    # Catch-all vhost that takes the tenant from X-Site-Id, trusted from
    # 127.0.0.5 only; the test client connects from 127.0.0.1.
    a.add_vhost("any.test", [f"DocumentRoot {a.root}/www/site-a", "TenantHeader X-Site-Id",
                             "TenantTrustedProxy 127.0.0.5 ::1/128"])
    a.start()
    r = a.get("any.test", "/t.php?op=whoami", headers=[("X-Site-Id", "site-a")])
    assert r.status == 403, r
    assert "AH10914" in a.error_log() and "untrusted peer 127.0.0.1" in a.error_log()
    assert "AH10910" in a.error_log()
    # The same header from the trusted address is believed.
    r = a.get("any.test", "/t.php?op=whoami", headers=[("X-Site-Id", "site-a")], source="127.0.0.5")
    assert r.status == 200 and r.json()["tenant"] == "site-a"
    # Logged once per peer, not once per request.
    for _ in range(3):
        a.get("any.test", "/t.php?op=whoami", headers=[("X-Site-Id", "site-b")])
    assert a.error_log().count("AH10914") <= a.workers
