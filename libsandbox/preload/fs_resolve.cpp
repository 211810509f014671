// The path engine (see fs_resolve.hpp) and the fs hooks of internal.hpp.
#include "fs_resolve.hpp"

#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "fdtable.hpp"

namespace sb::fs {

using tenant::Access;
using tenant::Need;

namespace {

constexpr int kMaxLinks = 40;  // the kernel's MAXSYMLINKS
constexpr int kRaceRetries = 4;

// openat2 through libc's syscall(): our own syscall() wrapper (proc part)
// routes SYS_openat2 back here, so it must not see this call.
int sys_openat2(int dirfd, const char* path, open_how* how) noexcept {
  return static_cast<int>(SB_REAL(syscall)(SYS_openat2, dirfd, path, how, sizeof(open_how)));
}

void sys_close(int fd) noexcept {
  if (fd >= 0) SB_REAL(close)(fd);
}

// A directory above an allowed area: the decision names the area below it
// (for the log), but grants Stat only and nothing is opened beneath a root.
bool is_ancestor(const tenant::Decision& d) noexcept {
  return d.area < 0 || d.key == tenant::RuleKey::Ancestor || d.granted < Access::Read;
}

bool starts_with(const char* s, const char* prefix) noexcept {
  return std::strncmp(s, prefix, std::strlen(prefix)) == 0;
}

// Paths whose meaning is a magic link: they are walked first and decided on
// what they point at (THREATS 9). /dev/fd -> /proc/self/fd, /dev/std* ->
// /proc/self/fd/N.
bool is_magic(const char* abs) noexcept {
  // Every magic path starts "/p" or "/d": one compare rejects the rest
  // (this runs on every confined path call).
  if (abs[0] != '/' || (abs[1] != 'p' && abs[1] != 'd')) return false;
  return std::strcmp(abs, "/proc") == 0 || starts_with(abs, "/proc/") || std::strcmp(abs, "/dev") == 0 ||
         starts_with(abs, "/dev/fd") ||
         starts_with(abs, "/dev/std");
}

// The area's root, opened once per prepared tenant (per tenant and
// process) and shared by all threads and requests. The first use in each
// request checks that the path still names that object (one stat: the
// folder may have been renamed or swapped by the operator since): a
// descriptor of what is no longer the tenant's folder is never used again.
int area_root(ActiveTenant& t, int i) noexcept {
  const auto ui = static_cast<std::size_t>(i);
  std::atomic<int>& slot = t.area_fds[ui];
  PreparedTenant* p = t.prepared;
  const std::uint64_t bit = i < 64 ? (std::uint64_t{1} << i) : 0;
  int fd = slot.load(std::memory_order_acquire);
  if (fd >= 0 && bit != 0 && (t.areas_checked.load(std::memory_order_relaxed) & bit) != 0) return fd;
  InternalScope internal;
  ErrnoKeeper keep;
  const auto& area = t.ctx->areas()[ui];
  if (fd >= 0 && p != nullptr) {
    struct stat now {};
    if (SB_REAL(stat)(area.path.c_str(), &now) == 0 &&
        static_cast<std::uint64_t>(now.st_dev) == p->area_dev[ui].load(std::memory_order_relaxed) &&
        static_cast<std::uint64_t>(now.st_ino) == p->area_ino[ui].load(std::memory_order_relaxed)) {
      t.areas_checked.fetch_or(bit, std::memory_order_relaxed);
      return fd;
    }
    // Renamed, swapped or gone: forget this descriptor. It is not closed
    // (another thread of the tenant may be inside a call on it); it stays
    // marked internal and leaks one descriptor per such change.
    int expected = fd;
    slot.compare_exchange_strong(expected, -1, std::memory_order_acq_rel);
  }
  // No O_DIRECTORY: an area may be a single file.
  int nfd = SB_REAL(open)(area.path.c_str(), O_PATH | O_CLOEXEC);
  if (nfd < 0) return -errno;
  nfd = fds::keep_internal(nfd);
  struct stat st {};
  if (p != nullptr && ::fstat(nfd, &st) == 0) {
    p->area_dev[ui].store(static_cast<std::uint64_t>(st.st_dev), std::memory_order_relaxed);
    p->area_ino[ui].store(static_cast<std::uint64_t>(st.st_ino), std::memory_order_relaxed);
  }
  int expected = -1;
  if (!slot.compare_exchange_strong(expected, nfd, std::memory_order_acq_rel)) {
    fds::unmark_internal(nfd);
    sys_close(nfd);
    return expected;
  }
  t.areas_checked.fetch_or(bit, std::memory_order_relaxed);
  return nfd;
}

}  // namespace

int area_root_fd(ActiveTenant& t, int i) noexcept { return area_root(t, i); }

namespace {

// A Write request in an area that contains a more restrictive area (a
// read_only tree inside the tenant's root) must not reach that tree through
// a symlink the kernel follows beneath the outer root: resolve without
// symlinks, so any link goes through the user-space walk and is re-decided.
bool has_weaker_nested(const ActiveTenant& t, int i, Need need) noexcept {
  if (need != Need::Write) return false;
  const auto& areas = t.ctx->areas();
  const auto& outer = areas[static_cast<std::size_t>(i)].path;
  for (const auto& a : areas) {
    if (a.path.size() > outer.size() && a.access < Access::Write && tenant::path_within(outer, a.path))
      return true;
  }
  return false;
}

// Opens the object (or its anchor) beneath area `ai`. 0 or -errno.
int beneath(ActiveTenant& t, int ai, const Request& rq, Target& out, bool no_symlinks) noexcept {
  const int rootfd = area_root(t, ai);
  if (rootfd < 0) return rootfd;
  const auto& area = t.ctx->areas()[static_cast<std::size_t>(ai)];
  const char* rel = out.path + area.path.size();
  while (*rel == '/') ++rel;

  char relbuf[kBuf];
  open_how how{};
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | rq.resolve;
  if (no_symlinks) how.resolve |= RESOLVE_NO_SYMLINKS;
  const char* target = rel;

  switch (rq.how) {
    case How::Open: {
      int flags = rq.oflags;
      // openat2 rejects what open() ignores: a mode without O_CREAT/O_TMPFILE,
      // and flags O_PATH does not take.
      if ((flags & O_PATH) != 0) flags &= (O_PATH | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW);
      how.flags = static_cast<std::uint64_t>(static_cast<unsigned>(flags));
      if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) how.mode = rq.mode & 07777;
      break;
    }
    case How::Follow:
      how.flags = O_PATH | O_CLOEXEC;
      break;
    case How::NoFollow:
      how.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW;
      break;
    case How::Parent: {
      how.flags = O_PATH | O_CLOEXEC | O_DIRECTORY;
      if (*rel == '\0') {
        // The area root itself: its parent lies outside the area. Hand out
        // the root with an empty leaf; create/remove on it then fail.
        out.leaf = "";
        target = ".";
        break;
      }
      const char* slash = std::strrchr(rel, '/');
      const char* leaf = slash != nullptr ? slash + 1 : rel;
      const std::size_t llen = std::strlen(leaf);
      if (llen >= sizeof out.leafbuf) return -ENAMETOOLONG;
      std::memcpy(out.leafbuf, leaf, llen + 1);
      out.leaf = out.leafbuf;
      if (slash == nullptr) {
        target = ".";
      } else {
        const auto plen = static_cast<std::size_t>(slash - rel);
        std::memcpy(relbuf, rel, plen);
        relbuf[plen] = '\0';
        target = relbuf;
      }
      break;
    }
  }
  if (*target == '\0') target = ".";
  // stat/lstat of a name directly in the area root: one fstatat(rootfd,
  // name, AT_SYMLINK_NOFOLLOW) instead of openat2 + fstat + close. Safe
  // because a single component looked up without following cannot leave
  // the directory rootfd is (no "..": the path is normalised; no symlink
  // or magic link is traversed, whatever the tenant swaps in meanwhile:
  // the kernel looks the name up once). A symlink found there is not
  // followed here: a following stat takes the openat2 path below, which
  // resolves it beneath the root. Deeper paths are not done this way: an
  // intermediate component would be followed even with NOFOLLOW, so a
  // directory swapped for a symlink to another tenant's tree between any
  // check and the fstatat would be crossed (THREATS 8).
  // The area root itself (PHP's realpath walk lstats it on every request)
  // is rootfd: fstatat(rootfd, "", AT_EMPTY_PATH), no lookup at all.
  if (rq.st != nullptr && (rq.how == How::Follow || rq.how == How::NoFollow) && !no_symlinks && rq.resolve == 0 &&
      !out.trailing_slash && (target == rel || *rel == '\0') && std::strchr(rel, '/') == nullptr &&
      !(rel[0] == '.' && (rel[1] == '\0' || (rel[1] == '.' && rel[2] == '\0')))) {
    InternalScope internal;
    const int r = *rel == '\0' ? SB_REAL(fstatat)(rootfd, "", rq.st, AT_EMPTY_PATH)
                                : SB_REAL(fstatat)(rootfd, rel, rq.st, AT_SYMLINK_NOFOLLOW | rq.stat_flags);
    if (r != 0) return -errno;
    if (rq.how == How::NoFollow || !S_ISLNK(rq.st->st_mode)) {
      out.stat_done = true;
      return 0;
    }
  }
  // A trailing slash demands a directory (and follows a final symlink); keep
  // that meaning for opens and final anchors.
  if (out.trailing_slash && rq.how != How::Parent && target == rel && std::strcmp(rel, ".") != 0) {
    const std::size_t n = std::strlen(rel);
    if (n + 2 > sizeof relbuf) return -ENAMETOOLONG;
    std::memcpy(relbuf, rel, n);
    relbuf[n] = '/';
    relbuf[n + 1] = '\0';
    target = relbuf;
  }
  int fd = sys_openat2(rootfd, target, &how);
  if (fd < 0 && errno == ENOTDIR && *rel == '\0') {
    // A file area ("paths (files or trees)", e.g. read_only /etc/localtime):
    // its root fd is the file itself (the area path's symlinks were followed
    // when it was opened), and the request names exactly that file.
    InternalScope internal;
    if (rq.how == How::Open) {
      char via[32];
      fd_path(rootfd, via);
      fd = SB_REAL(openat)(AT_FDCWD, via, (rq.oflags & ~O_NOFOLLOW), rq.mode);
    } else {
      fd = SB_REAL(fcntl)(rootfd, F_DUPFD_CLOEXEC, 0);
    }
  }
  if (fd < 0) return -errno;
  out.fd = fd;
  return 0;
}

bool follows_final(const Request& rq, bool trailing_slash) noexcept {
  switch (rq.how) {
    case How::Open:
      if ((rq.oflags & O_NOFOLLOW) != 0) return trailing_slash;
      // O_CREAT|O_EXCL never follows a final symlink (EEXIST).
      return (rq.oflags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL);
    case How::Follow:
      return true;
    case How::NoFollow:
      return trailing_slash;
    case How::Parent:
      return false;
  }
  return true;
}

}  // namespace

