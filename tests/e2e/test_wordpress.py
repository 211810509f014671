"""Two real WordPress sites (Debian's wordpress package, one copy per site in
its tenant folder) on one Apache (prefork + mod_php, TenantSandbox On,
kernel layer on by default) with their own databases on a private MariaDB
reached through a unix socket under /run. Everything goes through HTTP: the
installer, login, pretty permalinks (.htaccess + mod_rewrite), a post by
its pretty URL, a media upload, a comment and wp-cron.php. Then site A's
must-use plugin attacks site B (read its wp-config.php, list and write its
uploads) and a symlink in A's uploads points at B's wp-config.php: all
refused and logged for tenant wp-a, while the same attacks through an
unconfined control vhost (TenantSandbox Off) on A's folder succeed -- so
the test fails if the sandbox is removed."""
import grp
import os
import pwd
import re
import stat
import shutil
import tempfile
import time
from urllib.parse import urlencode

import pytest

import conftest
from conftest import WWW_DATA, Apache, policy_for
import wordpress
from wordpress import MariaDB, WPClient, make_site, png

SITES = {"wp-a": {"db": "wp_a", "user": "wp_a"}, "wp-b": {"db": "wp_b", "user": "wp_b"}}
CONTROL = "wp-a-free.test"   # A's folder served with TenantSandbox Off
ADMIN = "admin"


class WP:
    """What the module's fixture built."""

    def __init__(self, root, apache, db):
        self.root, self.a, self.db = root, apache, db
        self.pw = {t: "pw" + os.urandom(8).hex() for t in SITES}
        self.clients = {}

    def dir(self, tenant):
        return os.path.join(self.a.root, "www", tenant)

    def client(self, tenant):
        return self.clients[tenant]


@pytest.fixture(scope="module")
def wp(paths):
    missing = wordpress.missing_packages()
    if missing:
        pytest.fail(f"missing Debian packages {' '.join(missing)}: run scripts/deps.sh (as root)")
    root = tempfile.mkdtemp(prefix="ts-e2e-wp-", dir="/tmp")
    os.chmod(root, 0o755)
    db = MariaDB(os.path.join(root, "db"))
    a = None
    try:
        db.start()
        sub = os.path.join(root, "httpd")
        os.makedirs(sub)
        a = Apache(paths, sub)
        w = WP(root, a, db)
        for t, s in SITES.items():
            db.create_site_db(s["db"], s["user"], w.pw[t])
            make_site(w.dir(t), t, db.socket, s["db"], s["user"], w.pw[t], attack_plugin=(t == "wp-a"))
        # The minimum WordPress needed (wordpress.WP_READ_ONLY says why), not
        # conftest's PHP_READ_ONLY: the test shows these are enough.
        a.write_policy(policy_for(a.root, list(SITES), extra_defaults=wordpress.policy_rules(db.socket)))
        a.extra_modules.append("rewrite")
        # .htaccess (WordPress's rewrite block) is read inside the tenant
        # folders only: AllowOverride FileInfo there, None above (conftest's
        # <Directory />).
        for t in SITES:
            a.server_extra += [f"<Directory {w.dir(t)}>", "AllowOverride FileInfo", "</Directory>"]
            a.tenant_vhost(t)
        a.add_vhost(CONTROL, [f"DocumentRoot {w.dir('wp-a')}", "TenantSandbox Off"])
        a.start()
        for t in SITES:
            c = w.clients[t] = WPClient(a.port, f"{t}.test")
            c.install(f"Site {t}", ADMIN, w.pw[t], f"admin@{t}.invalid")
            c.login(ADMIN, w.pw[t])
            c.set_permalinks("/%postname%/")
        yield w
    finally:
        if a is not None:
            a.stop()
        db.stop()
        shutil.rmtree(root, ignore_errors=True)
    # nothing left behind: no mariadbd, no socket folder under /run
    assert not db.running(), "mariadbd still running"
    assert not (db.rundir and os.path.exists(db.rundir)), f"{db.rundir} left behind"


@pytest.fixture(autouse=True)
def _attach_logs(request):
    """conftest attaches the error log of the servers of the running test;
    this module's server outlives a single test."""
    if "wp" in request.fixturenames:
        w = request.getfixturevalue("wp")
        if w.a not in conftest._servers:
            conftest._servers.append(w.a)
    yield


def unexpected_denials(wp):
    """Denials not caused by the attack tests (which name wp-b's folder for
    tenant wp-a). WordPress's own work is denied one thing only: wp_mail()
    (new-site notice at install, comment notices) runs PHP's mail(), which
    is popen("/bin/sh -c /usr/sbin/sendmail ...") -- the policy has no exec
    list (and this machine no MTA); WordPress carries on without the mail."""
    mail = 'op=popen need=exec target="/bin/sh"'
    return [l for l in wp.a.denials()
            if not ("tenant=wp-a " in l and wp.dir("wp-b") in l) and mail not in l]


