/*
 * mod_tenant_tag kernel layers: the worker's start (child_init) and the
 * per-request confined handler thread, glue over libsandbox's
 * sandbox_worker_start and sandbox_run_confined (tenant_sandbox.h).
 *
 * Log numbers (private range, after mod_tenant_tag.h's list):
 *   10930 start-up (parent, notice): what the kernel offers (mod_tenant_tag.c)
 *   10931 child: worker baseline applied (what it holds)
 *   10932 child: worker baseline FAILED -> every tenant request is 503
 *   10933 request: baseline failed in this worker -> 503
 *   10934 request: the confined thread could not run the handler -> 503
 *   10938 tenant confinement prepared (debug: the ruleset report)
 *   10939 tenant in audit mode: no per-request kernel ruleset (debug)
 *   10941 request: no handler took the request in the confined thread -> 500
 *         (debug; never falls back to the unconfined thread)
 *   10942 request: TenantSandbox Audit vhost: no per-request kernel ruleset (debug)
 *   (10935, 10937, 10940, 10943: retired with the module's own kernel
 *   bridge; libsandbox does that work now)
 */
#ifndef TT_KERNEL_H
#define TT_KERNEL_H
#endif
