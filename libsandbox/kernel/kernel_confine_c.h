/* C entry points of the kernel layer, for C callers (mod_tenant_tag's C
 * glue). Thin wrappers over kernel_confine.hpp; see there for semantics.
 * Every function is noexcept, returns 0 or a negative errno, and writes a
 * message (log line or error) into `msg` when msg/msglen are given. */
#ifndef TENANT_KERNEL_CONFINE_C_H
#define TENANT_KERNEL_CONFINE_C_H
#include <pthread.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* probe(): "landlock ABI 7: fs, net(tcp), scopes(signal, abstract-unix); seccomp: yes".
 * Returns the Landlock ABI (0: none). */
int tenant_kernel_probe(char *msg, size_t msglen);

/* apply_worker_baseline(): 0, or negative errno with the reason in msg; the
 * caller must then refuse tenant requests (503). */
int tenant_kernel_worker_baseline(char *msg, size_t msglen);

typedef struct tenant_kernel_confinement tenant_kernel_confinement;

/* Confinement::prepare() for a tenant::TenantContext (passed as an opaque
 * pointer by the C++ side that owns it). extra_read_only / extra_read_write /
 * extra_exec: NULL-terminated path arrays or NULL (libsandbox.so, the state
 * directory, the command of `tenant-sandbox run`). */
int tenant_kernel_prepare(const void *tenant_context, const char *const *extra_read_only,
                          const char *const *extra_read_write, const char *const *extra_exec,
                          tenant_kernel_confinement **out, char *msg, size_t msglen);
/* start_confined_thread(): fn runs confined on a new joinable thread. */
int tenant_kernel_start_thread(const tenant_kernel_confinement *c, void *(*fn)(void *), void *arg,
                               pthread_t *thread);
/* Confinement::apply() on the calling thread (tenant-sandbox run, before exec). */
int tenant_kernel_apply(const tenant_kernel_confinement *c);
void tenant_kernel_free(tenant_kernel_confinement *c);

#ifdef __cplusplus
}
#endif
#endif
