"""Kernel layers in Apache (issue 4): prefork + mod_php with PHP FFI on, so
tenant code can make raw system calls that never pass through libsandbox.

Each attack is also run from a control vhost of the same tenant with
TenantKernelConfine Off (LD_PRELOAD layer only), where it must SUCCEED: that
proves the probe really bypasses the preload layer, and that the denial in
the confined vhost comes from the kernel layer (so these tests fail without
it)."""
import os
import signal
import time

import pytest

from conftest import make_tenant_dir, policy_for

# Raw system calls through PHP FFI. syscall() is variadic in libc; declared
# here with fixed integer/pointer arguments, which is the same calling
# sequence on x86-64 (glibc's syscall() is assembly and reads registers).
KERN_PHP = r"""<?php
header('Content-Type: application/json');
$op = $_GET['op'] ?? 'whoami';
$arg = $_GET['arg'] ?? '';
$out = ['tenant' => $_SERVER['TENANT_ID'] ?? null, 'pid' => getmypid(), 'op' => $op,
        'uid' => $_SERVER['UNIQUE_ID'] ?? null];
// libc's own syscall() and kill(), looked up in libc.so.6 itself: the
// process-wide names are libsandbox's wrappers, which would refuse these
// calls before the kernel sees them.
$ffi = FFI::cdef("
    long syscall(long number, long a1, const char *a2, long a3, long a4);
    int kill(int pid, int sig);
    int *__errno_location(void);
", "libc.so.6");
$sb = FFI::cdef("
    int sandbox_set_tenant(const char *);
    int sandbox_clear_tenant(const char *);
    const char *sandbox_current_tenant(void);
");
$errno = function () use ($ffi) { return $ffi->__errno_location()[0]; };
// gettid (186): a confined handler runs on a thread of its own.
$out['tid'] = $ffi->syscall(186, 0, null, 0, 0);
$cur = $sb->sandbox_current_tenant();
$out['current'] = is_string($cur) ? $cur : ($cur === null ? null : FFI::string($cur));
switch ($op) {
case 'whoami':
    $out['ok'] = true;
    break;
case 'raw_open':
    // openat(AT_FDCWD, arg, O_RDONLY)
    $fd = $ffi->syscall(257, -100, $arg, 0, 0);
    $out['errno'] = $fd < 0 ? $errno() : 0;
    $out['ok'] = $fd >= 0;
    if ($fd >= 0) { $ffi->syscall(3, $fd, null, 0, 0); }
    break;
case 'steer':
    $out['clear'] = $sb->sandbox_clear_tenant(null);
    $out['set'] = $sb->sandbox_set_tenant($arg);
    $cur = $sb->sandbox_current_tenant();
    $out['after'] = is_string($cur) ? $cur : ($cur === null ? null : FFI::string($cur));
    $out['ok'] = $out['clear'] === 0 || $out['set'] === 0;
    break;
case 'kill':
    // arg "PID,PID,...:SIG": the first listed worker that is not this one
    // (the test cannot know which worker will serve the request).
    [$pids, $sig] = explode(':', $arg);
    $pid = 0;
    foreach (explode(',', $pids) as $p) { if ((int)$p !== getmypid()) { $pid = (int)$p; break; } }
    $out['target'] = $pid;
    if ($pid === 0) { $out['ok'] = null; break; }
    $rc = $ffi->kill($pid, (int)$sig);
    $out['errno'] = $rc < 0 ? $errno() : 0;
    $out['ok'] = $rc === 0;
    break;
case 'spin':
    // max_execution_time: PHP arms ITIMER_PROF; SIGPROF is process-directed
    // and, with every signal blocked in the confined thread, taken by the
    // worker's own thread, whose handler flags the VM of this one.
    set_time_limit(1);
    $t = microtime(true);
    while (true) { if (microtime(true) - $t > 20) break; }
    $out['ok'] = false;  // not reached when the time limit works
    break;
case 'uring':
    // io_uring_setup(1, params): the worker baseline's seccomp filter
    // answers ENOSYS in every thread of the worker, confined or not.
    $params = str_repeat("\0", 120);
    $fd = $ffi->syscall(425, 1, $params, 0, 0);
    $out['errno'] = $fd < 0 ? $errno() : 0;
    $out['ok'] = $fd >= 0;
    if ($fd >= 0) { $ffi->syscall(3, $fd, null, 0, 0); }
    break;
case 'read':
    $r = @file_get_contents($arg);
    $out['ok'] = $r !== false;
    $out['data'] = $r === false ? null : $r;
    break;
}
echo json_encode($out);
"""

