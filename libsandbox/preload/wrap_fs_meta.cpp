// Metadata: the stat family, statfs/statvfs, access, readlink, realpath.
//
// All need only Stat, which directories above an allowed area also grant
// (Apache's directory walk and PHP's realpath cache lstat every component).
// The answer comes from the object verified beneath the area root (an
// O_PATH anchor + AT_EMPTY_PATH), so a symlink planted in the tenant's tree
// cannot make stat/readlink/realpath an oracle for another tenant's files
// (THREATS 8, 11). glibc's realpath walks with internal lstat/readlink
// calls, so it is reimplemented over the checked walk.
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

#include "fs_resolve.hpp"

extern "C" [[noreturn]] void __chk_fail(void);

namespace {

using sb::ActiveTenant;
using sb::fs::How;
using sb::fs::Request;
using sb::fs::Target;
using tenant::Need;

static_assert(sizeof(struct stat) == sizeof(struct stat64), "x86_64: stat and stat64 share one layout");
static_assert(sizeof(struct statfs) == sizeof(struct statfs64), "x86_64: statfs and statfs64 share one layout");
static_assert(sizeof(struct statvfs) == sizeof(struct statvfs64), "x86_64: statvfs and statvfs64 share one layout");

Request stat_request(bool follow) noexcept {
  Request rq;
  rq.need = Need::Stat;
  rq.how = follow ? How::Follow : How::NoFollow;
  return rq;
}

bool empty_path_op(const char* path, int flags) noexcept {
  return (flags & AT_EMPTY_PATH) != 0 && sb::fs::is_empty_path(path);
}

// One body for stat, lstat, fstatat and the __xstat family (libfaketime's
// shape: one handler for every name that reaches the same kernel call).
int stat_core(ActiveTenant& t, const char* op, int dirfd, const char* path, struct stat* st, int flags) noexcept {
  if (empty_path_op(path, flags)) return SB_REAL(fstatat)(dirfd, path, st, flags);
  Request rq = stat_request((flags & AT_SYMLINK_NOFOLLOW) == 0);
  rq.st = st;
  rq.stat_flags = flags & AT_NO_AUTOMOUNT;
  return sb::fs::with_target<int>(
      t, op, dirfd, path, rq,
      [&](Target& tg) {
        if (tg.stat_done) return 0;
        if (tg.ancestor) return SB_REAL(fstatat)(AT_FDCWD, tg.path, st, flags & AT_SYMLINK_NOFOLLOW);
        return SB_REAL(fstatat)(tg.fd, "", st, AT_EMPTY_PATH | (flags & AT_NO_AUTOMOUNT));
      },
      [&] { return SB_REAL(fstatat)(dirfd, path, st, flags); });
}

// access(): Stat to look, plus the policy's answer for the bits asked, so
// is_readable()/is_writable() agree with what open() will do (a read_only
// area is not writable whatever its mode bits say).
int access_core(ActiveTenant& t, const char* op, int dirfd, const char* path, int mode, int flags) noexcept {
  if (empty_path_op(path, flags)) return SB_REAL(faccessat)(dirfd, path, mode, flags);
  const Request rq = stat_request((flags & AT_SYMLINK_NOFOLLOW) == 0);
  return sb::fs::with_target<int>(
      t, op, dirfd, path, rq,
      [&](Target& tg) {
        if ((mode & W_OK) != 0 && tg.granted < tenant::Access::Write) return sb::fail(EACCES);
        if ((mode & R_OK) != 0 && tg.granted < tenant::Access::Read) return sb::fail(EACCES);
        if (tg.ancestor) return SB_REAL(faccessat)(AT_FDCWD, tg.path, mode, flags);
        return SB_REAL(faccessat)(tg.fd, "", mode, (flags & AT_EACCESS) | AT_EMPTY_PATH);
      },
      [&] { return SB_REAL(faccessat)(dirfd, path, mode, flags); });
}

ssize_t readlink_core(ActiveTenant& t, const char* op, int dirfd, const char* path, char* buf, size_t size) noexcept {
  const Request rq = stat_request(false);
  return sb::fs::with_target<ssize_t>(
      t, op, dirfd, path, rq,
      [&](Target& tg) -> ssize_t {
        if (tg.ancestor) return SB_REAL(readlinkat)(AT_FDCWD, tg.path, buf, size);
        // readlinkat(fd, "") on an O_PATH fd that is not a symlink gives
        // ENOENT on some kernels; readlink's answer is EINVAL.
        struct stat st {};
        if (SB_REAL(fstatat)(tg.fd, "", &st, AT_EMPTY_PATH) != 0) return -1;
        if (!S_ISLNK(st.st_mode)) return sb::fail(EINVAL);
        return SB_REAL(readlinkat)(tg.fd, "", buf, size);
      },
      [&] { return SB_REAL(readlinkat)(dirfd, path, buf, size); });
}

template <class Buf>
int statfs_like(ActiveTenant& t, const char* op, const char* path, Buf* out, int (*real)(const char*, Buf*)) noexcept {
  const Request rq = stat_request(true);
  return sb::fs::with_target<int>(
      t, op, AT_FDCWD, path, rq,
      [&](Target& tg) {
        if (tg.ancestor) return real(tg.path, out);
        char via[32];
        sb::fs::fd_path(tg.fd, via);
        return real(via, out);
      },
      [&] { return real(path, out); });
}

char* realpath_core(ActiveTenant& t, const char* op, const char* path, char* resolved) noexcept {
  if (path == nullptr) {
    errno = EINVAL;
    return nullptr;
  }
  const int saved = errno;
  try {
    char abs[sb::fs::kBuf];
    bool ts = false;
    int r = sb::fs::absolutize(AT_FDCWD, path, abs, sizeof abs, &ts);
    if (r < 0) {
      errno = -r;
      return nullptr;
    }
    Target tg;
    r = sb::fs::walk(t, abs, true, tg.path);
    if (r == -EACCES) r = sb::fs::deny(t, op, Need::Stat, abs, "magic link to something that is not a path");
    if (r == 0) r = sb::fs::resolve_abs(t, op, tg.path, ts, stat_request(true), tg);
    if (r == sb::fs::kUnconfined) {
      errno = saved;
      return SB_REAL(realpath)(path, resolved);
    }
    if (r < 0) {
      errno = -r;
      return nullptr;
    }
    if (tg.len >= PATH_MAX) {
      errno = ENAMETOOLONG;
      return nullptr;
    }
    char* out = resolved != nullptr ? resolved : static_cast<char*>(::malloc(tg.len + 1));
    if (out == nullptr) {
      errno = ENOMEM;
      return nullptr;
    }
    std::memcpy(out, tg.path, tg.len + 1);
    errno = saved;
    return out;
  } catch (...) {
    errno = EACCES;
    return nullptr;
  }
}

}  // namespace

