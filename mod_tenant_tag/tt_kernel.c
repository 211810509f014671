/*
 * mod_tenant_tag kernel layers (issue 4): Apache glue.
 *
 *   post_config  (LAST)         load the policy copy the rulesets come from
 *   child_init   (REALLY_FIRST) worker baseline: no capabilities, not
 *                               dumpable, no_new_privs, worker seccomp filter
 *                               (TSYNC: before other modules start threads);
 *                               then start the spawner threads
 *   handler      (REALLY_FIRST) for a request with a tenant: run the rest of
 *                               the handler chain (ap_run_handler) on a thread
 *                               confined with the tenant's Landlock ruleset +
 *                               seccomp, wait for it, return its status. The
 *                               thread is this worker's thread for that
 *                               tenant (tenant_kernel's pool: created and
 *                               confined on the tenant's first request here,
 *                               reused for its later ones, never for another
 *                               tenant; at most 16 per worker, LRU)
 *
 * The mod_process_security / mod_selinux pattern: the confinement is
 * one-way and per thread, so the worker's own thread stays free to serve
 * the next tenant; the request thread (and whatever it starts) stays
 * confined until it exits. Audit (TenantSandbox Audit vhosts, policy
 * "mode": "audit" tenants) gets no per-request ruleset: audit promises to
 * log, not deny; the worker baseline still holds. mod_php runs the whole request lifecycle inside its handler
 * (script, register_shutdown_function, destructors, output callbacks,
 * php_request_shutdown), so all tenant PHP code runs in that thread.
 *
 * Why child_init and not earlier: prefork and event call the MPM's
 * drop_privileges hook (setuid, and PR_SET_DUMPABLE 1 with
 * CoreDumpDirectory) before child_init, so the baseline comes after both
 * and is the last word on dumpable.
 *
 * The libsandbox tag is thread-local. The confined thread is created by a
 * spawner thread (tenant_kernel: it carries the per-thread seccomp filter so
 * new threads inherit it for free), and libsandbox's pthread_create wrapper
 * gives a new thread its creator's tag -- the spawner's, not the request's.
 * So the spawners are started here in child_init, from a thread with no tag,
 * and the confined thread sets the request's tenant itself (this module is
 * libsandbox's claimant) before any handler runs, and clears it at the end.
 */
#include "mod_tenant_tag.h"
#include "tt_kernel.h"

#include "ap_mpm.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include <apr_strings.h>
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

APLOG_USE_MODULE(tenant_tag);

static struct {
    int (*set_tenant)(const char *);
    int (*clear_tenant)(const char *);
    const char *(*current_tenant)(void);
    int found;
} tt_k_api;

static int tt_k_wanted;           /* some vhost: TenantSandbox On/Audit + TenantKernelConfine On */
static int tt_k_baseline_failed;  /* child: refuse every tenant request */
static int tt_k_spawners_failed;  /* child: refuse confined requests */
static __thread int tt_k_in_confined;  /* this thread is a confined handler thread */

static void tt_k_resolve(void)
{
    union { void *p; int (*set)(const char *); const char *(*cur)(void); } u;
    if (tt_k_api.found) return;
    u.p = dlsym(RTLD_DEFAULT, "sandbox_set_tenant"); tt_k_api.set_tenant = u.set;
    u.p = dlsym(RTLD_DEFAULT, "sandbox_clear_tenant"); tt_k_api.clear_tenant = u.set;
    u.p = dlsym(RTLD_DEFAULT, "sandbox_current_tenant"); tt_k_api.current_tenant = u.cur;
    tt_k_api.found = tt_k_api.set_tenant && tt_k_api.clear_tenant && tt_k_api.current_tenant;
}