// An area whose configured path runs through a symlink (/srv/www/site-a ->
// /home/site-a) is reached by the kernel under its real name: getcwd()
// after chdir into it, /proc/self/fd/N of its descriptors and absolute
// symlinks written with the real name all say /home/site-a/... . A path
// that is denied as given but lies within the real location of an area
// root (read from the root descriptor, which is that very directory) is
// rewritten to the configured name and decided again. Only denied paths
// pay for this (one readlink per area).
bool remap_canonical(ActiveTenant& t, char* path, std::size_t* len) noexcept {
  const auto& areas = t.ctx->areas();
  for (std::size_t i = 0; i < areas.size(); ++i) {
    const int rootfd = area_root(t, static_cast<int>(i));
    if (rootfd < 0) continue;
    char via[32];
    char canon[kBuf];
    fd_path(rootfd, via);
    ssize_t n;
    {
      InternalScope internal;
      ErrnoKeeper keep;
      n = SB_REAL(readlink)(via, canon, sizeof canon - 1);
    }
    if (n <= 0 || static_cast<std::size_t>(n) >= sizeof canon - 1 || canon[0] != '/') continue;
    canon[n] = '\0';
    const auto cl = static_cast<std::size_t>(n);
    const std::string_view conf = areas[i].path;
    if (conf == std::string_view(canon, cl)) continue;
    if (!tenant::path_within(std::string_view(canon, cl), std::string_view(path, *len))) continue;
    const std::size_t rest = *len - (cl == 1 ? 0 : cl);  // "/x" under "/" keeps its slash
    if (conf.size() + rest + 1 > kBuf) return false;
    std::memmove(path + conf.size(), path + (cl == 1 ? 0 : cl), rest + 1);
    std::memcpy(path, conf.data(), conf.size());
    *len = conf.size() + rest;
    return true;
  }
  return false;
}

