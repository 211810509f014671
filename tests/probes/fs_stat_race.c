/* fs_stat_race: THREATS 8 and 11 for the stat family's one-call fast path
 * (a name directly in the area root is stat'ed with one
 * fstatat(root, name, AT_SYMLINK_NOFOLLOW)). A thread keeps exchanging
 * site-a/sflip between a file of A's and a symlink to site-b/secret.txt
 * (and the same one level down, sub/sflip, which takes the openat2 path):
 * stat() must answer with A's file or be denied, never with B-SECRET's
 * attributes (its size, 8, is the tell: A's file has 13 bytes); lstat()
 * sees A's file or the link itself. Without libsandbox stat follows the
 * link to site-b and the probe fails. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "fs_probe.h"

static atomic_int stop_flag;
static atomic_long swaps;

static void *flipper(void *arg) {
  const char *dir = arg;
  char a[PATH_MAX], b[PATH_MAX];
  snprintf(a, sizeof a, "%ssflip", dir);
  snprintf(b, sizeof b, "%ssflop", dir);
  while (!atomic_load(&stop_flag))
    if (renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0) atomic_fetch_add(&swaps, 1);
  return NULL;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void race(const char *dir, const char *label) {
  char f[PATH_MAX], l[PATH_MAX], abs_f[PATH_MAX];
  snprintf(f, sizeof f, "%ssflip", dir);
  snprintf(l, sizeof l, "%ssflop", dir);
  snprintf(abs_f, sizeof abs_f, "%s/www/site-a/%ssflip", ROOT, dir);
  int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  EXPECT_OK("race: A's file", fd >= 0 && write(fd, "A-FLIP-LONGER", 13) == 13 && close(fd) == 0);
  EXPECT_OK("race: link to B's secret", symlink(P(ROOT, "www/site-b/secret.txt"), l) == 0);
  atomic_store(&stop_flag, 0);
  atomic_store(&swaps, 0);
  pthread_t th;
  pthread_create(&th, NULL, flipper, (void *)dir);
  long own = 0, leaked = 0, denied = 0, links = 0, other = 0, i = 0;
  const double end = now() + 0.7;
  while (now() < end) {
    struct stat st;
    const char *path = (i & 2) ? abs_f : f;
    const int r = (i & 1) ? lstat(path, &st) : stat(path, &st);
    ++i;
    if (r != 0) {
      if (errno == EACCES) denied++;
      else other++;
      continue;
    }
    if (S_ISLNK(st.st_mode)) links++;
    else if (st.st_size == 8) leaked++;
    else if (st.st_size == 13) own++;
    else other++;
  }
  atomic_store(&stop_flag, 1);
  pthread_join(th, NULL);
  printf("# %s: %ld swaps, %ld calls: %ld own, %ld link, %ld denied, %ld other, %ld B-SECRET\n", label,
         (long)atomic_load(&swaps), i, own, links, denied, other, leaked);
  EXPECT_OK("race: the flipper ran", atomic_load(&swaps) > 100);
  EXPECT_OK("race: own file was seen", own > 0);
  EXPECT_OK("race: lstat saw the link", links > 0);
  EXPECT_OK("race: B-SECRET's attributes never returned", leaked == 0);
}

int main(int argc, char **argv) {
  fp_init(argc, argv);
  struct stat st;
  race("", "root level (fstatat fast path)");
  race("sub/", "one level down (openat2 path)");
  /* the fast path's plain answers */
  EXPECT_OK("stat own root-level file", stat("file.txt", &st) == 0 && st.st_size == 6);
  EXPECT_ERRNO("stat missing root-level name", ENOENT, stat("no-such-file", &st) < 0);
  EXPECT_ERRNO("stat root-level file with trailing slash", ENOTDIR, stat("file.txt/", &st) < 0);
  EXPECT_OK("stat root-level dir with trailing slash", stat("sub/", &st) == 0 && S_ISDIR(st.st_mode));
  EXPECT_OK("plant root-level link to B", symlink(P(ROOT, "www/site-b/secret.txt"), "slink") == 0);
  EXPECT_ERRNO("stat root-level link to B", EACCES, stat("slink", &st) < 0);
  EXPECT_OK("lstat root-level link to B is the link", lstat("slink", &st) == 0 && S_ISLNK(st.st_mode));
  EXPECT_OK("plant root-level link to own file", symlink("file.txt", "olink") == 0);
  EXPECT_OK("stat root-level link to own file", stat("olink", &st) == 0 && st.st_size == 6);
  EXPECT_OK("fstatat(AT_SYMLINK_NOFOLLOW) of the link", fstatat(AT_FDCWD, "olink", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode));
  return PROBE_END();
}
