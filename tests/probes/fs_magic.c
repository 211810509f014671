/* fs_magic: THREATS 9. Magic links and descriptors: /proc/self/root/...,
 * /proc/self/cwd/..., /proc/self/fd/N of a directory fd, /dev/fd/N,
 * openat() with a directory fd plus ../, fchdir, and openat2 reached
 * through syscall(). Each resolves to what it points at and is decided
 * there. */
#include <linux/openat2.h>
#include <sys/syscall.h>

#include "fs_probe.h"

int main(int argc, char **argv) {
  fp_init(argc, argv);
  char *A = strdup(P(ROOT, "www/site-a"));
  char *Af = strdup(P(ROOT, "www/site-a/file.txt"));
  char *Bs = strdup(P(ROOT, "www/site-b/secret.txt"));
  char p[PATH_MAX];
  struct stat st;
  int fd;

  snprintf(p, sizeof p, "/proc/self/root%s", Bs);
  EXPECT_ERRNO("/proc/self/root/<B secret>", EACCES, open(p, RDONLY_) < 0);
  EXPECT_ERRNO("stat /proc/self/root/<B secret>", EACCES, stat(p, &st) < 0);
  snprintf(p, sizeof p, "/proc/self/root%s/www/site-b/missing", ROOT);
  EXPECT_ERRNO("stat /proc/self/root/<B missing> (same errno)", EACCES, stat(p, &st) < 0);
  snprintf(p, sizeof p, "/proc/thread-self/root%s", Bs);
  EXPECT_ERRNO("/proc/thread-self/root/<B secret>", EACCES, open(p, RDONLY_) < 0);
  snprintf(p, sizeof p, "/proc/%d/root%s", (int)getpid(), Bs);
  EXPECT_ERRNO("/proc/<pid>/root/<B secret>", EACCES, open(p, RDONLY_) < 0);
  snprintf(p, sizeof p, "/proc/self/root%s", Af);
  EXPECT_OK("/proc/self/root/<own file>", fp_reads(p, "A-DATA"));
  EXPECT_ERRNO("/proc/self/root/etc/passwd", EACCES, open("/proc/self/root/etc/passwd", RDONLY_) < 0);

  EXPECT_ERRNO("/proc/self/cwd/../site-b/secret.txt", EACCES, open("/proc/self/cwd/../site-b/secret.txt", RDONLY_) < 0);
  EXPECT_ERRNO("/proc/self/cwd/../../../../etc/passwd", EACCES, open("/proc/self/cwd/../../../../../../etc/passwd", RDONLY_) < 0);
  EXPECT_OK("/proc/self/cwd/file.txt", fp_reads("/proc/self/cwd/file.txt", "A-DATA"));

  int dfd = open(P(ROOT, "www/site-a/sub"), O_RDONLY | O_DIRECTORY);
  EXPECT_OK("open site-a/sub dir fd", dfd >= 0);
  EXPECT_ERRNO("openat(sub fd, ../../site-b/secret.txt)", EACCES, openat(dfd, "../../site-b/secret.txt", RDONLY_) < 0);
  EXPECT_OK("openat(sub fd, ../file.txt)", (fd = openat(dfd, "../file.txt", RDONLY_)) >= 0);
  if (fd >= 0) close(fd);
  EXPECT_ERRNO("fstatat(sub fd, ../../site-b/secret.txt)", EACCES, fstatat(dfd, "../../site-b/secret.txt", &st, 0) < 0);
  EXPECT_ERRNO("unlinkat(sub fd, ../../site-b/secret.txt)", EACCES, unlinkat(dfd, "../../site-b/secret.txt", 0) < 0);
  snprintf(p, sizeof p, "/proc/self/fd/%d/../../site-b/secret.txt", dfd);
  EXPECT_ERRNO("/proc/self/fd/<dir fd>/../../site-b/secret.txt", EACCES, open(p, RDONLY_) < 0);
  snprintf(p, sizeof p, "/dev/fd/%d/../../site-b/secret.txt", dfd);
  EXPECT_ERRNO("/dev/fd/<dir fd>/../../site-b/secret.txt", EACCES, open(p, RDONLY_) < 0);
  snprintf(p, sizeof p, "/proc/self/fd/%d/inner.txt", dfd);
  EXPECT_OK("/proc/self/fd/<dir fd>/inner.txt", fp_reads(p, "A-INNER"));

  int ffd = open(Af, O_RDONLY);
  snprintf(p, sizeof p, "/proc/self/fd/%d", ffd);
  EXPECT_OK("/proc/self/fd/<own file fd> reopens", fp_reads(p, "A-DATA"));
  snprintf(p, sizeof p, "/dev/fd/%d", ffd);
  EXPECT_OK("/dev/fd/<own file fd> reopens", fp_reads(p, "A-DATA"));
  int ro = open(P(ROOT, "shared/ro/readme.txt"), O_RDONLY);
  snprintf(p, sizeof p, "/proc/self/fd/%d", ro);
  EXPECT_ERRNO("/proc/self/fd/<read_only fd> reopened for writing", EACCES, open(p, O_WRONLY) < 0);
  int pfd[2];
  if (pipe(pfd) == 0) {
    snprintf(p, sizeof p, "/proc/self/fd/%d", pfd[0]);
    EXPECT_ERRNO("/proc/self/fd/<pipe>", EACCES, open(p, RDONLY_) < 0);
    snprintf(p, sizeof p, "/dev/fd/%d", pfd[1]);
    EXPECT_ERRNO("/dev/fd/<pipe>", EACCES, open(p, O_WRONLY) < 0);
  }
  /* a deleted directory has no path to decide on */
  mkdir("gone", 0755);
  int gfd = open("gone", O_RDONLY | O_DIRECTORY);
  rmdir("gone");
  EXPECT_ERRNO("openat(fd of a deleted dir, x)", EACCES, openat(gfd, "x", O_WRONLY | O_CREAT, 0644) < 0);

  /* fchdir */
  EXPECT_OK("fchdir to the sub fd", fchdir(dfd) == 0);
  EXPECT_OK("relative read after fchdir", fp_reads("inner.txt", "A-INNER"));
  EXPECT_ERRNO("../../site-b after fchdir", EACCES, open("../../site-b/secret.txt", RDONLY_) < 0);
  EXPECT_OK("chdir back", chdir(A) == 0);

  /* openat2 through syscall(): glibc 2.36 has no wrapper */
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = O_RDONLY;
  EXPECT_ERRNO("syscall(SYS_openat2, B secret)", EACCES, syscall(SYS_openat2, AT_FDCWD, Bs, &how, sizeof how) < 0);
  EXPECT_OK("syscall(SYS_openat2, own file)", (fd = (int)syscall(SYS_openat2, AT_FDCWD, Af, &how, sizeof how)) >= 0);
  if (fd >= 0) close(fd);
  how.resolve = 0;
  EXPECT_ERRNO("openat2 dirfd + ../../site-b", EACCES, syscall(SYS_openat2, dfd, "../../site-b/secret.txt", &how, sizeof how) < 0);
  return PROBE_END();
}
