"""max_requests (DESIGN.md, issue 6): a tenant's requests in progress over
all workers are capped; the next one is answered at once -- 508, or 429
where TenantOverLimitStatus 429 is set -- with Retry-After, logged with the
tenant, never queued. The count is exact and recovers when a worker is
SIGKILLed mid-request; subrequests, internal redirects and ErrorDocuments
count once; one tenant's flood leaves the others served."""
import os
import signal
import threading
import time

from conftest import WWW_DATA, make_tenant_dir, policy_for

# A request that holds its worker: records its pid, then sleeps.
HOLD_PHP = """<?php
ignore_user_abort(true);
file_put_contents(__DIR__ . '/hold-' . basename($_GET['n']) . '.pid', getmypid());
sleep((int)$_GET['s']);
echo 'held-' . $_SERVER['TENANT_ID'];
"""
# A subrequest (mod_php virtual()) inside a request.
SUB_PHP = """<?php
virtual('/index.html');
echo '|sub-done';
"""


def capped_server(apache_factory, cap=2, workers=8, extra_vhosts=(), mpm="prefork", extra=()):
    a = apache_factory(workers=workers, mpm=mpm)
    for t in ("site-a", "site-b"):
        d = make_tenant_dir(a.root, t)
        for name, text in (("hold.php", HOLD_PHP), ("sub.php", SUB_PHP), ("busy.html", f"busy-page-{t}\n")):
            with open(os.path.join(d, name), "w") as fh:
                fh.write(text)
            os.chown(os.path.join(d, name), WWW_DATA.pw_uid, WWW_DATA.pw_gid)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"], tenant_rules={"site-a": {"max_requests": cap}}))
    a.tenant_vhost("site-a", extra)
    a.tenant_vhost("site-b")
    for name, lines in extra_vhosts:
        a.add_vhost(name, lines)
    a.start()
    return a


def timed_get(a, host, path, out, key):
    t0 = time.monotonic()
    try:
        r = a.get(host, path, timeout=30)
        out[key] = (r.status, time.monotonic() - t0, r)
    except Exception as e:  # noqa: BLE001 -- reported by the asserting test
        out[key] = (None, time.monotonic() - t0, e)


