/*
 * mod_tenant_tag request cap (issue 6, docs/design.md "max_requests"):
 * libsandbox counts every tenant's requests in progress in the shared table
 * STATE_DIR/requests (sandbox_request_admit); this is the Apache side that
 * answers a tenant over its max_requests with TenantOverLimitStatus (508, or
 * 429) and Retry-After, never queued.
 *
 * Log numbers (private range 10950-10959):
 *   10950 start-up: the shared state cannot be opened -> capped tenants get 503
 *         (mod_tenant_tag.c, post_config)
 *   10951 request: tenant over max_requests -> 508/429 (at most once a second
 *         per tenant over all workers)
 *   10952 request: audit: tenant over max_requests, admitted (same rate)
 *   10953 request: table unavailable/full and the tenant has max_requests
 *         -> 503 (at most once a second per worker)
 *   10955 parent: requests of a worker that exited mid-request returned (info)
 */
#ifndef TT_LIMIT_H
#define TT_LIMIT_H

#include "mod_tenant_tag.h"

/* Hooks: child_status (return a dead worker's requests). */
void tt_limit_register_hooks(apr_pool_t *p);
/* post_read_request, main request only, right after the tenant is set:
 * DECLINED, or the status to answer (over the cap: TenantOverLimitStatus
 * with Retry-After; table unusable for a capped tenant: 503). *ticket (the
 * request state's, 0 before) receives what tt_limit_release returns. */
int tt_limit_admit(request_rec *r, const char *tenant, const tt_server_conf *conf, unsigned *ticket);
/* From tt_clear: the request has ended; releasing twice is a no-op. */
void tt_limit_release(unsigned *ticket);

#endif
