/* logs_request -- sandbox_set_request_info (our C API extension) as the
 * module uses it: MODE preload, this program is the claimant. Checks that
 *  - SANDBOX_REQUEST_AUDIT makes an enforcing tenant's denials audit-only
 *    ("audit" lines, the call proceeds) for this tag only;
 *  - the lines carry request=ID;
 *  - a thread the request starts and a program it executes stay audit and
 *    keep the id (the child gets an audit copy of the policy);
 *  - sandbox_clear_tenant forgets both: the next tag enforces again;
 *  - bad ids, unknown flags, no tenant: -EINVAL; another object: -EPERM.
 * Without the extension the B-secret open below fails with EACCES.
 * argv[3] is the path of logs_ffi_lib.so. */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"
#include "tenant_sandbox.h"
#include "logs_api.h"

static char b_secret[4096], outside[4096], child_file[4096], thread_file[4096], logpath[4096];

static int can_open(const char *p) {
  int fd = open(p, O_RDONLY);
  if (fd >= 0) close(fd);
  return fd >= 0;
}

static void *thread_main(void *arg) {
  (void)arg;
  return (void *)(long)can_open(thread_file);
}

/* Runs /bin/cat FILE (not on site-a's exec list) and returns its exit
 * status, -1 when the exec was refused. */
