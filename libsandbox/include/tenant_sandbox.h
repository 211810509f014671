/*
 * tenant_sandbox.h -- the C API of libsandbox (DESIGN.md "C API").
 *
 * libsandbox is preloaded (LD_PRELOAD) into every Apache process. The module
 * (or the tenant-sandbox CLI) claims control once per process, loads the
 * policy, and sets the tenant of the calling thread for each request; while
 * a tenant is set, every file, network and exec call the thread makes through
 * libc is checked against that tenant's rules.
 *
 * Every function is extern "C", never throws and returns 0 or a negative
 * errno. The module finds them with dlsym(RTLD_DEFAULT, ...), so it can tell
 * whether libsandbox is preloaded at all (and refuse tenant requests when it
 * is not).
 */
#ifndef TENANT_SANDBOX_H
#define TENANT_SANDBOX_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Called once per process by the module (or the CLI) before any tenant is
 * set. The calling shared object becomes the only one allowed to set or
 * clear tenants; the same calls from anywhere else (PHP FFI, a loaded
 * extension) return -EPERM and change nothing. -EPERM as well when control
 * was already claimed by another object, or in a process a tenant started. */
int sandbox_claim_control(void);

/* Sets the tenant of the calling thread. -EINVAL: invalid id; -ENOENT: the
 * policy does not admit it (or no policy is loaded); -EBUSY: another tenant
 * is still set in this thread; -EPERM: caller is not the claimant. */
int sandbox_set_tenant(const char *tenant_id);

/* Clears the calling thread's tenant. tenant_id NULL: whatever is set.
 * An id that is not the current one: -EINVAL, nothing cleared. */
int sandbox_clear_tenant(const char *tenant_id);

/* The calling thread's tenant, or NULL when none is set. */
const char *sandbox_current_tenant(void);

/* Loads (or replaces) the policy. On failure the old policy stays in force
 * and err receives a NUL-terminated message naming the location of every
 * error (truncated to errlen). Threads keep the rules they were set with
 * until their tenant is cleared. */
int sandbox_load_policy(const char *path, char *err, size_t errlen);

/* ---- extension (not in DESIGN.md's C API) ----------------------------
 * The module's channel for what only it knows about a request: its
 * UNIQUE_ID (mod_unique_id), written into every denial line as request=ID,
 * and the vhost's `TenantSandbox Audit` switch. Applies to the tenant set in
 * the calling thread (and the threads and processes that request starts);
 * sandbox_clear_tenant drops it.
 *
 * request_id: NULL or "" leaves the id as it is; else 1 to 64 printable
 * ASCII characters without space, '"' or '\'.
 * flags: 0 or SANDBOX_REQUEST_AUDIT -- every check of this request only logs
 * ("audit", "(audit mode: allowed)") and allows. Audit is one-way for the
 * request: a later call with flags 0 does not end it.
 * -EPERM: caller is not the claimant, or a process a tenant started;
 * -EINVAL: bad id, unknown flag, or no tenant set in this thread. */
#define SANDBOX_REQUEST_AUDIT 1
int sandbox_set_request_info(const char *request_id, int flags);

/* ---- extension: Apache's access files --------------------------------
 * The names Apache's directory walk opens in every directory where
 * AllowOverride is not None (AccessFileName; ".htaccess" until this is
 * called), space-separated as Apache writes them. In a directory ABOVE a
 * tenant's allowed paths (the operator's /srv/www) such a file may be read
 * while the tenant is set -- absent reads as absent (ENOENT), present is read
 * as the operator wrote it -- so that an `AllowOverride` above the tenants'
 * folders does not turn every tenant request into 403/500 (AH00529). It is
 * never written, listed or followed as a symlink there. Claimant only
 * (-EPERM), before requests; -ENOMEM. */
int sandbox_set_access_files(const char *names);

#ifdef __cplusplus
}
#endif

#endif /* TENANT_SANDBOX_H */
