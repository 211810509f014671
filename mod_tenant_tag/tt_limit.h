/*
 * mod_tenant_tag request cap (issue 6, DESIGN.md "max_requests"): counts
 * every tenant's requests in progress in the shared table STATE_DIR/requests
 * (libsandbox/state/include/tenant/requests.hpp) and answers a tenant over
 * its max_requests with TenantOverLimitStatus (508, or 429) and Retry-After,
 * never queued. The Apache glue is tt_limit.c, the table is reached through
 * tt_limit_bridge.cpp (noexcept extern "C").
 *
 * Log numbers (private range 10950-10959):
 *   10950 start-up: requests table cannot be opened -> capped tenants get 503
 *   10951 request: tenant over max_requests -> 508/429 (at most once a second
 *         per tenant over all workers)
 *   10952 request: audit: tenant over max_requests, admitted (same rate)
 *   10953 request: table unavailable/full and the tenant has max_requests
 *         -> 503 (at most once a second per worker)
 *   10954 start-up: requests table opened (debug), slots of dead workers swept
 *   10955 parent: slots of a worker that exited mid-request returned (info)
 */
#ifndef TT_LIMIT_H
#define TT_LIMIT_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
#define TT_LIMIT_NOEXCEPT noexcept
extern "C" {
#else
#define TT_LIMIT_NOEXCEPT
#endif

/* ---- tt_limit.c (Apache glue) ---- */
#ifndef __cplusplus
#include "mod_tenant_tag.h"
/* Hooks: post_config (open the table in the parent), child_init (note the
 * worker), child_status (return a dead worker's slots). */
void tt_limit_register_hooks(apr_pool_t *p);
/* post_read_request, main request only, right after the tenant is set:
 * DECLINED, or the status to answer (over the cap: TenantOverLimitStatus
 * with Retry-After; table unusable for a capped tenant: 503). *ticket (the
 * request state's, 0 before) receives what tt_limit_release returns. */
int tt_limit_admit(request_rec *r, const char *tenant, const tt_server_conf *conf, unsigned *ticket);
/* From tt_clear: the request has ended; releasing twice is a no-op. */
void tt_limit_release(unsigned *ticket);
#endif

/* ---- tt_limit_bridge.cpp ---- */
typedef struct {
    int verdict;             /* TT_LIMIT_* */
    unsigned ticket;         /* to pass to tt_limit_bridge_release; 0 none */
    unsigned cap;            /* the tenant's max_requests; TT_LIMIT_NO_CAP none */
    unsigned in_progress;    /* the tenant's count after this decision */
    unsigned long long refused;  /* the tenant's refusals so far */
    int enforce;             /* 0: audit (policy mode or TenantSandbox Audit) */
    int over_cap;            /* admitted above the cap (audit) */
    int log_now;             /* first over-cap event of the tenant this second */
} tt_limit_result;

#define TT_LIMIT_NO_CAP 0xffffffffu
enum {
    TT_LIMIT_ADMITTED = 0,
    TT_LIMIT_OVER = 1,        /* over the cap: refuse */
    TT_LIMIT_FULL = 2,        /* no row/slot: not counted */
    TT_LIMIT_NO_TABLE = 3     /* the table is not open in this process */
};

/* Opens STATE_DIR/requests (once per process; already open: 0). 0, or -1 and
 * a message naming the path in err. From post_config/child_init only. */
int tt_limit_bridge_open(char *err, size_t errlen) TT_LIMIT_NOEXCEPT;
/* Takes the policy check_config validated (post_config, parent). */
void tt_limit_bridge_take_policy(void) TT_LIMIT_NOEXCEPT;
/* In a new worker (child_init): records its pid and start time. */
void tt_limit_bridge_child(void) TT_LIMIT_NOEXCEPT;
/* Counts one request of `tenant`; audit_vhost: TenantSandbox Audit. */
void tt_limit_bridge_admit(const char *tenant, int audit_vhost, tt_limit_result *out) TT_LIMIT_NOEXCEPT;
void tt_limit_bridge_release(unsigned *ticket) TT_LIMIT_NOEXCEPT;
/* Parent: process `pid` exited; returns how many slots it still held. */
unsigned tt_limit_bridge_process_exited(pid_t pid) TT_LIMIT_NOEXCEPT;
/* Parent at first start: frees slots of processes that are gone. */
unsigned tt_limit_bridge_sweep(void) TT_LIMIT_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif
