"""Bad input and configuration: malformed, over-long, duplicated and
non-ASCII tenant headers and Host names; policies that are missing,
malformed or carry a bad entry at start and at graceful restart; TenantMap
files with bad lines; directive errors under configtest."""
import json
import os

import pytest

from conftest import make_tenant_dir, policy_for


@pytest.fixture
def header_server(apache_factory):
    """Tenant from X-Site-Id, trusted from 127.0.0.5 (the test sends from there)."""
    a = apache_factory()
    for t in ("site-a", "site-b"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"]))
    a.add_vhost("any.test", [f"DocumentRoot {a.root}/www/site-a", "TenantHeader X-Site-Id",
                             "TenantTrustedProxy 127.0.0.5"])
    a.tenant_vhost("site-b")
    a.start()
    return a


BAD_HEADERS = {
    "overlong": [("X-Site-Id", "a" * 65)],
    "dotdot": [("X-Site-Id", "..")],
    "slash": [("X-Site-Id", "site-a/../site-b")],
    "space": [("X-Site-Id", "site a")],
    "non_ascii": [("X-Site-Id", "site-\xe4".encode("latin-1"))],
    "utf8": [("X-Site-Id", "site-\u00e4".encode("utf-8"))],
    "duplicated": [("X-Site-Id", "site-a"), ("X-Site-Id", "site-b")],
    "duplicated_same": [("X-Site-Id", "site-a"), ("X-Site-Id", "site-a")],
    "empty": [("X-Site-Id", "")],
    "unknown": [("X-Site-Id", "site-zzz")],
    "leading_dash": [("X-Site-Id", "-site")],
}


@pytest.mark.parametrize("case", list(BAD_HEADERS))
def test_bad_tenant_header_is_403_and_others_keep_working(header_server, case):
    a = header_server
    r = a.get("any.test", "/t.php?op=whoami", headers=BAD_HEADERS[case], source="127.0.0.5")
    assert r.status == 403, r
    log = a.error_log()
    assert any(n in log for n in ("AH10911", "AH10912", "AH10910")), "refusal not logged"
    # The other tenants are unaffected.
    ok = a.get("any.test", "/t.php?op=whoami", headers=[("X-Site-Id", "site-a")], source="127.0.0.5")
    assert ok.status == 200 and ok.json()["tenant"] == "site-a"
    assert a.php("site-b.test", "whoami")["tenant"] == "site-b"


@pytest.mark.parametrize("host", [b"unknown.test", b"site-b.test.evil", b"", b"a" * 300,
                                  b"site-\xc3\xa4.test", b"bad host", b"site-b.test:99999x"])
def test_bad_or_unknown_host_never_gets_a_tenant(two_tenants, host):
    a = two_tenants
    r = a.get(host, "/t.php?op=whoami")
    # Apache itself answers 400 for a Host it cannot parse; anything it
    # accepts lands in the default vhost, which has no tenant: 403.
    assert r.status in (400, 403), r
    assert a.php("site-a.test", "whoami")["tenant"] == "site-a"


def test_host_map_case_insensitive_port_ignored(apache_factory):
    a = apache_factory()
    for t in ("site-a", "site-b"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"]))
    with open(os.path.join(a.root, "map.txt"), "w") as fh:
        fh.write("# host tenant\n\nSite-A.Test site-a\nsite-b.test   site-b  # trailing comment\n")
    a.add_vhost("map.test", [f"VirtualDocumentRoot {a.root}/www/%1",
                             f"TenantMap txt:{a.root}/map.txt"])
    a.start()
    assert a.get("SITE-A.test", "/t.php?op=whoami").json()["tenant"] == "site-a"
    assert a.get(f"site-b.test:{a.port}", "/t.php?op=whoami").json()["tenant"] == "site-b"
    assert a.get("site-c.test", "/t.php?op=whoami").status == 403


@pytest.mark.parametrize("content,needle", [
    ("host-only\n", ":1: expected 'host tenant'"),
    ("a.test site-a\nb.test ../etc\n", ":2: invalid tenant id"),
    ("a.test site-a\nA.TEST site-b\n", ":2: host 'a.test' is listed twice"),
    ("a.test site-a extra\n", ":1: expected 'host tenant'"),
])
def test_bad_map_lines_fail_configtest_with_file_and_line(apache_factory, content, needle):
    a = apache_factory()
    make_tenant_dir(a.root, "site-a")
    a.write_policy(policy_for(a.root, ["site-a"]))
    with open(os.path.join(a.root, "map.txt"), "w") as fh:
        fh.write(content)
    a.add_vhost("map.test", [f"DocumentRoot {a.root}/www/site-a", f"TenantMap txt:{a.root}/map.txt"])
    a.render()
    r = a.ctl("-t")
    assert r.returncode != 0
    assert "TenantMap" in r.stderr and "map.txt" + needle in r.stderr, r.stderr


@pytest.mark.parametrize("line,needle", [
    ("TenantSandbox Maybe", "TenantSandbox: expected On, Off or Audit"),
    ("TenantPolicy relative.json", "TenantPolicy: the policy path must be absolute"),
    ("TenantHeader X Site", "TenantHeader takes one argument"),
    ("TenantHeader X@Site", "TenantHeader: 'X@Site' is not a valid header name"),
    ("TenantTrustedProxy 10.0.0.0/33", "TenantTrustedProxy: '10.0.0.0/33'"),
    ("TenantTrustedProxy proxy.example.com", "TenantTrustedProxy: 'proxy.example.com'"),
    ("TenantOverLimitStatus 503", "TenantOverLimitStatus: expected 508 or 429"),
    ("TenantMap ldap:/x", "TenantMap: expected txt:/path or dbm:/path"),
    ("TenantId site-a", "TenantId is only allowed inside <VirtualHost>"),
    ("TenantRequired maybe", "TenantRequired must be On or Off"),
])
def test_directive_errors_name_the_directive(apache_factory, line, needle):
    a = apache_factory()
    a.write_policy(policy_for(a.root, ["site-a"]))
    a.server_extra.append(line)
    a.render()
    r = a.ctl("-t")
    assert r.returncode != 0 and needle in r.stderr, r.stderr


def test_tenant_policy_is_server_only(apache_factory):
    a = apache_factory()
    a.write_policy(policy_for(a.root, ["site-a"]))
    a.add_vhost("x.test", [f"TenantPolicy {a.policy_path}"])
    a.render()
    r = a.ctl("-t")
    assert r.returncode != 0 and "TenantPolicy" in r.stderr and "VirtualHost" in r.stderr, r.stderr


def test_tenant_id_in_vhost_is_validated(apache_factory):
    a = apache_factory()
    a.write_policy(policy_for(a.root, ["site-a"]))
    a.add_vhost("x.test", ["TenantId ../site-a"])
    a.render()
    r = a.ctl("-t")
    assert r.returncode != 0 and "TenantId: invalid tenant id '../site-a'" in r.stderr, r.stderr


BAD_POLICIES = {
    "missing": None,
    "malformed": '{"version": 1, "tenants": {',
    "bad_entry": json.dumps({"version": 1, "tenant_root": "/srv/www/{tenant}",
                             "unknown_tenants": "deny", "defaults": {},
                             "tenants": {"site-a": {"ip_deny": ["10.0.0.0/8", "300.1.1.1/8"]}}}),
}


def write_bad_policy(a, case):
    if BAD_POLICIES[case] is None:
        os.unlink(a.policy_path)
    else:
        a.write_policy(BAD_POLICIES[case])


@pytest.mark.parametrize("case", list(BAD_POLICIES))
def test_bad_policy_at_start_refuses_start_with_error_on_console(apache_factory, case):
    a = apache_factory()
    make_tenant_dir(a.root, "site-a")
    a.write_policy(policy_for(a.root, ["site-a"]))
    a.tenant_vhost("site-a")
    write_bad_policy(a, case)
    r = a.start(expect_ok=False)
    assert r.returncode != 0
    assert "AH10901" in r.stderr and a.policy_path in r.stderr, r.stderr
    if case == "bad_entry":
        assert "/tenants/site-a/ip_deny/1" in r.stderr, r.stderr
    # configtest reports it as well
    t = a.ctl("-t")
    assert t.returncode != 0 and "AH10901" in t.stderr


@pytest.mark.parametrize("case", list(BAD_POLICIES))
def test_bad_policy_on_graceful_keeps_old_policy_and_serving(apache_factory, case):
    a = apache_factory()
    for t in ("site-a", "site-b"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"]))
    a.tenant_vhost("site-a")
    a.tenant_vhost("site-b")
    a.start()
    secret_b = os.path.join(a.root, "www", "site-b", "secret.txt")
    assert not a.php("site-a.test", "read", secret_b)["ok"]
    write_bad_policy(a, case)
    # apache2ctl graceful / apache2 -k graceful check the configuration
    # first: the broken policy is reported on the console, no signal sent.
    r = a.ctl("-k", "graceful")
    assert r.returncode != 0 and "AH10901" in r.stderr and a.policy_path in r.stderr, r.stderr
    assert a.php("site-a.test", "whoami")["tenant"] == "site-a"
    # A bare SIGUSR1 makes the running parent re-read: refused, logged,
    # old policy kept.
    a.graceful(signal_only=True)
    log = a.error_log()
    assert "AH10902" in log and "old one stays in force" in log, log[-3000:]
    # Still serving, still with the old rules: both tenants admitted, still confined.
    assert a.php("site-a.test", "whoami")["tenant"] == "site-a"
    assert a.php("site-b.test", "whoami")["tenant"] == "site-b"
    assert not a.php("site-a.test", "read", secret_b)["ok"]
    assert a.php("site-a.test", "read", os.path.join(a.root, "www", "site-a", "secret.txt"))["ok"]


def test_good_policy_on_graceful_is_applied(apache_factory):
    a = apache_factory()
    for t in ("site-a", "site-b"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"]))
    a.tenant_vhost("site-a")
    a.tenant_vhost("site-b")
    a.start()
    assert a.php("site-b.test", "whoami")["tenant"] == "site-b"
    a.write_policy(policy_for(a.root, ["site-a"]))      # site-b no longer admitted
    a.graceful()
    assert a.get("site-b.test", "/t.php?op=whoami").status == 403
    assert "AH10912" in a.error_log()
    assert a.php("site-a.test", "whoami")["tenant"] == "site-a"


def test_sandbox_on_without_policy_refuses_start(apache_factory):
    a = apache_factory()
    make_tenant_dir(a.root, "site-a")
    a.tenant_vhost("site-a")
    a.render()
    conf = open(a.conf).read().replace(f"TenantPolicy {a.policy_path}\n", "")
    open(a.conf, "w").write(conf)
    r = a.ctl("-k", "start")
    assert r.returncode != 0 and "AH10900" in r.stderr, r.stderr


def test_without_libsandbox_tenant_requests_are_503(apache_factory):
    a = apache_factory(preload=False)
    make_tenant_dir(a.root, "site-a")
    a.write_policy(policy_for(a.root, ["site-a"]))
    a.tenant_vhost("site-a")
    a.start()
    for _ in range(3):
        assert a.get("site-a.test", "/t.php?op=whoami").status == 503
    log = a.error_log()
    assert "AH10906" in log and "AH10913" in log
    assert log.count("AH10913") <= a.workers  # once per process


def test_sandbox_off_vhost_is_untouched(two_tenants):
    r = two_tenants.php("free.test", "whoami")
    assert r["tenant"] is None


def test_stop_works_with_a_broken_policy(apache_factory):
    a = apache_factory()
    make_tenant_dir(a.root, "site-a")
    a.write_policy(policy_for(a.root, ["site-a"]))
    a.tenant_vhost("site-a")
    a.start()
    pid = a.pid()
    write_bad_policy(a, "malformed")
    r = a.ctl("-k", "stop")
    assert r.returncode == 0, r.stderr
    import time
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("httpd did not stop")
    a.started = False
