"""Resources that outlive a request (THREATS 18), in one prefork worker
(MaxRequestWorkers 1) serving A and then B:

- Apache's own descriptors (the error and access logs, anything else the
  worker holds) cannot be reopened by number from tenant code through
  /proc/self/fd/N or /dev/fd/N (php://fd/N PHP refuses itself outside the
  CLI);
- a persistent socket A opened (pfsockopen) is not handed to B: B's
  pfsockopen to the same address gets a connection of its own.

Each check runs against a vhost with TenantSandbox Off too, where the
attack works, so the test cannot pass with the protection removed."""
import os
import socket
import threading
import time

import pytest

from conftest import make_tenant_dir, policy_for


class Listener:
    """A loopback TCP listener that records what each connection sent."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.received = []  # one bytearray per accepted connection
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            buf = bytearray()
            with self.lock:
                self.received.append(buf)
            threading.Thread(target=self._read, args=(c, buf), daemon=True).start()

    def _read(self, c, buf):
        while True:
            try:
                d = c.recv(4096)
            except OSError:
                return
            if not d:
                return
            with self.lock:
                buf.extend(d)

    def connections(self):
        time.sleep(0.3)
        with self.lock:
            return [bytes(b) for b in self.received]


@pytest.fixture
def one_worker(apache_factory):
    a = apache_factory(workers=1)
    for t in ("site-a", "site-b", "free-a", "free-b"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"]))
    a.tenant_vhost("site-a")
    a.tenant_vhost("site-b")
    for t in ("free-a", "free-b"):
        a.add_vhost(f"{t}.test", [f"DocumentRoot {a.root}/www/{t}", "TenantSandbox Off"])
    a.start()
    return a


def test_apache_logs_not_reopened_by_number(one_worker):
    a = one_worker
    logs = {}
    for path in (a.error_log_path, a.access_log_path):
        st = os.stat(path)
        logs[(st.st_dev, st.st_ino)] = path

    def reached(r):
        # name -> [dev, ino] of every descriptor number that reopened; the
        # worker's own area descriptors (the tenant's folders) may reopen,
        # Apache's logs must not.
        return {name: logs[tuple(di)] for name, di in r["data"].items() if tuple(di) in logs}

    free = a.php("free-a.test", "fdscan")
    assert reached(free), f"control: unconfined PHP should reopen Apache's logs: {free['data']}"
    r = a.php("site-a.test", "fdscan")
    assert r["tenant"] == "site-a" and r["pid"] == free["pid"]
    assert not reached(r), f"tenant code reopened Apache's logs: {reached(r)}"
    denied = a.denials("site-a")
    assert any(a.error_log_path in l for l in denied), f"the attempt was not logged: {denied}"


def pconnect_pair(a, host_a, host_b, port):
    ra = a.php(host_a, "pconnect", f"127.0.0.1:{port}", data="from-a")
    rb = a.php(host_b, "pconnect", f"127.0.0.1:{port}", data="from-b")
    assert ra["pid"] == rb["pid"], "not the same worker: the test proves nothing"
    return ra, rb


def test_persistent_socket_not_handed_to_the_next_tenant(one_worker):
    a = one_worker
    ctl = Listener()
    pconnect_pair(a, "free-a.test", "free-b.test", ctl.port)
    assert any(b"from-a" in c and b"from-b" in c for c in ctl.connections()), \
        f"control: unconfined PHP should reuse the persistent socket: {ctl.connections()}"

    lst = Listener()
    ra, rb = pconnect_pair(a, "site-a.test", "site-b.test", lst.port)
    assert ra["ok"], ra
    conns = lst.connections()
    assert any(b"from-a" in c for c in conns), conns
    assert not any(b"from-a" in c and b"from-b" in c for c in conns), \
        f"B wrote into A's persistent connection: {conns}"


def test_realpath_cache_forgets_the_previous_tenant(one_worker):
    """THREATS 19: PHP's realpath cache is per worker process; before each
    tenant request the module empties it, so A never lists B's paths."""
    a = one_worker
    b_dir = os.path.join(a.root, "www", "free-b")
    a.php("free-b.test", "include", os.path.join(b_dir, "lib.php"))
    ctl = a.php("free-a.test", "realpath_cache")
    assert any(p.startswith(b_dir) for p in ctl["data"]), f"control: the cache should list B's paths: {ctl}"

    b_dir = os.path.join(a.root, "www", "site-b")
    rb = a.php("site-b.test", "include", os.path.join(b_dir, "lib.php"))
    assert rb["ok"], rb
    r = a.php("site-a.test", "realpath_cache")
    assert r["tenant"] == "site-a" and r["pid"] == rb["pid"]
    leaked = [p for p in r["data"] if p.startswith(b_dir)]
    assert not leaked, f"A's request lists B's paths from the realpath cache: {leaked}"
