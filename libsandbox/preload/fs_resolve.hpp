// The path engine behind every fs wrapper (and the fs hooks of internal.hpp).
//
// One call, resolve(), turns what the caller passed (dirfd + path) into a
// verified object:
//   1. absolute-ize (cwd, or dirfd's path via /proc/self/fd) and normalise
//      lexically (tenant::normalize_path; ENAMETOOLONG, never truncation);
//   2. decide on that string BEFORE touching the file system, so a denied
//      path fails the same way whether it exists or not (THREATS 11);
//   3. open the object (or an O_PATH anchor of it, or of its parent)
//      beneath the matched area's root fd with openat2(RESOLVE_BENEATH |
//      RESOLVE_NO_MAGICLINKS): the kernel resolves the symlinks, and cannot
//      leave the allowed tree while doing so (THREATS 8);
//   4. when the kernel refuses (EXDEV: an absolute symlink or one leading out
//      of the area; ELOOP: a magic link), walk the path in user space,
//      re-decide on the resolved string (it may land in another allowed
//      area) and retry beneath that area's root. Magic paths (/proc/self/...,
//      /dev/fd/...) are walked first and decided on what they point at.
// The wrappers then act on the anchor (…at(anchor, leaf, AT_SYMLINK_NOFOLLOW),
// (anchor, "", AT_EMPTY_PATH) or "/proc/self/fd/N"), so what they change is
// the object that was verified, whatever the tenant swaps in meanwhile.
//
// Nothing here allocates: fixed buffers of tenant::kMaxPath on the stack.
#pragma once
#include <sys/stat.h>
#include <sys/types.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "internal.hpp"
#include "runtime.hpp"
#include "tenant/path.hpp"

namespace sb::fs {

inline constexpr std::size_t kBuf = tenant::kMaxPath + 8;
// resolve() result in audit mode: the denial was logged, the caller performs
// the original call unconfined.
inline constexpr int kUnconfined = 1;

enum class How : std::uint8_t {
  Open,      // open the object with Request::oflags/mode; Target::fd is the result
  Follow,    // O_PATH fd of the final object, symlinks followed
  NoFollow,  // O_PATH|O_NOFOLLOW fd of the final object (a symlink itself)
  Parent,    // O_PATH fd of the parent directory + Target::leaf (create/remove ops)
};

struct Request {
  tenant::Need need = tenant::Need::Read;
  How how = How::Follow;
  int oflags = 0;              // How::Open
  mode_t mode = 0;             // How::Open with O_CREAT / O_TMPFILE
  std::uint64_t resolve = 0;   // extra RESOLVE_* (openat2 through syscall())
  // Follow/NoFollow for a stat: where a name directly in the area root can
  // be stat'ed in one call (beneath(): Target::stat_done), else unused.
  struct stat* st = nullptr;
  int stat_flags = 0;          // AT_NO_AUTOMOUNT
};

struct Target {
  char path[kBuf];             // normalised absolute path decided on (resolved on the slow path)
  std::size_t len = 0;
  bool trailing_slash = false;
  bool stat_done = false;      // Request::st already filled (no fd opened)
  bool ancestor = false;       // only Stat granted (a directory above an area): act on `path`
  tenant::Access granted = tenant::Access::None;
  int fd = -1;                 // owned: opened object or anchor
  const char* leaf = "";       // How::Parent: last component ("" = the area root itself)
  char leafbuf[256];

  Target() noexcept { path[0] = '\0'; leafbuf[0] = '\0'; }
  ~Target();
  Target(const Target&) = delete;
  Target& operator=(const Target&) = delete;
  int take() noexcept {
    const int f = fd;
    fd = -1;
    return f;
  }
};

// 0 (done: see Target), kUnconfined (audit: do the original call), or -errno
// (-EACCES after refuse() logged the denial).
int resolve(ActiveTenant& t, const char* op, int dirfd, const char* path, const Request& rq,
            Target& out) noexcept;

// Same, for a path that is already absolute and normalised.
int resolve_abs(ActiveTenant& t, const char* op, const char* abs, bool trailing_slash,
                const Request& rq, Target& out) noexcept;

// absolute_path() plus the trailing-slash flag.
int absolutize(int dirfd, const char* path, char* out, std::size_t cap, bool* trailing_slash) noexcept;

// Walks `abs` in user space (readlink of each prefix the tenant may see, at
// most 40 links, magic /proc links to what they name) into out[kBuf].
// 0 or -errno (-EACCES: a link to a pipe/socket/deleted file).
int walk(ActiveTenant& t, const char* abs, bool follow_final, char* out) noexcept;

// The root descriptor of area i of t, checked against its path once per
// request (see area_root in fs_resolve.cpp); -errno when it cannot be opened.
int area_root_fd(ActiveTenant& t, int i) noexcept;

// Rewrites a denied path that lies in the real (symlink-resolved) location
// of an area root to the area's configured name; true when rewritten.
bool remap_canonical(ActiveTenant& t, char* path, std::size_t* len) noexcept;

// Logs a denial of `target`; returns -EACCES (enforce) or kUnconfined (audit).
int deny(ActiveTenant& t, const char* op, tenant::Need need, const char* target, const char* why) noexcept;

// "/proc/self/fd/N" into buf (>= 32 bytes).
void fd_path(int fd, char* buf) noexcept;

// p != NULL && *p == '\0' / p or "". Out of line on purpose: glibc declares
// most path parameters nonnull, and a direct NULL test on one is warned
// about and may be optimised away, yet tenant code can pass NULL.
bool is_empty_path(const char* p) noexcept;
const char* or_empty(const char* p) noexcept;

// Need of an open(2) flag set.
tenant::Need open_need(int flags) noexcept;

// The open wrappers' common body (tenant set): fd or -1 + errno; on success
// the fd is noted in the descriptor table and errno is preserved.
int checked_open(ActiveTenant& t, const char* op, int dirfd, const char* path, int flags, mode_t mode) noexcept;

// Helper for wrappers: resolve, then act(Target&) -> R (-1 + errno on failure),
// or orig() in audit mode. Preserves errno on success; fails closed.
template <class R, class Act, class Orig>
R with_target(ActiveTenant& t, const char* op, int dirfd, const char* path, const Request& rq, Act&& act,
              Orig&& orig) noexcept {
  const int saved = errno;
  try {
    Target tg;
    const int r = resolve(t, op, dirfd, path, rq, tg);
    if (r == kUnconfined) {
      errno = saved;
      return orig();
    }
    if (r < 0) {
      errno = -r;
      return static_cast<R>(-1);
    }
    R rc;
    {
      InternalScope internal;
      rc = act(tg);
    }
    if (rc >= 0) errno = saved;
    return rc;
  } catch (...) {
    errno = EACCES;
    return static_cast<R>(-1);
  }
}

}  // namespace sb::fs
