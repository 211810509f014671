/*
 * max_requests (tt_limit.h): how many requests of a tenant may be in
 * progress at once over all workers. Over it the request is answered at once
 * -- TenantOverLimitStatus, 508 unless 429 is chosen for the vhost -- with
 * Retry-After, and never queued: a queued request would still hold the
 * connection and, in prefork, the worker, which is exactly what the cap is
 * there to protect for the other tenants.
 *
 *   post_config   (parent, root, no tenant) open STATE_DIR/requests; every
 *                 worker inherits the mapping, so a request only does
 *                 atomics on it. First start: sweep slots of dead processes.
 *   child_init    (worker, no tenant) note pid + start time; retry the open
 *   post_read_request (via tt_limit_admit, main request only) count / refuse
 *   tt_clear      (via tt_limit_release) the request ended
 *   child_status  (parent) a worker exited: return whatever it still held
 *                 (SIGKILL mid-request), at once -- before its pid can be
 *                 reused. Tenants at their cap also reclaim dead workers'
 *                 slots themselves (requests.cpp), in case the parent missed
 *                 it (the table is shared by every server using STATE_DIR).
 */
#include "mod_tenant_tag.h"
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

static int tt_limit_table_ok;       /* the table is open in this process */
static char tt_limit_open_err[512]; /* why not (logged at start) */
static volatile apr_time_t tt_limit_last_503_log;  /* 10953 rate limit, per process */

static int tt_limit_wanted(server_rec *s)
{
    for (; s; s = s->next)
        if (tt_conf(s)->sandbox != TT_SANDBOX_OFF) return 1;
    return 0;
}

static int tt_limit_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf; (void)plog; (void)ptemp;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) return OK;
    if (!tt_limit_wanted(s)) return OK;
    tt_limit_bridge_take_policy();
    tt_limit_table_ok = tt_limit_bridge_open(tt_limit_open_err, sizeof(tt_limit_open_err)) == 0;
    if (!tt_limit_table_ok) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, APLOGNO(10950)
                     "requests-in-progress table unavailable (%s): requests of tenants with "
                     "max_requests are answered 503, other tenants are served uncounted",
                     tt_limit_open_err);
        return OK;
    }
    if (ap_state_query(AP_SQ_CONFIG_GEN) == 0) {
        unsigned n = tt_limit_bridge_sweep();
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, APLOGNO(10954)
                     "requests-in-progress table open; %u slot(s) of processes that are "
                     "gone returned", n);
    }
    return OK;
}

static void tt_limit_child_init(apr_pool_t *pchild, server_rec *s)
{
    (void)pchild;
    if (!tt_limit_wanted(s)) return;
    if (!tt_limit_table_ok) {
        /* The parent could not open it; a worker (not root) rarely can, but
         * the folder may have been fixed since. Logged by the parent. */
        tt_limit_table_ok = tt_limit_bridge_open(tt_limit_open_err, sizeof(tt_limit_open_err)) == 0;
    }
    if (tt_limit_table_ok) tt_limit_bridge_child();
}

static void tt_limit_child_status(server_rec *s, pid_t pid, ap_generation_t gen, int slot,
                                  mpm_child_status state)
{
    unsigned n;
    (void)gen; (void)slot;
    if (state != MPM_CHILD_EXITED || !tt_limit_table_ok) return;
    n = tt_limit_bridge_process_exited(pid);
    if (n > 0)
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, APLOGNO(10955)
                     "worker %d exited with %u request(s) in progress: returned to their "
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
    tt_limit_result res;
    tt_limit_bridge_admit(tenant, conf->sandbox == TT_SANDBOX_AUDIT, &res);
    switch (res.verdict) {
    case TT_LIMIT_ADMITTED:
        *ticket = res.ticket;
        if (res.over_cap && res.log_now)
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, APLOGNO(10952)
                          "audit: tenant %s over max_requests (%u in progress, max %u): "
                          "would answer %d, admitted (logged at most once a second per tenant)",
                          tenant, res.in_progress, res.cap, conf->over_limit_status);
        return DECLINED;
    case TT_LIMIT_OVER:
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
        if (res.cap == TT_LIMIT_NO_CAP || !res.enforce) return DECLINED;
        if (tt_limit_log_503_now())
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10953)
                          "tenant %s has max_requests %u but the requests-in-progress table "
                          "%s: 503 (logged at most once a second per worker)", tenant,
                          res.cap, res.verdict == TT_LIMIT_FULL ? "is full"
                          : apr_pstrcat(r->pool, "is unavailable (", tt_limit_open_err, ")", NULL));
        return HTTP_SERVICE_UNAVAILABLE;
    }
}

void tt_limit_release(unsigned *ticket)
{
    if (*ticket) tt_limit_bridge_release(ticket);
}

void tt_limit_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_config(tt_limit_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(tt_limit_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_status(tt_limit_child_status, NULL, NULL, APR_HOOK_MIDDLE);
}
