"""Network, exec and signals from a tenant: connect/curl/socket_sendto to a
denied address fail, an allowed loopback listener works; shell_exec,
proc_open and mail() fail without an exec list; posix_kill of a sibling
worker fails. Each attack is first shown to work from the unconfined
control vhost."""
import os
import socket
import threading

import pytest

from conftest import make_tenant_dir, policy_for


class Listener:
    """TCP server answering a tiny HTTP response, on a given loopback address."""

    def __init__(self, addr):
        self.sock = socket.socket()
        self.sock.bind((addr, 0))
        self.sock.listen(16)
        self.addr, self.port = addr, self.sock.getsockname()[1]
        self.hits = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.hits += 1
            try:
                c.settimeout(2)
                c.recv(4096)
                c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
            except OSError:
                pass
            c.close()

    def close(self):
        self.sock.close()


@pytest.fixture
def net_server(apache_factory):
    a = apache_factory(workers=3)
    for t in ("site-a", "site-b", "free"):
        make_tenant_dir(a.root, t)
    # ip_allow 127.0.0.1/32 only (policy_for): 127.0.0.2 is denied.
    a.write_policy(policy_for(a.root, ["site-a", "site-b"]))
    for t in ("site-a", "site-b"):
        a.tenant_vhost(t, [f'php_admin_value sendmail_path "/usr/bin/tee {a.root}/www/{t}/mail.out"'])
    a.add_vhost("free.test", [f"DocumentRoot {a.root}/www/free", "TenantSandbox Off",
                              f'php_admin_value sendmail_path "/usr/bin/tee {a.root}/www/free/mail.out"'])
    a.start()
    allowed, denied = Listener("127.0.0.1"), Listener("127.0.0.2")
    yield a, allowed, denied
    allowed.close()
    denied.close()


def test_allowed_loopback_listener_works(net_server):
    a, allowed, _ = net_server
    assert a.php("site-a.test", "connect", f"127.0.0.1:{allowed.port}")["ok"]
    assert a.php("site-a.test", "curl", f"http://127.0.0.1:{allowed.port}/")["ok"]


@pytest.mark.parametrize("op", ["connect", "curl", "sendto"])
def test_denied_address_fails_and_is_logged(net_server, op):
    a, _, denied = net_server
    arg = f"http://127.0.0.2:{denied.port}/" if op == "curl" else f"127.0.0.2:{denied.port}"
    assert a.php("free.test", op, arg)["ok"], "control: reachable unconfined"
    r = a.php("site-a.test", op, arg)
    assert r["tenant"] == "site-a" and not r["ok"], r
    assert any("127.0.0.2" in l for l in a.denials("site-a")), a.denials()


@pytest.mark.parametrize("op", ["shell", "proc_open", "mail"])
def test_exec_without_exec_list_fails(net_server, op):
    a, _, _ = net_server
    assert a.php("free.test", op)["ok"], "control: exec works unconfined"
    if op == "mail":
        assert os.path.exists(os.path.join(a.root, "www", "free", "mail.out"))
    r = a.php("site-a.test", op)
    assert r["tenant"] == "site-a" and not r["ok"], r
    assert not os.path.exists(os.path.join(a.root, "www", "site-a", "mail.out"))
    # proc_open's child may be stopped before its exec (dup2 of the pipe);
    # either way a denial must be logged for site-a.
    assert a.denials("site-a"), a.denials()
    if op != "proc_open":
        assert any("need=exec" in l for l in a.denials("site-a")), a.denials()


def test_posix_kill_of_sibling_worker_fails(net_server):
    a, _, _ = net_server
    me = a.php("site-a.test", "whoami")["pid"]
    siblings = [p for p in a.children() if p != me]
    assert siblings, "need a sibling worker"
    assert a.php("free.test", "kill", str(siblings[0]))["ok"] or \
        a.php("free.test", "kill", str(siblings[-1]))["ok"], "control: same-uid kill works"
    for pid in siblings:
        r = a.php("site-a.test", "kill", str(pid))
        if r["pid"] == pid:
            continue  # served by that very worker: not a sibling for this request
        assert not r["ok"], f"site-a signalled sibling {pid}: {r}"
    assert a.php("site-a.test", "kill", str(a.pid()))["ok"] is False


def test_proc_open_of_a_listed_program_works_and_stays_confined(apache_factory):
    """With /bin/cat on the exec list, proc_open (pipes made by PHP with
    pipe(), dup2'd onto the child's stdout) runs it, and the child is the
    same tenant: it reads site-a's file and not site-b's."""
    a = apache_factory(workers=2)
    for t in ("site-a", "site-b"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"], extra_defaults={"exec": ["/bin/cat", "/usr/bin/cat"]}))
    for t in ("site-a", "site-b"):
        a.tenant_vhost(t)
    a.start()
    own = os.path.join(a.root, "www", "site-a", "own.txt")
    with open(own, "w") as fh:
        fh.write("A-OWN")
    os.chmod(own, 0o644)
    secret = os.path.join(a.root, "www", "site-b", "secret.txt")
    with open(secret, "w") as fh:
        fh.write("B-SECRET")
    os.chmod(secret, 0o644)
    r = a.php("site-a.test", "proc_cat", own)
    assert r["tenant"] == "site-a" and r["ok"] and r["data"] == "A-OWN", (r, a.denials())
    r = a.php("site-a.test", "proc_cat", secret)
    assert r["tenant"] == "site-a" and not r["ok"] and "B-SECRET" not in r["data"], r
    assert any("site-b/secret.txt" in l for l in a.denials("site-a")), a.denials()
