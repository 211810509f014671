"""Harness for the end-to-end tests: real Apache httpd (Debian's binary and
modules) with mod_tenant_tag and libsandbox preloaded, started from a
generated configuration in a throw-away folder on a free 127.0.0.1 port.

Paths come from the environment (ctest sets them, see CMakeLists.txt):
  TS_MODULE      mod_tenant_tag.so
  TS_LIBSANDBOX  libsandbox.so
  TS_CLI         tenant-sandbox (optional)
When a test fails, the error log of every server it started is attached to
the report, so the denial (or its absence) is right there.
"""
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
APACHE = "/usr/sbin/apache2"
NGINX = "/usr/sbin/nginx"
MODULES = "/usr/lib/apache2/modules"
WWW_DATA = pwd.getpwnam("www-data")

# What PHP needs to read while a tenant is set (conf/policy.example.json
# explains each entry).
PHP_READ_ONLY = ["/usr/share/zoneinfo", "/etc/ssl/certs", "/usr/share/php",
                 "/usr/share/ca-certificates", "/etc/localtime", "/dev/urandom",
                 # glibc's resolver (getaddrinfo behind fsockopen/curl) reads these
                 # itself; invisible to LD_PRELOAD, enforced by Landlock.
                 "/etc/hosts", "/etc/host.conf", "/etc/resolv.conf", "/etc/nsswitch.conf",
                 "/etc/gai.conf", "/etc/services", "/etc/protocols"]

_servers = []  # every server started by the running test (for the report)


def required_path(var):
    value = os.environ.get(var)
    if not value or not os.path.exists(value):
        pytest.fail(f"{var} must name an existing file (got {value!r}); run through ctest")
    return value


@pytest.fixture(scope="session")
def paths():
    return {"module": required_path("TS_MODULE"), "libsandbox": required_path("TS_LIBSANDBOX"),
            "cli": os.environ.get("TS_CLI")}


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError(f"not JSON (status {self.status}): {self.text[:500]}")

    def __repr__(self):
        return f"<Response {self.status} {self.text[:300]!r}>"


def http(port, path="/", host="localhost", headers=(), timeout=15, addr="127.0.0.1",
         source=None, close_after_send=False):
    """One HTTP/1.0 request over a raw socket, so a test can send what a
    library would refuse to: duplicated, over-long and non-ASCII headers.
    headers: list of (name, value) with str or bytes values."""
    req = [f"GET {path} HTTP/1.0".encode(), b"Host: " + (host.encode() if isinstance(host, str) else host)]
    for name, value in headers:
        v = value if isinstance(value, bytes) else value.encode()
        req.append(name.encode() + b": " + v)
    data = b"\r\n".join(req) + b"\r\n\r\n"
    with socket.create_connection((addr, port), timeout=timeout,
                                  source_address=(source, 0) if source else None) as s:
        s.sendall(data)
        if close_after_send:
            return None
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not lines or not lines[0].startswith(b"HTTP/"):
        raise AssertionError(f"no HTTP response: {raw[:200]!r}")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        hdrs[k.decode().strip().lower()] = v.decode("latin-1").strip()
    return Response(status, hdrs, body)


