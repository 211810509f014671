// Calls that change the file system: create/remove, rename and link (both
// ends), symlink, mode/owner/times, truncate, special files.
//
// Every one needs Write on the path it changes (THREATS 10). They act on a
// verified anchor, never on the caller's string again:
//  - create/remove/rename/link/symlink/mknod: an O_PATH fd of the parent
//    directory, opened beneath the area root, and the leaf name with the
//    *at call (which never follows the leaf);
//  - chmod/chown/utimes/truncate: an O_PATH fd of the object itself, then
//    (fd, "", AT_EMPTY_PATH) or "/proc/self/fd/N";
// so a component swapped for a symlink between check and use (THREATS 8)
// changes nothing outside the allowed tree.
// A trailing slash on a create/remove path is not passed on (the leaf is
// acted on by name, never followed); slash_errno() keeps its meaning.
#include <sys/stat.h>
#include <sys/time.h>
#include <utime.h>

#include <cerrno>
#include <cstring>

#include "fs_resolve.hpp"

namespace {

using sb::ActiveTenant;
using sb::fs::How;
using sb::fs::Request;
using sb::fs::Target;
using tenant::Need;

Request write_request(How how) noexcept {
  Request rq;
  rq.need = Need::Write;
  rq.how = how;
  return rq;
}

// Create/remove on an area root itself (empty leaf): its parent is not the
// tenant's to change.
int root_leaf_errno(const Target& tg, int err) noexcept {
  if (tg.leaf[0] != '\0') return 0;
  return sb::fail(err);
}

// A trailing slash names a directory. The leaf is acted on by name (never
// "leaf/", which would make the kernel follow a symlink leaf out of the
// verified parent), so its meaning is checked here: removing or renaming
// "file/" is ENOTDIR, creating a non-directory "name/" is ENOENT.
int slash_errno(const Target& tg, bool creates) noexcept {
  if (!tg.trailing_slash || tg.leaf[0] == '\0') return 0;
  struct stat st {};
  const bool exists = SB_REAL(fstatat)(tg.fd, tg.leaf, &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (creates) return exists ? 0 : ENOENT;
  return exists && !S_ISDIR(st.st_mode) ? ENOTDIR : 0;
}

template <class Act, class Orig>
int parent_op(ActiveTenant& t, const char* op, int dirfd, const char* path, int root_err, Act&& act,
              Orig&& orig) noexcept {
  return sb::fs::with_target<int>(
      t, op, dirfd, path, write_request(How::Parent),
      [&](Target& tg) {
        if (root_leaf_errno(tg, root_err) != 0) return -1;
        if (std::strncmp(op, "mkdir", 5) != 0) {
          const int e = slash_errno(tg, root_err == EEXIST);
          if (e != 0) return sb::fail(e);
        }
        return act(tg.fd, tg.leaf);
      },
      orig);
}

// rename/link: both ends need Write (a hard link to another tenant's file
// is a read of it; renaming it away is a write to its tree).
template <class Act, class Orig>
int two_paths(ActiveTenant& t, const char* op, int fd1, const char* p1, How how1, int fd2, const char* p2,
              Act&& act, Orig&& orig) noexcept {
  const int saved = errno;
  try {
    Target a;
    Target b;
    int r = sb::fs::resolve(t, op, fd1, p1, write_request(how1), a);
    if (r == 0) r = sb::fs::resolve(t, op, fd2, p2, write_request(How::Parent), b);
    if (r == sb::fs::kUnconfined) {
      errno = saved;
      return orig();
    }
    if (r < 0) return sb::fail(-r);
    if ((how1 == How::Parent && a.leaf[0] == '\0') || b.leaf[0] == '\0') return sb::fail(EBUSY);
    int rc;
    {
      sb::InternalScope internal;
      if (how1 == How::Parent && (a.trailing_slash || b.trailing_slash)) {
        struct stat st {};
        if (SB_REAL(fstatat)(a.fd, a.leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) return sb::fail(ENOTDIR);
      }
      rc = act(a, b);
    }
    if (rc >= 0) errno = saved;
    return rc;
  } catch (...) {
    return sb::fail(EACCES);
  }
}

int chmod_core(ActiveTenant& t, const char* op, int dirfd, const char* path, mode_t mode, int flags) noexcept {
  const bool nofollow = (flags & AT_SYMLINK_NOFOLLOW) != 0;
  return sb::fs::with_target<int>(
      t, op, dirfd, path, write_request(nofollow ? How::NoFollow : How::Follow),
      [&](Target& tg) {
        if (nofollow) {
          // What glibc's fchmodat(AT_SYMLINK_NOFOLLOW) answers: symlinks
          // have no mode of their own on Linux.
          struct stat st {};
          if (SB_REAL(fstatat)(tg.fd, "", &st, AT_EMPTY_PATH) != 0) return -1;
          if (S_ISLNK(st.st_mode)) return sb::fail(EOPNOTSUPP);
        }
        char via[32];
        sb::fs::fd_path(tg.fd, via);
        return SB_REAL(fchmodat)(AT_FDCWD, via, mode, 0);
      },
      [&] { return SB_REAL(fchmodat)(dirfd, path, mode, flags); });
}

int chown_core(ActiveTenant& t, const char* op, int dirfd, const char* path, uid_t uid, gid_t gid, int flags) noexcept {
  if ((flags & AT_EMPTY_PATH) != 0 && sb::fs::is_empty_path(path))
    return SB_REAL(fchownat)(dirfd, path, uid, gid, flags);
  const bool nofollow = (flags & AT_SYMLINK_NOFOLLOW) != 0;
  return sb::fs::with_target<int>(
      t, op, dirfd, path, write_request(nofollow ? How::NoFollow : How::Follow),
      [&](Target& tg) { return SB_REAL(fchownat)(tg.fd, "", uid, gid, AT_EMPTY_PATH); },
      [&] { return SB_REAL(fchownat)(dirfd, path, uid, gid, flags); });
}

int utimens_core(ActiveTenant& t, const char* op, int dirfd, const char* path, const struct timespec* ts,
                 int flags) noexcept {
  const bool nofollow = (flags & AT_SYMLINK_NOFOLLOW) != 0;
  return sb::fs::with_target<int>(
      t, op, dirfd, path, write_request(nofollow ? How::NoFollow : How::Follow),
      // AT_EMPTY_PATH on utimensat: Linux 5.8+.
      [&](Target& tg) { return SB_REAL(utimensat)(tg.fd, "", ts, AT_EMPTY_PATH); },
      [&] { return SB_REAL(utimensat)(dirfd, path, ts, flags); });
}

bool tv_to_ts(const struct timeval* tv, struct timespec* ts) noexcept {
  if (tv == nullptr) return false;
  for (int i = 0; i < 2; ++i) {
    if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000) return false;
    ts[i].tv_sec = tv[i].tv_sec;
    ts[i].tv_nsec = tv[i].tv_usec * 1000;
  }
  return true;
}

int mknod_core(ActiveTenant& t, const char* op, int dirfd, const char* path, mode_t mode, dev_t dev) noexcept {
  return parent_op(
      t, op, dirfd, path, EEXIST, [&](int fd, const char* leaf) { return SB_REAL(mknodat)(fd, leaf, mode, dev); },
      [&] { return SB_REAL(mknodat)(dirfd, path, mode, dev); });
}

int truncate_core(ActiveTenant& t, const char* op, const char* path, off_t len) noexcept {
  return sb::fs::with_target<int>(
      t, op, AT_FDCWD, path, write_request(How::Follow),
      [&](Target& tg) {
        char via[32];
        sb::fs::fd_path(tg.fd, via);
        return SB_REAL(truncate)(via, len);
      },
      [&] { return SB_REAL(truncate)(path, len); });
}

int unlink_core(ActiveTenant& t, const char* op, int dirfd, const char* path, int flags) noexcept {
  return parent_op(
      t, op, dirfd, path, EBUSY, [&](int fd, const char* leaf) { return SB_REAL(unlinkat)(fd, leaf, flags); },
      [&] { return SB_REAL(unlinkat)(dirfd, path, flags); });
}

int rename_core(ActiveTenant& t, const char* op, int ofd, const char* oldp, int nfd, const char* newp,
                unsigned int flags) noexcept {
  return two_paths(
      t, op, ofd, oldp, How::Parent, nfd, newp,
      [&](Target& a, Target& b) {
        if (flags == 0) return SB_REAL(renameat)(a.fd, a.leaf, b.fd, b.leaf);
        return SB_REAL(renameat2)(a.fd, a.leaf, b.fd, b.leaf, flags);
      },
      [&] {
        if (flags == 0) return SB_REAL(renameat)(ofd, oldp, nfd, newp);
        return SB_REAL(renameat2)(ofd, oldp, nfd, newp, flags);
      });
}

int link_core(ActiveTenant& t, const char* op, int ofd, const char* oldp, int nfd, const char* newp, int flags) noexcept {
  if ((flags & AT_EMPTY_PATH) != 0 && oldp != nullptr && oldp[0] == '\0') {
    // Linking an open descriptor (O_TMPFILE): the new name still needs Write.
    return parent_op(
        t, op, nfd, newp, EEXIST, [&](int fd, const char* leaf) { return SB_REAL(linkat)(ofd, oldp, fd, leaf, flags); },
        [&] { return SB_REAL(linkat)(ofd, oldp, nfd, newp, flags); });
  }
  const bool follow = (flags & AT_SYMLINK_FOLLOW) != 0;
  return two_paths(
      t, op, ofd, oldp, follow ? How::Follow : How::Parent, nfd, newp,
      [&](Target& a, Target& b) {
        if (!follow) return SB_REAL(linkat)(a.fd, a.leaf, b.fd, b.leaf, 0);
        // linkat(fd, "", AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the
        // /proc/self/fd magic link with AT_SYMLINK_FOLLOW does not.
        char via[32];
        sb::fs::fd_path(a.fd, via);
        return SB_REAL(linkat)(AT_FDCWD, via, b.fd, b.leaf, AT_SYMLINK_FOLLOW);
      },
      [&] { return SB_REAL(linkat)(ofd, oldp, nfd, newp, flags); });
}

}  // namespace

extern "C" {

int mkdir(const char* path, mode_t mode) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(mkdir)(path, mode);
  return parent_op(
      *t, "mkdir", AT_FDCWD, path, EEXIST, [&](int fd, const char* leaf) { return SB_REAL(mkdirat)(fd, leaf, mode); },
      [&] { return SB_REAL(mkdir)(path, mode); });
}

int mkdirat(int dirfd, const char* path, mode_t mode) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(mkdirat)(dirfd, path, mode);
  return parent_op(
      *t, "mkdirat", dirfd, path, EEXIST, [&](int fd, const char* leaf) { return SB_REAL(mkdirat)(fd, leaf, mode); },
      [&] { return SB_REAL(mkdirat)(dirfd, path, mode); });
}

