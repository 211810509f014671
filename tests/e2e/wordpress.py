"""WordPress sites on tenant-sandbox, shared by tests/e2e/test_wordpress.py
and `scripts/demo.sh --wordpress` (which runs this file as a script, so
nothing here needs pytest):

  MariaDB     a private MariaDB instance: mariadb-install-db into a throw-away
              datadir, mariadbd --skip-networking, its socket in
              /run/ts-mariadb-XXXX/ (mysql:www-data 0750, socket 0660)
  make_site   a site's own copy of Debian's WordPress in its tenant folder,
              with its own wp-config.php (own database, user, password)
  WPClient    HTTP with cookies and WordPress's forms: install, login,
              permalinks, REST posts, media upload, comments, wp-cron
  ATTACK_PLUGIN  the hostile must-use plugin of the attack tests
  PROBE_PLUGIN   a must-use plugin answering which tenant and thread ran it

Command line (the demo's entry points):
  wordpress.py mariadb-start STATE_DIR       prints the socket path
  wordpress.py mariadb-stop  STATE_DIR
  wordpress.py make-site     DIR TENANT SOCKET DB_NAME DB_USER DB_PASSWORD [--attack-plugin]
  wordpress.py create-db     STATE_DIR DB_NAME DB_USER DB_PASSWORD
  wordpress.py policy        OUT ROOT_TEMPLATE SOCKET TENANT...
  wordpress.py install       PORT HOST TITLE ADMIN_PASSWORD [CONTENT]
"""
import grp
import http.client
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from urllib.parse import urlencode, urlsplit

WORDPRESS_SRC = "/usr/share/wordpress"
THEME = "twentytwentythree"    # WP_DEFAULT_THEME of WordPress 6.1
MARIADB_INSTALL_DB = "/usr/bin/mariadb-install-db"
MARIADBD = "/usr/sbin/mariadbd"
MARIADB = "/usr/bin/mariadb"
MARIADB_ADMIN = "/usr/bin/mariadb-admin"

# Everything WordPress read outside its own folder in the test's flows
# (install, login, permalinks, REST, upload with thumbnails, comment, cron),
# found by starting from nothing and reading the denial lines:
#   /usr/share/zoneinfo  PHP's timezone database (Debian's PHP uses the
#                        system tzdata): without it date_default_timezone_get()
#                        throws "Timezone database is corrupt" and the
#                        installer dies with 500 (in PHPMailer's date header)
#   /dev/urandom         phpass (wp-includes/class-phpass.php) reads it for
#                        password-hash salts; without it it silently falls
#                        back to weak microtime/md5 "randomness"
# Code, theme, uploads, sessions and temporary files are all in the site's
# own folder; the database is the unix socket (policy_rules).
WP_READ_ONLY = ["/usr/share/zoneinfo", "/dev/urandom"]

# file -> Debian package that brings it (scripts/deps.sh installs them all)
REQUIRED = {
    WORDPRESS_SRC + "/wp-settings.php": "wordpress",
    f"{WORDPRESS_SRC}/wp-content/themes/{THEME}/style.css": "wordpress-theme-twentytwentythree",
    "/usr/lib/php/20220829/mysqli.so": "php8.2-mysql",
    "/usr/lib/php/20220829/gd.so": "php8.2-gd",
    MARIADB_INSTALL_DB: "mariadb-server",
    MARIADBD: "mariadb-server-core",
    MARIADB: "mariadb-client",
    "/usr/lib/apache2/modules/mod_rewrite.so": "apache2",
}


def missing_packages():
    """The Debian packages whose files are missing (empty when all there)."""
    return sorted({pkg for path, pkg in REQUIRED.items() if not os.path.exists(path)})


def _chown_tree(d, user="www-data"):
    pw = pwd.getpwnam(user)
    os.chown(d, pw.pw_uid, pw.pw_gid)
    for dirpath, dirnames, filenames in os.walk(d):
        for n in dirnames + filenames:
            os.lchown(os.path.join(dirpath, n), pw.pw_uid, pw.pw_gid)


