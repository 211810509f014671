/* fs_symlink: THREATS 8. Symlinks a tenant plants in its own tree, relative
 * or absolute, pointing at another tenant's files are denied; links that
 * stay inside site-a or lead into the read_only area work; a thread that
 * keeps swapping site-a/flip between a real directory and a symlink to
 * site-b never lets B-SECRET be read (the decision holds for the object the
 * kernel opens, not for a string checked before). */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "fs_probe.h"

static atomic_int stop_flag;
static atomic_long swaps;

static void *flipper(void *arg) {
  (void)arg;
  while (!atomic_load(&stop_flag)) {
    /* atomically exchange the real directory and the symlink to site-b */
    if (renameat2(AT_FDCWD, "flip", AT_FDCWD, "flop", RENAME_EXCHANGE) == 0) atomic_fetch_add(&swaps, 1);
  }
  return NULL;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  fp_init(argc, argv);
  char *A = strdup(P(ROOT, "www/site-a"));
  char *B = strdup(P(ROOT, "www/site-b"));
  char *Bs = strdup(P(ROOT, "www/site-b/secret.txt"));
  char *RO = strdup(P(ROOT, "shared/ro"));
  char p[PATH_MAX];
  struct stat st;
  int fd;

  /* the swap race (first: the checks below would, without libsandbox,
   * remove B's secret and hide a failure here) */
  EXPECT_OK("race: real dir flip/", mkdir("flip", 0755) == 0);
  EXPECT_OK("race: flip/secret.txt", (fd = open("flip/secret.txt", O_WRONLY | O_CREAT, 0644)) >= 0 &&
                                         write(fd, "A-FLIP", 6) == 6 && close(fd) == 0);
  EXPECT_OK("race: flop -> site-b", symlink(B, "flop") == 0);
  pthread_t th;
  pthread_create(&th, NULL, flipper, NULL);
  long reads_a = 0, reads_b = 0, denied = 0, other = 0;
  char abs_flip[PATH_MAX];
  snprintf(abs_flip, sizeof abs_flip, "%s/flip/secret.txt", A);
  double end = now() + 1.0;
  long i = 0;
  while (now() < end) {
    char buf[64];
    const char *path = (i++ & 1) ? "flip/secret.txt" : abs_flip;
    int f = open(path, RDONLY_);
    if (f < 0) {
      if (errno == EACCES) denied++;
      else other++;
      continue;
    }
    fp_slurp_fd(f, buf, sizeof buf);
    if (strcmp(buf, "B-SECRET") == 0) reads_b++;
    else if (strcmp(buf, "A-FLIP") == 0) reads_a++;
  }
  atomic_store(&stop_flag, 1);
  pthread_join(th, NULL);
  printf("# race: %ld swaps, %ld opens: %ld A-FLIP, %ld denied, %ld other errors, %ld B-SECRET\n",
         (long)atomic_load(&swaps), i, reads_a, denied, other, reads_b);
  EXPECT_OK("race: the flipper ran", atomic_load(&swaps) > 100);
  EXPECT_OK("race: own file was read", reads_a > 0);
  EXPECT_OK("race: B-SECRET never read", reads_b == 0);
  /* planted links into site-b */
  EXPECT_OK("plant relative link to B file", symlink("../site-b/secret.txt", "relb") == 0);
  EXPECT_OK("plant absolute link to B file", symlink(Bs, "absb") == 0);
  EXPECT_OK("plant relative link to B dir", symlink("../site-b", "reldirb") == 0);
  EXPECT_OK("plant absolute link to B dir", symlink(B, "absdirb") == 0);
  EXPECT_OK("plant chain a1 -> a2 -> B", symlink("a2", "a1") == 0 && symlink(Bs, "a2") == 0);
  snprintf(p, sizeof p, "%s/www/site-a/../site-b/secret.txt", ROOT);
  EXPECT_OK("plant link with .. inside its text", symlink(p, "dotdotb") == 0);
  snprintf(p, sizeof p, "/proc/self/root%s", Bs);
  EXPECT_OK("plant link through /proc/self/root", symlink(p, "procb") == 0);
  EXPECT_OK("plant dangling link to a new B file", symlink(P(ROOT, "www/site-b/created.txt"), "newb") == 0);

  EXPECT_ERRNO("open relative link to B", EACCES, open("relb", RDONLY_) < 0);
  EXPECT_ERRNO("open absolute link to B", EACCES, open("absb", RDONLY_) < 0);
  EXPECT_ERRNO("open via relative dir link", EACCES, open("reldirb/secret.txt", RDONLY_) < 0);
  EXPECT_ERRNO("open via absolute dir link", EACCES, open("absdirb/secret.txt", RDONLY_) < 0);
  EXPECT_ERRNO("open via absolute path of the dir link", EACCES, open(P(ROOT, "www/site-a/absdirb/secret.txt"), RDONLY_) < 0);
  EXPECT_ERRNO("open link chain", EACCES, open("a1", RDONLY_) < 0);
  EXPECT_ERRNO("open link with .. text", EACCES, open("dotdotb", RDONLY_) < 0);
  EXPECT_ERRNO("open link via /proc/self/root", EACCES, open("procb", RDONLY_) < 0);
  EXPECT_ERRNO("fopen absolute link", EACCES, fopen("absb", "r") == NULL);
  EXPECT_ERRNO("opendir dir link", EACCES, opendir("absdirb") == NULL);
  EXPECT_ERRNO("stat absolute link", EACCES, stat("absb", &st) < 0);
  EXPECT_ERRNO("stat through relative dir link", EACCES, stat("reldirb/secret.txt", &st) < 0);
  EXPECT_ERRNO("O_CREAT through dangling link", EACCES, open("newb", O_WRONLY | O_CREAT, 0644) < 0);
  EXPECT_ERRNO("fopen w through dangling link", EACCES, fopen("newb", "w") == NULL);
  EXPECT_OK("nothing created in site-b", lstat("newb", &st) == 0 && access(P(ROOT, "www/site-b/created.txt"), F_OK) < 0);
  EXPECT_ERRNO("unlink through dir link", EACCES, unlink("absdirb/secret.txt") < 0);
  EXPECT_ERRNO("rename through dir link", EACCES, rename("reldirb/secret.txt", "got") < 0);
  EXPECT_ERRNO("chmod through link", EACCES, chmod("absb", 0666) < 0);
  EXPECT_ERRNO("truncate through link", EACCES, truncate("relb", 0) < 0);
  EXPECT_ERRNO("link() through dir link (B's file)", EACCES, link("absdirb/secret.txt", "hl") < 0);
  EXPECT_ERRNO("mkdir through dir link", EACCES, mkdir("absdirb/newdir", 0755) < 0);
  EXPECT_ERRNO("symlink created through dir link", EACCES, symlink("x", "reldirb/l") < 0);
  EXPECT_OK("unlink the planted link itself", unlink("a1") == 0);

  /* links that stay inside allowed trees */
  EXPECT_OK("plant relative link inside", symlink("sub/inner.txt", "in_rel") == 0);
  EXPECT_OK("plant absolute link inside", symlink(P(ROOT, "www/site-a/sub/inner.txt"), "in_abs") == 0);
  EXPECT_OK("plant absolute dir link inside", symlink(P(ROOT, "www/site-a/sub"), "in_dir") == 0);
  EXPECT_OK("plant link into shared/ro", symlink(P(ROOT, "shared/ro/readme.txt"), "to_ro") == 0);
  EXPECT_OK("plant dir link into shared/ro", symlink(RO, "ro_dir") == 0);
  EXPECT_OK("read relative link inside", fp_reads("in_rel", "A-INNER"));
  EXPECT_OK("read absolute link inside", fp_reads("in_abs", "A-INNER"));
  EXPECT_OK("read via absolute dir link inside", fp_reads("in_dir/inner.txt", "A-INNER"));
  EXPECT_OK("read link into shared/ro", fp_reads("to_ro", "SHARED"));
  EXPECT_OK("read via dir link into shared/ro", fp_reads("ro_dir/readme.txt", "SHARED"));
  EXPECT_ERRNO("write through link into shared/ro", EACCES, open("to_ro", O_WRONLY) < 0);
  EXPECT_OK("write through absolute link inside", (fd = open("in_abs", O_WRONLY | O_APPEND)) >= 0);
  if (fd >= 0) close(fd);
  EXPECT_OK("stat via absolute dir link inside", stat("in_dir/inner.txt", &st) == 0);
  EXPECT_OK("self loop", symlink("loop", "loop") == 0);
  EXPECT_ERRNO("open self loop", ELOOP, open("loop", RDONLY_) < 0);
  EXPECT_ERRNO("O_NOFOLLOW on own link", ELOOP, open("in_rel", O_RDONLY | O_NOFOLLOW) < 0);

  return PROBE_END();
}