namespace {

// Decide on out.path and open beneath the deciding area.
// 0, kUnconfined, or -errno; -EXDEV/-ELOOP from the kernel are returned as is.
int decide_and_open(ActiveTenant& t, const char* op, const Request& rq, Target& out, bool* escaped) noexcept {
  tenant::Decision d = t.ctx->decide_path(std::string_view(out.path, out.len), rq.need);
  if (!d.allowed && remap_canonical(t, out.path, &out.len)) d = t.ctx->decide_path(std::string_view(out.path, out.len), rq.need);
  if (!d.allowed) {
    std::string why;
    try {
      why = t.ctx->describe(d, rq.need);
    } catch (...) {
    }
    return deny(t, op, rq.need, out.path, why.empty() ? nullptr : why.c_str());
  }
  out.granted = d.granted;
  if (d.key == tenant::RuleKey::AccessFile) {
    // Apache's access file above the tenant's root (context.hpp): opened
    // by its path, never beneath an area. The final component is never
    // followed (O_NOFOLLOW: a link named .htaccess reads as ELOOP, which
    // Apache refuses), nor are magic links; the directories on the way are
    // the operator's (no tenant area contains them).
    open_how how{};
    how.flags = rq.how == How::Open ? static_cast<std::uint64_t>(static_cast<unsigned>(rq.oflags)) | O_NOFOLLOW
                                    : O_PATH | O_CLOEXEC | O_NOFOLLOW;
    how.resolve = RESOLVE_NO_MAGICLINKS;
    if (rq.how == How::Parent || (how.flags & static_cast<std::uint64_t>(O_ACCMODE)) != O_RDONLY)
      return deny(t, op, rq.need, out.path, "access file above an allowed path: read only");
    const int fd = sys_openat2(AT_FDCWD, out.path, &how);
    if (fd < 0) return -errno;
    out.fd = fd;
    return 0;
  }
  if (is_ancestor(d)) {
    // Granted as an ancestor of an allowed area (Stat only): act on the
    // string; these directories belong to the operator, not the tenant.
    if (rq.need == Need::Stat && rq.how != How::Open) {
      out.ancestor = true;
      return 0;
    }
    return deny(t, op, rq.need, out.path, "directory above an allowed path: stat only");
  }
  const int r = beneath(t, d.area, rq, out, has_weaker_nested(t, d.area, rq.need));
  if (r == -EXDEV || r == -ELOOP) *escaped = true;
  return r;
}

// The user-space walk, re-decision and retry (slow path).
int slow_path(ActiveTenant& t, const char* op, const Request& rq, Target& out, const char* logged) noexcept {
  char resolved[kBuf];
  const bool follow = follows_final(rq, out.trailing_slash);
  char original[kBuf];
  std::memcpy(original, out.path, out.len + 1);
  for (int attempt = 0; attempt < kRaceRetries; ++attempt) {
    const int w = walk(t, original, follow, resolved);
    if (w == -EACCES) return deny(t, op, rq.need, logged, "magic link to something that is not a path");
    if (w < 0) return w;
    out.len = std::strlen(resolved);
    std::memcpy(out.path, resolved, out.len + 1);
    bool escaped = false;
    const int r = decide_and_open(t, op, rq, out, &escaped);
    if (r == -EXDEV) continue;  // a link changed between the walk and the open: walk again
    return r;                   // includes -ELOOP: a final symlink with O_NOFOLLOW, or a loop
  }
  return deny(t, op, rq.need, logged, "symlinks kept changing during resolution");
}

}  // namespace

