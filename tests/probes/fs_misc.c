/* fs_misc: the remaining entry points, some called through dlsym so every
 * build variant reaches them: __open64_2, __openat64_2, __readlink_chk,
 * __readlinkat_chk, __xmknod, __xmknodat, __lxstat64, __fxstatat64, plus
 * name_to_handle_at, open_by_handle_at, chroot, lchmod, futimesat, eaccess,
 * dlmopen. */
#include <dirent.h>
#include <dlfcn.h>
#include <sys/time.h>

#include "fs_probe.h"

int main(int argc, char **argv) {
  fp_init(argc, argv);
  char *Af = strdup(P(ROOT, "www/site-a/file.txt"));
  char *Bs = strdup(P(ROOT, "www/site-b/secret.txt"));
  char *Bd = strdup(P(ROOT, "www/site-b"));
  char buf[PATH_MAX];
  struct stat st;
  int fd;

  int (*open64_2)(const char *, int) = (int (*)(const char *, int))dlsym(RTLD_DEFAULT, "__open64_2");
  int (*openat64_2)(int, const char *, int) = (int (*)(int, const char *, int))dlsym(RTLD_DEFAULT, "__openat64_2");
  ssize_t (*rl_chk)(const char *, char *, size_t, size_t) =
      (ssize_t (*)(const char *, char *, size_t, size_t))dlsym(RTLD_DEFAULT, "__readlink_chk");
  ssize_t (*rlat_chk)(int, const char *, char *, size_t, size_t) =
      (ssize_t (*)(int, const char *, char *, size_t, size_t))dlsym(RTLD_DEFAULT, "__readlinkat_chk");
  int (*xmknod)(int, const char *, mode_t, dev_t *) = (int (*)(int, const char *, mode_t, dev_t *))dlsym(RTLD_DEFAULT, "__xmknod");
  int (*xmknodat)(int, int, const char *, mode_t, dev_t *) =
      (int (*)(int, int, const char *, mode_t, dev_t *))dlsym(RTLD_DEFAULT, "__xmknodat");
  int (*lxstat64)(int, const char *, struct stat *) = (int (*)(int, const char *, struct stat *))dlsym(RTLD_DEFAULT, "__lxstat64");
  int (*fxstatat64)(int, int, const char *, struct stat *, int) =
      (int (*)(int, int, const char *, struct stat *, int))dlsym(RTLD_DEFAULT, "__fxstatat64");
  EXPECT_OK("dlsym of the variant entry points", open64_2 && openat64_2 && rl_chk && rlat_chk && xmknod && xmknodat && lxstat64 && fxstatat64);
  if (!(open64_2 && openat64_2 && rl_chk && rlat_chk && xmknod && xmknodat && lxstat64 && fxstatat64)) return PROBE_END();

  EXPECT_OK("__open64_2 own", (fd = open64_2(Af, O_RDONLY)) >= 0);
  if (fd >= 0) close(fd);
  EXPECT_ERRNO("__open64_2 site-b", EACCES, open64_2(Bs, O_RDONLY) < 0);
  EXPECT_ERRNO("__openat64_2 site-b", EACCES, openat64_2(AT_FDCWD, Bs, O_RDONLY) < 0);
  symlink("file.txt", "l");
  EXPECT_OK("__readlink_chk own", rl_chk("l", buf, sizeof buf, sizeof buf) == 8);
  EXPECT_ERRNO("__readlink_chk site-b", EACCES, rl_chk(Bs, buf, sizeof buf, sizeof buf) < 0);
  EXPECT_ERRNO("__readlinkat_chk site-b", EACCES, rlat_chk(AT_FDCWD, Bs, buf, sizeof buf, sizeof buf) < 0);
  dev_t dev = 0;
  EXPECT_OK("__xmknod own fifo", xmknod(0, "xf", S_IFIFO | 0600, &dev) == 0);
  snprintf(buf, sizeof buf, "%s/xf", Bd);
  EXPECT_ERRNO("__xmknod site-b", EACCES, xmknod(0, buf, S_IFIFO | 0600, &dev) < 0);
  EXPECT_ERRNO("__xmknodat site-b", EACCES, xmknodat(0, AT_FDCWD, buf, S_IFIFO | 0600, &dev) < 0);
  EXPECT_OK("__lxstat64 own", lxstat64(1, "l", &st) == 0 && S_ISLNK(st.st_mode));
  EXPECT_ERRNO("__lxstat64 site-b", EACCES, lxstat64(1, Bs, &st) < 0);
  EXPECT_ERRNO("__fxstatat64 site-b", EACCES, fxstatat64(1, AT_FDCWD, Bs, &st, 0) < 0);

  struct {
    struct file_handle fh;
    unsigned char space[128];
  } h;
  int mount_id;
  h.fh.handle_bytes = 128;
  int nh = name_to_handle_at(AT_FDCWD, Af, &h.fh, &mount_id, 0);
  EXPECT_OK("name_to_handle_at own (or unsupported fs)", nh == 0 || errno == EOPNOTSUPP);
  h.fh.handle_bytes = 128;
  EXPECT_ERRNO("name_to_handle_at site-b", EACCES, name_to_handle_at(AT_FDCWD, Bs, &h.fh, &mount_id, 0) < 0);
  if (nh == 0) EXPECT_ERRNO("open_by_handle_at (tenant)", EACCES, open_by_handle_at(AT_FDCWD, &h.fh, O_RDONLY) < 0);
  EXPECT_ERRNO("chroot (tenant)", EACCES, chroot(P(ROOT, "www/site-a")) < 0);

  close(open("lc", O_CREAT | O_WRONLY, 0644));
  EXPECT_OK("lchmod own regular file", lchmod("lc", 0600) == 0 || errno == EOPNOTSUPP);
  EXPECT_ERRNO("lchmod site-b", EACCES, lchmod(Bs, 0600) < 0);
  struct timeval tv[2] = {{1000, 0}, {1000, 0}};
  EXPECT_OK("futimesat own", futimesat(AT_FDCWD, "lc", tv) == 0);
  EXPECT_ERRNO("futimesat site-b", EACCES, futimesat(AT_FDCWD, Bs, tv) < 0);
  EXPECT_OK("eaccess own", eaccess(Af, R_OK) == 0);
  EXPECT_ERRNO("eaccess site-b", EACCES, eaccess(Bs, R_OK) < 0);
  snprintf(buf, sizeof buf, "%s/lib.so", Bd);
  EXPECT_ERRNO("dlmopen site-b path", EACCES, dlmopen(LM_ID_NEWLM, buf, RTLD_NOW) == NULL);
  int dfd = open(P(ROOT, "www/site-a/sub"), O_RDONLY | O_DIRECTORY);
  DIR *d = fdopendir(dfd);
  EXPECT_OK("fdopendir on an own dir fd", d != NULL);
  if (d) closedir(d);
  return PROBE_END();
}
