""".htaccess in shared hosting (issue 10 point 2).

Real sites (WordPress permalinks, redirects, php_value lines) need
`AllowOverride FileInfo` (or All) inside their folders. Operators often set
it once for the folder that holds every site (`<Directory /srv/www>`); then
Apache's directory walk opens /srv/www/.htaccess -- a file ABOVE the
tenant's root -- inside every tenant request. libsandbox lets a tenant's
request read Apache's access files (AccessFileName) in the directories above
its allowed paths: absent reads as absent, present is read as the operator
wrote it; never written, never followed as a symlink. Without that, every
tenant request was answered 403/500 (AH00529).

And a tenant's own .htaccess must not loosen the sandbox: php_value lines
pointing at another tenant's folder fail like the same call from PHP code.
Each attack is shown to work on an unconfined vhost first.
"""
import os

import pytest

from conftest import http, make_tenant_dir, policy_for


@pytest.fixture
def hosting(apache_factory):
    a = apache_factory()
    a.extra_modules += ["rewrite", "headers"]
    for t in ("site-a", "site-b", "free"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"]))
    # AllowOverride on the folder that holds every site, as a mass-hosting
    # operator writes it; None above it (the harness's <Directory />).
    a.server_extra += [f"<Directory {a.root}/www>", "AllowOverride All", "</Directory>"]
    # As on a mass-hosting server, PHP's session folder is not fixed per
    # vhost by php_admin_value (which .htaccess could not override anyway).
    for t in ("site-a", "site-b"):
        a.add_vhost(f"{t}.test", [f"DocumentRoot {a.root}/www/{t}", f"TenantId {t}"])
    a.add_vhost("free.test", [f"DocumentRoot {a.root}/www/free", "TenantSandbox Off"])
    return a


def write(path, text):
    with open(path, "w") as fh:
        fh.write(text)
    os.chown(path, 33, 33)


def test_allowoverride_above_tenant_roots_serves_every_tenant(hosting):
    a = hosting
    a.start()
    for t in ("site-a", "site-b"):
        assert a.get(f"{t}.test", "/index.html").text == f"page-of-{t}\n"
        assert a.php(f"{t}.test", "whoami")["tenant"] == t
    log = a.error_log()
    assert "AH00529" not in log, log[-2000:]
    assert not [l for l in a.denials() if "/www/.htaccess" in l], a.denials()


def test_operator_htaccess_above_the_roots_applies_to_tenants(hosting):
    a = hosting
    write(os.path.join(a.root, "www", ".htaccess"), "Header set X-Operator-Rule yes\n")
    a.start()
    r = a.get("site-a.test", "/index.html")
    assert r.status == 200 and r.headers.get("x-operator-rule") == "yes", r.headers
    assert a.get("site-b.test", "/t.php?op=whoami").headers.get("x-operator-rule") == "yes"
    # Tenant code never changes it. (Reading it is allowed by libsandbox --
    # it is what applies to the tenant's own site -- but the kernel layer's
    # ruleset has no rule for it, so PHP on a confined thread cannot.)
    path = os.path.join(a.root, "www", ".htaccess")
    assert not a.php("site-a.test", "write", path)["ok"]
    assert open(path).read() == "Header set X-Operator-Rule yes\n"
    # ... nor list the folder of all sites.
    assert not a.php("site-a.test", "scandir", os.path.join(a.root, "www"))["ok"]


def test_symlink_named_htaccess_above_the_roots_is_not_followed(hosting):
    """Only the operator can write above the roots; still, a link there is
    never followed into another tenant's folder inside a tenant's request."""
    a = hosting
    os.symlink(os.path.join(a.root, "www", "site-b", "secret.txt"), os.path.join(a.root, "www", ".htaccess"))
    a.start()
    # Apache cannot read the access file, and refuses the request as it does
    # for any unreadable one (403, AH00529): fail closed, nothing of B's.
    r = a.get("site-a.test", "/index.html")
    assert r.status == 403 and "secret-of-site-b" not in r.text, r
    assert "AH00529" in a.error_log()


def test_wordpress_style_permalinks_in_the_tenant_htaccess(hosting):
    a = hosting
    write(os.path.join(a.root, "www", "site-a", ".htaccess"),
          "RewriteEngine On\nRewriteBase /\n"
          "RewriteRule ^index\\.php$ - [L]\n"
          "RewriteCond %{REQUEST_FILENAME} !-f\nRewriteCond %{REQUEST_FILENAME} !-d\n"
          "RewriteRule . /t.php [L]\n")
    a.start()
    r = a.get("site-a.test", "/2026/12/a-pretty-permalink/")
    assert r.status == 200 and r.json()["tenant"] == "site-a", r
    assert a.get("site-a.test", "/index.html").text == "page-of-site-a\n"
    # site-b has no rules: its pretty URL is a plain 404.
    assert a.get("site-b.test", "/2026/12/a-pretty-permalink/").status == 404


def test_rewrite_to_a_planted_symlink_is_still_refused(hosting):
    a = hosting
    d = os.path.join(a.root, "www", "site-a")
    os.symlink(os.path.join(a.root, "www", "site-b", "secret.txt"), os.path.join(d, "loot.txt"))
    write(os.path.join(d, ".htaccess"), "RewriteEngine On\nRewriteRule ^steal$ loot.txt [L]\n")
    fd = os.path.join(a.root, "www", "free")
    os.symlink(os.path.join(a.root, "www", "site-b", "secret.txt"), os.path.join(fd, "loot.txt"))
    write(os.path.join(fd, ".htaccess"), "RewriteEngine On\nRewriteRule ^steal$ loot.txt [L]\n")
    a.server_extra += [f"<Directory {a.root}/www>", "Options +FollowSymLinks", "</Directory>"]
    a.start()
    assert "secret-of-site-b" in a.get("free.test", "/steal").text  # the control
    r = a.get("site-a.test", "/steal")
    assert r.status in (403, 404) and "secret-of-site-b" not in r.text, r
    assert any("tenant=site-a" in l and "site-b/secret.txt" in l for l in a.denials()), a.denials()


def test_php_value_in_htaccess_cannot_loosen_the_sandbox(hosting):
    a = hosting
    b_sessions = os.path.join(a.root, "www", "site-b", "sessions")
    b_secret = os.path.join(a.root, "www", "site-b", "secret.txt")
    for t in ("site-a", "free"):
        d = os.path.join(a.root, "www", t)
        write(os.path.join(d, ".htaccess"), f"php_value session.save_path {b_sessions}\n")
        os.makedirs(os.path.join(d, "pre"), exist_ok=True)
        os.chown(os.path.join(d, "pre"), 33, 33)
        write(os.path.join(d, "pre", ".htaccess"), f"php_value auto_prepend_file {b_secret}\n")
        write(os.path.join(d, "pre", "p.php"), "<?php echo 'page';\n")
    a.start()
    # Control: without the sandbox the session lands in B's folder and B's
    # secret is prepended to the page.
    before = set(os.listdir(b_sessions))
    assert a.php("free.test", "session_write", "x")["path"] == b_sessions
    assert set(os.listdir(b_sessions)) - before
    assert "secret-of-site-b" in a.get("free.test", "/pre/p.php").text
    # site-a: the same lines get nothing of B's.
    before = set(os.listdir(b_sessions))
    r = a.get("site-a.test", "/t.php?op=session_write&arg=x")
    assert set(os.listdir(b_sessions)) == before, r
    assert any("tenant=site-a" in l and "site-b/sessions" in l for l in a.denials()), a.denials()
    r = a.get("site-a.test", "/pre/p.php")
    assert "secret-of-site-b" not in r.text, r
    assert any("tenant=site-a" in l and "site-b/secret.txt" in l for l in a.denials())