EACCES, EPERM, ENOSYS = 13, 1, 38


@pytest.fixture
def kern(apache_factory):
    # Two workers: one attacks, the other is its sibling (same uid).
    a = apache_factory(workers=2)
    for t in ("site-a", "site-b"):
        d = make_tenant_dir(a.root, t)
        with open(os.path.join(d, "kern.php"), "w") as fh:
            fh.write(KERN_PHP)
        os.chown(os.path.join(d, "kern.php"), 33, 33)
    with open(os.path.join(a.root, "www", "site-a", "hello.txt"), "w") as fh:
        fh.write("static-of-site-a")
    a.write_policy(policy_for(a.root, ["site-a", "site-b"]))
    ffi = ["php_admin_value ffi.enable 1", "TenantNativeCode Allow"]
    a.tenant_vhost("site-a", ffi)
    a.tenant_vhost("site-b", ffi)
    # Control: the same tenant, LD_PRELOAD layer only.
    d = os.path.join(a.root, "www", "site-a")
    a.add_vhost("nokernel-a.test", [f"DocumentRoot {d}", "TenantId site-a",
                                   "TenantKernelConfine Off", *ffi])
    a.server_extra.append("LogLevel info tenant_tag:debug")
    a.start()
    return a


def kphp(a, host, op, arg=""):
    from urllib.parse import urlencode
    r = a.get(host, "/kern.php?" + urlencode({"op": op, "arg": arg}))
    assert r.status == 200, r
    return r.json()


