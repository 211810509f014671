/* fs_tmp: mkstemp family, mkdtemp, tempnam, tmpfile. glibc creates these
 * with its internal openat/mkdir loop (PHP's tempnam() is mkstemp), so an
 * open() hook alone would let them create files anywhere. */
#include "fs_probe.h"

int main(int argc, char **argv) {
  fp_init(argc, argv);
  char t[PATH_MAX];
  int fd;
  char *A = strdup(P(ROOT, "www/site-a"));
  char *B = strdup(P(ROOT, "www/site-b"));

  snprintf(t, sizeof t, "%s/tmp/phpXXXXXX", A);
  EXPECT_OK("mkstemp in site-a/tmp", (fd = mkstemp(t)) >= 0 && strncmp(t, A, strlen(A)) == 0 && !strstr(t, "XXXXXX"));
  if (fd >= 0) {
    EXPECT_OK("mkstemp fd is writable", write(fd, "x", 1) == 1);
    close(fd);
  }
  snprintf(t, sizeof t, "%s/phpXXXXXX", B);
  EXPECT_ERRNO("mkstemp in site-b", EACCES, mkstemp(t) < 0);
  EXPECT_OK("mkstemp left the template", strstr(t, "XXXXXX") != NULL);
  snprintf(t, sizeof t, "/tmp/phpXXXXXX");
  EXPECT_ERRNO("mkstemp in /tmp (not in the policy)", EACCES, mkstemp(t) < 0);
  snprintf(t, sizeof t, "%s/tmp/oXXXXXX", A);
  EXPECT_OK("mkostemp own", (fd = mkostemp(t, O_CLOEXEC)) >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
  if (fd >= 0) close(fd);
  snprintf(t, sizeof t, "%s/oXXXXXX", B);
  EXPECT_ERRNO("mkostemp site-b", EACCES, mkostemp(t, 0) < 0);
  snprintf(t, sizeof t, "%s/tmp/sXXXXXX.txt", A);
  EXPECT_OK("mkstemps own", (fd = mkstemps(t, 4)) >= 0 && strstr(t, ".txt"));
  if (fd >= 0) close(fd);
  snprintf(t, sizeof t, "%s/sXXXXXX.txt", B);
  EXPECT_ERRNO("mkstemps site-b", EACCES, mkstemps(t, 4) < 0);
  snprintf(t, sizeof t, "%s/sXXXXXX.txt", B);
  EXPECT_ERRNO("mkostemps site-b", EACCES, mkostemps(t, 4, 0) < 0);
  snprintf(t, sizeof t, "%s/tmp/bad", A);
  EXPECT_ERRNO("mkstemp without XXXXXX", EINVAL, mkstemp(t) < 0);

  snprintf(t, sizeof t, "%s/tmp/dXXXXXX", A);
  EXPECT_OK("mkdtemp own", mkdtemp(t) != NULL);
  snprintf(t, sizeof t, "%s/dXXXXXX", B);
  EXPECT_ERRNO("mkdtemp site-b", EACCES, mkdtemp(t) == NULL);
  snprintf(t, sizeof t, "%s/dXXXXXX", P(ROOT, "shared/ro"));
  EXPECT_ERRNO("mkdtemp shared/ro", EACCES, mkdtemp(t) == NULL);

  char *name = tempnam(P(ROOT, "www/site-a/tmp"), "pre");
  EXPECT_OK("tempnam own dir", name != NULL && strncmp(name, A, strlen(A)) == 0);
  free(name);
  EXPECT_ERRNO("tempnam site-b dir", EACCES, tempnam(B, "pre") == NULL);

  EXPECT_ERRNO("tmpfile (P_tmpdir /tmp not writable by policy)", EACCES, tmpfile() == NULL);
  return PROBE_END();
}
