/* fs_dir: opendir, scandir, scandirat, glob (incl. wildcard directories),
 * nftw, ftw and fts. glibc implements scandir/glob/nftw/fts with its own
 * internal opendir/getdents/stat, so each needs its own wrapper (THREATS 1). */
#include <dirent.h>
#include <fts.h>
#include <ftw.h>
#include <glob.h>

#include "fs_probe.h"

static int seen_secret, seen_a, walk_count;

static int nftw_cb(const char *path, const struct stat *st, int type, struct FTW *f) {
  (void)st, (void)type, (void)f;
  walk_count++;
  if (strstr(path, "secret.txt")) seen_secret = 1;
  if (strstr(path, "inner.txt")) seen_a = 1;
  return 0;
}

static int ftw_cb(const char *path, const struct stat *st, int type) {
  (void)st, (void)type;
  walk_count++;
  if (strstr(path, "secret.txt")) seen_secret = 1;
  if (strstr(path, "inner.txt")) seen_a = 1;
  return 0;
}

/* Walks an fts tree to the end, noting whether it saw site-a's inner.txt
 * (seen_a) or site-b's secret.txt (seen_secret), and closes it. */
static void fts_walk_and_close(FTS *fts) {
  FTSENT *e;
  seen_secret = seen_a = 0;
  while ((e = fts_read(fts)) != NULL) {
    if (strstr(e->fts_path, "secret.txt")) seen_secret = 1;
    if (strstr(e->fts_path, "inner.txt")) seen_a = 1;
  }
  fts_close(fts);
}