extern "C" {

int stat(const char* path, struct stat* st) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(stat)(path, st);
  return stat_core(*t, "stat", AT_FDCWD, path, st, 0);
}

int stat64(const char* path, struct stat64* st) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(stat64)(path, st);
  return stat_core(*t, "stat64", AT_FDCWD, path, reinterpret_cast<struct stat*>(st), 0);
}

int lstat(const char* path, struct stat* st) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(lstat)(path, st);
  return stat_core(*t, "lstat", AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

int lstat64(const char* path, struct stat64* st) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(lstat64)(path, st);
  return stat_core(*t, "lstat64", AT_FDCWD, path, reinterpret_cast<struct stat*>(st), AT_SYMLINK_NOFOLLOW);
}

int fstatat(int dirfd, const char* path, struct stat* st, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(fstatat)(dirfd, path, st, flags);
  return stat_core(*t, "fstatat", dirfd, path, st, flags);
}

int fstatat64(int dirfd, const char* path, struct stat64* st, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(fstatat64)(dirfd, path, st, flags);
  return stat_core(*t, "fstatat64", dirfd, path, reinterpret_cast<struct stat*>(st), flags);
}

int statx(int dirfd, const char* path, int flags, unsigned int mask, struct statx* stx) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr || empty_path_op(path, flags)) return SB_REAL(statx)(dirfd, path, flags, mask, stx);
  const Request rq = stat_request((flags & AT_SYMLINK_NOFOLLOW) == 0);
  return sb::fs::with_target<int>(
      *t, "statx", dirfd, path, rq,
      [&](Target& tg) {
        if (tg.ancestor) return SB_REAL(statx)(AT_FDCWD, tg.path, flags, mask, stx);
        const int keep = flags & (AT_STATX_SYNC_TYPE | AT_NO_AUTOMOUNT);
        return SB_REAL(statx)(tg.fd, "", keep | AT_EMPTY_PATH, mask, stx);
      },
      [&] { return SB_REAL(statx)(dirfd, path, flags, mask, stx); });
}

// The pre-2.33 entry points. Version 1 (_STAT_VER_KERNEL / _STAT_VER_LINUX on
// x86_64) is the kernel's struct stat, which is ours; anything else is
// EINVAL as in glibc. No real __xstat is needed (newer glibc exports them
// only as compat symbols).
int __xstat(int ver, const char* path, struct stat* st) noexcept {
  if (ver != 1) return sb::fail(EINVAL);
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(fstatat)(AT_FDCWD, path, st, 0);
  return stat_core(*t, "__xstat", AT_FDCWD, path, st, 0);
}

