/* logs_ffi_lib -- tenant code in its own shared object (PHP FFI, an
 * extension) calling sandbox_set_request_info: it must not be able to turn
 * its own request into audit (THREATS 21). */
#include <dlfcn.h>

int ffi_set_request_info(const char *id, int flags) {
  int (*f)(const char *, int) = (int (*)(const char *, int))dlsym(RTLD_DEFAULT, "sandbox_set_request_info");
  return f ? f(id, flags) : -1000;
}
