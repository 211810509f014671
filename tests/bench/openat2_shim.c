/* For instruction counts only (scripts/bench.sh, bench_ops under
 * valgrind --tool=callgrind): valgrind 3.19 (Debian 12) does not know
 * openat2 (syscall 437) and fails it with ENOSYS, so every confined call
 * would take its error path. Preloaded AFTER libsandbox.so, this syscall()
 * is what libsandbox's SB_REAL(syscall) (dlsym RTLD_NEXT) finds; it turns
 * openat2 into openat with the same flags and mode. The RESOLVE_* checks
 * are the kernel's, not user-space instructions, so the count of what
 * libsandbox itself executes is unchanged. Never use this outside the
 * instruction count: it drops RESOLVE_BENEATH. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <sys/syscall.h>

long syscall(long n, ...) {
  static long (*real)(long, ...);
  va_list ap;
  va_start(ap, n);
  long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
  long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
  va_end(ap);
  if (!real) real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
  if (n == SYS_openat2) {
    const struct open_how *h = (const struct open_how *)a3;
    return real(SYS_openat, a1, a2, (long)h->flags, (long)h->mode);
  }
  return real(n, a1, a2, a3, a4, a5, a6);
}