Target::~Target() {
  if (fd >= 0) {
    ErrnoKeeper keep;
    sys_close(fd);
  }
}

void fd_path(int fd, char* buf) noexcept {
  // No snprintf: this runs in signal handlers too.
  static const char prefix[] = "/proc/self/fd/";
  std::memcpy(buf, prefix, sizeof prefix - 1);
  char digits[16];
  int n = 0;
  auto v = static_cast<unsigned>(fd);
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 && n < 15);
  std::size_t pos = sizeof prefix - 1;
  while (n > 0) buf[pos++] = digits[--n];
  buf[pos] = '\0';
}

bool is_empty_path(const char* p) noexcept { return p != nullptr && p[0] == '\0'; }
const char* or_empty(const char* p) noexcept { return p != nullptr ? p : ""; }

Need open_need(int flags) noexcept {
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC | O_APPEND)) != 0 ||
      (flags & O_TMPFILE) == O_TMPFILE)
    return Need::Write;
  return Need::Read;
}

int deny(ActiveTenant& t, const char* op, Need need, const char* target, const char* why) noexcept {
  return refuse(t, op, need, target, EACCES, why) ? -EACCES : kUnconfined;
}

namespace {

// An absolute path that normalize_path would return unchanged (no "//",
// no "." or ".." component, no trailing "/"): copied as it is. Apache and
// PHP pass such paths almost always, and the copy costs a tenth of the
// component-by-component rebuild.
bool copy_if_normal(const char* path, char* out, std::size_t cap) noexcept {
  const char* p = path;  // at a '/'
  for (;;) {
    const char c1 = p[1];
    if (c1 == '/' || c1 == '\0') return false;
    if (c1 == '.') {
      const char c2 = p[2];
      if (c2 == '/' || c2 == '\0' || (c2 == '.' && (p[3] == '/' || p[3] == '\0'))) return false;
    }
    const char* next = ::strchrnul(p + 1, '/');
    if (*next == '\0') {
      const auto n = static_cast<std::size_t>(next - path);
      if (n >= tenant::kMaxPath || n >= cap) return false;  // normalize_path reports it
      std::memcpy(out, path, n + 1);
      return true;
    }
    p = next;
  }
}

}  // namespace