int rmdir(const char* path) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(rmdir)(path);
  return unlink_core(*t, "rmdir", AT_FDCWD, path, AT_REMOVEDIR);
}

int unlink(const char* path) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(unlink)(path);
  return unlink_core(*t, "unlink", AT_FDCWD, path, 0);
}

int unlinkat(int dirfd, const char* path, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(unlinkat)(dirfd, path, flags);
  return unlink_core(*t, "unlinkat", dirfd, path, flags);
}

// glibc's remove() calls its internal unlink/rmdir: it needs its own wrapper.
int remove(const char* path) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(remove)(path);
  return parent_op(
      *t, "remove", AT_FDCWD, path, EBUSY,
      [&](int fd, const char* leaf) {
        if (SB_REAL(unlinkat)(fd, leaf, 0) == 0) return 0;
        if (errno != EISDIR) return -1;
        return SB_REAL(unlinkat)(fd, leaf, AT_REMOVEDIR);
      },
      [&] { return SB_REAL(remove)(path); });
}

int rename(const char* oldp, const char* newp) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(rename)(oldp, newp);
  return rename_core(*t, "rename", AT_FDCWD, oldp, AT_FDCWD, newp, 0);
}

int renameat(int ofd, const char* oldp, int nfd, const char* newp) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(renameat)(ofd, oldp, nfd, newp);
  return rename_core(*t, "renameat", ofd, oldp, nfd, newp, 0);
}