# ---------------------------------------------------------------------------
# MariaDB
# ---------------------------------------------------------------------------
class MariaDB:
    """A private MariaDB: datadir and logs under workdir (root's, 0700),
    socket in its own folder under /run: owned by mysql, group www-data
    (Apache's workers connect through it), folder 0750, socket 0660 --
    never /tmp, never world-accessible. No TCP (--skip-networking).
    The state (pid, paths) is kept in workdir/mariadb.json so another
    process (the demo's later steps) can stop it."""

    SOCKET_NAME = "mysqld.sock"

    def __init__(self, workdir):
        self.workdir = workdir
        self.state_file = os.path.join(workdir, "mariadb.json")
        # mysql's own folder (0700): datadir, error log, pid file
        self.home = os.path.join(workdir, "mariadb")
        self.datadir = os.path.join(self.home, "data")
        self.log = os.path.join(self.home, "error.log")
        self.pid_file = os.path.join(self.home, "mariadbd.pid")
        self.console = os.path.join(workdir, "mariadbd.out")   # its stdout/stderr
        self.rundir = None
        self.socket = None
        self.pid = None
        self._proc = None
        if os.path.exists(self.state_file):
            with open(self.state_file) as fh:
                st = json.load(fh)
            self.rundir, self.socket, self.pid = st["rundir"], st["socket"], st["pid"]

    def _save(self):
        with open(self.state_file, "w") as fh:
            json.dump({"rundir": self.rundir, "socket": self.socket, "pid": self.pid}, fh)

    def start(self, timeout=60):
        mysql = pwd.getpwnam("mysql")
        www = grp.getgrnam("www-data")
        os.makedirs(self.workdir, exist_ok=True)
        os.makedirs(self.home, exist_ok=True)
        os.chown(self.home, mysql.pw_uid, mysql.pw_gid)
        os.chmod(self.home, 0o700)
        self.rundir = tempfile.mkdtemp(prefix="ts-mariadb-", dir="/run")
        os.chown(self.rundir, mysql.pw_uid, www.gr_gid)
        os.chmod(self.rundir, 0o750)
        self.socket = os.path.join(self.rundir, self.SOCKET_NAME)
        self._save()
        small = ["--innodb-log-file-size=16M", "--innodb-buffer-pool-size=32M"]
        r = subprocess.run([MARIADB_INSTALL_DB, "--no-defaults", "--user=mysql",
                            f"--datadir={self.datadir}", "--auth-root-authentication-method=socket",
                            "--skip-test-db", "--skip-name-resolve", *small],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        with open(self.console, "ab") as log:
            self._proc = subprocess.Popen(
                [MARIADBD, "--no-defaults", "--user=mysql", f"--datadir={self.datadir}",
                 f"--socket={self.socket}", "--skip-networking", f"--pid-file={self.pid_file}",
                 f"--log-error={self.log}", "--skip-log-bin", "--skip-name-resolve", *small],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        self.pid = self._proc.pid
        self._save()
        end = time.time() + timeout
        while time.time() < end:
            if self._proc.poll() is not None:
                raise RuntimeError(f"mariadbd exited ({self._proc.returncode}):\n{self.log_text()}")
            if os.path.exists(self.socket) and subprocess.run(
                    [MARIADB_ADMIN, "--no-defaults", f"--socket={self.socket}", "-uroot", "ping"],
                    capture_output=True).returncode == 0:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"mariadbd did not answer on {self.socket}:\n{self.log_text()}")
        # mariadbd makes its socket 0777 (mysql:mysql); Apache's group alone
        # may connect.
        os.chown(self.socket, mysql.pw_uid, www.gr_gid)
        os.chmod(self.socket, 0o660)
        return self

    def log_text(self):
        out = ""
        for f in (self.console, self.log):
            try:
                with open(f, errors="replace") as fh:
                    out += f"--- {f}\n" + fh.read()[-3000:]
            except OSError:
                pass
        return out

    def sql(self, statements):
        r = subprocess.run([MARIADB, "--no-defaults", f"--socket={self.socket}", "-uroot",
                            "--batch", "--skip-column-names", "-e", statements],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"SQL failed: {statements}\n{r.stderr}")
        return r.stdout

    def create_site_db(self, name, user, password):
        for v in (name, user, password):
            assert re.fullmatch(r"[A-Za-z0-9_]+", v), v
        self.sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4;"
                 f"CREATE USER '{user}'@'localhost' IDENTIFIED BY '{password}';"
                 f"GRANT ALL PRIVILEGES ON {name}.* TO '{user}'@'localhost';")

    def running(self):
        if not self.pid:
            # killed between starting mariadbd and saving its pid: its own pid file
            try:
                with open(self.pid_file) as fh:
                    self.pid = int(fh.read().strip())
            except (OSError, ValueError):
                return False
        if self._proc is not None:
            return self._proc.poll() is None
        try:
            with open(f"/proc/{self.pid}/cmdline", "rb") as fh:
                return fh.read().split(b"\0")[0].endswith(b"mariadbd")
        except OSError:
            return False

    def stop(self, timeout=30):
        """Shuts it down (SIGTERM to the mariadbd this object started) and
        removes the datadir, its logs and the /run folder."""
        if self.running():
            os.kill(self.pid, signal.SIGTERM)
            end = time.time() + timeout
            while time.time() < end and self.running():
                time.sleep(0.1)
            if self.running():
                os.kill(self.pid, signal.SIGKILL)
                time.sleep(0.5)
            if self._proc is not None:
                self._proc.wait(timeout=10)
        if self.rundir and os.path.basename(self.rundir).startswith("ts-mariadb-"):
            shutil.rmtree(self.rundir, ignore_errors=True)
        shutil.rmtree(self.home, ignore_errors=True)
        for f in (self.state_file, self.console):
            if os.path.exists(f):
                os.unlink(f)


# ---------------------------------------------------------------------------
# Sites
# ---------------------------------------------------------------------------
WP_CONFIG = """<?php
/* {tenant}: written by tenant-sandbox's tests/e2e/wordpress.py (replaces
   Debian's loader of /etc/wordpress/config-HOST.php). */
define('DB_NAME', '{db_name}');
define('DB_USER', '{db_user}');
define('DB_PASSWORD', '{db_password}');
define('DB_HOST', 'localhost:{socket}');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
{salts}
$table_prefix = 'wp_';
define('WP_DEBUG', false);
{extra}
if (!defined('ABSPATH')) {{
    define('ABSPATH', __DIR__ . '/');
}}
require_once ABSPATH . 'wp-settings.php';
"""

ATTACK_PLUGIN = r"""<?php
/* A hostile must-use plugin of one site (tenant-sandbox e2e test and demo):
   given ?ts_attack=FOLDER of another site, it tries to read that site's
   wp-config.php, list its uploads and write a file into them, and answers
   what happened as JSON. Under the sandbox every step must fail. */
if (isset($_GET['ts_attack'])) {
    $other = $_GET['ts_attack'];
    $err = function () { $e = error_get_last(); error_clear_last(); return $e ? $e['message'] : ''; };
    $out = ['tenant' => $_SERVER['TENANT_ID'] ?? null];
    $cfg = @file_get_contents("$other/wp-config.php");
    $out['read'] = ['target' => "$other/wp-config.php", 'ok' => $cfg !== false,
                    'data' => $cfg === false ? null : $cfg, 'error' => $cfg === false ? $err() : ''];
    $ls = @scandir("$other/wp-content/uploads");
    $out['list'] = ['target' => "$other/wp-content/uploads", 'ok' => $ls !== false,
                    'entries' => $ls === false ? [] : $ls, 'error' => $ls === false ? $err() : ''];
    $planted = "$other/wp-content/uploads/planted-by-" . ($_SERVER['TENANT_ID'] ?? 'x') . ".php";
    $w = @file_put_contents($planted, "<?php echo 'planted';\n");
    $out['write'] = ['target' => $planted, 'ok' => $w !== false, 'error' => $w === false ? $err() : ''];
    header('Content-Type: application/json');
    echo json_encode($out);
    exit;
}
"""