static int tt_k_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    server_rec *vs;
    char err[4096];
    (void)pconf; (void)plog;
    tt_k_wanted = 0;
    for (vs = s; vs; vs = vs->next) {
        tt_server_conf *c = tt_conf(vs);
        tt_apply_defaults(c);  /* idempotent; mod_tenant_tag.c did it already */
        if (c->sandbox != TT_SANDBOX_OFF && c->kernel_confine) tt_k_wanted = 1;
    }
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) return OK;
    if (!tt_k_wanted || !tt_conf(s)->policy) return OK;
    /* Once per start/restart, at notice: what the running kernel offers
     * (the issue asks operators to be told; workers log their baseline). */
    tt_kernel_support(err, sizeof(err));
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, APLOGNO(10930)
                 "TenantKernelConfine: kernel offers %s", err);
    if (tt_kernel_load_policy(tt_conf(s)->policy, err, sizeof(err)) != 0)
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, APLOGNO(10937)
                     "TenantKernelConfine: policy %s not loaded for the kernel layer (%s); "
                     "the previous copy stays, or confined requests get 503",
                     tt_conf(s)->policy, ap_escape_logitem(ptemp, err));
    return OK;
}

static void tt_k_child_init(apr_pool_t *pchild, server_rec *s)
{
    char msg[2048];
    (void)pchild;
    tt_k_baseline_failed = 0;
    tt_k_spawners_failed = 0;
    if (!tt_k_wanted) return;
    tt_k_resolve();
    if (tt_kernel_baseline(msg, sizeof(msg)) != 0) {
        tt_k_baseline_failed = 1;
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, APLOGNO(10932)
                     "worker baseline could not be applied (%s): every tenant request of "
                     "this worker is answered 503", msg);
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, APLOGNO(10931)
                 "worker baseline: %s", msg);
    if (tt_kernel_warm(msg, sizeof(msg)) != 0) {
        tt_k_spawners_failed = 1;
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, APLOGNO(10940)
                     "confined request threads cannot be started (%s): requests of vhosts "
                     "with TenantKernelConfine On are answered 503", msg);
    }
}

typedef struct {
    request_rec *r;
    const char *tenant;
    int status;
    int handover_rc;     /* set/clear of the tag in the confined thread */
    int clear_rc;        /* clearing the tag at the end failed (thread retired) */
} tt_k_call;

/* Runs on a confined thread of this worker that serves only call->tenant
 * (tenant_kernel's pool: bound once to the tenant's Landlock ruleset, reused
 * for that tenant's later requests, never for another). Landlock and
 * seccomp are in force already. libsandbox's per-request semantics hold
 * here exactly as on a fresh thread: the tag is set at the start of each
 * request and cleared at its end IN this thread (this module is the
 * claimant), so libsandbox's end-of-request work (sockets the request
 * opened are neutralised, the connection budget released) and the denial
 * log (tenant and request id) see one request at a time.
 * Returns non-NULL to have the pool retire this thread after the job: a
 * thread whose tag could not be handed over or cleared is never reused. */
static void *tt_k_confined_main(void *arg)
{
    tt_k_call *call = arg;
    const char *cur = tt_k_api.current_tenant();
    int rc = 0;
    /* A pooled thread has no tag between requests (cleared below). A tag
     * still there (a clear that failed: the thread is retired then, so this
     * is defence in depth) is dropped before ours is set. */
    if (cur) rc = tt_k_api.clear_tenant(NULL);
    if (rc == 0) rc = tt_k_api.set_tenant(call->tenant);
    if (rc != 0) {
        call->handover_rc = rc;
        return call;
    }
    /* The request's id (and audit switch) as the worker thread's tag got
     * them (tt_audit.c): denial lines of this thread say request=UNIQUE_ID.
     * Best effort: a failure only loses the id in the log. An audit request
     * never reaches a confined thread (tt_k_handler declines it), so this
     * never turns a confined request into audit. */
    (void)tt_audit_apply_in_thread(call->r);
    tt_k_in_confined = 1;
    call->status = ap_run_handler(call->r);
    tt_k_in_confined = 0;
    /* This thread's own tag (mod_tenant_tag.c's EOS filter clears only the
     * tag of the thread that set it, the worker thread's). */
    if (tt_k_api.current_tenant()) {
        call->clear_rc = tt_k_api.clear_tenant(call->tenant);
        if (call->clear_rc != 0) return call;
    }
    return NULL;
}

