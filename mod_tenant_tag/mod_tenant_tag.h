/*
 * mod_tenant_tag -- shared declarations of the module's C files.
 *
 * The module is C glue over httpd/APR and libsandbox's C API
 * (tenant_sandbox.h, reached only through tt_api.h's table): it keeps no
 * policy, no tables and no threads of its own, and links no C++. C because
 * httpd's configuration and hook macros (AP_INIT_*, APR_HOOK_*, APLOG_MARK)
 * are C; the policy engine, the shared state and the kernel layer live in
 * libsandbox, the one control plane.
 *
 * Log numbers: every log line has its own APLOGNO in the private range
 * 10900-10949 (not registered with httpd's docs/log-message-tags):
 *   10900 policy: TenantSandbox used without TenantPolicy
 *   10901 policy: invalid at first start (start refused)
 *   10902 policy: invalid on graceful restart (old one stays in force)
 *   10903 policy: loaded into libsandbox
 *   (10904, 10905: retired -- the one load is check_config's, 10901/10902)
 *   10906 libsandbox not preloaded (startup warning; configtest: policy not checked)
 *   10907 sandbox_claim_control failed
 *   10908 TenantKernelConfine On: what the kernel offers (start-up)
 *   10909 TenantSandbox Audit: the vhost's requests are audit-only (tt_audit.c)
 *   10910 request: no tenant, TenantRequired On -> 403
 *   10911 request: invalid tenant id -> 403
 *   10912 request: tenant not admitted by the policy -> 403
 *   10913 request: libsandbox not preloaded -> 503 (once per process)
 *   10914 request: tenant header from an untrusted peer ignored (once per peer)
 *   10915 request: sandbox_set_tenant failed otherwise -> 503
 *   10916 request: a stale tag in this thread that libsandbox refuses to clear
 *         -> 500, worker exits (no client input leads here: the module set it)
 *   10917 clear: sandbox_clear_tenant refused -> connection closed, worker exits
 *   10918 child: worker exits after a failed clear
 *   10919 TenantMap dbm: open failed in the child
 *   10920 TenantMap dbm: invalid tenant id stored for a host
 *   10921 request: tenant set (trace1)
 *   10922 TenantMap txt: invalid tenant id in the map value (request time)
 *   10924 cannot pin the module with RTLD_NODELETE
 *   10927 start-up: the log sink could not be registered
 *   10928 start-up: libsandbox.so is not readable by Apache's user -> start refused
 *   10929 start-up: libsandbox refused the server's configuration (a door) -> start refused
 *   10990 request: a libsandbox denial or audit line (tenant-sandbox: deny ...)
 *   10925 request: the tag of an earlier request of this thread (pipelining,
 *         write completion elsewhere) cleared before this one (debug)
 *   10936 request: the request ended in another thread and this thread's tag
 *         could not be cleared -> worker exits
 * logs (tt_audit.c), 10970-10979:
 *   10970 request: sandbox_set_request_info refused the UNIQUE_ID (debug)
 *   (10971: retired -- the API is all or nothing, tt_api.c)
 *   10972 request: sandbox_set_request_info(audit) failed: runs enforced
 * front door (mod_tenant_tag.c), 10985-10989:
 *   10985 request: tenant header on a connection that did not come to a
 *         TenantTrustedListener -> ignored (once per peer)
 *   10986 request: tenant header names a tenant TenantHeaderTenants does not
 *         allow -> 403
 *   10987 request: an operator's handler (server-status, tenant-status, ...)
 *         inside a tenant's request -> 403
 * PHP settings (tt_php.c), 10980-10984:
 *   10980 start-up: TenantPHPAdminValue names a setting PHP does not have
 *   10981 request: TenantPHPAdminValue could not be applied (mod_php gone) -> 500
 * limits (tt_limit.c): 10950-10959, listed in tt_limit.h (10950: the
 *   shared state could not be opened at start, mod_tenant_tag.c)
 * status (tt_status.c): 10960-10969, listed in tt_status.h
 */
#ifndef MOD_TENANT_TAG_H
#define MOD_TENANT_TAG_H

#include "httpd.h"
#include "http_config.h"

#include <apr_dbm.h>
#include <apr_hash.h>
#include <apr_network_io.h>
#include <apr_thread_mutex.h>
#include <stddef.h>

/* The module record is the only exported symbol (hidden visibility plus a
 * version script): nothing else of ours can collide with another module or
 * be called by tenant code through dlsym. */
extern __attribute__((visibility("default"))) module AP_MODULE_DECLARE_DATA tenant_tag_module;

#define TT_UNSET (-1)

typedef enum { TT_SANDBOX_OFF = 0, TT_SANDBOX_ON = 1, TT_SANDBOX_AUDIT = 2 } tt_sandbox_mode;

/* TenantMap: txt maps are read whole at config time (errors reported with
 * file:line by configtest); dbm maps are only checked at config time and
 * opened lazily in each child, so 1,000,000 hosts never sit in every
 * worker's memory. */
typedef struct tt_map {
    const char *spec;          /* as written: "txt:/path" or "dbm:/path" */
    const char *path;
    int is_dbm;
    apr_hash_t *hosts;         /* txt: lowercase host -> tenant id */
    apr_thread_mutex_t *lock;  /* dbm: guards dbm across threads of a child */
    apr_dbm_t *dbm;            /* dbm: opened on first lookup in a child */
    int dbm_failed;            /* dbm: open failed in this child (logged once) */
} tt_map;

