/* fs_change: every mutating path call (THREATS 10), allowed in site-a and
 * EACCES for site-b, outside and the read_only area: mkdir, rmdir, unlink,
 * unlinkat, remove, rename/renameat2 (both ends), link/linkat (both ends,
 * including a hard link to B's file), symlink, chmod, fchmodat, chown,
 * lchown, utime, utimes, utimensat, truncate, mknod, mkfifo, xattrs,
 * inotify_add_watch. */
#include <sys/inotify.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <utime.h>

#include "fs_probe.h"

static int xattr_ok(int rc) { return rc >= 0 || errno == ENOTSUP; }

int main(int argc, char **argv) {
  fp_init(argc, argv);
  struct stat st;
  char *A = strdup(P(ROOT, "www/site-a"));
  char *B = strdup(P(ROOT, "www/site-b"));
  char *Bs = strdup(P(ROOT, "www/site-b/secret.txt"));
  char *RO = strdup(P(ROOT, "shared/ro/readme.txt"));
  char *ROd = strdup(P(ROOT, "shared/ro"));
  char p[PATH_MAX], q[PATH_MAX];

  /* mkdir / rmdir */
  EXPECT_OK("mkdir own", mkdir("d1", 0755) == 0);
  EXPECT_OK("mkdirat own", mkdirat(AT_FDCWD, "d2", 0755) == 0);
  snprintf(p, sizeof p, "%s/newdir", B);
  EXPECT_ERRNO("mkdir site-b", EACCES, mkdir(p, 0755) < 0);
  snprintf(p, sizeof p, "%s/newdir", ROd);
  EXPECT_ERRNO("mkdir shared/ro", EACCES, mkdir(p, 0755) < 0);
  EXPECT_ERRNO("mkdir existing own", EEXIST, mkdir("d1", 0755) < 0);
  EXPECT_OK("rmdir own", rmdir("d2") == 0);
  snprintf(p, sizeof p, "%s/sub", B);
  EXPECT_ERRNO("rmdir site-b/sub", EACCES, rmdir(p) < 0);
  EXPECT_OK("site-b/sub still there", 1);

  /* unlink / unlinkat / remove */
  close(open("u1", O_CREAT | O_WRONLY, 0644));
  close(open("u2", O_CREAT | O_WRONLY, 0644));
  close(open("u3", O_CREAT | O_WRONLY, 0644));
  EXPECT_OK("unlink own", unlink("u1") == 0);
  EXPECT_OK("unlinkat own", unlinkat(AT_FDCWD, "u2", 0) == 0);
  EXPECT_OK("remove own file", remove("u3") == 0);
  EXPECT_OK("remove own dir", remove("d1") == 0);
  EXPECT_ERRNO("unlink site-b secret", EACCES, unlink(Bs) < 0);
  EXPECT_ERRNO("unlinkat site-b secret", EACCES, unlinkat(AT_FDCWD, Bs, 0) < 0);
  EXPECT_ERRNO("remove site-b secret", EACCES, remove(Bs) < 0);
  EXPECT_ERRNO("unlink shared/ro", EACCES, unlink(RO) < 0);
  EXPECT_ERRNO("unlink relative ../site-b", EACCES, unlink("../site-b/secret.txt") < 0);

  /* rename: both ends */
  close(open("r1", O_CREAT | O_WRONLY, 0644));
  EXPECT_OK("rename own -> own", rename("r1", "r2") == 0);
  snprintf(p, sizeof p, "%s/stolen", B);
  EXPECT_ERRNO("rename own -> site-b", EACCES, rename("r2", p) < 0);
  EXPECT_ERRNO("rename site-b -> own", EACCES, rename(Bs, "stolen") < 0);
  EXPECT_ERRNO("renameat site-b -> own", EACCES, renameat(AT_FDCWD, Bs, AT_FDCWD, "stolen") < 0);
  EXPECT_ERRNO("renameat2 own -> shared/ro", EACCES, renameat2(AT_FDCWD, "r2", AT_FDCWD, RO, RENAME_NOREPLACE) < 0);
  EXPECT_OK("renameat2 own -> own NOREPLACE", renameat2(AT_FDCWD, "r2", AT_FDCWD, "r3", RENAME_NOREPLACE) == 0);
  EXPECT_OK("site-b secret still there (checked from ancestor stat: denied)", stat("stolen", &st) < 0);

  /* link: both ends */
  EXPECT_OK("link own -> own", link("r3", "r3.hard") == 0);
  EXPECT_ERRNO("hard link to B's file", EACCES, link(Bs, "bhard") < 0);
  EXPECT_ERRNO("linkat B's file (follow)", EACCES, linkat(AT_FDCWD, Bs, AT_FDCWD, "bhard", AT_SYMLINK_FOLLOW) < 0);
  EXPECT_ERRNO("hard link to shared/ro file", EACCES, link(RO, "rohard") < 0);
  snprintf(p, sizeof p, "%s/ahard", B);
  EXPECT_ERRNO("link own -> into site-b", EACCES, link("r3", p) < 0);
  EXPECT_OK("linkat own follow", linkat(AT_FDCWD, "r3", AT_FDCWD, "r3.hard2", AT_SYMLINK_FOLLOW) == 0);
  EXPECT_OK("no bhard created", lstat("bhard", &st) < 0);

  /* symlink: only the place it is created matters */
  EXPECT_OK("symlink in own tree", symlink("/etc/passwd", "sl1") == 0);
  snprintf(p, sizeof p, "%s/evil", B);
  EXPECT_ERRNO("symlink created in site-b", EACCES, symlink("/tmp", p) < 0);
  EXPECT_ERRNO("symlinkat created in shared/ro", EACCES, symlinkat("x", AT_FDCWD, P(ROOT, "shared/ro/evil")) < 0);
  EXPECT_ERRNO("open through own symlink to /etc/passwd", EACCES, open("sl1", RDONLY_) < 0);

  /* chmod / chown */
  EXPECT_OK("chmod own", chmod("r3", 0600) == 0 && stat("r3", &st) == 0 && (st.st_mode & 0777) == 0600);
  EXPECT_ERRNO("chmod site-b", EACCES, chmod(Bs, 0666) < 0);
  EXPECT_ERRNO("fchmodat site-b", EACCES, fchmodat(AT_FDCWD, Bs, 0666, 0) < 0);
  EXPECT_ERRNO("chmod shared/ro", EACCES, chmod(RO, 0666) < 0);
  EXPECT_ERRNO("chmod ancestor www", EACCES, chmod(P(ROOT, "www"), 0777) < 0);
  EXPECT_OK("fchmodat own", fchmodat(AT_FDCWD, "r3", 0640, 0) == 0);
  EXPECT_OK("chown own", chown("r3", getuid(), getgid()) == 0);
  EXPECT_OK("lchown own link", lchown("sl1", getuid(), getgid()) == 0);
  EXPECT_ERRNO("chown site-b", EACCES, chown(Bs, getuid(), getgid()) < 0);
  EXPECT_ERRNO("lchown site-b", EACCES, lchown(Bs, getuid(), getgid()) < 0);
  EXPECT_ERRNO("fchownat site-b", EACCES, fchownat(AT_FDCWD, Bs, getuid(), getgid(), 0) < 0);

  /* times */
  struct utimbuf ub = {1000000, 1000000};
  struct timeval tv[2] = {{2000000, 0}, {2000000, 0}};
  struct timespec ts[2] = {{3000000, 0}, {3000000, 0}};
  EXPECT_OK("utime own", utime("r3", &ub) == 0 && stat("r3", &st) == 0 && st.st_mtime == 1000000);
  EXPECT_OK("utimes own", utimes("r3", tv) == 0 && stat("r3", &st) == 0 && st.st_mtime == 2000000);
  EXPECT_OK("utimensat own", utimensat(AT_FDCWD, "r3", ts, 0) == 0 && stat("r3", &st) == 0 && st.st_mtime == 3000000);
  EXPECT_OK("utimensat own link nofollow", utimensat(AT_FDCWD, "sl1", ts, AT_SYMLINK_NOFOLLOW) == 0);
  EXPECT_OK("utime own NULL (now)", utime("r3", NULL) == 0);
  EXPECT_ERRNO("utime site-b", EACCES, utime(Bs, &ub) < 0);
  EXPECT_ERRNO("utimes site-b", EACCES, utimes(Bs, tv) < 0);
  EXPECT_ERRNO("lutimes site-b", EACCES, lutimes(Bs, tv) < 0);
  EXPECT_ERRNO("utimensat site-b", EACCES, utimensat(AT_FDCWD, Bs, ts, 0) < 0);
  EXPECT_ERRNO("utimensat shared/ro", EACCES, utimensat(AT_FDCWD, RO, NULL, 0) < 0);

  /* truncate */
  EXPECT_OK("truncate own", truncate("r3", 3) == 0 && stat("r3", &st) == 0 && st.st_size == 3);
  EXPECT_ERRNO("truncate site-b", EACCES, truncate(Bs, 0) < 0);
  EXPECT_ERRNO("truncate shared/ro", EACCES, truncate(RO, 0) < 0);

  /* special files */
  EXPECT_OK("mkfifo own", mkfifo("fifo1", 0600) == 0);
  EXPECT_OK("mknod own fifo", mknod("fifo2", S_IFIFO | 0600, 0) == 0);
  snprintf(p, sizeof p, "%s/fifo", B);
  EXPECT_ERRNO("mkfifo site-b", EACCES, mkfifo(p, 0600) < 0);
  EXPECT_ERRNO("mknod site-b", EACCES, mknod(p, S_IFIFO | 0600, 0) < 0);
  EXPECT_ERRNO("mkfifoat shared/ro", EACCES, mkfifoat(AT_FDCWD, P(ROOT, "shared/ro/fifo"), 0600) < 0);

  /* xattrs (ENOTSUP allowed where the file system has none) */
  EXPECT_OK("setxattr own", xattr_ok(setxattr("r3", "user.t", "v", 1, 0)));
  EXPECT_OK("getxattr own", xattr_ok((int)getxattr("r3", "user.t", q, sizeof q)));
  EXPECT_OK("listxattr own", xattr_ok((int)listxattr("r3", q, sizeof q)));
  EXPECT_OK("removexattr own", xattr_ok(removexattr("r3", "user.t")));
  EXPECT_ERRNO("setxattr site-b", EACCES, setxattr(Bs, "user.t", "v", 1, 0) < 0);
  EXPECT_ERRNO("lsetxattr site-b", EACCES, lsetxattr(Bs, "user.t", "v", 1, 0) < 0);
  EXPECT_ERRNO("getxattr site-b", EACCES, getxattr(Bs, "user.t", q, sizeof q) < 0);
  EXPECT_ERRNO("lgetxattr site-b", EACCES, lgetxattr(Bs, "user.t", q, sizeof q) < 0);
  EXPECT_ERRNO("listxattr site-b", EACCES, listxattr(Bs, q, sizeof q) < 0);
  EXPECT_ERRNO("llistxattr site-b", EACCES, llistxattr(Bs, q, sizeof q) < 0);
  EXPECT_ERRNO("removexattr site-b", EACCES, removexattr(Bs, "user.t") < 0);
  EXPECT_ERRNO("lremovexattr site-b", EACCES, lremovexattr(Bs, "user.t") < 0);
  EXPECT_ERRNO("setxattr shared/ro", EACCES, setxattr(RO, "user.t", "v", 1, 0) < 0);
  EXPECT_OK("getxattr shared/ro allowed", xattr_ok((int)getxattr(RO, "user.none", q, sizeof q)) || errno == ENODATA);

  /* inotify */
  int in = inotify_init1(IN_CLOEXEC);
  EXPECT_OK("inotify_add_watch own", in >= 0 && inotify_add_watch(in, A, IN_ALL_EVENTS) >= 0);
  EXPECT_ERRNO("inotify_add_watch site-b", EACCES, inotify_add_watch(in, B, IN_ALL_EVENTS) < 0);
  EXPECT_ERRNO("inotify_add_watch outside", EACCES, inotify_add_watch(in, P(ROOT, "outside"), IN_ALL_EVENTS) < 0);
  EXPECT_ERRNO("inotify_add_watch /etc", EACCES, inotify_add_watch(in, "/etc", IN_ALL_EVENTS) < 0);

  /* trailing slashes keep their meaning (the leaf is acted on by name) */
  close(open("ts", O_CREAT | O_WRONLY, 0644));
  EXPECT_ERRNO("unlink(\"file/\")", ENOTDIR, unlink("ts/") < 0);
  EXPECT_ERRNO("rename(\"file/\", x)", ENOTDIR, rename("ts/", "ts2") < 0);
  EXPECT_ERRNO("rename(file, \"x/\")", ENOTDIR, rename("ts", "ts2/") < 0);
  EXPECT_ERRNO("symlink(x, \"new/\")", ENOENT, symlink("x", "tsl/") < 0);
  EXPECT_ERRNO("mkfifo(\"new/\")", ENOENT, mkfifo("tsf/", 0600) < 0);
  EXPECT_OK("mkdir(\"dir/\")", mkdir("tsd/", 0755) == 0);
  EXPECT_OK("rename(\"dir/\", \"dir2/\")", rename("tsd/", "tsd2/") == 0);
  EXPECT_OK("rmdir(\"dir/\")", rmdir("tsd2/") == 0);
  EXPECT_OK("file still there", access("ts", F_OK) == 0);

  /* B's tree is unchanged */
  EXPECT_OK("site-b secret unchanged", fp_reads(Bs, "B-SECRET") == 0);  /* cannot even read it */
  return PROBE_END();
}
