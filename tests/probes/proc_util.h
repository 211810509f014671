/* proc_util.h -- helpers of the proc probes: run a child and collect what it
 * printed and how it ended. */
#ifndef TS_PROC_UTIL_H
#define TS_PROC_UTIL_H
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Forks; the child points stdout at a file in site-a's tmp/ and calls
 * fn(arg) (which execs). (A file the tenant opened, not a pipe: the net part
 * refuses dup2 of descriptors libsandbox did not see the tenant open.)
 * If fn returns, the child reports errno through a second pipe. Returns the
 * child's wait status, or -errno when the exec itself failed; out receives
 * the child's stdout (NUL-terminated). */
typedef void (*proc_exec_fn)(void *arg);
static char proc_out_path[4096];
static inline int proc_run(proc_exec_fn fn, void *arg, char *out, size_t outsz) {
  int e[2];
  if (proc_out_path[0] == '\0') {
    const char *r = getenv("PROBE_ROOT");
    snprintf(proc_out_path, sizeof proc_out_path, "%s/www/site-a/tmp/child.out", r ? r : ".");
  }
  int o = open(proc_out_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (o < 0 || pipe2(e, O_CLOEXEC) != 0) return -1000;
  pid_t pid = fork();
  if (pid < 0) return -1001;
  if (pid == 0) {
    dup2(o, 1);
    close(e[0]);
    fn(arg);
    int err = errno;
    (void)!write(e[1], &err, sizeof err);
    _exit(127);
  }
  close(e[1]);
  int err = 0;
  ssize_t got = read(e[0], &err, sizeof err);
  close(e[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ssize_t n = pread(o, out, outsz - 1, 0);
  out[n > 0 ? n : 0] = '\0';
  close(o);
  if (got == (ssize_t)sizeof err) return -err;
  return status;
}
#define EXITED_OK(st) ((st) >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
#define EXITED_FAIL(st) ((st) >= 0 && WIFEXITED(st) && WEXITSTATUS(st) != 0)
#endif
