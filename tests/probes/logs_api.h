/* logs_api.h -- the C API resolved with dlsym, as the module does it (the
 * probes are not linked against libsandbox; it is preloaded). */
#ifndef LOGS_API_H
#define LOGS_API_H
#include <dlfcn.h>
#include <stddef.h>

static int (*api_claim_)(void);
static int (*api_set_)(const char *);
static int (*api_clear_)(const char *);
static int (*api_load_)(const char *, char *, size_t);
static int (*api_info_)(const char *, int);

static inline int api_resolve(void) {
  api_claim_ = (int (*)(void))dlsym(RTLD_DEFAULT, "sandbox_claim_control");
  api_set_ = (int (*)(const char *))dlsym(RTLD_DEFAULT, "sandbox_set_tenant");
  api_clear_ = (int (*)(const char *))dlsym(RTLD_DEFAULT, "sandbox_clear_tenant");
  api_load_ = (int (*)(const char *, char *, size_t))dlsym(RTLD_DEFAULT, "sandbox_load_policy");
  api_info_ = (int (*)(const char *, int))dlsym(RTLD_DEFAULT, "sandbox_set_request_info");
  return api_claim_ && api_set_ && api_clear_ && api_load_ && api_info_;
}
#define sandbox_claim_control() api_claim_()
#define sandbox_set_tenant(id) api_set_(id)
#define sandbox_clear_tenant(id) api_clear_(id)
#define sandbox_load_policy(p, e, n) api_load_(p, e, n)
#define sandbox_set_request_info(id, f) api_info_(id, f)
#endif