PROBE_PLUGIN = r"""<?php
/* tenant-sandbox e2e: on ?ts_probe=1 logs one line through PHP's error_log()
   (Apache's error log names the thread that ran PHP) and answers the tenant. */
if (isset($_GET['ts_probe'])) {
    error_log('ts-probe tenant=' . ($_SERVER['TENANT_ID'] ?? '-'));
    header('Content-Type: application/json');
    echo json_encode(['tenant' => $_SERVER['TENANT_ID'] ?? null, 'blog' => get_option('blogname')]);
    exit;
}
"""


def make_site(site_dir, tenant, socket, db_name, db_user, db_password, attack_plugin=False,
              extra_config=""):
    """site_dir (the tenant's folder) becomes a copy of Debian's WordPress,
    symlinks dereferenced (Debian's tree links into /usr/share/php,
    /usr/share/javascript and /etc; a site must not depend on those), with
    its own wp-config.php, owned by www-data."""
    os.makedirs(site_dir, exist_ok=True)
    subprocess.run(["cp", "-rL", WORDPRESS_SRC + "/.", site_dir], check=True)
    # Debian's .htaccess is a link to its commented-out sample; WordPress
    # writes the real one (its mod_rewrite block) when permalinks are set.
    os.unlink(os.path.join(site_dir, ".htaccess"))
    salts = "\n".join(f"define('{k}', '{secrets.token_hex(32)}');" for k in (
        "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY",
        "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"))
    with open(os.path.join(site_dir, "wp-config.php"), "w") as fh:
        fh.write(WP_CONFIG.format(tenant=tenant, db_name=db_name, db_user=db_user,
                                  db_password=db_password, socket=socket, salts=salts,
                                  extra=extra_config))
    for sub in ("sessions", "tmp", "wp-content/uploads", "wp-content/mu-plugins"):
        os.makedirs(os.path.join(site_dir, sub), exist_ok=True)
    with open(os.path.join(site_dir, "wp-content/mu-plugins/ts-probe.php"), "w") as fh:
        fh.write(PROBE_PLUGIN)
    if attack_plugin:
        with open(os.path.join(site_dir, "wp-content/mu-plugins/ts-attack.php"), "w") as fh:
            fh.write(ATTACK_PLUGIN)
    _chown_tree(site_dir)
    os.chmod(site_dir, 0o755)
    return site_dir


def policy_rules(socket):
    """What the sites need beyond their own folders (policy "defaults")."""
    return {"read_only": list(WP_READ_ONLY), "ip_allow": ["127.0.0.1/32", "::1/128"],
            "unix_sockets": [socket]}


def policy(root_template, tenants, socket):
    """The whole policy file (the demo's; the test builds the same through
    conftest.policy_for)."""
    return {"version": 1, "tenant_root": root_template, "unknown_tenants": "deny",
            "defaults": policy_rules(socket), "tenants": {t: {} for t in tenants}}


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------
class WPResponse:
    def __init__(self, status, headers, body, url):
        self.status, self.headers, self.body, self.url = status, headers, body, url

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError(f"not JSON ({self.status} {self.url}): {self.text[:800]}")

    def __repr__(self):
        return f"<WPResponse {self.status} {self.url} {self.text[:300]!r}>"


