"""TenantPHPAdminValue NAME VALUE (issue 10 point 3): per-tenant PHP settings
on one mass-vhost server with nothing per site in httpd.conf -- 1,000
tenants from a dbm map, each request with its own session folder, temp
folders, error log and open_basedir, {tenant} expanded, applied as
php_admin_value (a tenant's .htaccess cannot override them); settings that
cannot be set this way are refused with an error naming the directive."""
import os
import subprocess

import pytest

from conftest import http_pipeline, make_tenant_dir, policy_for

N = 1000
SETTINGS = ["session.save_path", "upload_tmp_dir", "sys_temp_dir", "error_log", "open_basedir"]


@pytest.fixture(scope="module")
def mass(paths):
    import shutil
    import tempfile
    from conftest import Apache
    root = tempfile.mkdtemp(prefix="ts-e2e-phpadmin-", dir="/tmp")
    os.chmod(root, 0o755)
    a = Apache(paths, root, workers=3)
    a.extra_modules.append("rewrite")
    tenants = [f"m{i:04d}" for i in range(N)]
    for t in tenants:
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, tenants))
    txt = os.path.join(a.root, "hosts.txt")
    with open(txt, "w") as fh:
        fh.writelines(f"{t}.test {t}\n" for t in tenants)
    dbm = os.path.join(a.root, "hosts")
    subprocess.run(["/usr/sbin/httxt2dbm", "-i", txt, "-o", dbm], check=True, capture_output=True)
    www = os.path.join(a.root, "www")
    a.server_extra += [f"<Directory {www}>", "AllowOverride All", "</Directory>"]
    a.add_vhost("mass.test", [
        f"VirtualDocumentRoot {www}/%1", f"TenantMap dbm:{dbm}",
        f"TenantPHPAdminValue session.save_path {www}/{{tenant}}/sessions",
        f"TenantPHPAdminValue upload_tmp_dir {www}/{{tenant}}/tmp",
        f"TenantPHPAdminValue sys_temp_dir {www}/{{tenant}}/tmp",
        f"TenantPHPAdminValue error_log {www}/{{tenant}}/tmp/php-errors.log",
        f"TenantPHPAdminValue open_basedir {www}/{{tenant}}:/usr/share/php"])
    a.start()
    yield a, tenants
    a.stop()
    shutil.rmtree(root, ignore_errors=True)


def batches(seq, n):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def test_every_tenant_gets_its_own_settings_and_session_folder(mass):
    a, tenants = mass
    www = os.path.join(a.root, "www")
    for group in batches(tenants, 50):
        reqs = [(f"{t}.test", f"/t.php?op=session_write&arg=v-{t}") for t in group]
        for t, r in zip(group, http_pipeline(a.port, reqs)):
            assert r is not None and r.status == 200, (t, r)
            j = r.json()
            assert j["tenant"] == t and j["path"] == f"{www}/{t}/sessions", j
    # Each session file landed in its own tenant's folder, and only there.
    for t in tenants:
        files = [f for f in os.listdir(f"{www}/{t}/sessions") if f.startswith("sess_")]
        assert len(files) == 1, (t, files)
        assert open(f"{www}/{t}/sessions/{files[0]}").read() == f'v|s:{len(t) + 2}:"v-{t}";'
    t = tenants[123]
    got = a.php(f"{t}.test", "ini", ",".join(SETTINGS))["data"]
    assert got == {"session.save_path": f"{www}/{t}/sessions", "upload_tmp_dir": f"{www}/{t}/tmp",
                   "sys_temp_dir": f"{www}/{t}/tmp", "error_log": f"{www}/{t}/tmp/php-errors.log",
                   "open_basedir": f"{www}/{t}:/usr/share/php"}, got


def test_error_log_lands_in_the_tenants_own_file(mass):
    a, tenants = mass
    t = tenants[7]
    assert a.php(f"{t}.test", "error_log", "hello")["ok"]
    with open(os.path.join(a.root, "www", t, "tmp", "php-errors.log")) as fh:
        assert "tenant-log-line hello" in fh.read()
    assert "tenant-log-line hello" not in a.error_log()


def test_htaccess_php_value_cannot_override(mass):
    a, tenants = mass
    t, other = tenants[42], tenants[43]
    d = os.path.join(a.root, "www", t)
    with open(os.path.join(d, ".htaccess"), "w") as fh:
        fh.write(f"php_value session.save_path {a.root}/www/{other}/sessions\n"
                 f"php_value open_basedir /\n")
    try:
        got = a.php(f"{t}.test", "ini", "session.save_path,open_basedir")["data"]
        assert got["session.save_path"] == f"{a.root}/www/{t}/sessions", got
        assert got["open_basedir"] == f"{a.root}/www/{t}:/usr/share/php", got
    finally:
        os.unlink(os.path.join(d, ".htaccess"))


@pytest.mark.parametrize("line,expect", [
    ("TenantPHPAdminValue extension /tmp/evil.so", "extension cannot be set this way"),
    ("TenantPHPAdminValue disable_functions system", "start-up only"),
    ("TenantPHPAdminValue ffi.enable 1", "TenantNativeCode"),
    ("TenantPHPAdminValue opcache.validate_permission 0", "forced on"),
    ("TenantPHPAdminValue 'bad name' x", "is not a PHP setting name"),
    ("TenantPHPAdminValue no_such.setting_here 1", "AH10980"),
])
def test_settings_that_cannot_be_set_this_way_are_refused(apache_factory, line, expect):
    a = apache_factory()
    make_tenant_dir(a.root, "site-a")
    a.write_policy(policy_for(a.root, ["site-a"]))
    a.tenant_vhost("site-a", [line])
    a.render()
    r = a.ctl("-k", "start")
    a.started = r.returncode == 0
    if expect == "AH10980":
        # Only the running PHP knows its settings: checked after PHP started,
        # when httpd has already left the console -- the start fails in the
        # error log, as a bad certificate does for mod_ssl.
        import time
        time.sleep(1.5)
        assert "PHP has no such setting" in a.error_log(), a.error_log()[-2000:]
        assert "Configuration Failed" in a.error_log()
        assert a.pid() is None or not os.path.exists(f"/proc/{a.pid()}"), "the server runs"
        return
    assert r.returncode != 0, "the server started"
    text = r.stdout + r.stderr
    assert expect in text and "TenantPHPAdminValue" in text, text[-2000:]


def test_without_mod_php_the_directive_says_so(apache_factory):
    a = apache_factory(php=False)
    make_tenant_dir(a.root, "site-a")
    a.write_policy(policy_for(a.root, ["site-a"]))
    a.tenant_vhost("site-a", ["TenantPHPAdminValue session.save_path /x/{tenant}"])
    r = a.start(expect_ok=False)
    assert r.returncode != 0 and "TenantPHPAdminValue needs mod_php" in r.stdout + r.stderr, r