static int run_cat(const char *file) {
  int ok[2];
  if (pipe(ok) != 0) return -2;
  pid_t pid = fork();
  if (pid == 0) {
    close(ok[0]);
    fcntl(ok[1], F_SETFD, FD_CLOEXEC);
    int out = open("/dev/null", O_WRONLY);
    if (out >= 0) dup2(out, 1);
    char *argv[] = {"cat", (char *)file, NULL};
    extern char **environ;
    execve("/bin/cat", argv, environ);
    char e = 1;
    (void)!write(ok[1], &e, 1);
    _exit(126);
  }
  close(ok[1]);
  char e = 0;
  ssize_t n = read(ok[0], &e, 1);
  close(ok[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  if (n == 1) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static char logbuf[1 << 16];
static const char *slurp_log(void) {
  int fd = open(logpath, O_RDONLY);
  ssize_t n = fd >= 0 ? read(fd, logbuf, sizeof logbuf - 1) : -1;
  if (fd >= 0) close(fd);
  logbuf[n > 0 ? n : 0] = '\0';
  return logbuf;
}

/* The log line that mentions `target`, or "" */
static char line_buf[2048];
static const char *line_with(const char *target) {
  const char *log = slurp_log(), *hit = strstr(log, target);
  line_buf[0] = '\0';
  if (!hit) return line_buf;
  const char *start = hit;
  while (start > log && start[-1] != '\n') --start;
  const char *end = strchr(hit, '\n');
  size_t len = end ? (size_t)(end - start) : strlen(start);
  if (len >= sizeof line_buf) len = sizeof line_buf - 1;
  memcpy(line_buf, start, len);
  line_buf[len] = '\0';
  return line_buf;
}

int main(int argc, char **argv) {
  const char *root = argv[1], *policy = argv[2];
  if (argc < 4) return 2;
  snprintf(b_secret, sizeof b_secret, "%s/www/site-b/secret.txt", root);
  snprintf(outside, sizeof outside, "%s/outside/other.txt", root);
  snprintf(child_file, sizeof child_file, "%s/outside/child.txt", root);
  snprintf(logpath, sizeof logpath, "%s/state/stderr.log", root);
  snprintf(thread_file, sizeof thread_file, "%s/outside/thread.txt", root);
  FILE *cf = fopen(child_file, "w");
  if (cf) fputs("CHILD", cf), fclose(cf);
  cf = fopen(thread_file, "w");
  if (cf) fputs("THREAD", cf), fclose(cf);
  int lfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  if (lfd >= 0) dup2(lfd, 2);

  void *ffi = dlopen(argv[3], RTLD_NOW);
  int (*ffi_info)(const char *, int) = ffi ? (int (*)(const char *, int))dlsym(ffi, "ffi_set_request_info") : NULL;
  char err[512];
  EXPECT_OK("C API found (with sandbox_set_request_info)", api_resolve());
  EXPECT_OK("claim", sandbox_claim_control() == 0);
  EXPECT_OK("load policy", sandbox_load_policy(policy, err, sizeof err) == 0);
  EXPECT_OK("no tenant: -EINVAL", sandbox_set_request_info("R1", SANDBOX_REQUEST_AUDIT) == -EINVAL);

  EXPECT_OK("set site-a", sandbox_set_tenant("site-a") == 0);
  EXPECT_OK("ffi lib: -EPERM", ffi_info && ffi_info("X", SANDBOX_REQUEST_AUDIT) == -EPERM);
  EXPECT_ERRNO("enforcing before the switch: B secret", EACCES, !can_open(b_secret));
  EXPECT_OK("id with a space: -EINVAL", sandbox_set_request_info("a b", 0) == -EINVAL);
  EXPECT_OK("id with a quote: -EINVAL", sandbox_set_request_info("a\"b", 0) == -EINVAL);
  EXPECT_OK("id with a newline: -EINVAL", sandbox_set_request_info("a\nb", 0) == -EINVAL);
  char longid[80];
  memset(longid, 'x', 65), longid[65] = '\0';
  EXPECT_OK("65-char id: -EINVAL", sandbox_set_request_info(longid, 0) == -EINVAL);
  longid[64] = '\0';
  EXPECT_OK("64-char id: ok", sandbox_set_request_info(longid, 0) == 0);
  EXPECT_OK("unknown flag: -EINVAL", sandbox_set_request_info(NULL, 2) == -EINVAL);
  EXPECT_OK("audit switch from the ffi lib refused", !can_open(outside));

  EXPECT_OK("audit + id", sandbox_set_request_info("YZ3x@Req-1", SANDBOX_REQUEST_AUDIT) == 0);
  EXPECT_OK("flags 0 later does not end audit", sandbox_set_request_info(NULL, 0) == 0);
  EXPECT_OK("audit: B secret opens", can_open(b_secret));
  const char *l = line_with("tenant-sandbox: audit tenant=site-a op=open");
  EXPECT_OK("audit line for B secret", strstr(l, "secret.txt") != NULL);
  EXPECT_OK("... carries request=", strstr(l, " request=YZ3x@Req-1 (audit mode: allowed)") != NULL);
  l = line_with("tenant-sandbox: deny tenant=site-a op=open");
  EXPECT_OK("the deny line before any id has no request=", strstr(l, "request=") == NULL);

  pthread_t th;
  void *res = NULL;
  pthread_create(&th, NULL, thread_main, NULL);
  pthread_join(th, &res);
  EXPECT_OK("thread of the request: audit, outside file opens", res == (void *)1L);
  l = line_with("outside/thread.txt");
  EXPECT_OK("thread's line: audit with request=", strncmp(strstr(l, "tenant-sandbox: ") ? strstr(l, "tenant-sandbox: ") : "", "tenant-sandbox: audit", 21) == 0 &&
                                                 strstr(l, "request=YZ3x@Req-1") != NULL);

  EXPECT_OK("exec of an unlisted program: audit, runs, reads outside", run_cat(child_file) == 0);
  l = line_with("outside/child.txt");
  EXPECT_OK("the child's line is audit (its policy copy is audit)", strstr(l, "tenant-sandbox: audit tenant=site-a") != NULL);
  EXPECT_OK("... and names the request", strstr(l, "request=YZ3x@Req-1") != NULL);

  EXPECT_OK("clear", sandbox_clear_tenant("site-a") == 0);
  EXPECT_OK("set site-a again", sandbox_set_tenant("site-a") == 0);
  char nothere[4096];
  snprintf(nothere, sizeof nothere, "%s/www/site-b/sub/after-clear", root);
  EXPECT_ERRNO("next tag enforces again", EACCES, !can_open(nothere));
  EXPECT_OK("exec refused again", run_cat(child_file) == -1);
  EXPECT_OK("clear", sandbox_clear_tenant("site-a") == 0);
  l = line_with("after-clear");  /* no tenant now: the log is readable again */
  EXPECT_OK("deny line without request=", strstr(l, "tenant-sandbox: deny tenant=site-a") != NULL && strstr(l, "request=") == NULL);
  return PROBE_END();
}
