/* fs_meta: stat family (stat, lstat, fstatat, statx, __xstat found with
 * dlsym), statfs/statvfs, access/faccessat/euidaccess, readlink, realpath,
 * and THREATS 11: a denied path fails the same way whether or not it
 * exists. */
#include <dlfcn.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

#include "fs_probe.h"

typedef int (*xstat_fn)(int, const char *, struct stat *);
typedef int (*fxstatat_fn)(int, int, const char *, struct stat *, int);

int main(int argc, char **argv) {
  fp_init(argc, argv);
  struct stat st;
  struct statx stx;
  struct statfs sfs;
  struct statvfs svfs;
  char buf[PATH_MAX];
  const char *a = strdup(P(ROOT, "www/site-a/file.txt"));
  const char *b = strdup(P(ROOT, "www/site-b/secret.txt"));
  const char *bmiss = strdup(P(ROOT, "www/site-b/missing.txt"));

  EXPECT_OK("stat own", stat(a, &st) == 0 && st.st_size == 6);
  EXPECT_ERRNO("stat site-b", EACCES, stat(b, &st) < 0);
  EXPECT_OK("lstat own", lstat(a, &st) == 0);
  EXPECT_ERRNO("lstat site-b", EACCES, lstat(b, &st) < 0);
  EXPECT_OK("fstatat own", fstatat(AT_FDCWD, "file.txt", &st, 0) == 0);
  EXPECT_ERRNO("fstatat site-b nofollow", EACCES, fstatat(AT_FDCWD, b, &st, AT_SYMLINK_NOFOLLOW) < 0);
  EXPECT_OK("statx own", statx(AT_FDCWD, a, 0, STATX_SIZE, &stx) == 0 && stx.stx_size == 6);
  EXPECT_ERRNO("statx site-b", EACCES, statx(AT_FDCWD, b, 0, STATX_SIZE, &stx) < 0);
  EXPECT_ERRNO("statx outside", EACCES, statx(AT_FDCWD, P(ROOT, "outside/other.txt"), 0, STATX_SIZE, &stx) < 0);
  {
    int fd = open(P(ROOT, "www/site-a"), O_PATH);
    EXPECT_OK("fstatat(fd, \"\", AT_EMPTY_PATH) on an own fd", fd >= 0 && fstatat(fd, "", &st, AT_EMPTY_PATH) == 0);
    if (fd >= 0) close(fd);
  }
  /* Ancestors of an allowed area may be stat'ed (Apache's directory walk). */
  EXPECT_OK("stat ancestor ROOT/www", stat(P(ROOT, "www"), &st) == 0 && S_ISDIR(st.st_mode));
  EXPECT_OK("lstat ancestor ROOT", lstat(ROOT, &st) == 0);
  EXPECT_OK("stat /", stat("/", &st) == 0);

  /* Binaries built against glibc < 2.33 call __xstat & co. */
  xstat_fn xs = (xstat_fn)dlsym(RTLD_DEFAULT, "__xstat");
  xstat_fn lxs = (xstat_fn)dlsym(RTLD_DEFAULT, "__lxstat");
  xstat_fn xs64 = (xstat_fn)dlsym(RTLD_DEFAULT, "__xstat64");
  fxstatat_fn fxs = (fxstatat_fn)dlsym(RTLD_DEFAULT, "__fxstatat");
  EXPECT_OK("__xstat found", xs && lxs && xs64 && fxs);
  if (xs && lxs && xs64 && fxs) {
    EXPECT_OK("__xstat own", xs(1, a, &st) == 0 && st.st_size == 6);
    EXPECT_ERRNO("__xstat site-b", EACCES, xs(1, b, &st) < 0);
    EXPECT_ERRNO("__lxstat site-b", EACCES, lxs(1, b, &st) < 0);
    EXPECT_ERRNO("__xstat64 site-b", EACCES, xs64(1, b, &st) < 0);
    EXPECT_ERRNO("__fxstatat site-b", EACCES, fxs(1, AT_FDCWD, b, &st, 0) < 0);
  }

  EXPECT_OK("statfs own", statfs(a, &sfs) == 0);
  EXPECT_ERRNO("statfs site-b", EACCES, statfs(b, &sfs) < 0);
  EXPECT_OK("statvfs own", statvfs(a, &svfs) == 0);
  EXPECT_ERRNO("statvfs site-b", EACCES, statvfs(b, &svfs) < 0);

  EXPECT_OK("access own F_OK", access(a, F_OK) == 0);
  EXPECT_OK("access own W_OK", access(a, W_OK) == 0);
  EXPECT_ERRNO("access site-b F_OK", EACCES, access(b, F_OK) < 0);
  EXPECT_ERRNO("faccessat site-b", EACCES, faccessat(AT_FDCWD, b, R_OK, 0) < 0);
  EXPECT_ERRNO("euidaccess site-b", EACCES, euidaccess(b, R_OK) < 0);
  EXPECT_OK("access shared/ro R_OK", access(P(ROOT, "shared/ro/readme.txt"), R_OK) == 0);
  EXPECT_ERRNO("access shared/ro W_OK (read_only area)", EACCES, access(P(ROOT, "shared/ro/readme.txt"), W_OK) < 0);

  EXPECT_OK("symlink own link", symlink("file.txt", "lnk") == 0);
  ssize_t n;
  EXPECT_OK("readlink own link", (n = readlink("lnk", buf, sizeof buf)) == 8 && memcmp(buf, "file.txt", 8) == 0);
  EXPECT_ERRNO("readlink own regular file", EINVAL, readlink(a, buf, sizeof buf) < 0);
  EXPECT_ERRNO("readlinkat site-b", EACCES, readlinkat(AT_FDCWD, b, buf, sizeof buf) < 0);

  char *r = realpath("lnk", buf);
  EXPECT_OK("realpath own link -> file.txt", r && strcmp(r, a) == 0);
  EXPECT_ERRNO("realpath site-b", EACCES, realpath(b, buf) == NULL);
  EXPECT_ERRNO("canonicalize_file_name site-b", EACCES, canonicalize_file_name(b) == NULL);
  EXPECT_ERRNO("realpath own missing", ENOENT, realpath("nope.txt", buf) == NULL);
  /* A planted symlink must not make realpath an oracle. */
  EXPECT_OK("plant link to site-b secret", symlink(b, "tob") == 0);
  EXPECT_OK("plant link to site-b missing", symlink(bmiss, "tobmiss") == 0);
  EXPECT_ERRNO("realpath planted link (existing B file)", EACCES, realpath("tob", buf) == NULL);
  EXPECT_ERRNO("realpath planted link (missing B file)", EACCES, realpath("tobmiss", buf) == NULL);
  EXPECT_ERRNO("stat planted link (existing)", EACCES, stat("tob", &st) < 0);
  EXPECT_ERRNO("stat planted link (missing)", EACCES, stat("tobmiss", &st) < 0);
  EXPECT_OK("lstat planted link itself is fine", lstat("tob", &st) == 0 && S_ISLNK(st.st_mode));

  /* THREATS 11: the same errno for an existing and a missing B path. */
  EXPECT_ERRNO("stat B existing", EACCES, stat(b, &st) < 0);
  EXPECT_ERRNO("stat B missing", EACCES, stat(bmiss, &st) < 0);
  EXPECT_ERRNO("lstat B missing dir/file", EACCES, lstat(P(ROOT, "www/site-b/nodir/x"), &st) < 0);
  EXPECT_ERRNO("access B existing", EACCES, access(b, F_OK) < 0);
  EXPECT_ERRNO("access B missing", EACCES, access(bmiss, F_OK) < 0);
  EXPECT_ERRNO("readlink B existing", EACCES, readlink(b, buf, sizeof buf) < 0);
  EXPECT_ERRNO("readlink B missing", EACCES, readlink(bmiss, buf, sizeof buf) < 0);
  EXPECT_ERRNO("open B existing", EACCES, open(b, RDONLY_) < 0);
  EXPECT_ERRNO("open B missing", EACCES, open(bmiss, RDONLY_) < 0);
  EXPECT_ERRNO("statx B missing", EACCES, statx(AT_FDCWD, bmiss, 0, STATX_SIZE, &stx) < 0);
  EXPECT_ERRNO("stat outside missing", EACCES, stat(P(ROOT, "outside/none"), &st) < 0);
  return PROBE_END();
}
