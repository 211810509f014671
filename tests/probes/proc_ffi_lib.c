/* proc_ffi_lib -- stands in for PHP FFI or a loaded extension: tenant code in
 * its own shared object calling libsandbox's control functions
 * (THREATS 21). The calls are made from this object's code, so libsandbox
 * sees a return address outside the claimant. */
#include <dlfcn.h>
#include <stddef.h>

int ffi_set_tenant(const char *id) {
  int (*f)(const char *) = (int (*)(const char *))dlsym(RTLD_DEFAULT, "sandbox_set_tenant");
  return f ? f(id) : -1000;
}
int ffi_clear_tenant(const char *id) {
  int (*f)(const char *) = (int (*)(const char *))dlsym(RTLD_DEFAULT, "sandbox_clear_tenant");
  return f ? f(id) : -1000;
}
int ffi_claim(void) {
  int (*f)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "sandbox_claim_control");
  return f ? f() : -1000;
}
int ffi_load_policy(const char *path) {
  char err[256];
  int (*f)(const char *, char *, size_t) = (int (*)(const char *, char *, size_t))dlsym(RTLD_DEFAULT, "sandbox_load_policy");
  return f ? f(path, err, sizeof err) : -1000;
}