int absolutize(int dirfd, const char* path, char* out, std::size_t cap, bool* trailing_slash) noexcept {
  if (path == nullptr) return -EFAULT;
  if (path[0] == '\0') return -ENOENT;
  if (path[0] == '/' && copy_if_normal(path, out, cap)) {
    if (trailing_slash != nullptr) *trailing_slash = false;
    return 0;
  }
  char base[kBuf];
  base[0] = '/';
  base[1] = '\0';
  if (path[0] != '/') {
    InternalScope internal;
    ErrnoKeeper keep;
    if (dirfd == AT_FDCWD) {
      if (::getcwd(base, sizeof base) == nullptr) return errno == ERANGE ? -ENAMETOOLONG : -errno;
    } else {
      if (dirfd < 0) return -EBADF;
      char link[32];
      fd_path(dirfd, link);
      const ssize_t n = SB_REAL(readlink)(link, base, sizeof base - 1);
      if (n < 0) return errno == ENOENT ? -EBADF : -errno;
      if (static_cast<std::size_t>(n) >= sizeof base - 1) return -ENAMETOOLONG;
      base[n] = '\0';
      // pipe:[..], socket:[..], anon_inode:..., or a deleted directory: the
      // path cannot be known, so nothing relative to it can be decided.
      static const char deleted[] = " (deleted)";
      const auto dl = sizeof deleted - 1;
      if (base[0] != '/' ||
          (static_cast<std::size_t>(n) > dl && std::strcmp(base + n - static_cast<ssize_t>(dl), deleted) == 0))
        return -EACCES;
    }
  }
  tenant::NormalizedPath np;
  if (!tenant::normalize_path(base, path, out, cap, &np)) return -ENAMETOOLONG;
  if (trailing_slash != nullptr) *trailing_slash = np.trailing_slash;
  return 0;
}

