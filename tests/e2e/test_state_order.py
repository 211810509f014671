"""The shared state folder works whatever process comes first (issue 15
point 2, THREATS 29). Connection budgets, request counts and denial
counters live in tables under the state folder; whoever created them used
to decide who could use them: a root process made them root:root, after
which every www-data process of a capped tenant failed closed on every
connection ("connection budget unavailable"); a www-data process could not
create them in the packaged 0750 folder; a folder from a plain `mkdir` was
root's alone. Now the folder is root:<Apache's group> 3770 (setgid: tables
get its group; sticky: only their owner replaces them), root repairs a
folder or table no worker could use, and a process that cannot fix it
says once what to do.

Each order below uses `tenant-sandbox run` of a tenant with max_connections
(the connection budget table) as root, as www-data, and as a site's own
user, plus the Apache parent and a worker's child."""
import grp
import os
import pwd
import socket
import stat
import subprocess
import threading

import pytest

from conftest import WWW_DATA, make_tenant_dir, policy_for

WWW_GID = WWW_DATA.pw_gid


class Listener:
    def __init__(self):
        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        self.s.listen(64)
        self.port = self.s.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.s.accept()
                c.close()
            except OSError:
                return


@pytest.fixture
def world(tmproot, paths):
    make_tenant_dir(tmproot, "site-a")
    pol = os.path.join(tmproot, "policy.json")
    import json
    with open(pol, "w") as fh:
        json.dump(policy_for(tmproot, ["site-a"], extra_defaults={"read_only": ["/usr", "/lib", "/etc", "/dev/null"]},
                             tenant_rules={"site-a": {"max_connections": 2}}), fh)
    os.chmod(pol, 0o644)
    lst = Listener()
    yield {"root": tmproot, "policy": pol, "port": lst.port, "state": os.path.join(tmproot, "state"),
           "cli": paths["cli"], "lib": paths["libsandbox"]}
    lst.s.close()


def run_as(w, user=None, extra_groups=()):
    """tenant-sandbox run as site-a (capped at 2 connections): one connect
    to the listener through bash's /dev/tcp. (ok, stderr)."""
    cmd = [w["cli"], "run", "--policy", w["policy"], "--tenant", "site-a", "--",
           "/bin/bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{w['port']} && echo connected"]
    env = {"PATH": "/usr/bin:/bin", "TENANT_SANDBOX_STATE_DIR": w["state"], "TENANT_SANDBOX_LIBRARY": w["lib"]}
    if user:
        cmd = ["/usr/sbin/runuser", "-u", user, "--"] + cmd
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    return "connected" in r.stdout, r.stderr


def mode(p):
    st = os.stat(p)
    return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


def assert_usable_layout(w):
    m, uid, gid = mode(w["state"])
    assert (m, uid, gid) == (0o3770, 0, WWW_GID), (oct(m), uid, gid)
    for f in os.listdir(w["state"]):
        fm, _, fg = mode(os.path.join(w["state"], f))
        assert fm & 0o007 == 0 and fg == WWW_GID, (f, oct(fm), fg)


def test_root_cli_first_then_www_data(world):
    ok, err = run_as(world)
    assert ok, err
    ok, err = run_as(world, "www-data")
    assert ok, err
    assert_usable_layout(world)


def test_www_data_first_in_the_packaged_folder_then_root(world):
    os.makedirs(world["state"])
    os.chown(world["state"], 0, WWW_GID)
    os.chmod(world["state"], 0o3770)  # what tmpfiles.d makes
    ok, err = run_as(world, "www-data")
    assert ok, err
    ok, err = run_as(world)
    assert ok, err
    ok, err = run_as(world, "www-data")
    assert ok, err
    assert_usable_layout(world)


def test_old_0750_folder_says_what_to_do_then_root_repairs_it(world):
    os.makedirs(world["state"])
    os.chown(world["state"], 0, WWW_GID)
    os.chmod(world["state"], 0o750)
    ok, err = run_as(world, "www-data")
    assert not ok  # fail closed...
    assert "chmod 3770" in err and err.count("no map") == 1, err  # ...said once, with the fix
    ok, err = run_as(world)  # root (or Apache's start) repairs it
    assert ok, err
    ok, err = run_as(world, "www-data")
    assert ok, err
    assert_usable_layout(world)


def test_plain_mkdir_by_root_is_repaired_by_apache(world, apache_factory):
    os.makedirs(world["state"])
    os.chmod(world["state"], 0o755)  # root:root 0755
    a = apache_factory(workers=1)
    a.state_dir = world["state"]
    make_tenant_dir(a.root, "site-a")
    a.write_policy(policy_for(a.root, ["site-a"]))
    a.tenant_vhost("site-a")
    a.start()
    assert a.php("site-a.test", "whoami")["tenant"] == "site-a"
    ok, err = run_as(world, "www-data")
    assert ok, err
    assert_usable_layout(world)


def test_tables_left_root_root_are_given_the_group_by_root(world):
    ok, err = run_as(world)
    assert ok, err
    for f in os.listdir(world["state"]):
        os.chown(os.path.join(world["state"], f), 0, 0)  # what older versions left
    ok, err = run_as(world, "www-data")
    assert not ok and "chgrp" in err, err
    ok, err = run_as(world)
    assert ok, err
    ok, err = run_as(world, "www-data")
    assert ok, err
    assert_usable_layout(world)


@pytest.fixture
def site_user():
    name = "ts-site-user"
    subprocess.run(["/usr/sbin/useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   capture_output=True)
    yield name
    subprocess.run(["/usr/sbin/userdel", name], capture_output=True)


def test_a_sites_own_user_outside_the_group_is_told_then_works_in_it(world, site_user):
    ok, err = run_as(world)
    assert ok, err
    ok, err = run_as(world, site_user)
    assert not ok and "is not in its group" in err and "add it to that group" in err, err
    subprocess.run(["/usr/sbin/usermod", "-aG", "www-data", site_user], check=True)
    ok, err = run_as(world, site_user)
    assert ok, err


def test_a_workers_child_uses_tables_root_made(world, apache_factory):
    ok, err = run_as(world)  # root first
    assert ok, err
    a = apache_factory(workers=1)
    a.state_dir = world["state"]
    make_tenant_dir(a.root, "site-a")
    a.write_policy(policy_for(a.root, ["site-a"], extra_defaults={"exec": ["/bin/bash"],
                                                                   "read_only": ["/usr", "/lib", "/etc"]},
                              tenant_rules={"site-a": {"max_connections": 2}}))
    a.tenant_vhost("site-a")
    a.start()
    d = os.path.join(a.root, "www", "site-a", "child.php")
    with open(d, "w") as fh:
        fh.write(f"""<?php
$p = proc_open(['/bin/bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/{world['port']} && echo connected'],
               [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
echo stream_get_contents($pipes[1]), stream_get_contents($pipes[2]);
proc_close($p);
""")
    r = a.get("site-a.test", "/child.php")
    assert "connected" in r.text, (r.text, a.error_log()[-2000:])
