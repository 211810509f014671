// Descriptor wrappers (close, close_range, dup*, fcntl, fclose, fcloseall)
// and the net part's process hooks (fork, exec, load, exit, tenant cleared).
//
// Two jobs share these entry points:
//  - who may use a descriptor: a tenant may dup (or hand to a child) only
//    0..2 and what it opened itself, never Apache's listening sockets or log
//    descriptors (php://fd/N is a dup, THREATS 18); nobody may close or
//    replace libsandbox's own descriptors;
//  - the connection budget's references (THREATS 14): every descriptor of a
//    counted socket object is one reference, whichever way it appears or
//    goes away. fclose/fcloseall close through glibc's internal close and
//    never reach close(), so they are wrapped too.
//
// close() is on every request's hot path: for a descriptor the table knows
// nothing about it costs one relaxed load before the real close.
#include <dirent.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "budget.hpp"
#include "fdtable.hpp"
#include "internal.hpp"
#include "net_common.hpp"

using sb::ActiveTenant;
using tenant::Need;

namespace sb::net {

void forget_fd(int fd) noexcept {
  const std::uint64_t e = fds::take(fd);
  if ((e & fds::kCounted) != 0) budget::drop_ref(fds::stored_ino(fd));
}

}  // namespace sb::net

namespace {

bool in_internal_scope() noexcept { return sb::t_state.internal_depth != 0; }

// libsandbox's own descriptors (area roots, anchors) cannot be closed or
// replaced from outside: the call fails with EBADF, as for a descriptor
// that is not open, whoever makes it. Not only for tenants: programs that
// close every descriptor (daemonising loops, closefrom emulations) would
// otherwise pull our state from under us -- proxychains-ng protects its
// own descriptors from close() the same way.
bool protected_fd(int fd) noexcept { return !in_internal_scope() && sb::fds::is_internal(fd); }

// May the calling tenant use `fd` as a dup source? Logs the denial.
bool may_dup(ActiveTenant& t, const char* op, int fd) noexcept {
  if (sb::fds::owned_by(fd, t)) return true;
  char what[32];
  std::snprintf(what, sizeof what, "fd:%d", fd);
  return !sb::refuse(t, op, Need::Read, what, EACCES, "descriptor not opened by this tenant");
}

// May the tenant make `newfd` a copy of something else (dup2/dup3)? Not over
// a descriptor > 2 that is open and not its own: that would redirect
// Apache's log or listening socket into the tenant's file.
bool may_replace(ActiveTenant& t, const char* op, int newfd) noexcept {
  if (sb::fds::owned_by(newfd, t)) return true;
  {
    sb::ErrnoKeeper keep;
    if (SB_REAL(fcntl)(newfd, F_GETFD) < 0) return true;  // not open: nothing is replaced
  }
  char what[32];
  std::snprintf(what, sizeof what, "fd:%d", newfd);
  return !sb::refuse(t, op, Need::Write, what, EACCES, "dup2 over a descriptor not opened by this tenant");
}

// `nfd` became a copy of `fd`: same kind, owned by the tenant that made it
// (or by fd's owner for a copy made with no tenant set), and one more
// reference of fd's counted connection.
void inherit(int fd, int nfd, const ActiveTenant* t) noexcept {
  const std::uint64_t e = sb::fds::entry(fd);
  std::uint64_t ne;
  if (t != nullptr)
    ne = sb::fds::make_entry(t, e & sb::fds::kSocket);
  else if ((e & sb::fds::kKnown) != 0)
    ne = e & ~(sb::fds::kCounted | sb::fds::kInternal);
  else
    ne = sb::fds::make_entry(nullptr, 0);
  sb::fds::set_entry(nfd, ne);
  if (const std::uint64_t ino = sb::fds::counted_ino(fd); ino != 0 && sb::budget::add_ref(ino))
    sb::fds::set_counted(nfd, ino);
}

int dup2_like(const char* op, int oldfd, int newfd, int flags, bool three) noexcept {
  if (protected_fd(newfd)) return sb::fail(EBADF);
  ActiveTenant* t = sb::current();
  if (t != nullptr && oldfd != newfd && (!may_dup(*t, op, oldfd) || !may_replace(*t, op, newfd)))
    return sb::fail(EACCES);
  const int rc = three ? SB_REAL(dup3)(oldfd, newfd, flags) : SB_REAL(dup2)(oldfd, newfd);
  if (rc >= 0 && oldfd != newfd) {
    sb::ErrnoKeeper keep;
    sb::net::forget_fd(newfd);  // the kernel closed what newfd was
    inherit(oldfd, newfd, t);
  }
  return rc;
}

int fcntl_common(bool is64, int fd, int cmd, void* arg) noexcept {
  auto real = [&]() { return is64 ? SB_REAL(fcntl64)(fd, cmd, arg) : SB_REAL(fcntl)(fd, cmd, arg); };
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      ActiveTenant* t = sb::current();
      if (t != nullptr && !may_dup(*t, "fcntl", fd)) return sb::fail(EACCES);
      const int nfd = real();
      if (nfd >= 0) {
        sb::ErrnoKeeper keep;
        inherit(fd, nfd, t);
      }
      return nfd;
    }
    case F_SETFD: {
      // Clearing close-on-exec hands the descriptor to the next program the
      // tenant runs: the same as dup for what a tenant may pass on.
      ActiveTenant* t = sb::current();
      const auto flags = static_cast<int>(reinterpret_cast<std::intptr_t>(arg));
      if (t != nullptr && (flags & FD_CLOEXEC) == 0 && !sb::fds::owned_by(fd, *t)) {
        char what[32];
        std::snprintf(what, sizeof what, "fd:%d", fd);
        if (sb::refuse(*t, "fcntl", Need::Read, what, EACCES, "clearing close-on-exec of a descriptor not opened by this tenant"))
          return sb::fail(EACCES);
      }
      return real();
    }
    default:
      return real();
  }
}

}  // namespace

