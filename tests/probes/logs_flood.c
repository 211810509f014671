/* logs_flood -- the per-tenant log budget of refuse() (runtime.cpp).
 * A child process (MODE preload, claimant) makes site-a deny 10,000
 * distinct paths, with one denial of site-b in the middle, and exits; its
 * stderr goes to a file. Then:
 *  - site-a's lines are at most the budget (500 per 10 s window, per
 *    process) for each window the flood spanned;
 *  - the "suppressed=N" summary lines (at the window roll or at exit) and
 *    the written lines add up to exactly 10,000;
 *  - site-b's one denial is written: A's flood never spends B's budget.
 * Without the budget 10,000 lines are written and the first check fails. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"
#include "tenant_sandbox.h"
#include "logs_api.h"

#define N 10000
#define BUDGET 500
#define WINDOW 10

static long coarse_window(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (long)(ts.tv_sec / WINDOW);
}

int main(int argc, char **argv) {
  const char *root = argv[1], *policy = argv[2];
  (void)argc;
  char logpath[4096];
  snprintf(logpath, sizeof logpath, "%s/state/flood.log", root);
  const long w0 = coarse_window();
  pid_t pid = fork();
  if (pid == 0) {
    int lfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (lfd < 0 || dup2(lfd, 2) < 0) _exit(3);
    char err[256], path[4096];
    if (!api_resolve() || sandbox_claim_control() != 0 || sandbox_load_policy(policy, err, sizeof err) != 0) _exit(4);
    if (sandbox_set_tenant("site-a") != 0) _exit(5);
    struct stat st;
    int denied = 0;
    for (int i = 0; i < N; ++i) {
      if (i == N / 2) {
        /* site-b's turn in the middle of A's flood. */
        if (sandbox_clear_tenant("site-a") != 0 || sandbox_set_tenant("site-b") != 0) _exit(6);
        snprintf(path, sizeof path, "%s/www/site-a/file.txt", root);
        if (stat(path, &st) == 0) _exit(7);
        if (sandbox_clear_tenant("site-b") != 0 || sandbox_set_tenant("site-a") != 0) _exit(8);
      }
      snprintf(path, sizeof path, "%s/www/site-b/flood-%05d", root, i);
      if (stat(path, &st) != 0 && errno == EACCES) ++denied;
    }
    sandbox_clear_tenant("site-a");
    exit(denied == N ? 0 : 9);  /* exit(): the budget's summary at exit runs */
  }
  int status = 0;
  waitpid(pid, &status, 0);
  const long windows = coarse_window() - w0 + 1;
  EXPECT_OK("child: every one of the 10,000 stats denied", WIFEXITED(status) && WEXITSTATUS(status) == 0);

  FILE *f = fopen(logpath, "r");
  EXPECT_OK("log written", f != NULL);
  if (!f) return PROBE_END();
  char line[2048];
  long a_lines = 0, b_lines = 0, suppressed = 0, summaries = 0, other = 0;
  long unprefixed = 0;
  while (fgets(line, sizeof line, f)) {
    long n = 0;
    /* Apache's default ErrorLogFormat in front (a process without the
     * module's log sink writes it itself): [time] [tenant_sandbox:error] [pid P:tid T] */
    const char *msg = strstr(line, "] tenant-sandbox: ");
    if (line[0] != '[' || !strstr(line, "] [tenant_sandbox:error] [pid ") || !msg) {
      ++unprefixed;
      ++other;
      continue;
    }
    msg += 2;
    if (strncmp(msg, "tenant-sandbox: deny tenant=site-a op=", 38) == 0) ++a_lines;
    else if (strncmp(msg, "tenant-sandbox: deny tenant=site-b op=", 38) == 0) ++b_lines;
    else if (sscanf(msg, "tenant-sandbox: deny tenant=site-a suppressed=%ld window=10s", &n) == 1) suppressed += n, ++summaries;
    else ++other;
  }
  EXPECT_OK("every line in Apache's error-log form", unprefixed == 0);
  fclose(f);
  printf("# site-a lines %ld, summaries %ld (suppressed %ld), site-b lines %ld, other %ld, windows %ld\n", a_lines,
         summaries, suppressed, b_lines, other, windows);
  EXPECT_OK("site-a lines within the budget", a_lines >= BUDGET && a_lines <= BUDGET * windows);
  EXPECT_OK("lines + suppressed == 10,000 exactly", a_lines + suppressed == N);
  EXPECT_OK("at most one summary per window (plus exit)", summaries >= 1 && summaries <= windows);
  EXPECT_OK("site-b's denial in the middle is written", b_lines == 1);
  EXPECT_OK("nothing else in the log", other == 0);
  return PROBE_END();
}