int __xstat64(int ver, const char* path, struct stat64* st) noexcept {
  if (ver != 1) return sb::fail(EINVAL);
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(fstatat64)(AT_FDCWD, path, st, 0);
  return stat_core(*t, "__xstat64", AT_FDCWD, path, reinterpret_cast<struct stat*>(st), 0);
}

int __lxstat(int ver, const char* path, struct stat* st) noexcept {
  if (ver != 1) return sb::fail(EINVAL);
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(fstatat)(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
  return stat_core(*t, "__lxstat", AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

int __lxstat64(int ver, const char* path, struct stat64* st) noexcept {
  if (ver != 1) return sb::fail(EINVAL);
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(fstatat64)(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
  return stat_core(*t, "__lxstat64", AT_FDCWD, path, reinterpret_cast<struct stat*>(st), AT_SYMLINK_NOFOLLOW);
}

int __fxstatat(int ver, int dirfd, const char* path, struct stat* st, int flags) noexcept {
  if (ver != 1) return sb::fail(EINVAL);
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(fstatat)(dirfd, path, st, flags);
  return stat_core(*t, "__fxstatat", dirfd, path, st, flags);
}

int __fxstatat64(int ver, int dirfd, const char* path, struct stat64* st, int flags) noexcept {
  if (ver != 1) return sb::fail(EINVAL);
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(fstatat64)(dirfd, path, st, flags);
  return stat_core(*t, "__fxstatat64", dirfd, path, reinterpret_cast<struct stat*>(st), flags);
}

int statvfs(const char* path, struct statvfs* out) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(statvfs)(path, out);
  return statfs_like<struct statvfs>(*t, "statvfs", path, out, SB_REAL(statvfs));
}

int statvfs64(const char* path, struct statvfs64* out) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(statvfs64)(path, out);
  return statfs_like<struct statvfs64>(*t, "statvfs64", path, out, SB_REAL(statvfs64));
}

int statfs(const char* path, struct statfs* out) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(statfs)(path, out);
  return statfs_like<struct statfs>(*t, "statfs", path, out, SB_REAL(statfs));
}

int statfs64(const char* path, struct statfs64* out) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(statfs64)(path, out);
  return statfs_like<struct statfs64>(*t, "statfs64", path, out, SB_REAL(statfs64));
}

int access(const char* path, int mode) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(access)(path, mode);
  return access_core(*t, "access", AT_FDCWD, path, mode, 0);
}

int faccessat(int dirfd, const char* path, int mode, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(faccessat)(dirfd, path, mode, flags);
  return access_core(*t, "faccessat", dirfd, path, mode, flags);
}

int euidaccess(const char* path, int mode) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(euidaccess)(path, mode);
  return access_core(*t, "euidaccess", AT_FDCWD, path, mode, AT_EACCESS);
}

int eaccess(const char* path, int mode) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(eaccess)(path, mode);
  return access_core(*t, "eaccess", AT_FDCWD, path, mode, AT_EACCESS);
}

ssize_t readlink(const char* path, char* buf, size_t size) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(readlink)(path, buf, size);
  return readlink_core(*t, "readlink", AT_FDCWD, path, buf, size);
}

ssize_t readlinkat(int dirfd, const char* path, char* buf, size_t size) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr || sb::fs::is_empty_path(path)) return SB_REAL(readlinkat)(dirfd, path, buf, size);
  return readlink_core(*t, "readlinkat", dirfd, path, buf, size);
}

ssize_t __readlink_chk(const char* path, char* buf, size_t size, size_t buflen) noexcept {
  if (size > buflen) __chk_fail();
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(readlink)(path, buf, size);
  return readlink_core(*t, "__readlink_chk", AT_FDCWD, path, buf, size);
}

ssize_t __readlinkat_chk(int dirfd, const char* path, char* buf, size_t size, size_t buflen) noexcept {
  if (size > buflen) __chk_fail();
  ActiveTenant* t = sb::current();
  if (t == nullptr || sb::fs::is_empty_path(path)) return SB_REAL(readlinkat)(dirfd, path, buf, size);
  return readlink_core(*t, "__readlinkat_chk", dirfd, path, buf, size);
}

char* realpath(const char* path, char* resolved) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(realpath)(path, resolved);
  return realpath_core(*t, "realpath", path, resolved);
}

char* __realpath_chk(const char* path, char* resolved, size_t resolvedlen) noexcept {
  if (resolved != nullptr && resolvedlen < PATH_MAX) __chk_fail();
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(realpath)(path, resolved);
  return realpath_core(*t, "__realpath_chk", path, resolved);
}

char* canonicalize_file_name(const char* path) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(canonicalize_file_name)(path);
  return realpath_core(*t, "canonicalize_file_name", path, nullptr);
}

}  // extern "C"
