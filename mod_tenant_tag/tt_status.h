/*
 * mod_tenant_tag status page (issue 6): `SetHandler tenant-status`, the
 * Apache glue over libsandbox's sandbox_status_render (the same rows and
 * formats as `tenant-sandbox status`).
 *
 * Log numbers (private range 10960-10969):
 *   10960 request: tenant-status inside a tenant's request -> 403
 *   10961 request: tenant-status could not render the page -> 500
 *   10963 request: tenant-status method other than GET/HEAD -> 405 (debug)
 */
#ifndef TT_STATUS_H
#define TT_STATUS_H

#define TT_STATUS_DEFAULT_TOP 100
#define TT_STATUS_MAX_TOP 10000

#endif