extern "C" int close(int fd) noexcept {
  const std::uint64_t e = sb::fds::entry(fd);
  if (e == 0) return SB_REAL(close)(fd);
  if ((e & sb::fds::kInternal) != 0 && !in_internal_scope()) return sb::fail(EBADF);
  {
    sb::ErrnoKeeper keep;
    // Forget before closing: once closed, another thread's open may get the
    // same number and note it, and we must not wipe that.
    sb::net::forget_fd(fd);
  }
  return SB_REAL(close)(fd);
}

extern "C" int close_range(unsigned int first, unsigned int last, int flags) noexcept {
  // CLOSE_RANGE_CLOEXEC closes nothing now; exec will (before_exec).
  if ((static_cast<unsigned int>(flags) & CLOSE_RANGE_CLOEXEC) != 0 || first > last) return SB_REAL(close_range)(first, last, flags);
  const auto hw = static_cast<unsigned int>(sb::fds::high_water());
  // Split the range around our own descriptors.
  unsigned int start = first;
  int rc = 0;
  int err = 0;
  for (unsigned int fd = first; fd < hw && fd <= last; ++fd) {
    const int ifd = static_cast<int>(fd);
    const std::uint64_t e = sb::fds::entry(ifd);
    if (e == 0) continue;
    if ((e & sb::fds::kInternal) != 0 && !in_internal_scope()) {
      if (fd > start && SB_REAL(close_range)(start, fd - 1, flags) != 0) rc = -1, err = errno;
      start = fd + 1;
      continue;
    }
    sb::ErrnoKeeper keep;
    sb::net::forget_fd(ifd);
  }
  if (start <= last && start >= first && SB_REAL(close_range)(start, last, flags) != 0) rc = -1, err = errno;
  if (rc != 0) errno = err;
  return rc;
}

extern "C" int dup(int fd) noexcept {
  ActiveTenant* t = sb::current();
  if (t != nullptr && !may_dup(*t, "dup", fd)) return sb::fail(EACCES);
  const int nfd = SB_REAL(dup)(fd);
  if (nfd >= 0) {
    sb::ErrnoKeeper keep;
    inherit(fd, nfd, t);
  }
  return nfd;
}

extern "C" int dup2(int oldfd, int newfd) noexcept { return dup2_like("dup2", oldfd, newfd, 0, false); }

extern "C" int dup3(int oldfd, int newfd, int flags) noexcept { return dup2_like("dup3", oldfd, newfd, flags, true); }

// glibc reads the third argument as a pointer-sized value whatever cmd is;
// so do we, and hand it on unchanged.
extern "C" int fcntl(int fd, int cmd, ...) noexcept {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntl_common(false, fd, cmd, arg);
}

extern "C" int fcntl64(int fd, int cmd, ...) noexcept {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntl_common(true, fd, cmd, arg);
}

extern "C" int fclose(FILE* f) noexcept {
  if (f == nullptr) return SB_REAL(fclose)(f);
  // fclose closes through glibc's internal close: take the number first.
  const int fd = ::fileno(f);  // -1 for memory streams
  if (fd >= 0) {
    if (protected_fd(fd)) {
      errno = EBADF;
      return EOF;
    }
    sb::ErrnoKeeper keep;
    sb::net::forget_fd(fd);
  }
  return SB_REAL(fclose)(f);
}

extern "C" int fcloseall(void) noexcept {
  const int rc = SB_REAL(fcloseall)();
  // Which descriptors went with the streams is not known in advance: ask
  // the kernel afterwards about every one we track.
  sb::ErrnoKeeper keep;
  const int hw = sb::fds::high_water();
  for (int fd = 0; fd < hw; ++fd) {
    const std::uint64_t e = sb::fds::entry(fd);
    if (e == 0 || (e & sb::fds::kInternal) != 0) continue;
    if (SB_REAL(fcntl)(fd, F_GETFD) < 0 && errno == EBADF) sb::net::forget_fd(fd);
  }
  return rc;
}

// ---- process hooks -----------------------------------------------------------

namespace sb::net {

// The child holds a copy of every descriptor: one more reference of each
// counted connection, taken in the parent BEFORE fork -- taken in the child
// it would race with the parent closing its copy right after fork (the
// object would be freed first and the child's copy never counted). A fork
// that fails leaves those extra references behind: the objects then stay
// counted until they are closed and a reconcile at the cap sees them dead
// (after_fork cannot tell a failed fork from a successful one).
void before_fork() noexcept {
  ErrnoKeeper keep;
  const int hw = fds::high_water();
  for (int fd = 0; fd < hw; ++fd)
    if (const std::uint64_t ino = fds::counted_ino(fd); ino != 0) (void)budget::add_ref(ino);
}

// In the child, a descriptor whose object was no longer counted at fork
// time (add_ref found it gone) would drop someone else's reference later:
// check again and forget what is not counted.
void after_fork(bool in_child) noexcept {
  if (!in_child) return;
  ErrnoKeeper keep;
  budget::after_fork_child();
  const int hw = fds::high_water();
  for (int fd = 0; fd < hw; ++fd)
    if (const std::uint64_t ino = fds::counted_ino(fd); ino != 0 && !budget::is_counted(ino)) fds::clear_counted(fd);
}

// exec closes the close-on-exec descriptors: their references go. The
// others are handed over to the new image, which adopts them at load
// (adopt_inherited) without counting them twice.
void before_exec() noexcept {
  ErrnoKeeper keep;
  const int hw = fds::high_water();
  for (int fd = 0; fd < hw; ++fd) {
    const std::uint64_t ino = fds::counted_ino(fd);
    if (ino == 0) continue;
    const int fl = SB_REAL(fcntl)(fd, F_GETFD);
    if (fl >= 0 && (fl & FD_CLOEXEC) == 0)
      budget::hand_over(ino);
    else
      budget::drop_ref(ino);
  }
}

void exec_failed() noexcept {
  ErrnoKeeper keep;
  const ActiveTenant* t = current();
  const int hw = fds::high_water();
  for (int fd = 0; fd < hw; ++fd) {
    const std::uint64_t ino = fds::counted_ino(fd);
    if (ino == 0) continue;
    const int fl = SB_REAL(fcntl)(fd, F_GETFD);
    if (fl < 0) {
      fds::clear_counted(fd);
    } else if ((fl & FD_CLOEXEC) == 0) {
      budget::take_back(ino);
    } else if (!budget::add_ref(ino)) {
      if (t != nullptr) {
        budget::force_register(*t, ino);  // we held the last reference: count it again
        budget::settle(ino);
      }
      else
        fds::clear_counted(fd);
    }
  }
}

// A new process image of a tenant: what it inherited is its own (it may dup
// it and hand it on), and inherited counted connections keep counting --
// adopted from an exec hand-over, or as a new reference for the children
// glibc starts with clone+exec (posix_spawn, system, popen).
void adopt_inherited() noexcept {
  static std::atomic<bool> done{false};
  if (done.exchange(true)) return;
  const ActiveTenant* pt = g_process_tenant.load(std::memory_order_acquire);
  if (pt == nullptr) {
    // The Apache parent starts as root: it creates the budget file (with the
    // state folder's group) and its workers inherit the mapping across fork
    // after they drop privileges.
    if (::geteuid() == 0) {
      budget::open_early();
      status_open_early();  // the denial counters (status.cpp), the same way
    }
    return;
  }
  InternalScope internal;
  ErrnoKeeper keep;
  const int dir = SB_REAL(open)("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  const bool counting = pt->ctx && budget::limited(*pt);
  alignas(8) char buf[4096];
  for (;;) {
    const ssize_t n = ::getdents64(dir, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      const auto* d = reinterpret_cast<const dirent64*>(buf + off);
      off += d->d_reclen;
      if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
      int fd = 0;
      for (const char* p = d->d_name; *p >= '0' && *p <= '9'; ++p) fd = fd * 10 + (*p - '0');
      if (fd == dir || fds::entry(fd) != 0) continue;  // ours (internal), or noted already
      struct stat st {};
      const bool sock = ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
      fds::set_entry(fd, fds::make_entry(pt, sock ? fds::kSocket : 0));
      if (sock && counting && budget::adopt(static_cast<std::uint64_t>(st.st_ino)))
        fds::set_counted(fd, static_cast<std::uint64_t>(st.st_ino));
    }
  }
  SB_REAL(close)(dir);
}

// End of a request: sockets the tenant opened and left open in this
// process (pfsockopen, mysqli "p:" links, a forgotten curl handle) would
// serve whichever tenant this worker runs next (THREATS 18). Each is
// replaced, in place, by a dead socket: the number stays occupied, so PHP's
// later close() of its persistent resource cannot close some newer
// descriptor that reused it, and any use of it fails.
void on_tenant_cleared(ActiveTenant& t) noexcept {
  const int hw = fds::tenant_socket_high_water();
  if (hw == 0) return;
  InternalScope internal;
  ErrnoKeeper keep;
  int dead = -1;
  unsigned int replaced = 0;
  for (int fd = 0; fd < hw; ++fd) {
    const std::uint64_t e = fds::entry(fd);
    if ((e & fds::kSocket) == 0 || (e & fds::kInternal) != 0 || fds::owner_serial(e) != t.serial) continue;
    if (SB_REAL(fcntl)(fd, F_GETFD) < 0) {  // closed behind our back: forget it
      forget_fd(fd);
      continue;
    }
    if (dead < 0) dead = SB_REAL(socket)(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (dead < 0 || SB_REAL(dup3)(dead, fd, O_CLOEXEC) < 0) continue;
    forget_fd(fd);
    fds::set_entry(fd, fds::make_entry(nullptr, fds::kSocket));
    ++replaced;
  }
  if (dead >= 0) SB_REAL(close)(dead);
  if (replaced != 0) {
    char line[200];
    const int n = std::snprintf(line, sizeof line,
                                "tenant-sandbox: tenant=%s left %u socket(s) open past its request; replaced with dead sockets\n",
                                t.ctx ? t.ctx->id_cstr() : "?", replaced);
    if (n > 0) (void)!::write(2, line, static_cast<std::size_t>(n < 199 ? n : 199));
  }
}

namespace {
// Process exit gives every reference back (a process killed by SIGKILL
// cannot: reconcile corrects that when its tenant next hits the cap).
void release_all() noexcept {
  const int hw = fds::high_water();
  for (int fd = 0; fd < hw; ++fd)
    if (const std::uint64_t ino = fds::counted_ino(fd); ino != 0) {
      fds::clear_counted(fd);
      budget::drop_ref(ino);
    }
}
__attribute__((destructor)) void release_at_exit() noexcept { release_all(); }
}  // namespace

}  // namespace sb::net

// exit() runs the destructor above; _exit/_Exit (a forked child that
// finished, or whose exec failed) do not. glibc's own exit() reaches its
// internal _exit, never this one. Atomics only: async-signal-safe.
// (glibc declares _exit without __THROW, _Exit with it: each keeps its own
// exception specification.)
extern "C" [[noreturn]] void _exit(int status) {
  sb::net::release_all();
  SB_REAL(_exit)(status);
  __builtin_unreachable();
}

extern "C" [[noreturn]] void _Exit(int status) noexcept {
  sb::net::release_all();
  SB_REAL(_Exit)(status);
  __builtin_unreachable();
}

namespace sb::net {
}  // namespace sb::net

// ---- descriptors a tenant creates without a path -------------------------------

extern "C" int pipe(int fds[2]) noexcept {
  const int rc = SB_REAL(pipe)(fds);
  if (rc == 0) {
    const ActiveTenant* t = sb::current();
    sb::fds::note_opened(fds[0], t);
    sb::fds::note_opened(fds[1], t);
  }
  return rc;
}

extern "C" int pipe2(int fds[2], int flags) noexcept {
  const int rc = SB_REAL(pipe2)(fds, flags);
  if (rc == 0) {
    const ActiveTenant* t = sb::current();
    sb::fds::note_opened(fds[0], t);
    sb::fds::note_opened(fds[1], t);
  }
  return rc;
}