int walk(ActiveTenant& t, const char* abs, bool follow_final, char* out) noexcept {
  char rem[kBuf];   // what is left to walk
  char tmp[kBuf];   // link target + rest
  std::size_t rlen = std::strlen(abs);
  if (rlen >= kBuf) return -ENAMETOOLONG;
  std::memcpy(rem, abs, rlen + 1);
  std::size_t olen = 0;  // out holds the resolved prefix ("" = "/")
  out[0] = '\0';
  int links = 0;
  bool stop = false;  // no more readlink: the rest is appended lexically
  const char* p = rem;
  InternalScope internal;
  ErrnoKeeper keep;
  while (true) {
    while (*p == '/') ++p;
    if (*p == '\0') break;
    const char* q = p;
    while (*q != '\0' && *q != '/') ++q;
    const auto clen = static_cast<std::size_t>(q - p);
    if (clen == 1 && p[0] == '.') {
      p = q;
      continue;
    }
    if (clen == 2 && p[0] == '.' && p[1] == '.') {
      while (olen > 0 && out[olen - 1] != '/') --olen;
      if (olen > 0) --olen;
      out[olen] = '\0';
      p = q;
      continue;
    }
    if (olen + 1 + clen + 1 > kBuf) return -ENAMETOOLONG;
    out[olen++] = '/';
    std::memcpy(out + olen, p, clen);
    olen += clen;
    out[olen] = '\0';
    const char* rest = q;
    const char* r2 = rest;
    while (*r2 == '/') ++r2;
    const bool last = *r2 == '\0';
    p = q;
    if (stop || (last && !follow_final)) continue;
    const bool magic = is_magic(out);
    if (!magic) {
      const tenant::Decision d = t.ctx->decide_path(std::string_view(out, olen), Need::Stat);
      // Never probe beyond what the tenant may see: the final decision on
      // the (lexically completed) string denies, existing or not.
      if (!d.allowed) {
        stop = true;
        continue;
      }
      // Directories above an area and the area roots belong to the
      // operator (a root may itself be a symlink to where the data is);
      // they are taken as named.
      if (is_ancestor(d) || t.ctx->areas()[static_cast<std::size_t>(d.area)].path.size() == olen) continue;
    }
    const ssize_t n = SB_REAL(readlink)(out, tmp, sizeof tmp - 1);
    if (n < 0) {
      if (errno != EINVAL) stop = true;  // ENOENT, ENOTDIR, EACCES: the open reports it
      continue;
    }
    if (static_cast<std::size_t>(n) >= sizeof tmp - 1) return -ENAMETOOLONG;
    tmp[n] = '\0';
    if (++links > kMaxLinks) return -ELOOP;
    if (magic && starts_with(out, "/proc/")) {
      // /proc/PID/fd/N of a pipe, socket or anon inode, or of a deleted file.
      static const char deleted[] = " (deleted)";
      const auto dl = sizeof deleted - 1;
      if ((tmp[0] != '/' && std::strchr(tmp, ':') != nullptr) ||
          (static_cast<std::size_t>(n) > dl && std::strcmp(tmp + n - static_cast<ssize_t>(dl), deleted) == 0))
        return -EACCES;
    }
    const std::size_t restlen = std::strlen(rest);
    if (static_cast<std::size_t>(n) + restlen + 1 > kBuf) return -ENAMETOOLONG;
    std::memcpy(tmp + n, rest, restlen + 1);
    std::memcpy(rem, tmp, static_cast<std::size_t>(n) + restlen + 1);
    p = rem;
    if (rem[0] == '/') {
      olen = 0;
    } else {  // relative to the link's directory
      while (olen > 0 && out[olen - 1] != '/') --olen;
      if (olen > 0) --olen;
    }
    out[olen] = '\0';
  }
  if (olen == 0) {
    out[0] = '/';
    out[1] = '\0';
  }
  return 0;
}

int resolve_abs(ActiveTenant& t, const char* op, const char* abs, bool trailing_slash, const Request& rq,
                Target& out) noexcept {
  const std::size_t n = std::strlen(abs);
  if (n >= kBuf) return -ENAMETOOLONG;
  if (abs != out.path) std::memcpy(out.path, abs, n + 1);
  out.len = n;
  out.trailing_slash = trailing_slash;
  char logged[kBuf];
  std::memcpy(logged, out.path, n + 1);
  if (is_magic(out.path)) return slow_path(t, op, rq, out, logged);
  bool escaped = false;
  const int r = decide_and_open(t, op, rq, out, &escaped);
  if (!escaped) return r;
  return slow_path(t, op, rq, out, logged);
}

int resolve(ActiveTenant& t, const char* op, int dirfd, const char* path, const Request& rq, Target& out) noexcept {
  bool ts = false;
  const int a = absolutize(dirfd, path, out.path, kBuf, &ts);
  if (a == -EACCES) return deny(t, op, rq.need, path, "relative to a descriptor without a path");
  if (a < 0) return a;
  return resolve_abs(t, op, out.path, ts, rq, out);
}

int checked_open(ActiveTenant& t, const char* op, int dirfd, const char* path, int flags, mode_t mode) noexcept {
  const int saved = errno;
  try {
    Request rq;
    rq.need = open_need(flags);
    rq.how = How::Open;
    rq.oflags = flags;
    rq.mode = mode;
    Target tg;
    const int r = resolve(t, op, dirfd, path, rq, tg);
    if (r == kUnconfined) {
      errno = saved;
      return SB_REAL(openat)(dirfd, path, flags, mode);
    }
    if (r < 0) return fail(-r);
    const int fd = tg.take();
    fds::note_opened(fd, &t);
    errno = saved;
    return fd;
  } catch (...) {
    return fail(EACCES);
  }
}

