// Working directory, chroot, inotify, extended attributes, the loader.
#include <dlfcn.h>
#include <sys/inotify.h>
#include <sys/xattr.h>

#include <cerrno>
#include <cstring>

#include "fs_resolve.hpp"

namespace {

using sb::ActiveTenant;
using sb::fs::How;
using sb::fs::Request;
using sb::fs::Target;
using tenant::Need;

Request req(Need need, How how) noexcept {
  Request rq;
  rq.need = need;
  rq.how = how;
  return rq;
}

// Extended attributes. The plain forms follow: act on the verified object
// through /proc/self/fd/N. The l* forms do not: act on the leaf inside the
// verified parent, "/proc/self/fd/P/leaf" (the magic link is a middle
// component, the leaf is not followed).
void xattr_target(const Target& tg, bool nofollow, char* via) noexcept {
  sb::fs::fd_path(tg.fd, via);
  if (nofollow && tg.leaf[0] != '\0') {
    const std::size_t n = std::strlen(via);
    via[n] = '/';
    std::memcpy(via + n + 1, tg.leaf, std::strlen(tg.leaf) + 1);
  }
}

// The l* forms on the area root itself (empty leaf) act on the root
// directory, which is no symlink: the following form is the same call.
template <class R, class Fn, class Orig>
R xattr_op(ActiveTenant& t, const char* op, const char* path, Need need, bool nofollow, Fn&& fn, Orig&& orig) noexcept {
  return sb::fs::with_target<R>(
      t, op, AT_FDCWD, path, req(need, nofollow ? How::Parent : How::Follow),
      [&](Target& tg) -> R {
        char via[64 + sizeof tg.leafbuf];
        xattr_target(tg, nofollow, via);
        return fn(via, nofollow && tg.leaf[0] != '\0');
      },
      orig);
}

void* deny_dlopen(ActiveTenant& t, const char* op, const char* filename, int r, int flags,
                  void* (*real)(const char*, int)) noexcept {
  if (r == sb::fs::kUnconfined) return real(filename, flags);
  // Leave a dlerror() message for the caller (PHP prints it) without
  // touching the denied file: ask the loader for a name that cannot exist.
  {
    sb::InternalScope internal;
    (void)real("/nonexistent/tenant-sandbox/denied", RTLD_NOW);
  }
  (void)t;
  (void)op;
  errno = -r;
  return nullptr;
}

// dlopen: RTLD_DEEPBIND is always cleared, tenant or not. PHP loads its
// extensions with it at start-up (no tenant set yet), and a DEEPBIND object
// binds its libc imports (socket, connect, open ...) to libc ahead of this
// library, so curl.so/sockets.so would skip every wrapper for the rest of
// the process's life (research/libc-surface.md 0.1).
// For tenants, a path needs Read, and a library from a writable area is
// refused: that is code the tenant uploaded, and running it natively in the
// worker would let it issue system calls directly and rewrite its own tenant
// tag; only operator-installed (read-only) libraries may be loaded. Names
// without '/' go to the system search path (operator territory) and pass.
void* checked_dlopen(const char* op, const char* filename, int flags, void* (*real)(const char*, int)) noexcept {
  flags &= ~RTLD_DEEPBIND;
  ActiveTenant* t = sb::current();
  if (t == nullptr || filename == nullptr || std::strchr(filename, '/') == nullptr) return real(filename, flags);
  try {
    Target tg;
    const int r = sb::fs::resolve(*t, op, AT_FDCWD, filename, req(Need::Read, How::Follow), tg);
    if (r != 0) return deny_dlopen(*t, op, filename, r, flags, real);
    if (tg.granted >= tenant::Access::Write) {
      const int d = sb::fs::deny(*t, op, Need::Exec, tg.path, "native library from a writable path");
      if (d != sb::fs::kUnconfined) return deny_dlopen(*t, op, filename, d, flags, real);
      return real(filename, flags);
    }
    return real(tg.ancestor ? filename : tg.path, flags);
  } catch (...) {
    errno = EACCES;
    return nullptr;
  }
}

}  // namespace

extern "C" {

// chdir needs Stat only: mod_php chdirs into the script's directory and
// back to where it was (an ancestor) at the end of every request. The new
// cwd is the verified directory itself (fchdir on the anchor).
int chdir(const char* path) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(chdir)(path);
  return sb::fs::with_target<int>(
      *t, "chdir", AT_FDCWD, path, req(Need::Stat, How::Follow),
      [&](Target& tg) {
        if (tg.ancestor) return SB_REAL(chdir)(tg.path);
        return SB_REAL(fchdir)(tg.fd);
      },
      [&] { return SB_REAL(chdir)(path); });
}

int fchdir(int fd) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(fchdir)(fd);
  const int saved = errno;
  char abs[sb::fs::kBuf];
  const int a = sb::fs::absolutize(fd, ".", abs, sizeof abs, nullptr);
  if (a == -EACCES) {
    if (sb::fs::deny(*t, "fchdir", Need::Stat, "(descriptor without a path)", nullptr) != sb::fs::kUnconfined)
      return sb::fail(EACCES);
    return SB_REAL(fchdir)(fd);
  }
  if (a < 0) return sb::fail(-a);
  tenant::Decision d = t->ctx->decide_path(abs, Need::Stat);
  std::size_t alen = std::strlen(abs);
  if (!d.allowed && sb::fs::remap_canonical(*t, abs, &alen)) d = t->ctx->decide_path(abs, Need::Stat);
  if (!d.allowed && sb::fs::deny(*t, "fchdir", Need::Stat, abs, "no rule: outside every allowed path") != sb::fs::kUnconfined)
    return sb::fail(EACCES);
  errno = saved;
  return SB_REAL(fchdir)(fd);
}

