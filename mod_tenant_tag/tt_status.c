/*
 * mod_tenant_tag status page (issue 6): `SetHandler tenant-status`.
 *
 *   handler                     the page: HTML, ?json, ?prometheus
 *                               (libsandbox renders it: sandbox_status_render;
 *                               the tables it reads were opened in the parent
 *                               by sandbox_server_start)
 *
 * Query: `json` | `prometheus` (default HTML), `top=N` (tenants with rows
 * of their own, default 100, at most 10000; the rest are summed as one
 * "other" row), `tenant=ID` (JSON: only that tenant).
 *
 * Who may see it: whoever the operator's <Location> lets through (Require
 * local in conf/tenant_tag.conf, as mod_status ships), and never a tenant's
 * own request: a tenant that writes `SetHandler tenant-status` into its
 * .htaccess would otherwise read every other tenant's denial targets
 * (paths, addresses). Refused with 403 and logged.
 */
#include "mod_tenant_tag.h"
#include "tt_api.h"
#include "tt_status.h"

#include "ap_mpm.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

APLOG_USE_MODULE(tenant_tag);

#define TT_STATUS_HANDLER "tenant-status"

/* The tenant whose request this is, or NULL: libsandbox's own answer for
 * this thread (set in post_read_request, and in the kernel layer's confined
 * handler thread), and TENANT_ID as a second witness (a vhost that resolved
 * a tenant always sets it; an operator's SetEnv TENANT_ID only makes the
 * page refuse, the safe side). */
static const char *tt_status_tenant_of(request_rec *r)
{
    const tt_api_table *api = tt_api();
    const char *t = NULL;
    request_rec *root = r;
    if (api) t = api->sandbox_current_tenant();
    if (t) return t;
    while (root->main) root = root->main;
    while (root->prev) root = root->prev;
    t = apr_table_get(r->subprocess_env, "TENANT_ID");
    if (!t) t = apr_table_get(root->subprocess_env, "TENANT_ID");
    return t;
}

/* The value of `name` in the query string (name=value&...), or "" when it
 * stands alone, or NULL. Allocated from r->pool, unescaped. */
static const char *tt_status_arg(request_rec *r, const char *name)
{
    const char *args = r->args, *tok;
    size_t n = strlen(name);
    char *copy, *state = NULL;
    if (!args) return NULL;
    copy = apr_pstrdup(r->pool, args);
    for (tok = apr_strtok(copy, "&;", &state); tok; tok = apr_strtok(NULL, "&;", &state)) {
        if (strncmp(tok, name, n) != 0) continue;
        if (tok[n] == '\0') return "";
        if (tok[n] == '=') {
            char *v = apr_pstrdup(r->pool, tok + n + 1);
            if (ap_unescape_url(v) != OK) return NULL;
            return v;
        }
    }
    return NULL;
}

static int tt_status_handler(request_rec *r)
{
    const char *tenant, *top_arg, *only;
    const tt_api_table *api;
    int format = SANDBOX_STATUS_HTML;
    apr_int64_t top = TT_STATUS_DEFAULT_TOP;
    size_t len = 0;
    char *text;

    if (!r->handler || strcmp(r->handler, TT_STATUS_HANDLER) != 0) return DECLINED;
    tenant = tt_status_tenant_of(r);
    if (tenant) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10960)
                      "tenant-status refused inside a request of tenant %s (a tenant's "
                      "configuration named the handler): 403",
                      ap_escape_logitem(r->pool, tenant));
        return HTTP_FORBIDDEN;
    }
    r->allowed |= (AP_METHOD_BIT << M_GET);
    if (r->method_number != M_GET) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, APLOGNO(10963)
                      "tenant-status answers GET and HEAD only: 405");
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (tt_status_arg(r, "json")) format = SANDBOX_STATUS_JSON;
    else if (tt_status_arg(r, "prometheus")) format = SANDBOX_STATUS_PROMETHEUS;
    top_arg = tt_status_arg(r, "top");
    if (top_arg && *top_arg) {
        char *end = NULL;
        top = apr_strtoi64(top_arg, &end, 10);
        if (!end || *end || top < 0) return HTTP_BAD_REQUEST;
        if (top == 0 || top > TT_STATUS_MAX_TOP) top = TT_STATUS_MAX_TOP;
    }
    only = tt_status_arg(r, "tenant");
    if (only && !*only) only = NULL;

    api = tt_api();
    text = api ? api->sandbox_status_render(format, (size_t)top, only, &len) : NULL;
    if (!text) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10961)
                      "tenant-status: the page could not be rendered: 500");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_set_content_type(r, format == SANDBOX_STATUS_JSON ? "application/json"
                         : format == SANDBOX_STATUS_PROMETHEUS ? "text/plain; version=0.0.4; charset=utf-8"
                         : "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    if (!r->header_only) ap_rwrite(text, (int)len, r);
    free(text);
    return OK;
}

void tt_status_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(tt_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
}