// ---- hooks (internal.hpp) -------------------------------------------------

int absolute_path(int dirfd, const char* path, char* out, std::size_t cap) noexcept {
  return absolutize(dirfd, path, out, cap, nullptr);
}

int anchor(ActiveTenant& t, const char* op, const char* abs_path, Need need, bool follow) noexcept {
  try {
    Request rq;
    rq.need = need;
    rq.how = follow ? How::Follow : How::NoFollow;
    Target tg;
    char norm[kBuf];
    tenant::NormalizedPath np;
    if (abs_path == nullptr) return -EFAULT;
    if (!tenant::normalize_path("/", abs_path, norm, sizeof norm, &np)) return -ENAMETOOLONG;
    const int r = resolve_abs(t, op, norm, np.trailing_slash, rq, tg);
    if (r < 0) return r;
    if (r == kUnconfined || tg.ancestor) {
      InternalScope internal;
      ErrnoKeeper keep;
      const int fd = SB_REAL(open)(r == kUnconfined ? abs_path : tg.path,
                                   O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
      return fd >= 0 ? fd : -errno;
    }
    return tg.take();
  } catch (...) {
    return -EACCES;
  }
}

int checked_openat2(int dirfd, const char* path, const void* how_ptr, std::size_t size) noexcept {
  const int saved = errno;
  // The kernel's copy_struct_from_user(): too small is EINVAL, a larger
  // struct is accepted only when the extra bytes are zero, else E2BIG.
  if (how_ptr == nullptr) return fail(EFAULT);
  if (size < sizeof(open_how)) return fail(EINVAL);
  if (size > 4096) return fail(E2BIG);
  const auto* bytes = static_cast<const unsigned char*>(how_ptr);
  for (std::size_t i = sizeof(open_how); i < size; ++i)
    if (bytes[i] != 0) return fail(E2BIG);
  open_how how{};
  std::memcpy(&how, how_ptr, sizeof how);
  ActiveTenant* t = current();
  if (t == nullptr) return static_cast<int>(SB_REAL(syscall)(SYS_openat2, dirfd, path, how_ptr, size));
  try {
    if ((how.flags >> 32) != 0 || (how.resolve & ~static_cast<std::uint64_t>(0x3f)) != 0) return fail(EINVAL);
    if ((how.resolve & RESOLVE_BENEATH) != 0 && (how.resolve & RESOLVE_IN_ROOT) != 0) return fail(EINVAL);
    if (path == nullptr) return fail(EFAULT);
    // The caller's own BENEATH / IN_ROOT are relative to its dirfd; we
    // resolve beneath the area root instead, so enforce theirs lexically
    // (an absolute path or one climbing above dirfd is EXDEV) and keep the
    // other flags (NO_SYMLINKS, NO_XDEV, NO_MAGICLINKS, CACHED) as they are.
    if ((how.resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT)) != 0) {
      if (path[0] == '/') return fail(EXDEV);
      char probe[kBuf];
      tenant::NormalizedPath np;
      if (!tenant::normalize_path("/0", path, probe, sizeof probe, &np)) return fail(ENAMETOOLONG);
      if (std::strncmp(probe, "/0", 2) != 0 || (probe[2] != '\0' && probe[2] != '/')) return fail(EXDEV);
    }
    Request rq;
    const int flags = static_cast<int>(static_cast<unsigned>(how.flags));
    rq.need = open_need(flags);
    rq.how = How::Open;
    rq.oflags = flags;
    rq.mode = static_cast<mode_t>(how.mode);
    rq.resolve = how.resolve & ~static_cast<std::uint64_t>(RESOLVE_BENEATH | RESOLVE_IN_ROOT);
    Target tg;
    const int r = resolve(*t, "openat2", dirfd, path, rq, tg);
    if (r == kUnconfined) {
      errno = saved;
      return static_cast<int>(SB_REAL(syscall)(SYS_openat2, dirfd, path, how_ptr, size));
    }
    if (r < 0) return fail(-r);
    const int fd = tg.take();
    fds::note_opened(fd, t);
    errno = saved;
    return fd;
  } catch (...) {
    return fail(EACCES);
  }
}

}  // namespace sb::fs
