"""Tenant code must not reach the server it runs in (issue 11, THREATS 24).

Plain PHP (no FFI) of tenant A, on the shipped kind of configuration (the
policy lets tenants connect to 127.0.0.1 and ::1 for a local database; a
TenantHeader vhost trusts 127.0.0.1; server-status and tenant-status say
`Require local`), tried to get out through the server itself: connect to
Apache on loopback and send the trusted header naming another tenant (an
audit one denies nothing), or fetch the status pages. Every attack below
is first shown to work from an unconfined vhost (TenantSandbox Off) on the
same server, then refused for a tenant with the reason in the denial line.
"""
import json
import os
import socket
import threading
import time
from urllib.parse import urlencode

import pytest

from conftest import free_port, http, make_tenant_dir, policy_for


class UnixListener:
    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX)
        self.s.bind(path)
        os.chmod(path, 0o666)
        self.s.listen(16)
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.s.accept()
                c.sendall(b"HTTP/1.0 200 OK\r\n\r\nproxy-behind-unix-socket")
                c.close()
            except OSError:
                return


class TcpListener:
    def __init__(self):
        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        self.s.listen(16)
        self.port = self.s.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.s.accept()
                c.sendall(b"HTTP/1.0 200 OK\r\n\r\nlocal-api")
                c.close()
            except OSError:
                return


@pytest.fixture
def door(apache_factory, tmproot):
    a = apache_factory(workers=2)
    a.extra_modules += ["authz_host", "status", "info"]
    for t in ("site-a", "site-b", "site-c", "free"):
        make_tenant_dir(a.root, t)
    sock = os.path.join(tmproot, "proxy.sock")
    unix = UnixListener(sock)
    api, closed_api = TcpListener(), TcpListener()
    with socket.socket(socket.AF_INET6) as s6:
        s6.bind(("::1", 0))
        a.v6port = s6.getsockname()[1]
    a.proxy_port = free_port()
    a.sock, a.api, a.closed_api = sock, api, closed_api
    a.write_policy(policy_for(a.root, ["site-a", "site-b", "site-c"],
                              extra_defaults={"unix_sockets": [sock]},
                              tenant_rules={"site-c": {"mode": "audit"},
                                            "site-a": {"read_only": ["/proc", "/usr/share/zoneinfo", "/dev/urandom"]}}))
    www = os.path.join(a.root, "www")
    a.server_extra += [f"Listen [::1]:{a.v6port}", f"Listen 127.0.0.1:{a.proxy_port}",
                       f"TenantClosedDoor {sock} 127.0.0.1:{api.port} 127.0.0.1:{closed_api.port}",
                       f"TenantOpenDoor api 127.0.0.1:{api.port}",
                       "<Location /server-status>", "SetHandler server-status", "Require local", "</Location>",
                       f"<Directory {www}>", "AllowOverride FileInfo", "</Directory>"]
    for t in ("site-a", "site-b", "site-c"):
        a.tenant_vhost(t)
    a.add_vhost("free.test", [f"DocumentRoot {www}/free", "TenantSandbox Off"])
    # What a front proxy talks to: the tenant from X-Site-Id, believed from
    # 127.0.0.1 -- the very address tenant code connects from.
    a.add_vhost("backend.test", ["ServerAlias *.backend.test", f"VirtualDocumentRoot {www}/%1", "TenantHeader X-Site-Id",
                                 "TenantTrustedProxy 127.0.0.1 ::1", "TenantHeaderTenants site-*"])
    status = ["ServerName status.test", "TenantRequired Off", f"DocumentRoot {www}/free",
              "<Location /tenant-status>", "SetHandler tenant-status", "Require local", "</Location>"]
    a.add_vhost("status.test", status[1:])
    # A proxy-only listener: the header counts only on connections to it.
    proxied = ["ServerName proxied.test", "ServerAlias *.proxied.test", f"VirtualDocumentRoot {www}/%1",
               "TenantHeader X-Site-Id", f"TenantTrustedListener 127.0.0.1:{a.proxy_port}"]
    a.add_vhost("proxied.test", proxied[1:])
    a.server_extra += [f"<VirtualHost [::1]:{a.v6port}>", *status, "</VirtualHost>",
                       f"<VirtualHost 127.0.0.1:{a.proxy_port}>", *proxied, "</VirtualHost>"]
    a.start()
    yield a
    for l in (unix, api, closed_api):
        l.s.close()