int renameat2(int ofd, const char* oldp, int nfd, const char* newp, unsigned int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(renameat2)(ofd, oldp, nfd, newp, flags);
  return rename_core(*t, "renameat2", ofd, oldp, nfd, newp, flags);
}

int link(const char* oldp, const char* newp) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(link)(oldp, newp);
  return link_core(*t, "link", AT_FDCWD, oldp, AT_FDCWD, newp, 0);
}

int linkat(int ofd, const char* oldp, int nfd, const char* newp, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(linkat)(ofd, oldp, nfd, newp, flags);
  return link_core(*t, "linkat", ofd, oldp, nfd, newp, flags);
}

// The link's text is only data: where it points is decided each time
// something resolves through it. Only the place it is created needs Write.
int symlink(const char* target, const char* linkpath) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(symlink)(target, linkpath);
  return parent_op(
      *t, "symlink", AT_FDCWD, linkpath, EEXIST,
      [&](int fd, const char* leaf) { return SB_REAL(symlinkat)(target, fd, leaf); },
      [&] { return SB_REAL(symlink)(target, linkpath); });
}

int symlinkat(const char* target, int dirfd, const char* linkpath) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(symlinkat)(target, dirfd, linkpath);
  return parent_op(
      *t, "symlinkat", dirfd, linkpath, EEXIST,
      [&](int fd, const char* leaf) { return SB_REAL(symlinkat)(target, fd, leaf); },
      [&] { return SB_REAL(symlinkat)(target, dirfd, linkpath); });
}

int chmod(const char* path, mode_t mode) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(chmod)(path, mode);
  return chmod_core(*t, "chmod", AT_FDCWD, path, mode, 0);
}

int fchmodat(int dirfd, const char* path, mode_t mode, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(fchmodat)(dirfd, path, mode, flags);
  return chmod_core(*t, "fchmodat", dirfd, path, mode, flags);
}

