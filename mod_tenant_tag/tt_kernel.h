/*
 * mod_tenant_tag kernel layers (issue 4): the worker baseline in child_init
 * and the per-request confined handler thread. The Apache glue is C
 * (tt_kernel.c, for the same reason as the rest of the module: httpd's
 * macros); tt_kernel_bridge.cpp is a noexcept extern "C" layer over
 * tenant_kernel (libsandbox/kernel/kernel_confine.hpp).
 *
 * Log numbers (private range, after mod_tenant_tag.h's list):
 *   10930 start-up (parent, notice): kernel support (Landlock ABI, scopes, seccomp)
 *   10931 child: worker baseline applied (what it holds)
 *   10932 child: worker baseline FAILED -> every tenant request is 503
 *   10933 request: baseline failed in this worker -> 503
 *   10934 request: confinement could not be prepared/started -> 503
 *   10935 request: the tenant could not be handed to the confined thread -> 503
 *   (10936 is mod_tenant_tag.c's: the worker thread's tag after the handler)
 *   10937 policy: kernel copy of TenantPolicy not loaded
 *   10938 tenant confinement prepared (debug: the ruleset report)
 *   10939 tenant in audit mode: no per-request kernel ruleset (once per tenant)
 *   10940 child: warm-up of the confined-thread spawners failed
 *   10941 request: no handler took the request in the confined thread -> 500
 *         (debug; never falls back to the unconfined thread)
 *   10942 request: TenantSandbox Audit vhost: no per-request kernel ruleset (debug)
 *   10943 request: the confined thread's tag could not be cleared: thread retired
 */
#ifndef TT_KERNEL_H
#define TT_KERNEL_H

#include <stddef.h>

#ifdef __cplusplus
#define TT_NOEXCEPT noexcept
extern "C" {
#else
#define TT_NOEXCEPT
#endif

/* tt_kernel.c: registers the kernel layer's hooks (from tt_register_hooks). */
struct apr_pool_t;
void tt_kernel_register_hooks(struct apr_pool_t *p);

/* Loads (again) the policy the per-request rulesets are built from; on
 * failure the previous copy stays (as in libsandbox). 0 or -1 (err set). */
int tt_kernel_load_policy(const char *path, char *err, size_t errlen) TT_NOEXCEPT;

/* probe().describe() of the running kernel. */
void tt_kernel_support(char *out, size_t outlen) TT_NOEXCEPT;

/* apply_worker_baseline(): 0 and its report in out, or -1 and the error. */
int tt_kernel_baseline(char *out, size_t outlen) TT_NOEXCEPT;

/* Starts the per-process spawner threads (both seccomp variants) from the
 * calling thread, which must hold no tenant: the request threads they create
 * inherit the spawner's libsandbox tag. 0 or -errno (err set). */
int tt_kernel_warm(char *err, size_t errlen) TT_NOEXCEPT;

/* 1 when the tenant's policy mode is audit (no kernel ruleset: it could only
 * refuse, and audit promises to log instead), 0 otherwise or unknown. */
int tt_kernel_tenant_is_audit(const char *tenant) TT_NOEXCEPT;

/* Runs fn(arg) on this worker's thread confined (Landlock + per-thread
 * seccomp) for `tenant` -- one per tenant, kept and reused, never shared
 * with another tenant (tenant_kernel::run_on_tenant_thread) -- waits for it
 * and returns 0; or -errno when no thread could be prepared, started or
 * confined -- then fn never ran (err says why). fn returns NULL, or
 * non-NULL to have that thread retired after this request.
 * `prepared_log` (may be NULL) receives the ruleset report the first time a
 * tenant's confinement is built in this process, else "". */
int tt_kernel_run_confined(const char *tenant, void *(*fn)(void *), void *arg,
                           char *err, size_t errlen, char *prepared_log, size_t loglen) TT_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif
