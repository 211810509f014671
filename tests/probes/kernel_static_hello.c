/* A static binary for the kernel probes: it ignores LD_PRELOAD, so only the
 * kernel (Landlock EXECUTE, the seccomp exec rules) can stop it (THREATS 6). */
#include <unistd.h>

int main(void) {
  static const char msg[] = "static-hello\n";
  return write(1, msg, sizeof msg - 1) == (long)(sizeof msg - 1) ? 0 : 1;
}
