/*
 * mod_tenant_tag status page (issue 6): `SetHandler tenant-status`.
 * tt_status.c is the Apache glue, tt_status_bridge.cpp a noexcept extern "C"
 * layer over tenant_state's status_report.hpp (the same rows and formats as
 * `tenant-sandbox status`).
 *
 * Log numbers (private range 10960-10969):
 *   10960 request: tenant-status inside a tenant's request -> 403
 *   10961 request: tenant-status could not render the page -> 500
 *   10962 start-up: STATE_DIR/denials cannot be mapped (the page reads it per request)
 *   10963 request: tenant-status method other than GET/HEAD -> 405 (debug)
 */
#ifndef TT_STATUS_H
#define TT_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#define TT_STATUS_NOEXCEPT noexcept
#else
#define TT_STATUS_NOEXCEPT
#endif

enum { TT_STATUS_HTML = 0, TT_STATUS_JSON = 1, TT_STATUS_PROMETHEUS = 2 };
#define TT_STATUS_DEFAULT_TOP 100
#define TT_STATUS_MAX_TOP 10000

/* post_config in the parent (root): maps STATE_DIR/denials and
 * STATE_DIR/budget once for the parent's life (workers inherit the
 * mappings), and records the policy in force (tt_core_checked_policy) and
 * `kernel` in the denial table's header. 0, or -1 with err set (the page
 * then maps the files per request). */
int tt_status_bridge_parent_init(const char *policy_path, const char *kernel, char *err, size_t errlen) TT_STATUS_NOEXCEPT;

/* The page in `format`, at most `top` tenants (tenant: only that one, JSON;
 * NULL for all). malloc'd NUL-terminated text the caller frees, its length
 * in *len; NULL on failure. */
char *tt_status_bridge_render(int format, size_t top, const char *tenant, size_t *len) TT_STATUS_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif
