"""A program a tenant starts must never run without libsandbox (issue 15
point 1, THREATS 29). It loads libsandbox afresh from LD_PRELOAD; when its
loader cannot (the library not readable by the child's user, resource
limits the tenant lowered, secure-execution mode), ld.so only prints
"cannot be preloaded ... ignored" and runs the program unconfined -- with
TenantKernelConfine Off the child read another tenant's file. Now such a
start is refused with a denial line that says why, and Apache refuses to
start at all when its user cannot read the library. The vhosts here are
TenantKernelConfine Off: the preload layer is all that stands."""
import os
import shutil
import stat
import struct

import pytest

from conftest import make_tenant_dir, policy_for


def make_server(apache_factory, tmproot, lib_dir_mode=0o755, cat=("/bin/cat", "/usr/bin/cat")):
    # Copies of the library and the module in a folder of the test's own,
    # whose mode the test changes.
    libdir = os.path.join(tmproot, "lib")
    os.makedirs(libdir)
    os.chmod(tmproot, 0o755)
    from conftest import required_path
    lib = shutil.copy(required_path("TS_LIBSANDBOX"), libdir)
    mod = shutil.copy(required_path("TS_MODULE"), libdir)
    os.chmod(lib, 0o755)
    os.chmod(libdir, lib_dir_mode)
    a = apache_factory(workers=2)
    a.paths = {**a.paths, "libsandbox": lib, "module": mod}
    for t in ("site-a", "site-b"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"], extra_defaults={"exec": list(cat)}))
    for t in ("site-a", "site-b"):
        a.tenant_vhost(t, ["TenantKernelConfine Off"])
    return a, libdir


def b_secret(a):
    return os.path.join(a.root, "www", "site-b", "secret.txt")


def a_own(a):
    return os.path.join(a.root, "www", "site-a", "secret.txt")


def test_apache_refuses_to_start_when_its_user_cannot_read_libsandbox(apache_factory, tmproot):
    a, _ = make_server(apache_factory, tmproot, lib_dir_mode=0o700)
    a.render()
    r = a.ctl("-k", "start")
    import time
    time.sleep(1.5)
    log = a.error_log()
    assert "AH10928" in log and "not readable by Apache's user" in log and "folder every user can read" in log, log
    assert a.pid() is None or not os.path.exists(f"/proc/{a.pid()}"), "started"


def test_a_child_that_could_not_load_libsandbox_is_never_started(apache_factory, tmproot):
    a, libdir = make_server(apache_factory, tmproot)
    a.start()
    # Works while the library is readable: the child is site-a and reads its
    # own file, not B's.
    r = a.php("site-a.test", "proc_cat", a_own(a))
    assert r["ok"] and r["data"] == "secret-of-site-a", r
    # The library's folder becomes unreadable to www-data (an upgrade, a
    # chmod): the next start of a program is refused, not run unconfined.
    os.chmod(libdir, 0o700)
    r = a.php("site-a.test", "proc_cat", b_secret(a))
    assert "secret-of-site-b" not in r.get("data", ""), r
    assert not r["ok"], r
    lines = [l for l in a.denials("site-a") if "need=exec" in l]
    assert any("is not readable by uid 33" in l and "without libsandbox" in l for l in lines), a.denials()
    assert "cannot be preloaded" not in a.error_log()


def test_a_program_with_file_capabilities_is_refused(apache_factory, tmproot):
    capcat = os.path.join(tmproot, "capcat")
    shutil.copy("/bin/cat", capcat)
    os.chmod(capcat, 0o755)
    # struct vfs_cap_data, revision 2, CAP_NET_RAW (13) permitted: the kernel
    # would run it in secure-execution mode, where the loader drops LD_PRELOAD.
    os.setxattr(capcat, "security.capability", struct.pack("<IIIII", 0x02000000, 1 << 13, 0, 0, 0))
    a, _ = make_server(apache_factory, tmproot, cat=(capcat,))
    a.start()
    d = os.path.join(a.root, "www", "site-a", "t.php")
    with open(d) as fh:
        src = fh.read()
    with open(d, "w") as fh:
        fh.write(src.replace("proc_open(['/bin/cat', $arg]", f"proc_open(['{capcat}', $arg]"))
    r = a.php("site-a.test", "proc_cat", b_secret(a))
    assert "secret-of-site-b" not in r.get("data", ""), r
    assert any("file capabilities" in l for l in a.denials("site-a")), a.denials()
