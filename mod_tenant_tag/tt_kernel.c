/*
 * mod_tenant_tag kernel layers (tt_kernel.h): Apache glue.
 *
 *   child_init   (REALLY_FIRST) sandbox_worker_start: the requests table
 *                               learns this worker; with TenantKernelConfine
 *                               On somewhere, the worker baseline (no
 *                               capabilities, not dumpable, no_new_privs,
 *                               worker seccomp filter with TSYNC: before
 *                               other modules start threads) and the
 *                               confined request threads
 *   handler      (REALLY_FIRST) for a request with a tenant: run the rest of
 *                               the handler chain (ap_run_handler) on the
 *                               worker's confined thread for that tenant
 *                               (sandbox_run_confined), wait for it, return
 *                               its status
 *
 * The mod_process_security / mod_selinux pattern: the confinement is
 * one-way and per thread, so the worker's own thread stays free to serve
 * the next tenant; the confined thread (and whatever it starts) stays
 * confined until it exits. mod_php runs the whole request lifecycle inside
 * its handler (script, register_shutdown_function, destructors, output
 * callbacks, php_request_shutdown), so all tenant PHP code runs there.
 * libsandbox gives the confined thread the worker thread's tag for the
 * call (same request id, audit switch, connection budget).
 *
 * Audit (TenantSandbox Audit vhosts, policy "mode": "audit" tenants) gets
 * no per-request ruleset: audit promises to log, not deny; the worker
 * baseline still holds.
 *
 * Why child_init and not earlier: prefork and event call the MPM's
 * drop_privileges hook (setuid, and PR_SET_DUMPABLE 1 with
 * CoreDumpDirectory) before child_init, so the baseline comes after both
 * and is the last word on dumpable.
 */
#include "mod_tenant_tag.h"
#include "tt_api.h"
#include "tt_kernel.h"

#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include <apr_strings.h>
#include <errno.h>
#include <string.h>

APLOG_USE_MODULE(tenant_tag);

static int tt_k_baseline_failed;       /* child: refuse every tenant request */
static __thread int tt_k_in_confined;  /* this thread is running a confined handler */

static void tt_k_child_init(apr_pool_t *pchild, server_rec *s)
{
    const tt_api_table *api = tt_api();
    server_rec *vs;
    int used = 0, kernel = 0, rc;
    char report[2048];
    (void)pchild;
    tt_k_baseline_failed = 0;
    for (vs = s; vs; vs = vs->next) {
        tt_server_conf *c = tt_conf(vs);
        if (c->sandbox == TT_SANDBOX_OFF) continue;
        used = 1;
        if (c->kernel_confine) kernel = 1;
    }
    if (!used || !api) return;
    rc = api->sandbox_worker_start(kernel ? SANDBOX_WORKER_KERNEL : 0, report, sizeof(report));
    if (!kernel) return;
    if (rc != 0) {
        tt_k_baseline_failed = 1;
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, APLOGNO(10932)
                     "worker baseline could not be applied (%d: %s): every tenant request of "
                     "this worker is answered 503", rc, report);
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, APLOGNO(10931) "worker baseline: %s", report);
}

typedef struct {
    request_rec *r;
    int status;
} tt_k_call;

/* On the confined thread (libsandbox gave it the request's tag). */
static void *tt_k_confined_main(void *arg)
{
    tt_k_call *call = arg;
    tt_k_in_confined = 1;
    call->status = ap_run_handler(call->r);
    tt_k_in_confined = 0;
    return NULL;
}

static int tt_k_handler(request_rec *r)
{
    const tt_api_table *api;
    tt_server_conf *conf;
    const char *tenant;
    tt_k_call call;
    char msg[2048];
    int rc, flags;

    if (tt_k_in_confined || !(api = tt_api())) return DECLINED;
    conf = tt_conf(r->server);
    if (conf->sandbox == TT_SANDBOX_OFF) return DECLINED;
    /* libsandbox's own answer for this thread, not TENANT_ID from
     * subprocess_env (SetEnv could write that). */
    tenant = api->sandbox_current_tenant();
    if (!tenant) return DECLINED;
    if (tt_k_baseline_failed) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10933)
                      "tenant %s: the worker baseline is not in force in this worker: 503",
                      tenant);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (!conf->kernel_confine) return DECLINED;
    /* Only handlers that run tenant code need the confined thread; Apache's
     * own (static files above all) stay on this thread, under libsandbox. */
    if (!tt_is_confined_handler(conf, r->handler)) return DECLINED;
    if (conf->sandbox == TT_SANDBOX_AUDIT) {
        /* TenantSandbox Audit promises to log, not deny: a Landlock ruleset
         * could only refuse. The worker baseline (checked above) still
         * holds; libsandbox logs this request's calls as audit lines. */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, APLOGNO(10942)
                      "tenant %s: TenantSandbox Audit: no per-request kernel ruleset", tenant);
        return DECLINED;
    }
    flags = api->sandbox_tenant_flags();
    if (flags > 0 && (flags & SANDBOX_TENANT_AUDIT)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, APLOGNO(10939)
                      "tenant %s is in audit mode: no per-request kernel ruleset", tenant);
        return DECLINED;
    }
    call.r = r;
    call.status = HTTP_INTERNAL_SERVER_ERROR;
    /* For the access log (%{TENANT_CONFINED}e) and the tests: this request's
     * handler ran on a confined thread. */
    apr_table_setn(r->subprocess_env, "TENANT_CONFINED", "1");
    rc = api->sandbox_run_confined(tt_k_confined_main, &call, msg, sizeof(msg));
    if (rc != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10934)
                      "tenant %s: the confined thread could not run the handler (%d: %s): 503, "
                      "the handler did not run", tenant, rc, ap_escape_logitem(r->pool, msg));
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (msg[0])
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, APLOGNO(10938)
                      "tenant %s confinement prepared: %s", tenant, msg);
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
                      tenant);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return call.status;
}

void tt_kernel_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_child_init(tt_k_child_init, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_handler(tt_k_handler, NULL, NULL, APR_HOOK_REALLY_FIRST);
}