def raw(a, host, target, path="/", vhost="localhost", headers=None):
    q = urlencode({"op": "http_raw", "arg": target, "path": path, "host": vhost, "h": json.dumps(headers or {})})
    return a.get(host, f"/t.php?{q}").json()


def door_denials(a, tenant):
    return [l for l in a.denials(tenant) if 'rule="server_door"' in l or "the server's own listener" in l]


@pytest.mark.parametrize("victim", ["site-c", "site-b", "nosuch"])
def test_a_tenant_cannot_send_the_trusted_header_to_its_own_server(door, victim):
    a = door
    secret_b = os.path.join(a.root, "www", "site-b", "secret.txt")
    path = "/t.php?" + urlencode({"op": "read", "arg": secret_b})
    target = f"tcp://127.0.0.1:{a.port}"
    # The attack, from unconfined code on the same server: the header is
    # believed (the peer is 127.0.0.1) and the script runs as the victim.
    r = raw(a, "free.test", target, path, "site-c.backend.test", {"X-Site-Id": victim})
    assert r["connected"], r
    if victim == "site-c":
        assert "secret-of-site-b" in r["data"], r  # audit: denies nothing
    # Tenant A: the connection itself is refused.
    r = raw(a, "site-a.test", target, path, "site-c.backend.test", {"X-Site-Id": victim})
    assert not r["connected"] and "secret-of-site-b" not in r["data"], r
    assert door_denials(a, "site-a"), a.denials("site-a")


@pytest.mark.parametrize("page,via", [("/server-status", "v4"), ("/server-status", "v6"),
                                      ("/server-status", "localhost"), ("/server-status", "zero"),
                                      ("/tenant-status", "v4"), ("/tenant-status", "v6")])
def test_status_pages_are_not_reachable_from_tenant_code(door, page, via):
    a = door
    target = {"v4": f"tcp://127.0.0.1:{a.port}", "v6": f"tcp://[::1]:{a.v6port}",
              "localhost": f"tcp://localhost:{a.port}", "zero": f"tcp://0.0.0.0:{a.port}"}[via]
    vhost = "status.test"  # resolves no tenant: the operator's own vhost
    r = raw(a, "free.test", target, page, vhost)
    assert r["connected"] and " 200 " in r["data"].split("\r\n", 1)[0], r  # the page is there
    r = raw(a, "site-a.test", target, page, vhost)
    assert not r["connected"] and r["data"] == "", r
    assert door_denials(a, "site-a"), a.denials("site-a")


def test_a_unix_socket_door_stays_closed_even_when_listed(door):
    a = door
    r = raw(a, "free.test", f"unix://{a.sock}")
    assert "proxy-behind-unix-socket" in r["data"], r
    r = raw(a, "site-a.test", f"unix://{a.sock}")
    assert not r["connected"], r
    # ... nor through a symlink in the tenant's own folder.
    link = os.path.join(a.root, "www", "site-a", "tmp", "door.sock")
    os.symlink(a.sock, link)
    r = raw(a, "site-a.test", f"unix://{link}")
    assert not r["connected"] and "proxy-behind" not in r["data"], r


def test_an_open_door_is_reachable_and_only_that_one(door):
    a = door
    r = raw(a, "site-a.test", f"tcp://127.0.0.1:{a.api.port}")
    assert "local-api" in r["data"], r
    r = raw(a, "site-a.test", f"tcp://127.0.0.1:{a.closed_api.port}")
    assert not r["connected"], r


def test_the_header_counts_only_on_the_trusted_listener(door):
    a = door
    # As the front proxy would: from 127.0.0.1, to the proxy-only listener.
    r = http(a.proxy_port, "/t.php?op=whoami", host="site-b.proxied.test", headers=[("X-Site-Id", "site-b")])
    assert r.status == 200 and r.json()["tenant"] == "site-b", r
    # The same to Apache's main port is not believed for that vhost.
    r = http(a.port, "/t.php?op=whoami", host="site-b.proxied.test", headers=[("X-Site-Id", "site-b")])
    assert r.status == 403, r
    # And tenant code cannot reach the proxy-only listener at all.
    r = raw(a, "site-a.test", f"tcp://127.0.0.1:{a.proxy_port}", "/t.php?op=whoami", "site-b.proxied.test",
            {"X-Site-Id": "site-b"})
    assert not r["connected"], r


