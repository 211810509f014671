/*
 * max_requests (tt_limit.h): how many requests of a tenant may be in
 * progress at once over all workers. Over it the request is answered at once
 * -- TenantOverLimitStatus, 508 unless 429 is chosen for the vhost -- with
 * Retry-After, and never queued: a queued request would still hold the
 * connection and, in prefork, the worker, which is exactly what the cap is
 * there to protect for the other tenants.
 *
 * The counting is libsandbox's (its requests table, opened in the root
 * parent by sandbox_server_start and inherited by every worker; each worker
 * notes itself in sandbox_worker_start):
 *   post_read_request (via tt_limit_admit, main request only) count / refuse
 *   tt_clear      (via tt_limit_release) the request ended
 *   child_status  (parent) a worker exited: return whatever it still held
 *                 (SIGKILL mid-request), at once -- before its pid can be
 *                 reused. Tenants at their cap also reclaim dead workers'
 *                 slots themselves (libsandbox), in case the parent missed
 *                 it (the table is shared by every server using STATE_DIR).
 */
#include "mod_tenant_tag.h"
#include "tt_api.h"
#include "tt_limit.h"

#include "ap_mpm.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"

#include <apr_strings.h>

APLOG_USE_MODULE(tenant_tag);

/* Retry-After: the cap counts requests IN PROGRESS, and a typical PHP
 * request finishes within a second, so one second later a slot is most
 * likely free. 0 would invite clients to retry in a tight loop (what a
 * flood does anyway: it gets the same cheap answer); more than a few
 * seconds would needlessly delay a real visitor of a briefly busy site. */
#define TT_RETRY_AFTER "1"

static volatile apr_time_t tt_limit_last_503_log;  /* 10953 rate limit, per process */

static void tt_limit_child_status(server_rec *s, pid_t pid, ap_generation_t gen, int slot,
                                  mpm_child_status state)
{
    const tt_api_table *api = tt_api();
    int n;
    (void)gen; (void)slot;
    if (state != MPM_CHILD_EXITED || !api) return;
    n = api->sandbox_worker_exited((int)pid);
    if (n > 0)
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, APLOGNO(10955)
                     "worker %d exited with %d request(s) in progress: returned to their "
                     "tenants' max_requests", (int)pid, n);
}

/* 10953 at most once a second per worker: a flood must not flood the log. */
static int tt_limit_log_503_now(void)
{
    apr_time_t now = apr_time_now();
    apr_time_t last = tt_limit_last_503_log;
    if (now - last < apr_time_from_sec(1)) return 0;
    return __atomic_compare_exchange_n(&tt_limit_last_503_log, &last, now, 0,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

int tt_limit_admit(request_rec *r, const char *tenant, const tt_server_conf *conf, unsigned *ticket)
{
    const tt_api_table *api = tt_api();
    struct sandbox_admission res;
    if (!api || api->sandbox_request_admit(&res) != 0) return HTTP_SERVICE_UNAVAILABLE;
    switch (res.verdict) {
    case SANDBOX_ADMITTED:
        *ticket = res.ticket;
        if (res.over_cap && res.log_now)
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, APLOGNO(10952)
                          "audit: tenant %s over max_requests (%u in progress, max %u): "
                          "would answer %d, admitted (logged at most once a second per tenant)",
                          tenant, res.in_progress, res.cap, conf->over_limit_status);
        return DECLINED;
    case SANDBOX_OVER_LIMIT:
        /* err_headers_out: kept on the error response ap_die sends (and on
         * an ErrorDocument's internal redirect). */
        apr_table_setn(r->err_headers_out, "Retry-After", TT_RETRY_AFTER);
        if (res.log_now)
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, APLOGNO(10951)
                          "tenant %s over max_requests (%u in progress, max %u): %d, "
                          "Retry-After " TT_RETRY_AFTER "; %" APR_UINT64_T_FMT " refused so far (logged at "
                          "most once a second per tenant)", tenant, res.in_progress,
                          res.cap, conf->over_limit_status, (apr_uint64_t)res.refused);
        return conf->over_limit_status;
    default:
        /* Not counted: fail closed only where a cap was promised. */
        if (res.cap == SANDBOX_NO_CAP || !res.enforce || conf->sandbox == TT_SANDBOX_AUDIT) return DECLINED;
        if (tt_limit_log_503_now())
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10953)
                          "tenant %s has max_requests %u but the requests-in-progress table "
                          "%s: 503 (logged at most once a second per worker)", tenant,
                          res.cap, res.why);
        return HTTP_SERVICE_UNAVAILABLE;
    }
}

void tt_limit_release(unsigned *ticket)
{
    const tt_api_table *api;
    unsigned t = *ticket;
    *ticket = 0;
    if (t && (api = tt_api()) != NULL) api->sandbox_request_done(t);
}

void tt_limit_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_child_status(tt_limit_child_status, NULL, NULL, APR_HOOK_MIDDLE);
}