/* Per-server configuration. create_server_config writes TT_UNSET / NULL
 * only; tt_merge_server_config is the one place that decides inheritance;
 * tt_apply_defaults (post_config) fills what is still unset from the one
 * defaults table (tt_defaults in tt_config.c). */
typedef struct {
    int sandbox;               /* tt_sandbox_mode */
    const char *policy;        /* TenantPolicy (main server only) */
    const char *tenant_id;     /* TenantId (vhost only) */
    tt_map *map;               /* TenantMap */
    const char *header;        /* TenantHeader */
    apr_array_header_t *trusted; /* TenantTrustedProxy: apr_ipsubnet_t * */
    int required;              /* TenantRequired */
    int kernel_confine;        /* TenantKernelConfine */
    int over_limit_status;     /* TenantOverLimitStatus */
    apr_array_header_t *php_admin; /* TenantPHPAdminValue: tt_php_setting, in order */
    apr_array_header_t *closed_doors; /* TenantClosedDoor (main server): const char * */
    apr_array_header_t *open_doors;   /* TenantOpenDoor (main server): "NAME ADDR" */
    apr_array_header_t *trusted_listeners; /* TenantTrustedListener: apr_sockaddr_t *, the header only there */
    apr_array_header_t *header_tenants;    /* TenantHeaderTenants: ids or prefix* a header may name */
    int native_code;           /* TenantNativeCode: TT_NATIVE_* */
    apr_array_header_t *operator_handlers; /* TenantOperatorHandlers: never inside a tenant's request */
    apr_array_header_t *confined_handlers; /* TenantConfinedHandlers: run on the confined thread */
} tt_server_conf;

#define TT_NATIVE_REFUSE 0
#define TT_NATIVE_ALLOW 1

/* One TenantPHPAdminValue line (tt_php.c). */
typedef struct {
    const char *name;
    const char *value;         /* may contain {tenant} */
} tt_php_setting;

/* Per-request state (mod_tenant_tag.c makes it in post_read_request; the
 * request's subrequests and internal redirects share it). */
typedef struct {
    const char *tenant;      /* the id set, NULL when none */
    int set;                 /* still set in libsandbox */
    conn_rec *c;
    server_rec *s;
    int audit;               /* tt_audit.c: TenantSandbox Audit vhost */
    const char *request_id;  /* tt_audit.c: UNIQUE_ID passed to libsandbox, or NULL */
    unsigned limit_ticket;   /* tt_limit.c: the request's slot in the requests table, 0 none */
    apr_uint64_t serial;     /* unique per process: tells this request's tag from a later one's */
} tt_req_state;

/* mod_tenant_tag.c: the state of the client's request r belongs to (its
 * subrequests and internal redirects share it), or NULL. */
tt_req_state *tt_request_state(request_rec *r);

/* mod_tenant_tag.c: the request ended in another thread (the kernel layer's
 * confined handler thread passed EOS); clears the calling thread's tag if it
 * is still that request's. Call from the thread that set the tag. */
void tt_settle_request(request_rec *r);

/* tt_audit.c: TenantSandbox Audit and the request id in denial lines
 * (sandbox_set_request_info; the kernel layer's confined thread carries the
 * same tag, so it needs nothing of its own). When the audit switch cannot be
 * passed, the request runs enforced (the safe side) and that is logged. */
void tt_audit_request_set(request_rec *r, tt_req_state *st, const tt_server_conf *conf);
void tt_audit_register_hooks(apr_pool_t *p);

/* tt_kernel.c: the worker's start (child_init) and the confined handler. */
void tt_kernel_register_hooks(apr_pool_t *p);

/* tt_config.c */
int tt_is_operator_handler(const tt_server_conf *c, const char *handler);
/* TenantConfinedHandlers: handlers that run tenant code (PHP, CGI, Lua,
 * SSI, Perl by default); only their requests go to the confined thread. */
int tt_is_confined_handler(const tt_server_conf *c, const char *handler);
extern const command_rec tt_directives[];
void *tt_create_server_config(apr_pool_t *p, server_rec *s);
void *tt_merge_server_config(apr_pool_t *p, void *base, void *add);
void tt_apply_defaults(tt_server_conf *conf);
tt_server_conf *tt_conf(server_rec *s);

/* tt_map.c */
const char *tt_map_open(apr_pool_t *p, const char *spec, tt_map **out);
/* The tenant id for host (lowercase, no port), or NULL. */
const char *tt_map_lookup(tt_map *map, const char *host, request_rec *r);
void tt_map_child_init(apr_pool_t *pchild, server_rec *s);

/* tt_php.c: empties PHP's realpath cache before a request of another tenant
 * (THREATS 19). Call before the tenant is set. */
void tt_php_before_tenant(const char *tenant);
/* tt_php.c: TenantPHPAdminValue NAME VALUE -- NULL, or the error (naming the
 * directive) for a setting that cannot be set per tenant request. */
const char *tt_php_check_setting(cmd_parms *cmd, const char *name, const char *value);
/* tt_php.c: fixups (per-tenant PHP settings) and post_config (every name is
 * a setting the running PHP knows). */
void tt_php_register_hooks(apr_pool_t *p);

/* tt_status.c: SetHandler tenant-status (registered from tt_register_hooks) */
void tt_status_register_hooks(apr_pool_t *p);

#endif