def _read_response(f):
    """One HTTP/1.1 response from the buffered socket file f (Content-Length,
    chunked, or to EOF). None at EOF before a status line."""
    line = f.readline()
    if not line:
        return None
    if not line.startswith(b"HTTP/"):
        raise AssertionError(f"no HTTP response: {line[:200]!r}")
    status = int(line.split()[1])
    hdrs = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.partition(b":")
        hdrs[k.decode().strip().lower()] = v.decode("latin-1").strip()
    if hdrs.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int(f.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while f.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            body += f.read(size)
            f.readline()
    elif "content-length" in hdrs:
        body = f.read(int(hdrs["content-length"]))
    elif status in (204, 304):
        body = b""
    else:
        body = f.read()
    return Response(status, hdrs, body)


def http_pipeline(port, requests, timeout=30, addr="127.0.0.1", pipelined=True):
    """Several HTTP/1.1 requests on ONE keep-alive connection. requests: list
    of (host, path) or (host, path, headers). pipelined=True writes them all
    before reading any answer (what a pipelining client, or a proxy's upstream
    keep-alive pool under load, does); False waits for each answer before the
    next request (plain keep-alive). Returns the responses in order; a
    missing answer (the connection closed early) is None."""
    def encode(req):
        host, path, *rest = req
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{k}: {v}" for k, v in (rest[0] if rest else ())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()
    out = []
    with socket.create_connection((addr, port), timeout=timeout) as s:
        f = s.makefile("rb")
        if pipelined:
            s.sendall(b"".join(encode(r) for r in requests))
            for _ in requests:
                out.append(_read_response(f))
        else:
            for r in requests:
                s.sendall(encode(r))
                out.append(_read_response(f))
    return out


def make_tenant_dir(root, tenant):
    """A tenant's folder: the probe script, a library to include, a secret,
    sessions/ and tmp/, owned by www-data (Apache's user)."""
    d = os.path.join(root, "www", tenant)
    os.makedirs(os.path.join(d, "sessions"), exist_ok=True)
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    for f in ("t.php", "lib.php", "t.lua"):
        shutil.copy(os.path.join(HERE, "www", f), d)
    with open(os.path.join(d, "secret.txt"), "w") as fh:
        fh.write(f"secret-of-{tenant}")
    with open(os.path.join(d, "index.html"), "w") as fh:
        fh.write(f"page-of-{tenant}\n")
    for dirpath, dirnames, filenames in os.walk(d):
        os.chown(dirpath, WWW_DATA.pw_uid, WWW_DATA.pw_gid)
        for f in filenames:
            os.chown(os.path.join(dirpath, f), WWW_DATA.pw_uid, WWW_DATA.pw_gid)
    return d


def policy_for(root, tenants, extra_defaults=None, tenant_rules=None, unknown="deny"):
    defaults = {"read_only": list(PHP_READ_ONLY), "ip_allow": ["127.0.0.1/32", "::1/128"]}
    defaults.update(extra_defaults or {})
    return {
        "version": 1,
        "tenant_root": os.path.join(root, "www", "{tenant}"),
        "unknown_tenants": unknown,
        "defaults": defaults,
        "tenants": {t: (tenant_rules or {}).get(t, {}) for t in tenants},
    }


class Apache:
    """One httpd: config generation, start, graceful, stop, logs."""

    def __init__(self, paths, root, mpm="prefork", php=True, workers=3, preload=True):
        self.paths, self.root, self.mpm, self.use_php = paths, root, mpm, php
        self.workers, self.preload = workers, preload
        self.port = free_port()
        self.conf = os.path.join(root, "httpd.conf")
        self.policy_path = os.path.join(root, "policy.json")
        self.error_log_path = os.path.join(root, "error.log")
        self.access_log_path = os.path.join(root, "access.log")
        self.pid_file = os.path.join(root, "httpd.pid")
        self.server_extra = []   # lines in the main server
        self.vhosts = []         # <VirtualHost> bodies (lists of lines)
        self.extra_modules = []
        self.started = False
        os.makedirs(os.path.join(root, "www"), exist_ok=True)
        os.makedirs(os.path.join(root, "run"), exist_ok=True)
        os.chmod(root, 0o755)
        # TENANT_SANDBOX_STATE_DIR of this server alone (connection budget,
        # requests in progress), so servers never share counts: root and
        # Apache's group, 0750, as /run/tenant-sandbox is meant to be.
        self.state_dir = os.path.join(root, "state")
        os.makedirs(self.state_dir, exist_ok=True)
        os.chown(self.state_dir, 0, WWW_DATA.pw_gid)
        os.chmod(self.state_dir, 0o750)
        _servers.append(self)

    # ---- configuration -------------------------------------------------
    def write_policy(self, policy):
        with open(self.policy_path, "w") as fh:
            fh.write(policy if isinstance(policy, str) else json.dumps(policy, indent=1))

    def add_vhost(self, name, lines):
        self.vhosts.append([f"ServerName {name}"] + list(lines))

    def tenant_vhost(self, tenant, extra=()):
        d = os.path.join(self.root, "www", tenant)
        self.add_vhost(f"{tenant}.test", [
            f"DocumentRoot {d}",
            f"TenantId {tenant}",
            f"php_admin_value session.save_path {d}/sessions" if self.use_php else "",
            f"php_admin_value upload_tmp_dir {d}/tmp" if self.use_php else "",
            f"php_admin_value sys_temp_dir {d}/tmp" if self.use_php else "",
            *extra])

    def render(self):
        mpm = {"prefork": f"""LoadModule mpm_prefork_module {MODULES}/mod_mpm_prefork.so
StartServers {self.workers}
MinSpareServers 1
MaxSpareServers {self.workers}
ServerLimit {self.workers}
MaxRequestWorkers {self.workers}
MaxConnectionsPerChild 0""",
               "event": f"""LoadModule mpm_event_module {MODULES}/mod_mpm_event.so
StartServers 2
ServerLimit 2
ThreadsPerChild 16
MaxRequestWorkers 32
MinSpareThreads 1
MaxSpareThreads 32"""}[self.mpm]
        mods = ["authz_core", "mime", "dir", "vhost_alias"] + self.extra_modules
        lines = [f"ServerRoot {self.root}", f"PidFile {self.pid_file}",
                 f"DefaultRuntimeDir {self.root}/run", f"Mutex file:{self.root}/run default",
                 f"Listen 127.0.0.1:{self.port}", "ServerName localhost",
                 "User www-data", "Group www-data", mpm]
        lines += [f"LoadModule {m}_module {MODULES}/mod_{m}.so" for m in mods]
        if self.use_php:
            lines.append(f"LoadModule php_module {MODULES}/libphp8.2.so")
        lines += [f"LoadModule tenant_tag_module {self.paths['module']}",
                  "TypesConfig /etc/mime.types", "DirectoryIndex index.php index.html",
                  f"ErrorLog {self.error_log_path}", "LogLevel info",
                  # port= and ka= tell which requests shared a connection.
                  'LogFormat "%a %v tenant=%{TENANT_ID}e \\"%r\\" %>s port=%{remote}p ka=%k confined=%{TENANT_CONFINED}e" tenant',
                  f"CustomLog {self.access_log_path} tenant",
                  "Timeout 10",
                  # Keep-alive as real hosting runs it (and as nginx's upstream
                  # keepalive pool uses it): several requests, of several
                  # tenants, on one connection (THREATS 23).
                  "KeepAlive On", "MaxKeepAliveRequests 1000", "KeepAliveTimeout 5",
                  # AllowOverride None everywhere: an .htaccess probe outside the
                  # tenant's paths would be EACCES, which Apache turns into 403.
                  "<Directory />", "AllowOverride None", "Require all denied", "</Directory>",
                  f"<Directory {self.root}/www>", "Require all granted", "</Directory>"]
        if self.use_php:
            lines += ['<FilesMatch "\\.php$">', "SetHandler application/x-httpd-php", "</FilesMatch>",
]
            # No opcache.validate_permission / restrict_api here: the module
            # forces them for every tenant request (e2e.front_door shows it).
        lines += ["TenantSandbox On", f"TenantPolicy {self.policy_path}"]
        lines += self.server_extra
        for body in self.vhosts:
            lines += [f"<VirtualHost *:{self.port}>", *[l for l in body if l], "</VirtualHost>"]
        with open(self.conf, "w") as fh:
            fh.write("\n".join(lines) + "\n")

    # ---- process control -----------------------------------------------
    def env(self):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C",
               "TENANT_SANDBOX_STATE_DIR": self.state_dir}
        if self.preload:
            env["LD_PRELOAD"] = self.paths["libsandbox"]
        return env

    def ctl(self, *args, timeout=60):
        return subprocess.run([APACHE, "-f", self.conf, *args], env=self.env(),
                              capture_output=True, text=True, timeout=timeout)

    def start(self, expect_ok=True):
        self.render()
        r = self.ctl("-k", "start")
        if r.returncode != 0:
            if expect_ok:
                raise AssertionError(f"apache2 -k start failed ({r.returncode}):\n{r.stdout}{r.stderr}\n"
                                     f"--- error log ---\n{self.error_log()}")
            return r
        self.started = True
        self.wait_up()
        return r

    def pid(self):
        try:
            with open(self.pid_file) as fh:
                return int(fh.read().strip())
        except (OSError, ValueError):
            return None

    def wait_up(self, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    if self.pid():
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"httpd did not come up on {self.port}\n{self.error_log()}")

    def graceful(self, signal_only=False):
        """`apache2 -k graceful` (which first checks the configuration in the
        signalling process, as apache2ctl does), or with signal_only the bare
        SIGUSR1 to the parent (logrotate, kill -USR1), which makes the running
        parent re-read everything itself."""
        gen_marker = self.error_log().count("resuming normal operations")
        if signal_only:
            os.kill(self.pid(), signal.SIGUSR1)
        else:
            r = self.ctl("-k", "graceful")
            assert r.returncode == 0, r.stderr
        end = time.time() + 20
        while time.time() < end and self.error_log().count("resuming normal operations") <= gen_marker:
            time.sleep(0.2)
        time.sleep(0.5)

    def children(self):
        ppid = self.pid()
        out = []
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as fh:
                        fields = fh.read().rsplit(")", 1)[1].split()
                    if int(fields[1]) == ppid:
                        out.append(int(d))
                except OSError:
                    pass
        return out

    def worker_pids(self, timeout=10):
        """The workers once all StartServers are up (prefork forks them
        after the parent answers; event starts 2)."""
        want = self.workers if self.mpm == "prefork" else 2
        end = time.time() + timeout
        while time.time() < end:
            kids = self.children()
            if len(kids) >= want:
                return set(kids)
            time.sleep(0.1)
        raise AssertionError(f"only {self.children()} of {want} workers up\n{self.error_log()[-2000:]}")

    def stop(self):
        pid = self.pid()
        if not self.started or not pid:
            return
        self.ctl("-k", "stop")
        end = time.time() + 15
        while time.time() < end:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
        self.started = False

    # ---- observation ----------------------------------------------------
    def error_log(self):
        try:
            with open(self.error_log_path, errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    def denials(self, tenant=None):
        lines = [l for l in self.error_log().splitlines() if "tenant-sandbox: deny" in l]
        if tenant:
            lines = [l for l in lines if f"tenant={tenant} " in l]
        return lines

    def access_log(self):
        try:
            with open(self.access_log_path, errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    def get(self, host, path="/", **kw):
        return http(self.port, path, host=host, **kw)

    def php(self, host, op, arg="", **params):
        from urllib.parse import urlencode
        q = urlencode({"op": op, "arg": arg, **params})
        return self.get(host, f"/t.php?{q}").json()


@pytest.fixture
def tmproot():
    d = tempfile.mkdtemp(prefix="ts-e2e-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def apache_factory(paths, tmproot):
    made = []

    def make(**kw):
        sub = os.path.join(tmproot, f"httpd{len(made)}")
        os.makedirs(sub)
        a = Apache(paths, sub, **kw)
        made.append(a)
        return a
    yield make
    for a in made:
        a.stop()


@pytest.fixture
def two_tenants(apache_factory):
    """prefork + mod_php, tenants site-a and site-b (TenantId vhosts), an
    unconfined control vhost "free" (TenantSandbox Off) that proves each
    attack works without the sandbox, and a default vhost with no tenant."""
    a = apache_factory()
    for t in ("default", "site-a", "site-b", "free"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"]))
    a.add_vhost("default.test", [f"DocumentRoot {a.root}/www/default"])
    a.tenant_vhost("site-a")
    a.tenant_vhost("site-b")
    a.add_vhost("free.test", [f"DocumentRoot {a.root}/www/free", "TenantSandbox Off"])
    a.start()
    return a


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        for s in list(_servers):
            rep.sections.append((f"error log of httpd {s.root}", s.error_log()[-6000:]))
    if rep.when == "teardown":
        _servers.clear()
