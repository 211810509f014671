/* fs_audit: a tenant in "audit" mode. Denials are logged ("tenant-sandbox:
 * audit ... (audit mode: allowed)") and the call proceeds unconfined, on
 * the fast path (open), the anchor path (stat, unlink) and the slow path
 * (a planted symlink). The probe captures its own stderr to check the
 * lines, which only libsandbox writes. */
#include "fs_probe.h"

int main(int argc, char **argv) {
  fp_init(argc, argv);
  char *Bs = strdup(P(ROOT, "www/site-b/secret.txt"));
  char log[PATH_MAX];
  snprintf(log, sizeof log, "%s/state/stderr.log", ROOT);
  int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (lfd >= 0) dup2(lfd, 2);
  struct stat st;

  EXPECT_OK("audit: open B secret proceeds", fp_reads(Bs, "B-SECRET"));
  EXPECT_OK("audit: stat B secret proceeds", stat(Bs, &st) == 0);
  symlink(Bs, "absb");
  EXPECT_OK("audit: planted link proceeds", fp_reads("absb", "B-SECRET"));
  EXPECT_OK("audit: own file still fine", fp_reads("file.txt", "A-DATA"));

  char buf[8192];
  int fd = open(log, O_RDONLY);
  fp_slurp_fd(fd, buf, sizeof buf);
  EXPECT_OK("audit line for open", strstr(buf, "tenant-sandbox: audit tenant=site-a op=") != NULL && strstr(buf, "need=read target=") != NULL);
  EXPECT_OK("audit line for stat", strstr(buf, "need=stat target=") != NULL);
  EXPECT_OK("audit lines say allowed", strstr(buf, "(audit mode: allowed)") != NULL);
  EXPECT_OK("no deny line", strstr(buf, "tenant-sandbox: deny") == NULL);
  return PROBE_END();
}