int lchmod(const char* path, mode_t mode) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(lchmod)(path, mode);
  return chmod_core(*t, "lchmod", AT_FDCWD, path, mode, AT_SYMLINK_NOFOLLOW);
}

int chown(const char* path, uid_t uid, gid_t gid) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(chown)(path, uid, gid);
  return chown_core(*t, "chown", AT_FDCWD, path, uid, gid, 0);
}

int lchown(const char* path, uid_t uid, gid_t gid) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(lchown)(path, uid, gid);
  return chown_core(*t, "lchown", AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW);
}

int fchownat(int dirfd, const char* path, uid_t uid, gid_t gid, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(fchownat)(dirfd, path, uid, gid, flags);
  return chown_core(*t, "fchownat", dirfd, path, uid, gid, flags);
}

int utime(const char* path, const struct utimbuf* times) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(utime)(path, times);
  struct timespec ts[2];
  if (times != nullptr) {
    ts[0] = {times->actime, 0};
    ts[1] = {times->modtime, 0};
  }
  return utimens_core(*t, "utime", AT_FDCWD, path, times != nullptr ? ts : nullptr, 0);
}

int utimes(const char* path, const struct timeval* tv) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(utimes)(path, tv);
  struct timespec ts[2];
  if (tv != nullptr && !tv_to_ts(tv, ts)) return sb::fail(EINVAL);
  return utimens_core(*t, "utimes", AT_FDCWD, path, tv != nullptr ? ts : nullptr, 0);
}

int lutimes(const char* path, const struct timeval* tv) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(lutimes)(path, tv);
  struct timespec ts[2];
  if (tv != nullptr && !tv_to_ts(tv, ts)) return sb::fail(EINVAL);
  return utimens_core(*t, "lutimes", AT_FDCWD, path, tv != nullptr ? ts : nullptr, AT_SYMLINK_NOFOLLOW);
}

int futimesat(int dirfd, const char* path, const struct timeval* tv) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr || path == nullptr) return SB_REAL(futimesat)(dirfd, path, tv);
  struct timespec ts[2];
  if (tv != nullptr && !tv_to_ts(tv, ts)) return sb::fail(EINVAL);
  return utimens_core(*t, "futimesat", dirfd, path, tv != nullptr ? ts : nullptr, 0);
}

// glibc declares the path nonnull, yet utimensat(fd, NULL, ...) is the
// documented futimens form: the comparison below is meant.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnonnull-compare"
int utimensat(int dirfd, const char* path, const struct timespec* ts, int flags) noexcept {
  ActiveTenant* t = sb::current();
  // A NULL path is futimens(dirfd): a descriptor the tenant already holds.
  if (t == nullptr || path == nullptr || ((flags & AT_EMPTY_PATH) != 0 && path[0] == '\0'))
    return SB_REAL(utimensat)(dirfd, path, ts, flags);
  return utimens_core(*t, "utimensat", dirfd, path, ts, flags);
}
#pragma GCC diagnostic pop

int truncate(const char* path, off_t len) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(truncate)(path, len);
  return truncate_core(*t, "truncate", path, len);
}

int truncate64(const char* path, off64_t len) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(truncate64)(path, len);
  return truncate_core(*t, "truncate64", path, static_cast<off_t>(len));
}

int mkfifo(const char* path, mode_t mode) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(mkfifo)(path, mode);
  return mknod_core(*t, "mkfifo", AT_FDCWD, path, (mode & 07777) | S_IFIFO, 0);
}

int mkfifoat(int dirfd, const char* path, mode_t mode) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(mkfifoat)(dirfd, path, mode);
  return mknod_core(*t, "mkfifoat", dirfd, path, (mode & 07777) | S_IFIFO, 0);
}

int mknod(const char* path, mode_t mode, dev_t dev) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(mknod)(path, mode, dev);
  return mknod_core(*t, "mknod", AT_FDCWD, path, mode, dev);
}

int mknodat(int dirfd, const char* path, mode_t mode, dev_t dev) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(mknodat)(dirfd, path, mode, dev);
  return mknod_core(*t, "mknodat", dirfd, path, mode, dev);
}

// Pre-2.33 binaries: version 0 (_MKNOD_VER_LINUX) only, as glibc.
int __xmknod(int ver, const char* path, mode_t mode, dev_t* dev) noexcept {
  if (ver != 0 || dev == nullptr) return sb::fail(EINVAL);
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(mknodat)(AT_FDCWD, path, mode, *dev);
  return mknod_core(*t, "__xmknod", AT_FDCWD, path, mode, *dev);
}

int __xmknodat(int ver, int dirfd, const char* path, mode_t mode, dev_t* dev) noexcept {
  if (ver != 0 || dev == nullptr) return sb::fail(EINVAL);
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(mknodat)(dirfd, path, mode, *dev);
  return mknod_core(*t, "__xmknodat", dirfd, path, mode, *dev);
}

}  // extern "C"