def test_a_vhost_limits_which_tenants_its_header_may_name(door):
    a = door
    r = http(a.port, "/t.php?op=whoami", host="site-b.backend.test", headers=[("X-Site-Id", "site-b")])
    assert r.status == 200 and r.json()["tenant"] == "site-b", r
    r = http(a.port, "/t.php?op=whoami", host="free.backend.test", headers=[("X-Site-Id", "free")])
    assert r.status == 403 and "AH10986" in a.error_log(), r


def test_a_tenants_own_vhost_never_becomes_another_tenant(door):
    a = door
    r = http(a.port, "/t.php?op=whoami", host="site-a.test", headers=[("X-Site-Id", "site-b")])
    assert r.status == 200 and r.json()["tenant"] == "site-a", r


def test_sethandler_server_status_in_a_tenants_htaccess(door):
    a = door
    for t in ("site-a", "free"):
        d = os.path.join(a.root, "www", t, "st")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, ".htaccess"), "w") as fh:
            fh.write("SetHandler server-status\n")
    assert "Apache Server Status" in a.get("free.test", "/st/").text  # the control
    r = a.get("site-a.test", "/st/")
    assert r.status == 403 and "Server Status" not in r.text, r
    assert "AH10987" in a.error_log()


def test_opcache_serves_no_tenant_a_script_it_could_not_open(door):
    a = door
    cfg_b = os.path.join(a.root, "www", "site-b", "config.php")
    with open(cfg_b, "w") as fh:
        fh.write("<?php $secret = 'db-password-of-site-b'; echo 'config of b';\n")
    os.chown(cfg_b, 33, 33)
    time.sleep(2.5)  # opcache.file_update_protection: files younger than 2 s are not cached
    # B's page runs (and is cached, in opcache's memory shared by every worker).
    for _ in range(6):
        assert "config of b" in a.get("site-b.test", "/config.php").text
    for _ in range(4):
        r = a.php("site-a.test", "include", cfg_b)
        assert "config of b" not in (r.get("data") or ""), r
    r = a.php("site-a.test", "opcache", cfg_b)
    assert not r["status_api"] and not r["scripts"] and not r["cached"], r
    r = a.php("site-a.test", "ini", "opcache.validate_permission,opcache.restrict_api,ffi.enable")["data"]
    assert r["opcache.validate_permission"] == "1" and r["opcache.restrict_api"].startswith("/nonexistent"), r
    assert r["ffi.enable"] in ("0", ""), r
    # The control: unconfined code sees the API (and B's cached script).
    r = a.php("free.test", "opcache", cfg_b)
    assert r["status_api"] and any("site-b/config.php" in s for s in r["scripts"]), r


def test_proc_net_and_other_processes_are_closed_even_when_proc_is_listed(door):
    a = door
    other = a.pid()  # the Apache parent: another process
    for path in ("/proc/net/unix", "/proc/net/tcp", f"/proc/{other}/cmdline", "/proc/self/net/tcp6"):
        assert a.php("free.test", "read", path)["ok"], path  # the control
        r = a.php("site-a.test", "read", path)
        assert not r["ok"], (path, r)
    assert a.php("site-a.test", "read", "/proc/self/status")["ok"]
    assert a.php("site-a.test", "read", "/proc/loadavg")["ok"]
    assert any("/net/unix" in l and "another process" in l for l in a.denials("site-a")), a.denials()


def test_no_tenant_sees_anothers_environment(door):
    a = door
    for w in range(4):
        assert a.php("site-a.test", "putenv", "A_SECRET=only-for-a")["ok"]
        r = a.php("site-b.test", "getenv", "A_SECRET")
        assert not r["ok"], r
        info = a.php("site-b.test", "phpinfo")["data"]
        assert "only-for-a" not in info and "/www/site-a" not in info
