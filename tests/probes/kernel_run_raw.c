/* kernel_run_raw.c -- `tenant-sandbox run` applies the kernel layers
 * (issue 4): raw system calls that never pass through libsandbox's
 * wrappers still cannot reach another tenant.
 *
 * Run as: tenant-sandbox run --policy P --tenant site-a -- probe ROOT POLICY
 * The calls are inline `syscall` instructions (raw() below), not libc's
 * syscall(), which libsandbox wraps: without the kernel layers in `run`
 * (LD_PRELOAD only), every "raw" check below succeeds and the probe fails
 * (THREATS 4, 20).
 */
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

extern char **environ;

/* An inline system call: no libc function, so no wrapper sees it. */
static long raw(long n, long a, long b, long c, long d) {
  long ret;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
  if (ret < 0 && ret > -4096) {
    errno = (int)-ret;
    return -1;
  }
  return ret;
}
#define P(x) ((long)(x))

static char path_[4][4096];
static const char *at(const char *root, const char *rel, int slot) {
  snprintf(path_[slot], sizeof path_[slot], "%s/%s", root, rel);
  return path_[slot];
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *root = argv[1];
  const char *own = at(root, "www/site-a/file.txt", 0);
  const char *other = at(root, "www/site-b/secret.txt", 1);
  const char *outside = at(root, "outside/other.txt", 2);
  long fd;

  /* Control: the tenant's own file through the same raw call. */
  fd = raw(SYS_openat, AT_FDCWD, P(own), O_RDONLY, 0);
  EXPECT_OK("raw openat of own file", fd >= 0);
  if (fd >= 0) close((int)fd);

  EXPECT_ERRNO("raw openat of another tenant's file", EACCES,
               raw(SYS_openat, AT_FDCWD, P(other), O_RDONLY, 0) < 0);
  EXPECT_ERRNO("raw openat of a file outside every area", EACCES,
               raw(SYS_openat, AT_FDCWD, P(outside), O_RDONLY, 0) < 0);
  struct open_how how = {.flags = O_RDONLY};
  EXPECT_ERRNO("raw openat2 of another tenant's file", EACCES,
               raw(SYS_openat2, AT_FDCWD, P(other), P(&how), sizeof how) < 0);
  EXPECT_ERRNO("raw creat in another tenant's tree", EACCES,
               raw(SYS_openat, AT_FDCWD, P(at(root, "www/site-b/planted.txt", 3)),
                   O_WRONLY | O_CREAT, 0644) < 0);
  EXPECT_ERRNO("raw unlinkat of another tenant's file", EACCES,
               raw(SYS_unlinkat, AT_FDCWD, P(other), 0, 0) < 0);

  /* io_uring would do the open in a kernel worker: refused outright. */
  char params[120] = {0};
  EXPECT_ERRNO("io_uring_setup", ENOSYS, raw(SYS_io_uring_setup, 4, P(params), 0, 0) < 0);

  /* A process outside the tenant's domain (the one that started us). */
  pid_t sibling = getppid();
  EXPECT_ERRNO("raw kill(parent, 0) out of the domain", EPERM,
               raw(SYS_kill, sibling, 0, 0, 0) < 0);
  /* SEIZE, not ATTACH: should the layer be missing, the parent (ctest) is
   * not stopped; the probe detaches and fails. */
  long seized = raw(SYS_ptrace, PTRACE_SEIZE, sibling, 0, 0);
  int seize_errno = errno;
  if (seized == 0) raw(SYS_ptrace, PTRACE_DETACH, sibling, 0, 0);
  EXPECT_ERRNO("ptrace seize of the parent", EPERM, (errno = seize_errno, seized < 0));

  /* Inherited: a forked child is just as confined. */
  pid_t pid = fork();
  if (pid == 0) {
    long r = raw(SYS_openat, AT_FDCWD, P(other), O_RDONLY, 0);
    _exit(r < 0 && errno == EACCES ? 0 : 1);
  }
  int status = 0;
  EXPECT_OK("forked child: raw openat of another tenant's file fails",
            pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);

  /* exec of a listed program still works under the kernel layer (the
   * preload's execveat(fd, AT_EMPTY_PATH) is refused by the thread filter;
   * it falls back to exec by the checked path, which Landlock allows for
   * listed files only), and the child stays confined. */
  pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, 1);
    execl("/bin/cat", "cat", own, (char *)NULL);
    _exit(127);
  }
  EXPECT_OK("exec of listed /bin/cat on own file",
            pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  pid = fork();
  if (pid == 0) {
    execl("/bin/cat", "cat", other, (char *)NULL);
    _exit(127);
  }
  EXPECT_OK("listed /bin/cat cannot read another tenant's file",
            pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) != 0);
  /* Not listed, by a raw execve that no wrapper checks: Landlock refuses. */
  pid = fork();
  if (pid == 0) {
    char *argv_ls[] = {"ls", NULL};
    raw(SYS_execve, P("/bin/ls"), P(argv_ls), P(environ), 0);
    _exit(errno == EACCES ? 0 : 1);
  }
  EXPECT_OK("raw execve of an unlisted program -> EACCES",
            pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return PROBE_END();
}