def test_kernel_layer_on_without_fallback(wp):
    log = wp.a.error_log()
    assert "AH10908: TenantKernelConfine On" in log and "AH10931" in log, log[-3000:]
    # no 503 for failed confinement, no tag left behind (tests/e2e/test_kernel_layers.py)
    for tag in ("AH10932", "AH10933", "AH10934", "AH10935", "AH10936", "AH10940", "AH10916", "AH10917"):
        assert tag not in log, (tag, log[-3000:])
    # WordPress (with its plugins) ran on a confined thread, not the worker's
    # own: Apache's error log line of PHP's error_log() names the thread.
    for t in SITES:
        r = WPClient(wp.a.port, f"{t}.test").get("/?ts_probe=1")
        assert r.status == 200 and r.json() == {"tenant": t, "blog": f"Site {t}"}, r
    probes = [l for l in wp.a.error_log().splitlines() if "ts-probe tenant=" in l]
    for t in SITES:
        mine = [l for l in probes if f"ts-probe tenant={t}" in l]
        assert mine and all(re.search(r"\[pid (\d+):tid (?!\1\])\d+\]", l) for l in mine), probes


def test_mariadb_socket_is_private_and_under_run(wp):
    db = wp.db
    mysql, www = pwd.getpwnam("mysql"), grp.getgrnam("www-data")
    assert os.path.dirname(db.rundir) == "/run" and not db.socket.startswith("/tmp")
    st = os.stat(db.rundir)
    assert (st.st_uid, st.st_gid) == (mysql.pw_uid, www.gr_gid)
    assert stat.S_IMODE(st.st_mode) == 0o750, oct(st.st_mode)
    st = os.stat(db.socket)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)
    assert (st.st_uid, st.st_gid) == (mysql.pw_uid, www.gr_gid)
    assert db.sql("SELECT @@skip_networking").strip() == "1"
    # each site's user sees its own database only
    assert db.sql("SELECT GROUP_CONCAT(Db ORDER BY Db) FROM mysql.db WHERE User LIKE 'wp\\_%'").strip() \
        == "wp_a,wp_b"
    grants = db.sql("SHOW GRANTS FOR 'wp_a'@'localhost'")
    assert "GRANT ALL PRIVILEGES ON `wp_a`.* TO `wp_a`@`localhost`" in grants and "wp_b" not in grants


def test_installed_each_with_its_own_content_and_htaccess(wp):
    for t in SITES:
        c = WPClient(wp.a.port, f"{t}.test")   # a visitor, no cookies
        r = c.get("/")
        assert r.status == 200 and f"Site {t}" in r.text, r
        other = "wp-b" if t == "wp-a" else "wp-a"
        assert f"Site {other}" not in r.text
        # WordPress wrote the standard rewrite block into the site's own folder
        ht = open(os.path.join(wp.dir(t), ".htaccess")).read()
        assert "# BEGIN WordPress" in ht and "RewriteRule . /index.php [L]" in ht, ht
        assert os.stat(os.path.join(wp.dir(t), ".htaccess")).st_uid == WWW_DATA.pw_uid
        # its own database
        assert wp.db.sql(f"SELECT option_value FROM {SITES[t]['db']}.wp_options "
                         "WHERE option_name='blogname'").strip() == f"Site {t}"
    assert not unexpected_denials(wp), unexpected_denials(wp)


def test_post_by_pretty_url_and_comment(wp):
    posts = {}
    for t in SITES:
        c = wp.client(t)
        p = posts[t] = c.create_post(f"Post of {t}", f"<p>content-of-{t}</p>")
        assert p["link"] == f"http://{t}.test/post-of-{t}/", p["link"]
        r = WPClient(wp.a.port, f"{t}.test").get(f"/post-of-{t}/")
        assert r.status == 200 and f"content-of-{t}" in r.text, r
        # a pretty URL of a post the site does not have
        other = "wp-b" if t == "wp-a" else "wp-a"
        assert WPClient(wp.a.port, f"{t}.test").get(f"/post-of-{other}/").status == 404
    for t in SITES:
        c = wp.client(t)
        loc = c.comment(posts[t]["id"], f"comment-on-{t}")
        assert re.search(r"#comment-\d+$", loc), loc
        r = c.get(f"/post-of-{t}/")
        assert r.status == 200 and f"comment-on-{t}" in r.text, r
    assert wp.db.sql("SELECT comment_content FROM wp_a.wp_comments WHERE comment_content LIKE 'comment-on-%'"
                     ).split() == ["comment-on-wp-a"]
    assert not unexpected_denials(wp), unexpected_denials(wp)


