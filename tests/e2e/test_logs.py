"""Denial lines in Apache's own log (issue 13 "denial lines tools can read").

libsandbox hands each request's denial lines to mod_tenant_tag, which logs
them with ap_log_rerror (AH10990): Apache's ErrorLogFormat, the vhost's own
ErrorLog, and the client address apply. A process a tenant started has no
module: its lines go to stderr (the main ErrorLog) in the form of Apache's
default ErrorLogFormat. tenant-sandbox learn reads both forms, and the
shipped fail2ban filter (conf/fail2ban) matches deny lines, never audit
lines, and finds the client's address."""
import configparser
import os
import re
import subprocess

import pytest

from conftest import make_tenant_dir, policy_for

HERE = os.path.dirname(os.path.abspath(__file__))
FILTER = os.path.join(HERE, "..", "..", "conf", "fail2ban", "filter.d", "tenant-sandbox.conf")
APACHE_LINE = re.compile(r"^\[\w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2}\.\d{6} \d{4}\] \[tenant_tag:(error|warn)\] "
                         r"\[pid \d+:tid \d+\] \[client 127\.0\.0\.1:\d+\] AH10990: tenant-sandbox: ")
CHILD_LINE = re.compile(r"^\[\w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2}\.\d{6} \d{4}\] \[tenant_sandbox:error\] "
                        r"\[pid \d+:tid \d+\] tenant-sandbox: deny ")


@pytest.fixture
def logs(apache_factory):
    a = apache_factory()
    a.extra_modules.append("unique_id")
    for t in ("site-a", "site-b", "site-c"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b", "site-c"],
                              tenant_rules={"site-a": {"exec": ["/bin/cat"]}}))
    a.tenant_vhost("site-a", [f"ErrorLog {a.root}/site-a.error.log"])
    a.tenant_vhost("site-b", [f"ErrorLog {a.root}/site-b.error.log",
                              'ErrorLogFormat "custom|%l|%a|%{UNIQUE_ID}e|%M"'])
    a.tenant_vhost("site-c", [f"ErrorLog {a.root}/site-c.error.log", "TenantSandbox Audit"])
    a.start()
    return a


def read(path):
    with open(path, errors="replace") as fh:
        return fh.read().splitlines()


def secret(a, t):
    return os.path.join(a.root, "www", t, "secret.txt")


def failregex():
    cp = configparser.RawConfigParser()
    cp.read(FILTER)
    rx = cp.get("Definition", "failregex").strip()
    # fail2ban's <HOST> (an address or host name); the filter must capture it.
    return re.compile(rx.replace("<HOST>", r"(?P<host>\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]*:[0-9A-Fa-f:]+)"))


def test_lines_go_to_the_vhosts_own_errorlog_in_apaches_form(logs):
    a = logs
    assert not a.php("site-a.test", "read", secret(a, "site-b"))["ok"]
    lines = [l for l in read(f"{a.root}/site-a.error.log") if "tenant-sandbox: deny" in l]
    mine = [l for l in lines if "site-b/secret.txt" in l and "op=open" in l]
    assert mine, lines
    for l in mine:
        assert APACHE_LINE.match(l), l
        assert " vhost=site-a.test " in l and re.search(r" request=\S+$", l), l
    # Not in the main ErrorLog: the vhost has its own.
    assert not [l for l in a.denials() if "site-b/secret.txt" in l]


def test_errorlogformat_applies(logs):
    a = logs
    assert not a.php("site-b.test", "read", secret(a, "site-a"))["ok"]
    lines = [l for l in read(f"{a.root}/site-b.error.log") if "tenant-sandbox: deny" in l]
    assert lines and all(re.match(r"^custom\|error\|127\.0\.0\.1:\d+\|[\w@-]+\|AH10990: tenant-sandbox: deny tenant=site-b ", l)
                         for l in lines), lines
    # The UNIQUE_ID in the format is the request= of the line itself.
    for l in lines:
        uid = l.split("|")[3]
        assert l.endswith(f" request={uid}"), l


def test_a_childs_lines_go_to_stderr_in_the_same_form(logs):
    a = logs
    r = a.php("site-a.test", "proc_cat", secret(a, "site-b"))
    assert "secret-of-site-b" not in r.get("data", ""), r
    child = [l for l in a.error_log().splitlines() if "tenant-sandbox: deny" in l and "site-b/secret.txt" in l]
    assert child and all(CHILD_LINE.match(l) for l in child), child


def test_learn_reads_both_forms(logs, paths):
    a = logs
    a.php("site-a.test", "read", secret(a, "site-b"))
    a.php("site-a.test", "read", "/etc/hostname")
    a.php("site-a.test", "proc_cat", "/etc/hostname")
    r = subprocess.run([paths["cli"], "learn", "--policy", a.policy_path, f"{a.root}/site-a.error.log",
                        a.error_log_path], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "/etc/hostname" in r.stdout, r.stdout
    assert "malformed" not in r.stderr, r.stderr
    # Both lines were read (the child's from the main log too), and another
    # tenant's folder is never proposed.
    added = [l for l in r.stdout.splitlines() if l.startswith("+")]
    assert any("/etc/hostname" in l for l in added), r.stdout
    assert not any("site-b" in l for l in added), r.stdout


def test_fail2ban_filter_matches_deny_lines_and_never_audit_lines(logs):
    a = logs
    rx = failregex()
    a.php("site-a.test", "read", secret(a, "site-b"))
    a.php("site-c.test", "read", secret(a, "site-b"))  # audit vhost
    deny = [l for l in read(f"{a.root}/site-a.error.log") if "tenant-sandbox: deny" in l]
    audit = [l for l in read(f"{a.root}/site-c.error.log") if "tenant-sandbox: audit" in l]
    other = read(a.error_log_path)
    assert deny and audit
    for l in deny:
        m = rx.search(l)
        assert m and m.group("host") == "127.0.0.1", l
    assert not [l for l in audit + other if rx.search(l)], [l for l in audit + other if rx.search(l)]