def uid_of(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next(int(l.split()[1]) for l in fh if l.startswith("Uid:"))
    except (OSError, StopIteration):
        return None


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_worker_logs_kernel_support_and_baseline(kern):
    kphp(kern, "site-a.test", "whoami")  # a worker has surely run child_init
    end = time.time() + 10
    while time.time() < end and "AH10931" not in kern.error_log():
        time.sleep(0.2)
    log = kern.error_log()
    assert "AH10930" in log and "landlock ABI" in log, log[-3000:]
    assert "AH10931" in log and "caps: none left" in log and "dumpable: no" in log
    assert "AH10932" not in log


def test_handler_runs_on_a_confined_thread_with_the_tenant_set(kern):
    r = kphp(kern, "site-a.test", "whoami")
    assert r["tenant"] == "site-a" and r["current"] == "site-a", r
    assert r["tid"] != r["pid"], "the PHP handler must run on its own thread"
    # The control vhost runs on the worker's own thread.
    r = kphp(kern, "nokernel-a.test", "whoami")
    assert r["tid"] == r["pid"] and r["current"] == "site-a", r


def test_preload_layer_still_works_on_the_confined_thread(kern):
    secret_b = os.path.join(kern.root, "www", "site-b", "secret.txt")
    r = kphp(kern, "site-a.test", "read", secret_b)
    assert not r["ok"], r
    # The denial was logged by libsandbox for site-a: the tag reached the
    # confined thread (else the preload layer would pass the call through).
    assert any("site-b/secret.txt" in l for l in kern.denials("site-a")), kern.error_log()[-3000:]
    own = kphp(kern, "site-a.test", "read", os.path.join(kern.root, "www", "site-a", "secret.txt"))
    assert own["ok"] and own["data"] == "secret-of-site-a", own


def test_raw_openat_through_ffi_is_refused_by_the_kernel(kern):
    secret_b = os.path.join(kern.root, "www", "site-b", "secret.txt")
    control = kphp(kern, "nokernel-a.test", "raw_open", secret_b)
    assert control["ok"], f"raw openat must bypass the preload layer (else this test proves nothing): {control}"
    r = kphp(kern, "site-a.test", "raw_open", secret_b)
    assert not r["ok"] and r["errno"] == EACCES, r
    own = kphp(kern, "site-a.test", "raw_open", os.path.join(kern.root, "www", "site-a", "secret.txt"))
    assert own["ok"], own


def test_ffi_cannot_steer_libsandbox_from_the_confined_thread(kern):
    r = kphp(kern, "site-a.test", "steer", "site-b")
    assert r["clear"] == -EPERM and r["set"] == -EPERM, r
    assert r["after"] == "site-a" and not r["ok"], r


def test_kill_of_a_sibling_worker_fails_and_the_worker_then_serves_the_other_tenant(kern):
    a = kern
    # Both workers up and past child_init (uid www-data, baseline logged): a
    # worker still running as root would refuse the control's signal.
    end = time.time() + 15
    while time.time() < end:
        kids = a.children()
        if len(kids) >= 2 and all(uid_of(p) == 33 for p in kids) and a.error_log().count("AH10931") >= len(kids):
            break
        time.sleep(0.2)
    assert len(kids) >= 2, kids
    pids = ",".join(str(p) for p in kids)
    # Control first (signal 0: only asks whether the signal may be sent):
    # same uid, so without the kernel layer it may.
    c = kphp(a, "nokernel-a.test", "kill", f"{pids}:0")
    assert c["target"] and c["ok"], f"same-uid kill must work without the kernel layer: {c}"
    r = kphp(a, "site-a.test", "kill", f"{pids}:{int(signal.SIGTERM)}")
    sibling = r["target"]
    assert sibling and sibling != r["pid"], r
    assert not r["ok"] and r["errno"] == EPERM, r
    time.sleep(0.3)
    assert alive(sibling), "the sibling worker was killed"
    attacker = r["pid"]
    # The same worker now serves tenant B, correctly confined as B.
    secret_a = os.path.join(a.root, "www", "site-a", "secret.txt")
    served = None
    for _ in range(40):
        b = kphp(a, "site-b.test", "read", os.path.join(a.root, "www", "site-b", "secret.txt"))
        if b["pid"] == attacker:
            served = b
            break
    assert served, "the attacking worker never served site-b"
    assert served["tenant"] == "site-b" and served["current"] == "site-b", served
    assert served["ok"] and served["data"] == "secret-of-site-b", served
    for _ in range(40):
        b = kphp(a, "site-b.test", "raw_open", secret_a)
        if b["pid"] == attacker:
            assert not b["ok"] and b["errno"] == EACCES, b
            break
    else:
        pytest.fail("the attacking worker never served site-b's raw_open")


def test_static_files_are_served_in_the_confined_thread(kern):
    r = kern.get("site-a.test", "/hello.txt")
    assert r.status == 200 and r.body == b"static-of-site-a", r
    r = kern.get("site-a.test", "/index.html")
    assert r.status == 200 and b"page-of-site-a" in r.body, r


def test_no_unconfined_fallback_and_no_self_inflicted_denials(kern):
    """Every tenant request of this server ran confined or on the control
    vhost: no 503 for failed confinement, no tag left behind."""
    kphp(kern, "site-a.test", "whoami")
    kphp(kern, "site-b.test", "whoami")
    log = kern.error_log()
    for tag in ("AH10933", "AH10934", "AH10935", "AH10936", "AH10940", "AH10916", "AH10917"):
        assert tag not in log, (tag, log[-3000:])
    # The module's own work (building the ruleset: O_PATH opens of system
    # paths, libsandbox.so, the state dir; pinning its fd) is never judged
    # as the request's tenant.
    own = [l for l in kern.denials() if "libsandbox.so" in l or "/etc/passwd" in l or "op=fcntl" in l]
    assert not own, own


def running(pid):
    """Alive and not a zombie (a zombie still answers kill(pid, 0))."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_confined_threads_are_reused_per_tenant_and_never_shared(kern):
    """A worker keeps one confined thread per tenant and hands it that
    tenant's later requests (the cost fix of the kernel layer); a thread is
    never handed another tenant's request, and a reused thread is as
    confined as a fresh one."""
    seen = {}
    n = 0
    for _ in range(10):
        for t in ("site-a", "site-b"):
            r = kphp(kern, f"{t}.test", "whoami")
            n += 1
            assert r["tenant"] == t and r["current"] == t and r["tid"] != r["pid"], r
            seen.setdefault((r["pid"], r["tid"]), set()).add(t)
    shared = {k: v for k, v in seen.items() if len(v) > 1}
    assert not shared, f"a confined thread served two tenants: {shared}"
    # 2 workers x 2 tenants: 4 threads serve all 20 requests (a fresh thread
    # per request would show 20 distinct tids).
    assert len(seen) <= 6, f"{len(seen)} threads for {n} requests: not reused: {sorted(seen)}"
    secret_a = os.path.join(kern.root, "www", "site-a", "secret.txt")
    secret_b = os.path.join(kern.root, "www", "site-b", "secret.txt")
    for _ in range(4):
        r = kphp(kern, "site-a.test", "raw_open", secret_b)
        # Usually a thread seen above; a worker that served only site-b so
        # far makes site-a's first thread now. Either way never B's thread.
        assert seen.setdefault((r["pid"], r["tid"]), {"site-a"}) == {"site-a"}, (r, seen)
        assert not r["ok"] and r["errno"] == EACCES, r
        r = kphp(kern, "site-b.test", "raw_open", secret_a)
        assert not r["ok"] and r["errno"] == EACCES, r
        own = kphp(kern, "site-b.test", "read", os.path.join(kern.root, "www", "site-b", "secret.txt"))
        assert own["ok"] and own["current"] == "site-b", own
    # FFI on a reused thread still cannot steer libsandbox.
    r = kphp(kern, "site-a.test", "steer", "site-b")
    assert r["clear"] == -EPERM and r["set"] == -EPERM and r["after"] == "site-a", r


def test_parked_confined_threads_do_not_slow_graceful_restart_or_stop(kern):
    """Workers with parked confined threads (several tenants) end at once on
    graceful restart and on stop: parked threads wait on a futex with every
    signal blocked and nothing at exit() waits for them (a static condition
    variable once made exit() hang 12 s)."""
    a = kern
    for _ in range(4):
        for t in ("site-a", "site-b"):
            kphp(a, f"{t}.test", "whoami")
    old = a.children()
    assert old
    t0 = time.time()
    a.graceful()
    end = time.time() + 6
    while time.time() < end and any(running(p) for p in old):
        time.sleep(0.05)
    took = time.time() - t0
    assert not any(running(p) for p in old), f"old workers still running {took:.1f}s after graceful"
    assert took < 4, f"graceful restart took {took:.1f}s"
    r = kphp(a, "site-a.test", "whoami")
    assert r["current"] == "site-a" and r["tid"] != r["pid"], r
    for _ in range(4):
        kphp(a, "site-b.test", "whoami")
    parent = a.pid()
    t0 = time.time()
    a.ctl("-k", "stop")
    end = time.time() + 10
    while time.time() < end and running(parent):
        time.sleep(0.05)
    took = time.time() - t0
    a.started = False
    assert not running(parent), "httpd did not stop within 10s"
    assert took < 4, f"stop took {took:.1f}s"
    for tag in ("AH10934", "AH10935", "AH10943"):
        assert tag not in a.error_log(), tag


@pytest.fixture
def audit_kern(apache_factory):
    a = apache_factory(workers=2)
    for t in ("site-a", "site-b", "site-m"):
        d = make_tenant_dir(a.root, t)
        with open(os.path.join(d, "kern.php"), "w") as fh:
            fh.write(KERN_PHP)
        os.chown(os.path.join(d, "kern.php"), 33, 33)
    a.write_policy(policy_for(a.root, ["site-a", "site-b", "site-m"],
                              tenant_rules={"site-m": {"mode": "audit"}}))
    ffi = ["php_admin_value ffi.enable 1", "TenantNativeCode Allow"]
    a.tenant_vhost("site-a", ffi)
    a.tenant_vhost("site-m", ffi)
    d = os.path.join(a.root, "www", "site-a")
    a.add_vhost("audit-a.test", [f"DocumentRoot {d}", "TenantId site-a", "TenantSandbox Audit", *ffi])
    a.server_extra.append("LogLevel info tenant_tag:debug")
    a.start()
    return a


def test_audit_gets_no_kernel_ruleset_but_keeps_the_worker_baseline(audit_kern):
    """TenantSandbox Audit (vhost) and "mode": "audit" (policy) promise to
    log, not deny: no per-request Landlock ruleset (a raw openat of another
    tenant's file goes through), the handler stays on the worker's thread;
    the worker baseline still holds there (io_uring: ENOSYS)."""
    a = audit_kern
    secret_b = os.path.join(a.root, "www", "site-b", "secret.txt")
    # Control: the same tenant on an enforcing vhost is confined.
    r = kphp(a, "site-a.test", "raw_open", secret_b)
    assert not r["ok"] and r["errno"] == EACCES and r["tid"] != r["pid"], r
    for host in ("audit-a.test", "site-m.test"):
        r = kphp(a, host, "raw_open", secret_b)
        assert r["ok"], f"{host}: audit must not get a kernel ruleset: {r}"
        assert r["tid"] == r["pid"], f"{host}: audit request ran on a confined thread: {r}"
        u = kphp(a, host, "uring")
        assert not u["ok"] and u["errno"] == ENOSYS, f"{host}: worker baseline missing: {u}"
    u = kphp(a, "site-a.test", "uring")
    assert not u["ok"] and u["errno"] == ENOSYS, u
    log = a.error_log()
    assert "AH10942" in log and "AH10939" in log, log[-3000:]


def libsandbox_has(symbol):
    import subprocess
    out = subprocess.run(["nm", "-D", "--defined-only", os.environ["TS_LIBSANDBOX"]],
                         capture_output=True, text=True).stdout
    return any(l.split()[-1] == symbol for l in out.splitlines() if l.strip())


def test_denials_in_the_confined_thread_carry_the_request_id(apache_factory):
    """The confined thread sets the tenant itself, so it must also hand
    libsandbox the request's UNIQUE_ID: its denial lines say request=ID."""
    if not libsandbox_has("sandbox_set_request_info"):
        pytest.skip("libsandbox without sandbox_set_request_info (request ids in denial lines)")
    a = apache_factory(workers=2)
    for t in ("site-a", "site-b"):
        d = make_tenant_dir(a.root, t)
        with open(os.path.join(d, "kern.php"), "w") as fh:
            fh.write(KERN_PHP)
        os.chown(os.path.join(d, "kern.php"), 33, 33)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"]))
    a.extra_modules.append("unique_id")
    a.tenant_vhost("site-a", ["php_admin_value ffi.enable 1", "TenantNativeCode Allow"])
    a.start()
    secret_b = os.path.join(a.root, "www", "site-b", "secret.txt")
    for i in range(3):
        r = kphp(a, "site-a.test", "read", secret_b + f".{i}")
        assert not r["ok"] and r["tid"] != r["pid"] and r["uid"], r
        end = time.time() + 5
        lines = []
        while time.time() < end and not lines:
            lines = [l for l in a.denials("site-a") if f"secret.txt.{i}" in l]
            time.sleep(0.1)
        assert lines and all(f"request={r['uid']}" in l for l in lines), (r["uid"], lines)


def test_php_time_limit_ends_a_request_on_the_confined_thread(kern):
    """PHP's max_execution_time (SIGPROF from ITIMER_PROF) still ends a
    runaway script on a pooled confined thread, whose signals are blocked;
    the worker and that tenant's thread then serve the next request."""
    t0 = time.time()
    r = kern.get("site-a.test", "/kern.php?op=spin", timeout=30)
    took = time.time() - t0
    assert took < 10, f"time limit did not end the script ({took:.1f}s): {r}"
    # PHP's fatal "Maximum execution time exceeded" (display_errors off): 500.
    assert r.status == 500 and b'"ok":false' not in r.body, r
    nxt = kphp(kern, "site-a.test", "whoami")
    assert nxt["current"] == "site-a" and nxt["tid"] != nxt["pid"], nxt