def in_parallel(a, jobs):
    """jobs: list of (host, path); returns [(status, seconds, response)]."""
    out = {}
    threads = [threading.Thread(target=timed_get, args=(a, h, p, out, i)) for i, (h, p) in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return [out[i] for i in range(len(jobs))]


def hold(a, host, n, seconds):
    """Starts a holding request in the background; returns (thread, result
    dict, pid of the worker running it)."""
    d = os.path.join(a.root, "www", host.split(".")[0])
    pid_file = os.path.join(d, f"hold-{n}.pid")
    if os.path.exists(pid_file):
        os.unlink(pid_file)
    out = {}
    t = threading.Thread(target=timed_get, args=(a, host, f"/hold.php?n={n}&s={seconds}", out, 0))
    t.start()
    end = time.time() + 10
    while time.time() < end and not os.path.exists(pid_file):
        time.sleep(0.05)
    time.sleep(0.05)
    with open(pid_file) as fh:
        return t, out, int(fh.read().strip())


def cap_lines(a, tenant):
    return [l for l in a.error_log().splitlines() if "AH10951" in l and f"tenant {tenant} " in l]


def test_exactly_cap_run_the_rest_get_508_at_once(apache_factory):
    a = capped_server(apache_factory, cap=2, workers=8)
    results = in_parallel(a, [("site-a.test", "/t.php?op=sleep&arg=3")] * 6)
    statuses = sorted(r[0] for r in results)
    assert statuses == [200, 200, 508, 508, 508, 508], results
    admitted = [r for r in results if r[0] == 200]
    refused = [r for r in results if r[0] == 508]
    # Not queued: every refusal came back long before the sleepers ended
    # (times are relative: a loaded machine may be slow to start workers).
    assert max(r[1] for r in refused) < min(r[1] for r in admitted) - 2.0, results
    # The two admitted ran at the same time (3 s each: one after the other
    # they would end 3 s apart).
    assert abs(admitted[0][1] - admitted[1][1]) < 1.5, results
    assert all(r[2].json()["tenant"] == "site-a" for r in admitted)
    for r in refused:
        assert r[2].headers.get("retry-after") == "1", r[2].headers
    # Logged with the tenant, rate-limited: four refusals within a second
    # make one line (two if they straddle a second).
    lines = cap_lines(a, "site-a")
    assert 1 <= len(lines) <= 2, a.error_log()
    assert "over max_requests" in lines[0] and "508" in lines[0] and "Retry-After 1" in lines[0]
    # The count went back to exactly 0: two at once are admitted again...
    again = in_parallel(a, [("site-a.test", "/t.php?op=sleep&arg=1")] * 2)
    assert [r[0] for r in again] == [200, 200], again
    # ...and sequential requests are never refused (no leaked count).
    for _ in range(10):
        assert a.get("site-a.test", "/index.html").status == 200
    # The uncapped tenant was never limited.
    other = in_parallel(a, [("site-b.test", "/t.php?op=sleep&arg=1")] * 5)
    assert [r[0] for r in other] == [200] * 5, other


def test_over_limit_status_429_per_vhost(apache_factory):
    a = apache_factory(workers=6)
    for t in ("site-a", "site-b"):
        d = make_tenant_dir(a.root, t)
        with open(os.path.join(d, "hold.php"), "w") as fh:
            fh.write(HOLD_PHP)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"], tenant_rules={"site-a": {"max_requests": 1}}))
    a.tenant_vhost("site-a")
    # A second vhost of the same tenant that answers 429: both count against site-a.
    a.add_vhost("api.site-a.test", [f"DocumentRoot {a.root}/www/site-a", "TenantId site-a",
                                    "TenantOverLimitStatus 429"])
    a.start()
    t, out, _ = hold(a, "site-a.test", "h429", 3)
    r429 = a.get("api.site-a.test", "/index.html")
    r508 = a.get("site-a.test", "/index.html")
    t.join(30)
    assert out[0][0] == 200
    assert r429.status == 429, r429
    assert r429.headers.get("retry-after") == "1"
    assert r508.status == 508, r508
    assert r508.headers.get("retry-after") == "1"
    assert a.get("api.site-a.test", "/index.html").status == 200  # released
    assert any("429" in l for l in cap_lines(a, "site-a")), a.error_log()


def test_flood_of_one_tenant_leaves_the_other_served(apache_factory):
    # 6 workers in all; site-a may hold 2 of them. site-a floods with 30
    # connections that each sleep 4 s; without the cap they would take every
    # worker for seconds at a time and site-b would wait behind them.
    a = capped_server(apache_factory, cap=2, workers=6)
    stop = time.time() + 6
    a_status = {}
    lock = threading.Lock()

    def flood():
        while time.time() < stop:
            try:
                s = a.get("site-a.test", "/t.php?op=sleep&arg=4", timeout=30).status
            except Exception:  # noqa: BLE001
                s = "error"
            with lock:
                a_status[s] = a_status.get(s, 0) + 1

    flooders = [threading.Thread(target=flood) for _ in range(30)]
    for f in flooders:
        f.start()
    time.sleep(1)  # the flood is on
    b_results = []
    for _ in range(10):
        t0 = time.monotonic()
        r = a.get("site-b.test", "/t.php?op=whoami", timeout=30)
        b_results.append((r.status, time.monotonic() - t0, r.json().get("tenant")))
        time.sleep(0.2)
    for f in flooders:
        f.join(60)
    assert all(s == 200 and t == "site-b" for s, _, t in b_results), b_results
    # site-b never waited for site-a's sleepers (a site-b request queued
    # behind them would wait up to 4 s for a worker).
    assert max(d for _, d, _ in b_results) < 2.5, b_results
    assert a_status.get(508, 0) > 30, a_status      # the flood was refused...
    assert a_status.get(200, 0) >= 2, a_status      # ...beyond its 2 slots
    # At most 2 at a time for 6 s of 4-s requests: at most 2 * ceil(6/4) + 2.
    assert a_status.get(200, 0) <= 6, a_status
    assert "error" not in a_status, a_status
    # Log lines: about one a second, not one per refusal.
    assert len(cap_lines(a, "site-a")) <= 12, len(cap_lines(a, "site-a"))


def test_sigkilled_worker_mid_request_is_given_back(apache_factory):
    a = capped_server(apache_factory, cap=2, workers=6)
    t1, out1, pid1 = hold(a, "site-a.test", "k1", 30)
    t2, out2, pid2 = hold(a, "site-a.test", "k2", 4)
    assert pid1 != pid2
    assert a.get("site-a.test", "/index.html").status == 508  # at the cap
    os.kill(pid1, signal.SIGKILL)
    t1.join(30)
    # The parent reaps the worker and returns its request at once (no
    # request of site-a in between, so this is the parent's doing, not a
    # reclaim at the cap: that one has its own test below).
    end = time.time() + 5
    while time.time() < end and os.path.exists(f"/proc/{pid1}"):
        time.sleep(0.05)
    time.sleep(0.2)
    assert any("AH10955" in l and f"worker {pid1} exited with 1 request" in l
               for l in a.error_log().splitlines()), a.error_log()
    end = time.time() + 5
    status = None
    while time.time() < end:
        status = a.get("site-a.test", "/index.html").status
        if status == 200:
            break
        time.sleep(0.1)
    assert status == 200, a.error_log()
    # Exactly one slot came back: with k2 still running and one more
    # holder, site-a is at its cap again.
    t3, out3, _ = hold(a, "site-a.test", "k3", 3)
    assert a.get("site-a.test", "/index.html").status == 508
    t2.join(30)
    t3.join(30)
    assert out2[0][0] == 200 and out3[0][0] == 200
    # Both ended: two at once again.
    again = in_parallel(a, [("site-a.test", "/t.php?op=sleep&arg=1")] * 2)
    assert [r[0] for r in again] == [200, 200], again


def test_killed_worker_reclaimed_at_the_cap_while_the_parent_cannot_reap(apache_factory):
    """The second way back: with the parent stopped (no reaping, no
    child_status hook) the dead worker stays a zombie; the next request of
    the tenant at its cap finds the slot's process gone (/proc, read by the
    module with libc's own functions while the tenant is set -- no denial
    may be logged for it) and takes the slot over."""
    a = capped_server(apache_factory, cap=1, workers=5)
    t1, out1, pid1 = hold(a, "site-a.test", "z1", 30)
    assert a.get("site-a.test", "/index.html").status == 508
    parent = a.pid()
    os.kill(parent, signal.SIGSTOP)
    try:
        os.kill(pid1, signal.SIGKILL)
        t1.join(30)
        time.sleep(0.3)  # past the 100 ms between two reclaim scans of a tenant
        r = a.get("site-a.test", "/index.html")
        assert r.status == 200, a.error_log()
        assert a.get("site-b.test", "/index.html").status == 200
    finally:
        os.kill(parent, signal.SIGCONT)
    time.sleep(0.5)
    log = a.error_log()
    assert f"worker {pid1} exited with" not in log  # nothing left for the parent
    assert not a.denials(), a.denials()
    # The cap still holds afterwards.
    t2, out2, _ = hold(a, "site-a.test", "z2", 2)
    assert a.get("site-a.test", "/index.html").status == 508
    t2.join(30)
    assert out2[0][0] == 200


def test_graceful_restart_keeps_the_count_and_takes_the_new_cap(apache_factory):
    """A request of the old generation still counts after a graceful restart
    (same table); the new policy's max_requests applies to new workers."""
    a = capped_server(apache_factory, cap=1, workers=4)
    t1, out1, _ = hold(a, "site-a.test", "g1", 10)
    assert a.get("site-a.test", "/index.html").status == 508
    a.write_policy(policy_for(a.root, ["site-a", "site-b"], tenant_rules={"site-a": {"max_requests": 2}}))
    a.graceful()
    # Cap 2 now, and the old generation's request is one of the two.
    t2, out2, _ = hold(a, "site-a.test", "g2", 3)
    # The refusal line is logged at most once a second per tenant: on a fast
    # machine the first 508's line would still be the last one.
    time.sleep(1.1)
    r = a.get("site-a.test", "/index.html")
    assert r.status == 508, a.error_log()
    assert "max 2" in cap_lines(a, "site-a")[-1], cap_lines(a, "site-a")
    t1.join(30)
    t2.join(30)
    assert out1[0][0] == 200 and out2[0][0] == 200, (out1, out2)
    both = in_parallel(a, [("site-a.test", "/t.php?op=sleep&arg=1")] * 2)
    assert [x[0] for x in both] == [200, 200], both


def test_subrequests_redirects_and_error_documents_count_once(apache_factory):
    a = capped_server(apache_factory, cap=1, workers=6,
                      extra=["ErrorDocument 404 /t.php?op=whoami", "ErrorDocument 508 /busy.html"])
    for _ in range(3):
        # mod_php virtual(): a subrequest inside a request of a tenant at cap 1.
        r = a.get("site-a.test", "/sub.php")
        assert r.status == 200 and "page-of-site-a" in r.text and "|sub-done" in r.text, r
        # DirectoryIndex: lookups by subrequest, then an internal redirect.
        r = a.get("site-a.test", "/")
        assert r.status == 200 and "page-of-site-a" in r.text, r
        # ErrorDocument served by PHP (an internal redirect) as the tenant.
        r = a.get("site-a.test", "/no-such-page")
        assert r.status == 404 and r.json()["tenant"] == "site-a", r
    # The 508 itself with an ErrorDocument: the page is the tenant's, the
    # status and Retry-After stay.
    t, out, _ = hold(a, "site-a.test", "ed", 3)
    r = a.get("site-a.test", "/index.html")
    t.join(30)
    assert r.status == 508 and "busy-page-site-a" in r.text, r
    assert r.headers.get("retry-after") == "1"
    assert out[0][0] == 200
    # Nothing leaked: at cap 1 a plain request still goes through.
    assert a.get("site-a.test", "/index.html").status == 200


def test_event_mpm_counts_and_releases(apache_factory):
    """Threaded MPM (no mod_php there: mod_lua sleeps instead). The release
    runs where the tag is cleared -- at EOS in the handler's thread."""
    a = apache_factory(mpm="event", php=False)
    a.extra_modules.append("lua")
    a.server_extra += ["LuaScope thread", "AddHandler lua-script .lua"]
    for t in ("site-a", "site-b"):
        d = make_tenant_dir(a.root, t)
        with open(os.path.join(d, "sleep.lua"), "w") as fh:
            fh.write('function handle(r)\n  r.content_type = "text/plain"\n'
                     # mod_lua has no sleep and exec is the sandbox's to refuse:
                     # wait on the wall clock (1-2 s for s=2).
                     '  local t0 = os.time()\n'
                     '  while os.time() - t0 < tonumber(r:parseargs().s or "1") do end\n'
                     '  r:puts("slept-" .. (r.subprocess_env["TENANT_ID"] or "none"))\n'
                     '  return apache2.OK\nend\n')
    a.write_policy(policy_for(a.root, ["site-a", "site-b"], tenant_rules={"site-a": {"max_requests": 2}}))
    a.tenant_vhost("site-a")
    a.tenant_vhost("site-b")
    a.start()
    results = in_parallel(a, [("site-a.test", "/sleep.lua?s=3")] * 5)
    assert sorted(r[0] for r in results) == [200, 200, 508, 508, 508], results
    assert (max(r[1] for r in results if r[0] == 508) <
            min(r[1] for r in results if r[0] == 200) - 1.0), results
    assert all(r[2].text == "slept-site-a" for r in results if r[0] == 200)
    again = in_parallel(a, [("site-a.test", "/sleep.lua?s=1")] * 2 + [("site-b.test", "/sleep.lua?s=1")] * 4)
    assert [r[0] for r in again] == [200] * 6, again
    # Many short requests afterwards: nothing leaked in any thread.
    for _ in range(20):
        assert a.get("site-a.test", "/index.html").status == 200


def test_audit_mode_tenant_is_counted_and_logged_not_refused(apache_factory):
    a = apache_factory(workers=5)
    for t in ("site-a", "site-b"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"],
                              tenant_rules={"site-a": {"max_requests": 1, "mode": "audit"}}))
    a.tenant_vhost("site-a")
    a.tenant_vhost("site-b")
    a.start()
    results = in_parallel(a, [("site-a.test", "/t.php?op=sleep&arg=2")] * 3)
    assert [r[0] for r in results] == [200] * 3, results
    lines = [l for l in a.error_log().splitlines() if "AH10952" in l]
    assert lines and "audit: tenant site-a over max_requests" in lines[0] and "would answer 508" in lines[0], \
        a.error_log()
    assert not cap_lines(a, "site-a")


def test_unusable_state_dir_fails_closed_for_capped_tenants_only(apache_factory):
    a = apache_factory(workers=3)
    for t in ("site-a", "site-b"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"], tenant_rules={"site-a": {"max_requests": 5}}))
    a.tenant_vhost("site-a")
    a.tenant_vhost("site-b")
    os.chmod(a.state_dir, 0o777)  # anybody could swap the table: refused
    a.start()
    assert a.get("site-b.test", "/index.html").status == 200
    assert a.get("site-a.test", "/index.html").status == 503
    log = a.error_log()
    assert "AH10950" in log and f"{a.state_dir}/requests" in log and "world-writable" in log, log
    assert "AH10953" in log and "tenant site-a has max_requests 5" in log, log