static int tt_k_handler(request_rec *r)
{
    tt_server_conf *conf;
    const char *tenant;
    tt_k_call call;
    char err[1024], report[2048];
    int rc;

    if (tt_k_in_confined || !tt_k_wanted || !tt_k_api.found) return DECLINED;
    conf = tt_conf(r->server);
    if (conf->sandbox == TT_SANDBOX_OFF) return DECLINED;
    /* libsandbox's own answer for this thread, not TENANT_ID from
     * subprocess_env (SetEnv could write that). */
    tenant = tt_k_api.current_tenant();
    if (!tenant) return DECLINED;
    if (tt_k_baseline_failed) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10933)
                      "tenant %s: the worker baseline is not in force in this worker: 503",
                      tenant);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (!conf->kernel_confine) return DECLINED;
    if (conf->sandbox == TT_SANDBOX_AUDIT) {
        /* TenantSandbox Audit promises to log, not deny: a Landlock ruleset
         * could only refuse. The worker baseline (checked above) still
         * holds; libsandbox logs this request's calls as audit lines. */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, APLOGNO(10942)
                      "tenant %s: TenantSandbox Audit: no per-request kernel ruleset", tenant);
        return DECLINED;
    }
    if (tt_kernel_tenant_is_audit(tenant)) {
        /* Logged per request at debug only: audit tenants are a deliberate
         * operator choice (AH10909 at start-up already says what audit is). */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, APLOGNO(10939)
                      "tenant %s is in audit mode: no per-request kernel ruleset", tenant);
        return DECLINED;
    }
    if (tt_k_spawners_failed) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10934)
                      "tenant %s: confined request threads are not available in this "
                      "worker: 503", tenant);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    memset(&call, 0, sizeof(call));
    call.r = r;
    call.tenant = apr_pstrdup(r->pool, tenant);
    call.status = HTTP_INTERNAL_SERVER_ERROR;
    rc = tt_kernel_run_confined(call.tenant, tt_k_confined_main, &call, err, sizeof(err),
                                report, sizeof(report));
    if (report[0])
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, APLOGNO(10938)
                      "tenant %s confinement prepared: %s", call.tenant, report);
    if (rc != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10934)
                      "tenant %s: request thread could not be confined (%d: %s): 503, "
                      "the handler did not run", call.tenant, rc, ap_escape_logitem(r->pool, err));
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (call.handover_rc != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10935)
                      "tenant %s could not be set in the confined thread (%d): 503",
                      call.tenant, call.handover_rc);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (call.clear_rc != 0) {
        /* The handler ran; its thread kept a tag it could not clear and was
         * retired (never serves again). The response stands. */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10943)
                      "tenant %s: tag of the confined thread could not be cleared (%d): "
                      "that thread was retired", call.tenant, call.clear_rc);
    }
    /* mod_php passed EOS in the confined thread: the request ended there,
     * and this (worker) thread's tag is cleared now, before log_transaction
     * and before anything else this thread does. */
    tt_settle_request(r);
    if (call.status == DECLINED) {
        /* No handler took the request in the confined thread. Returning
         * DECLINED would let ap_run_handler go on with the remaining
         * handlers on this, unconfined, thread; answer as ap_invoke_handler
         * does for "handler not found" instead. */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, APLOGNO(10941)
                      "tenant %s: no handler took the request in the confined thread: 500",
                      call.tenant);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return call.status;
}

void tt_kernel_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_config(tt_k_post_config, NULL, NULL, APR_HOOK_LAST);
    ap_hook_child_init(tt_k_child_init, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_handler(tt_k_handler, NULL, NULL, APR_HOOK_REALLY_FIRST);
}
