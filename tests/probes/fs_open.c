/* fs_open: the open family (open/openat/creat, fortified and *64 forms via
 * the build variants), fopen/freopen, read_only areas, and the string
 * tricks of THREATS 7. Fails without libsandbox: every "denied" check
 * would succeed. */
#include "fs_probe.h"

int main(int argc, char **argv) {
  fp_init(argc, argv);
  int fd;
  FILE *f;
  char buf[256];

  /* ---- open / openat / creat ---- */
  EXPECT_OK("open own file", fp_reads(P(ROOT, "www/site-a/file.txt"), "A-DATA"));
  EXPECT_OK("open own file, relative to cwd", fp_reads("file.txt", "A-DATA"));
  EXPECT_ERRNO("open site-b secret", EACCES, open(P(ROOT, "www/site-b/secret.txt"), RDONLY_) < 0);
  EXPECT_ERRNO("open outside", EACCES, open(P(ROOT, "outside/other.txt"), RDONLY_) < 0);
  EXPECT_ERRNO("open /etc/passwd", EACCES, open("/etc/passwd", RDONLY_) < 0);
  EXPECT_ERRNO("open(O_CREAT) in site-b", EACCES, open(P(ROOT, "www/site-b/new.txt"), O_WRONLY | O_CREAT, 0644) < 0);
  EXPECT_OK("site-b/new.txt was not created", access(P(ROOT, "www/site-b/new.txt"), F_OK) < 0);
  EXPECT_OK("open(O_CREAT) in site-a", (fd = open(P(ROOT, "www/site-a/new.txt"), O_WRONLY | O_CREAT, 0644)) >= 0);
  if (fd >= 0) close(fd);
  {
    int dfd;
    EXPECT_ERRNO("open the ancestor www (stat-only) for listing", EACCES,
                 (dfd = open(P(ROOT, "www"), O_RDONLY | O_DIRECTORY)) < 0);
    if (dfd >= 0) close(dfd);
  }
  {
    int dfd = open(P(ROOT, "www/site-a"), O_RDONLY | O_DIRECTORY);
    EXPECT_OK("open site-a as directory", dfd >= 0);
    EXPECT_OK("openat(site-a dirfd, file.txt)", (fd = openat(dfd, "file.txt", RDONLY_)) >= 0);
    if (fd >= 0) close(fd);
    EXPECT_ERRNO("openat(site-a dirfd, ../site-b/secret.txt)", EACCES, openat(dfd, "../site-b/secret.txt", RDONLY_) < 0);
    EXPECT_ERRNO("openat(AT_FDCWD, abs site-b)", EACCES, openat(AT_FDCWD, P(ROOT, "www/site-b/secret.txt"), RDONLY_) < 0);
    if (dfd >= 0) close(dfd);
  }
  EXPECT_OK("creat in site-a", (fd = creat(P(ROOT, "www/site-a/creat.txt"), 0644)) >= 0);
  if (fd >= 0) close(fd);
  EXPECT_ERRNO("creat in site-b", EACCES, creat(P(ROOT, "www/site-b/creat.txt"), 0644) < 0);
  EXPECT_ERRNO("creat over site-b secret", EACCES, creat(P(ROOT, "www/site-b/secret.txt"), 0644) < 0);
  EXPECT_OK("site-b secret intact", 1);

  /* errno is the caller's after a successful call, even when the engine
   * took the slow path (an absolute symlink: EXDEV from openat2 first) */
  symlink(P(ROOT, "www/site-a/file.txt"), "abs_own");
  errno = 4242;
  fd = open("abs_own", RDONLY_);
  int kept = errno;
  EXPECT_OK("errno kept across a slow-path open", fd >= 0 && kept == 4242);
  if (fd >= 0) close(fd);

  /* ---- read_only area ---- */
  EXPECT_OK("read shared/ro", fp_reads(P(ROOT, "shared/ro/readme.txt"), "SHARED"));
  EXPECT_ERRNO("write shared/ro", EACCES, open(P(ROOT, "shared/ro/readme.txt"), O_WRONLY) < 0);
  EXPECT_ERRNO("O_RDWR shared/ro", EACCES, open(P(ROOT, "shared/ro/readme.txt"), O_RDWR) < 0);
  EXPECT_ERRNO("O_TRUNC shared/ro (read-only access mode)", EACCES, open(P(ROOT, "shared/ro/readme.txt"), O_RDONLY | O_TRUNC) < 0);
  EXPECT_ERRNO("O_APPEND shared/ro", EACCES, open(P(ROOT, "shared/ro/readme.txt"), O_WRONLY | O_APPEND) < 0);
  EXPECT_ERRNO("create in shared/ro", EACCES, open(P(ROOT, "shared/ro/new"), O_WRONLY | O_CREAT, 0644) < 0);
  EXPECT_ERRNO("O_TMPFILE in shared/ro", EACCES, open(P(ROOT, "shared/ro"), O_TMPFILE | O_RDWR, 0600) < 0);

  /* ---- fopen / freopen ---- */
  EXPECT_OK("fopen own file r", (f = fopen(P(ROOT, "www/site-a/file.txt"), "r")) != NULL);
  if (f) {
    EXPECT_OK("fopen reads A-DATA", fgets(buf, sizeof buf, f) && strcmp(buf, "A-DATA") == 0);
    fclose(f);
  }
  EXPECT_ERRNO("fopen site-b r", EACCES, fopen(P(ROOT, "www/site-b/secret.txt"), "r") == NULL);
  EXPECT_ERRNO("fopen site-b w", EACCES, fopen(P(ROOT, "www/site-b/secret.txt"), "w") == NULL);
  EXPECT_ERRNO("fopen shared/ro a", EACCES, fopen(P(ROOT, "shared/ro/readme.txt"), "a") == NULL);
  EXPECT_ERRNO("fopen shared/ro r+", EACCES, fopen(P(ROOT, "shared/ro/readme.txt"), "r+") == NULL);
  EXPECT_OK("fopen shared/ro re", (f = fopen(P(ROOT, "shared/ro/readme.txt"), "re")) != NULL);
  if (f) fclose(f);
  EXPECT_OK("fopen wx in site-a", (f = fopen(P(ROOT, "www/site-a/fx.txt"), "wx")) != NULL);
  if (f) fclose(f);
  EXPECT_ERRNO("fopen wx existing", EEXIST, fopen(P(ROOT, "www/site-a/fx.txt"), "wx") == NULL);
  f = fopen(P(ROOT, "www/site-a/file.txt"), "r");
  if (f) {
    EXPECT_ERRNO("freopen(site-b) on a stream", EACCES, freopen(P(ROOT, "www/site-b/secret.txt"), "r", f) == NULL);
  }
  f = fopen(P(ROOT, "www/site-a/file.txt"), "r");
  if (f) {
    FILE *g = freopen(P(ROOT, "www/site-a/sub/inner.txt"), "r", f);
    EXPECT_OK("freopen(own file)", g != NULL);
    EXPECT_OK("freopen'd stream reads A-INNER", g && fgets(buf, sizeof buf, g) && strcmp(buf, "A-INNER") == 0);
    if (g) fclose(g);
  }
  f = fopen(P(ROOT, "shared/ro/readme.txt"), "r");
  if (f) {
    EXPECT_ERRNO("freopen(NULL, \"w\") upgrades a read_only stream", EACCES, freopen(NULL, "w", f) == NULL);
  }

  /* ---- THREATS 7: string tricks ---- */
  char p[8192];
  snprintf(p, sizeof p, "%s/www/site-a/../site-b/secret.txt", ROOT);
  EXPECT_ERRNO("site-a/../site-b", EACCES, open(p, RDONLY_) < 0);
  snprintf(p, sizeof p, "%s//www//site-b///secret.txt", ROOT);
  EXPECT_ERRNO("// in path", EACCES, open(p, RDONLY_) < 0);
  snprintf(p, sizeof p, "%s/www/./site-b/./secret.txt", ROOT);
  EXPECT_ERRNO("/./ in path", EACCES, open(p, RDONLY_) < 0);
  snprintf(p, sizeof p, "%s/www/site-b/", ROOT);
  EXPECT_ERRNO("site-b/ trailing slash", EACCES, open(p, O_RDONLY | O_DIRECTORY) < 0);
  snprintf(p, sizeof p, "%s/www/site-a/sub/", ROOT);
  EXPECT_OK("own sub/ trailing slash", (fd = open(p, O_RDONLY | O_DIRECTORY)) >= 0);
  if (fd >= 0) close(fd);
  snprintf(p, sizeof p, "%s/www/site-a/file.txt/", ROOT);
  EXPECT_ERRNO("file.txt/ (trailing slash on a file)", ENOTDIR, open(p, RDONLY_) < 0);
  EXPECT_ERRNO("site-ab prefix trap", EACCES, open(P(ROOT, "www/site-ab/file.txt"), RDONLY_) < 0);
  EXPECT_ERRNO("relative ../site-b from cwd site-a", EACCES, open("../site-b/secret.txt", RDONLY_) < 0);
  EXPECT_ERRNO("relative ../site-ab", EACCES, open("../site-ab/file.txt", RDONLY_) < 0);
  EXPECT_ERRNO("many ../ climbing past /", EACCES,
               open("../../../../../../../../../../../../../../../etc/passwd", RDONLY_) < 0);
  EXPECT_OK("chdir sub", chdir("sub") == 0);
  EXPECT_OK("relative inner.txt after chdir", fp_reads("inner.txt", "A-INNER"));
  EXPECT_ERRNO("relative ../../site-b after chdir", EACCES, open("../../site-b/secret.txt", RDONLY_) < 0);
  EXPECT_OK("relative ../file.txt after chdir", fp_reads("../file.txt", "A-DATA"));
  EXPECT_OK("chdir back", chdir(P(ROOT, "www/site-a")) == 0);
  {
    /* A path longer than PATH_MAX whose ".." would bring it back into
     * site-a: ENAMETOOLONG, never a truncated (or shortened) path. */
    static char longp[3 * PATH_MAX];
    size_t n = (size_t)snprintf(longp, sizeof longp, "%s/www/site-a/", ROOT);
    while (n < PATH_MAX + 200) {
      memcpy(longp + n, "sub/../", 7);
      n += 7;
    }
    snprintf(longp + n, sizeof longp - n, "file.txt");
    EXPECT_ERRNO("over-PATH_MAX path", ENAMETOOLONG, (fd = open(longp, RDONLY_)) < 0);
    if (fd >= 0) close(fd);
    EXPECT_ERRNO("over-PATH_MAX fopen", ENAMETOOLONG, fopen(longp, "r") == NULL);
  }
  {
    /* The creation did not happen in the B tree whatever the errno. */
    struct stat st;
    EXPECT_OK("no stray file in site-b", stat(P(ROOT, "www/site-b/creat.txt"), &st) < 0);
  }
  return PROBE_END();
}