def test_media_upload(wp):
    for i, t in enumerate(SITES):
        c = wp.client(t)
        data = png(seed=i)
        up = c.upload_media(f"picture-{t}.png", data)
        url = up["url"]
        assert url.startswith(f"http://{t}.test/wp-content/uploads/"), url
        rel = url.split(f"http://{t}.test/", 1)[1]
        local = os.path.join(wp.dir(t), rel)
        assert open(local, "rb").read() == data
        r = WPClient(wp.a.port, f"{t}.test").get("/" + rel)
        assert r.status == 200 and r.body == data, r
        # GD made the thumbnail next to it
        thumbs = [s for s in up.get("sizes", {}).values() if s.get("url") != url]
        assert thumbs, up.get("sizes")
        thumb = os.path.join(os.path.dirname(local), os.path.basename(thumbs[0]["url"]))
        assert os.path.exists(thumb), thumb
    assert not unexpected_denials(wp), unexpected_denials(wp)


def test_wp_cron(wp):
    for t in SITES:
        r = WPClient(wp.a.port, f"{t}.test").get("/wp-cron.php")
        assert r.status == 200, r
    assert not unexpected_denials(wp), unexpected_denials(wp)


def test_access_log_names_each_sites_tenant(wp):
    log = open(wp.a.access_log_path).read().splitlines()
    for t in SITES:
        mine = [l for l in log if f" {t}.test " in l]
        assert len(mine) > 10, mine
        assert all(f"tenant={t} " in l for l in mine), [l for l in mine if f"tenant={t} " not in l]


def denials_since(wp, offset, tenant):
    """Denial lines of tenant written after error-log offset offset. (The
    same tenant, operation and target is logged once per 10 s, so each
    attack below names targets and operations no other test produces.)"""
    return [l for l in wp.a.error_log()[offset:].splitlines()
            if "tenant-sandbox: deny" in l and f"tenant={tenant} " in l]


def attack(wp, host):
    r = WPClient(wp.a.port, host).get("/?" + urlencode({"ts_attack": wp.dir("wp-b")}))
    assert r.status == 200, r
    return r.json()


def test_mu_plugin_of_a_cannot_reach_b(wp):
    b = wp.dir("wp-b")
    uploads_b = os.path.join(b, "wp-content", "uploads")
    with open(os.path.join(uploads_b, "b-marker.txt"), "w") as fh:
        fh.write("marker of wp-b")
    # Control: the same plugin through the unconfined vhost does all three.
    free = attack(wp, CONTROL)
    assert free["tenant"] is None
    assert free["read"]["ok"] and wp.pw["wp-b"] in free["read"]["data"], free["read"]
    assert free["list"]["ok"] and "b-marker.txt" in free["list"]["entries"], free["list"]
    planted = free["write"]["target"]
    assert planted.startswith(uploads_b + "/")
    assert free["write"]["ok"] and os.path.exists(planted), free["write"]
    os.unlink(planted)
    # Under the sandbox: nothing.
    offset = len(wp.a.error_log())
    r = attack(wp, "wp-a.test")
    assert r["tenant"] == "wp-a"
    assert not r["read"]["ok"] and r["read"]["data"] is None, r["read"]
    assert not r["list"]["ok"] and r["list"]["entries"] == [], r["list"]
    assert not r["write"]["ok"], r["write"]
    assert not os.path.exists(os.path.join(uploads_b, "planted-by-wp-a.php"))
    denials = denials_since(wp, offset, "wp-a")
    for what in ("read", "list", "write"):
        target = r[what]["target"]
        assert any(f'"{target}"' in l for l in denials), f"no denial naming {target}: {denials}"
    assert not any(b in l for l in wp.a.denials("wp-b")), "denial blamed on wp-b"


def test_symlink_in_a_uploads_to_b_config_is_not_served(wp):
    link = os.path.join(wp.dir("wp-a"), "wp-content", "uploads", "b-config.txt")
    target = os.path.join(wp.dir("wp-b"), "wp-config.php")
    if not os.path.islink(link):
        os.symlink(target, link)
        os.lchown(link, WWW_DATA.pw_uid, WWW_DATA.pw_gid)
    path = "/wp-content/uploads/b-config.txt"
    free = WPClient(wp.a.port, CONTROL).get(path)
    assert free.status == 200 and wp.pw["wp-b"] in free.text, free
    offset = len(wp.a.error_log())
    r = WPClient(wp.a.port, "wp-a.test").get(path)
    assert r.status in (403, 404), r
    assert wp.pw["wp-b"] not in r.text and "DB_PASSWORD" not in r.text
    denials = denials_since(wp, offset, "wp-a")
    assert any(target in l for l in denials), f"no denial naming {target}: {denials}"