int chroot(const char* path) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(chroot)(path);
  if (sb::refuse(*t, "chroot", Need::Write, sb::fs::or_empty(path), EACCES, "chroot is not for tenants"))
    return sb::fail(EACCES);
  return SB_REAL(chroot)(path);
}

int inotify_add_watch(int fd, const char* path, uint32_t mask) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(inotify_add_watch)(fd, path, mask);
  const bool nofollow = (mask & IN_DONT_FOLLOW) != 0;
  return sb::fs::with_target<int>(
      *t, "inotify_add_watch", AT_FDCWD, path, req(Need::Read, nofollow ? How::NoFollow : How::Follow),
      [&](Target& tg) {
        char via[32];
        sb::fs::fd_path(tg.fd, via);
        // via is a magic link to the verified object: it must be followed
        return SB_REAL(inotify_add_watch)(fd, via, mask & ~static_cast<uint32_t>(IN_DONT_FOLLOW));
      },
      [&] { return SB_REAL(inotify_add_watch)(fd, path, mask); });
}

int setxattr(const char* path, const char* name, const void* value, size_t size, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(setxattr)(path, name, value, size, flags);
  return xattr_op<int>(
      *t, "setxattr", path, Need::Write, false,
      [&](const char* via, bool) { return SB_REAL(setxattr)(via, name, value, size, flags); },
      [&] { return SB_REAL(setxattr)(path, name, value, size, flags); });
}

int lsetxattr(const char* path, const char* name, const void* value, size_t size, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(lsetxattr)(path, name, value, size, flags);
  return xattr_op<int>(
      *t, "lsetxattr", path, Need::Write, true,
      [&](const char* via, bool l) {
        return l ? SB_REAL(lsetxattr)(via, name, value, size, flags) : SB_REAL(setxattr)(via, name, value, size, flags);
      },
      [&] { return SB_REAL(lsetxattr)(path, name, value, size, flags); });
}

ssize_t getxattr(const char* path, const char* name, void* value, size_t size) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(getxattr)(path, name, value, size);
  return xattr_op<ssize_t>(
      *t, "getxattr", path, Need::Read, false,
      [&](const char* via, bool) { return SB_REAL(getxattr)(via, name, value, size); },
      [&] { return SB_REAL(getxattr)(path, name, value, size); });
}

ssize_t lgetxattr(const char* path, const char* name, void* value, size_t size) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(lgetxattr)(path, name, value, size);
  return xattr_op<ssize_t>(
      *t, "lgetxattr", path, Need::Read, true,
      [&](const char* via, bool l) {
        return l ? SB_REAL(lgetxattr)(via, name, value, size) : SB_REAL(getxattr)(via, name, value, size);
      },
      [&] { return SB_REAL(lgetxattr)(path, name, value, size); });
}

ssize_t listxattr(const char* path, char* list, size_t size) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(listxattr)(path, list, size);
  return xattr_op<ssize_t>(
      *t, "listxattr", path, Need::Read, false,
      [&](const char* via, bool) { return SB_REAL(listxattr)(via, list, size); },
      [&] { return SB_REAL(listxattr)(path, list, size); });
}

ssize_t llistxattr(const char* path, char* list, size_t size) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(llistxattr)(path, list, size);
  return xattr_op<ssize_t>(
      *t, "llistxattr", path, Need::Read, true,
      [&](const char* via, bool l) { return l ? SB_REAL(llistxattr)(via, list, size) : SB_REAL(listxattr)(via, list, size); },
      [&] { return SB_REAL(llistxattr)(path, list, size); });
}

int removexattr(const char* path, const char* name) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(removexattr)(path, name);
  return xattr_op<int>(
      *t, "removexattr", path, Need::Write, false,
      [&](const char* via, bool) { return SB_REAL(removexattr)(via, name); },
      [&] { return SB_REAL(removexattr)(path, name); });
}

int lremovexattr(const char* path, const char* name) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(lremovexattr)(path, name);
  return xattr_op<int>(
      *t, "lremovexattr", path, Need::Write, true,
      [&](const char* via, bool l) { return l ? SB_REAL(lremovexattr)(via, name) : SB_REAL(removexattr)(via, name); },
      [&] { return SB_REAL(lremovexattr)(path, name); });
}

void* dlopen(const char* filename, int flags) noexcept { return checked_dlopen("dlopen", filename, flags, SB_REAL(dlopen)); }

void* dlmopen(Lmid_t lmid, const char* filename, int flags) noexcept {
  flags &= ~RTLD_DEEPBIND;
  ActiveTenant* t = sb::current();
  if (t == nullptr || filename == nullptr || std::strchr(filename, '/') == nullptr)
    return SB_REAL(dlmopen)(lmid, filename, flags);
  // Same rules as dlopen; the namespace only changes where it is loaded.
  static thread_local Lmid_t t_lmid;
  t_lmid = lmid;
  return checked_dlopen(
      "dlmopen", filename, flags, [](const char* f, int fl) -> void* { return SB_REAL(dlmopen)(t_lmid, f, fl); });
}

}  // extern "C"