int main(int argc, char **argv) {
  fp_init(argc, argv);
  char *A = strdup(P(ROOT, "www/site-a"));
  char *B = strdup(P(ROOT, "www/site-b"));
  char *W = strdup(P(ROOT, "www"));
  char pat[PATH_MAX];
  DIR *d;
  struct dirent **list;
  int n;

  EXPECT_OK("opendir own", (d = opendir(A)) != NULL);
  if (d) closedir(d);
  EXPECT_OK("opendir own relative", (d = opendir("sub")) != NULL);
  if (d) closedir(d);
  EXPECT_ERRNO("opendir site-b", EACCES, opendir(B) == NULL);
  EXPECT_ERRNO("opendir ancestor www (stat only)", EACCES, opendir(W) == NULL);
  EXPECT_ERRNO("opendir /", EACCES, opendir("/") == NULL);
  EXPECT_ERRNO("opendir shared/ro/.. (= ROOT/shared)", EACCES, opendir(P(ROOT, "shared/ro/..")) == NULL);
  EXPECT_OK("opendir shared/ro", (d = opendir(P(ROOT, "shared/ro"))) != NULL);
  if (d) closedir(d);

  EXPECT_OK("scandir own", (n = scandir(A, &list, NULL, alphasort)) >= 4);
  if (n > 0) {
    EXPECT_OK("scandir sorted", strcmp(list[0]->d_name, ".") == 0);
    while (n--) free(list[n]);
    free(list);
  }
  EXPECT_ERRNO("scandir site-b", EACCES, scandir(B, &list, NULL, alphasort) < 0);
  EXPECT_ERRNO("scandir www", EACCES, scandir(W, &list, NULL, NULL) < 0);
  EXPECT_ERRNO("scandirat(AT_FDCWD, ../site-b)", EACCES, scandirat(AT_FDCWD, "../site-b", &list, NULL, NULL) < 0);

  glob_t g;
  snprintf(pat, sizeof pat, "%s/*.txt", A);
  EXPECT_OK("glob own *.txt", glob(pat, 0, NULL, &g) == 0 && g.gl_pathc >= 1);
  globfree(&g);
  snprintf(pat, sizeof pat, "%s/*", B);
  EXPECT_OK("glob site-b/* finds nothing", glob(pat, 0, NULL, &g) != 0);
  globfree(&g);
  snprintf(pat, sizeof pat, "%s/*", B);
  EXPECT_OK("glob site-b/* with GLOB_ERR: aborted", glob(pat, GLOB_ERR, NULL, &g) == GLOB_ABORTED);
  globfree(&g);
  snprintf(pat, sizeof pat, "%s/site-*/secret.txt", W);
  n = glob(pat, 0, NULL, &g);
  EXPECT_OK("glob wildcard dir www/site-*/secret.txt finds nothing", n != 0 || g.gl_pathc == 0);
  globfree(&g);
  snprintf(pat, sizeof pat, "%s/*/*", W);
  n = glob(pat, 0, NULL, &g);
  EXPECT_OK("glob www/*/* lists nothing of site-b", n != 0 || g.gl_pathc == 0);
  globfree(&g);
  EXPECT_OK("glob relative ../site-?/secret.txt finds nothing", glob("../site-?/secret.txt", 0, NULL, &g) != 0);
  globfree(&g);
  snprintf(pat, sizeof pat, "%s/site-b/secret.tx[t]", W);
  EXPECT_OK("glob site-b/secret.tx[t] finds nothing", glob(pat, 0, NULL, &g) != 0);
  globfree(&g);
  snprintf(pat, sizeof pat, "%s/s*/inner.txt", A);
  EXPECT_OK("glob own s*/inner.txt", glob(pat, 0, NULL, &g) == 0 && g.gl_pathc == 1);
  globfree(&g);

  seen_secret = seen_a = walk_count = 0;
  EXPECT_OK("nftw own", nftw(A, nftw_cb, 8, FTW_PHYS) == 0 && seen_a && walk_count >= 4);
  EXPECT_ERRNO("nftw site-b", EACCES, nftw(B, nftw_cb, 8, FTW_PHYS) < 0);
  EXPECT_OK("nftw site-b saw nothing", !seen_secret);
  /* A symlink planted in site-a to site-b: the walk must not enter it. */
  symlink(B, "tob");
  seen_secret = 0;
  nftw(A, nftw_cb, 8, 0); /* logical walk: follows links through the checked stat/opendir */
  EXPECT_OK("nftw (logical) does not enter a planted link to site-b", !seen_secret);
  seen_secret = 0;
  nftw(A, nftw_cb, 8, FTW_DEPTH | FTW_CHDIR);
  EXPECT_OK("nftw FTW_CHDIR|FTW_DEPTH does not enter it", !seen_secret);
  char cwd[PATH_MAX];
  EXPECT_OK("nftw FTW_CHDIR restored the cwd", getcwd(cwd, sizeof cwd) && strcmp(cwd, A) == 0);
  seen_secret = seen_a = walk_count = 0;
  EXPECT_OK("ftw own", ftw(A, ftw_cb, 8) == 0 && seen_a);
  EXPECT_OK("ftw does not enter the link", !seen_secret);
  seen_secret = 0;
  EXPECT_OK("ftw www (ancestor: stat-able, not listable) never reaches site-b", ftw(W, ftw_cb, 8) == 0 && !seen_secret);

  char *roots_a[] = {A, NULL};
  char *roots_b[] = {B, NULL};
  FTS *fts = fts_open(roots_a, FTS_LOGICAL, NULL);
  EXPECT_OK("fts_open own", fts != NULL);
  if (fts) {
    fts_walk_and_close(fts);
    EXPECT_OK("fts own walk saw own files", seen_a);
    EXPECT_OK("fts (FTS_LOGICAL asked) did not enter the planted link", !seen_secret);
  }
  fts = fts_open(roots_a, FTS_NOCHDIR | FTS_PHYSICAL, NULL);
  if (fts) {
    fts_walk_and_close(fts);
    EXPECT_OK("fts NOCHDIR walk works", seen_a && !seen_secret);
    EXPECT_OK("fts_close restored the cwd", getcwd(cwd, sizeof cwd) && strcmp(cwd, A) == 0);
  }
  EXPECT_ERRNO("fts_open site-b", EACCES, fts_open(roots_b, FTS_PHYSICAL, NULL) == NULL);
  return PROBE_END();
}
