/*
 * mod_tenant_tag: TenantSandbox Audit and the request id in libsandbox's
 * denial lines (issue 6, "Roll out without breaking sites" and "Logs").
 *
 *   post_read_request REALLY_FIRST (mod_tenant_tag.c, right after the tag
 *                     is set): an Audit vhost's request becomes audit-only,
 *                     before any other module's hook runs as the tenant
 *   post_read_request LAST: mod_unique_id makes UNIQUE_ID in its own
 *                     post_read_request (APR_HOOK_MIDDLE), after ours ran;
 *                     here it exists and is handed to libsandbox, so every
 *                     later line of the request says request=UNIQUE_ID
 *
 * Both go through sandbox_set_request_info (tenant_sandbox.h): libsandbox
 * keeps them on the thread's tenant tag, so threads and processes the
 * request starts -- and the kernel layer's confined handler thread, which
 * carries the same tag -- stay audit and carry the id, and
 * sandbox_clear_tenant forgets them. Only the claimant (this module) may
 * call it: tenant code cannot turn its own requests into audit.
 */
#include "mod_tenant_tag.h"
#include "tt_api.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include <apr_strings.h>
#include <errno.h>

APLOG_USE_MODULE(tenant_tag);

void tt_audit_request_set(request_rec *r, tt_req_state *st, const tt_server_conf *conf)
{
    const tt_api_table *api = tt_api();
    int rc;
    st->audit = conf->sandbox == TT_SANDBOX_AUDIT;
    if (!st->audit) return;
    rc = api ? api->sandbox_set_request_info(NULL, SANDBOX_REQUEST_AUDIT) : -ENOSYS;
    if (rc != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10972)
                      "TenantSandbox Audit: sandbox_set_request_info failed (%d): tenant %s "
                      "runs enforced for this request", rc, st->tenant);
        st->audit = 0;
    }
}

static int tt_audit_post_read_request(request_rec *r)
{
    const tt_api_table *api;
    tt_req_state *st;
    const char *id;
    int rc;
    if (r->main || r->prev) return DECLINED;
    st = ap_get_module_config(r->request_config, &tenant_tag_module);
    if (!st || !st->set) return DECLINED;
    id = apr_table_get(r->subprocess_env, "UNIQUE_ID");
    if (!id || !*id || !(api = tt_api())) return DECLINED;
    rc = api->sandbox_set_request_info(id, st->audit ? SANDBOX_REQUEST_AUDIT : 0);
    if (rc == 0) {
        st->request_id = apr_pstrdup(r->pool, id);
    } else {
        /* An id libsandbox will not write into a log line unquoted (a
         * UNIQUE_ID set from a client header by some other module, say):
         * lines go without request=. */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, APLOGNO(10970)
                      "UNIQUE_ID not passed to libsandbox (%d): denial lines carry no request=",
                      rc);
    }
    return DECLINED;
}

void tt_audit_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_read_request(tt_audit_post_read_request, NULL, NULL, APR_HOOK_LAST);
}