def png(width=320, height=200, seed=0):
    """A small RGB PNG (large enough that WordPress makes a thumbnail)."""
    rows = b"".join(b"\0" + bytes(v for x in range(width)
                                  for v in ((x + seed) % 256, (3 * y) % 256, (x ^ y) % 256))
                    for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class WPClient:
    """One browser: cookies, redirects followed within the site, WordPress's
    forms with their nonces. host is the Host header (and the site's URL
    authority), the connection goes to addr:port."""

    def __init__(self, port, host, addr="127.0.0.1", timeout=90):
        self.port, self.host, self.addr, self.timeout = port, host, addr, timeout
        self.cookies = {}

    # ---- plumbing -------------------------------------------------------
    def _path(self, url):
        u = urlsplit(url)
        if u.netloc and u.netloc != self.host:
            raise AssertionError(f"{self.host}: redirect off the site to {url}")
        return (u.path or "/") + (f"?{u.query}" if u.query else "")

    def request(self, method, url, body=None, headers=None, follow=True):
        path = self._path(url)
        for _ in range(8):
            h = {"Host": self.host, "User-Agent": "tenant-sandbox-e2e", "Connection": "close"}
            if self.cookies:
                h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            h.update(headers or {})
            conn = http.client.HTTPConnection(self.addr, self.port, timeout=self.timeout)
            try:
                conn.request(method, path, body=body, headers=h)
                r = conn.getresponse()
                data = r.read()
                hdrs = r.getheaders()
            finally:
                conn.close()
            for k, v in hdrs:
                if k.lower() == "set-cookie":
                    self._set_cookie(v)
            resp = WPResponse(r.status, hdrs, data, path)
            loc = resp.header("Location")
            if follow and r.status in (301, 302, 303, 307) and loc:
                path = self._path(loc)
                if r.status != 307:
                    method, body, headers = "GET", None, None
                continue
            return resp
        raise AssertionError(f"{self.host}: too many redirects at {path}")

    def _set_cookie(self, header):
        first, *attrs = header.split(";")
        name, _, value = first.strip().partition("=")
        gone = any(a.strip().lower() == "max-age=0" for a in attrs) or value.strip() in ("", "+", "deleted")
        if gone:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value

    def get(self, url, **kw):
        return self.request("GET", url, **kw)

    def post(self, url, fields, **kw):
        return self.request("POST", url, body=urlencode(fields),
                            headers={"Content-Type": "application/x-www-form-urlencoded"}, **kw)

    def post_multipart(self, url, fields, files, **kw):
        boundary = "ts" + secrets.token_hex(12)
        parts = []
        for k, v in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
        for k, (filename, data, ctype) in files.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{filename}"\r\n'
                         f"Content-Type: {ctype}\r\n\r\n".encode() + data + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request("POST", url, body=b"".join(parts),
                            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}, **kw)

    def rest(self, method, route, data=None, nonce=None):
        h = {"Content-Type": "application/json"}
        if nonce:
            h["X-WP-Nonce"] = nonce
        return self.request(method, "/wp-json" + route,
                            body=json.dumps(data) if data is not None else None, headers=h)

    @staticmethod
    def _nonce(page, pattern):
        m = re.search(pattern, page.text)
        if not m:
            raise AssertionError(f"no nonce ({pattern}) in {page.url} ({page.status}): {page.text[:800]}")
        return m.group(1)

    # ---- WordPress ------------------------------------------------------
    def install(self, title, user, password, email):
        """The real installer: wp-admin/install.php?step=2."""
        r = self.post("/wp-admin/install.php?step=2", {
            "weblog_title": title, "user_name": user, "admin_password": password,
            "admin_password2": password, "pw_weak": "on", "admin_email": email,
            "blog_public": "0", "Submit": "Install WordPress", "language": ""})
        assert r.status == 200 and "Success!" in r.text, f"{self.host}: install failed: {r!r}"
        return r

    def login(self, user, password):
        r = self.get("/wp-login.php")
        assert r.status == 200 and "wordpress_test_cookie" in self.cookies, f"{self.host}: {r!r}"
        r = self.post("/wp-login.php", {"log": user, "pwd": password, "wp-submit": "Log In",
                                        "redirect_to": "/wp-admin/", "testcookie": "1"})
        assert r.status == 200 and any(c.startswith("wordpress_logged_in_") for c in self.cookies), \
            f"{self.host}: login failed: {r!r}"
        assert "Dashboard" in r.text, f"{self.host}: no dashboard after login: {r!r}"
        return r

    def set_permalinks(self, structure="/%postname%/"):
        page = self.get("/wp-admin/options-permalink.php")
        nonce = self._nonce(page, r'name="_wpnonce" value="([0-9a-f]+)"')
        r = self.post("/wp-admin/options-permalink.php", {
            "_wpnonce": nonce, "_wp_http_referer": "/wp-admin/options-permalink.php",
            "selection": structure, "permalink_structure": structure,
            "category_base": "", "tag_base": "", "submit": "Save Changes"})
        assert r.status == 200 and "Permalink structure updated" in r.text, f"{self.host}: {r!r}"
        return r

    def rest_nonce(self):
        r = self.get("/wp-admin/admin-ajax.php?action=rest-nonce")
        assert r.status == 200 and re.fullmatch(r"[0-9a-f]{10}", r.text), f"{self.host}: {r!r}"
        return r.text

    def create_post(self, title, content):
        r = self.rest("POST", "/wp/v2/posts", {"title": title, "content": content, "status": "publish"},
                      nonce=self.rest_nonce())
        assert r.status == 201, f"{self.host}: REST post failed: {r!r}"
        return r.json()

    def upload_media(self, filename, data, ctype="image/png"):
        """The uploader of wp-admin/media-new.php: async-upload.php with the
        page's media-form nonce."""
        page = self.get("/wp-admin/media-new.php")
        nonce = self._nonce(page, r'"_wpnonce":"([0-9a-f]+)"')
        r = self.post_multipart("/wp-admin/async-upload.php",
                                {"name": filename, "action": "upload-attachment", "_wpnonce": nonce},
                                {"async-upload": (filename, data, ctype)})
        j = r.json()
        assert r.status == 200 and j.get("success"), f"{self.host}: upload failed: {r!r}"
        return j["data"]

    def comment(self, post_id, text):
        r = self.post("/wp-comments-post.php", {"comment": text, "comment_post_ID": str(post_id),
                                                "comment_parent": "0", "submit": "Post Comment"},
                      follow=False)
        assert r.status == 302, f"{self.host}: comment refused: {r!r}"
        return r.header("Location")


# ---------------------------------------------------------------------------
# Command line (scripts/demo.sh --wordpress)
# ---------------------------------------------------------------------------
def _main(argv):
    if not argv:
        print(__doc__)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd == "missing":
        print(" ".join(missing_packages()))
        return 0
    if cmd == "mariadb-start":
        m = MariaDB(args[0]).start()
        print(m.socket)
        return 0
    if cmd == "mariadb-stop":
        MariaDB(args[0]).stop()
        return 0
    if cmd == "create-db":
        MariaDB(args[0]).create_site_db(*args[1:4])
        return 0
    if cmd == "make-site":
        make_site(*args[:6], attack_plugin="--attack-plugin" in args[6:])
        return 0
    if cmd == "policy":
        out, template, socket, *tenants = args
        with open(out, "w") as fh:
            json.dump(policy(template, tenants, socket), fh, indent=1)
        return 0
    if cmd == "install":
        port, host, title, password = args[:4]
        c = WPClient(int(port), host)
        c.install(title, "admin", password, "admin@example.invalid")
        c.login("admin", password)
        c.set_permalinks()
        if len(args) > 4:
            p = c.create_post(f"Hello from {title}", args[4])
            print(p["link"])
        return 0
    print(f"unknown command {cmd}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
