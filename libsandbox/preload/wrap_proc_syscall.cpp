// syscall(2): libc's generic entry point reaches the kernel without any of
// the named wrappers (THREATS 2, 4: openat2 has no glibc wrapper at all in
// 2.36, so syscall(SYS_openat2, ...) is the only way to call it).
//
// For a tenant the numbers of every interposed call are routed to the
// exported wrapper itself (::openat, ::connect, ...), so one implementation
// decides both paths; io_uring is refused outright (IORING_OP_OPENAT and
// IORING_OP_CONNECT would do opens and connects no wrapper sees). Anything
// else, and every call with no tenant, goes to libc's syscall unchanged.
//
// What this cannot stop: inline `syscall` instructions, and liburing or any
// other library issuing io_uring_enter through its own syscall stubs, never
// come here. That is the kernel layer's job (seccomp, Landlock; issue 4).
//
// Allocation-free: the arguments are read as six longs and converted.
#include <linux/openat2.h>
#include <sys/inotify.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>

#include "internal.hpp"
#include "proc_common.hpp"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452  // Linux 6.6
#endif
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

namespace {

template <class T>
T ptr(long v) noexcept {
  return reinterpret_cast<T>(v);
}
int i32(long v) noexcept { return static_cast<int>(v); }
unsigned u32(long v) noexcept { return static_cast<unsigned>(v); }
std::size_t sz(long v) noexcept { return static_cast<std::size_t>(v); }

long refused(sb::ActiveTenant& t, const char* op, tenant::Need need, long target, const char* why, bool* proceed) noexcept {
  char text[48];
  std::snprintf(text, sizeof text, "pid:%ld", target);
  if (sb::refuse(t, op, need, text, EACCES, why)) return sb::fail(EACCES);
  *proceed = true;
  return 0;
}

}  // namespace

extern "C" long syscall(long nr, ...) noexcept {
  va_list ap;
  va_start(ap, nr);
  const long a = va_arg(ap, long);
  const long b = va_arg(ap, long);
  const long c = va_arg(ap, long);
  const long d = va_arg(ap, long);
  const long e = va_arg(ap, long);
  const long f = va_arg(ap, long);
  va_end(ap);

  sb::ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(syscall)(nr, a, b, c, d, e, f);

  const auto* p = ptr<const char*>(b);  // the path argument of the *at calls
  bool proceed = false;
  switch (nr) {
    // ---- open ---------------------------------------------------------------
    case SYS_open: return ::open(ptr<const char*>(a), i32(b), static_cast<mode_t>(c));
    case SYS_openat: return ::openat(i32(a), p, i32(c), static_cast<mode_t>(d));
    case SYS_openat2: return sb::fs::checked_openat2(i32(a), p, ptr<const void*>(c), sz(d));
    case SYS_creat: return ::creat(ptr<const char*>(a), static_cast<mode_t>(b));
    case SYS_open_by_handle_at: return ::open_by_handle_at(i32(a), ptr<struct file_handle*>(b), i32(c));
    case SYS_name_to_handle_at:
      return ::name_to_handle_at(i32(a), p, ptr<struct file_handle*>(c), ptr<int*>(d), i32(e));
    // ---- metadata -----------------------------------------------------------
    case SYS_stat: return ::stat(ptr<const char*>(a), ptr<struct stat*>(b));
    case SYS_lstat: return ::lstat(ptr<const char*>(a), ptr<struct stat*>(b));
    case SYS_newfstatat: return ::fstatat(i32(a), p, ptr<struct stat*>(c), i32(d));
    case SYS_statx: return ::statx(i32(a), p, i32(c), u32(d), ptr<struct statx*>(e));
    case SYS_access: return ::access(ptr<const char*>(a), i32(b));
    case SYS_faccessat: return ::faccessat(i32(a), p, i32(c), 0);
    case SYS_faccessat2: return ::faccessat(i32(a), p, i32(c), i32(d));
    case SYS_readlink: return ::readlink(ptr<const char*>(a), ptr<char*>(b), sz(c));
    case SYS_readlinkat: return ::readlinkat(i32(a), p, ptr<char*>(c), sz(d));
    // ---- changes ------------------------------------------------------------
    case SYS_mkdir: return ::mkdir(ptr<const char*>(a), static_cast<mode_t>(b));
    case SYS_mkdirat: return ::mkdirat(i32(a), p, static_cast<mode_t>(c));
    case SYS_rmdir: return ::rmdir(ptr<const char*>(a));
    case SYS_unlink: return ::unlink(ptr<const char*>(a));
    case SYS_unlinkat: return ::unlinkat(i32(a), p, i32(c));
    case SYS_rename: return ::rename(ptr<const char*>(a), ptr<const char*>(b));
    case SYS_renameat: return ::renameat(i32(a), p, i32(c), ptr<const char*>(d));
    case SYS_renameat2: return ::renameat2(i32(a), p, i32(c), ptr<const char*>(d), u32(e));
    case SYS_link: return ::link(ptr<const char*>(a), ptr<const char*>(b));
    case SYS_linkat: return ::linkat(i32(a), p, i32(c), ptr<const char*>(d), i32(e));
    case SYS_symlink: return ::symlink(ptr<const char*>(a), ptr<const char*>(b));
    case SYS_symlinkat: return ::symlinkat(ptr<const char*>(a), i32(b), ptr<const char*>(c));
    case SYS_chmod: return ::chmod(ptr<const char*>(a), static_cast<mode_t>(b));
    case SYS_fchmodat: return ::fchmodat(i32(a), p, static_cast<mode_t>(c), 0);
    case SYS_fchmodat2: return ::fchmodat(i32(a), p, static_cast<mode_t>(c), i32(d));
    case SYS_chown: return ::chown(ptr<const char*>(a), static_cast<uid_t>(b), static_cast<gid_t>(c));
    case SYS_lchown: return ::lchown(ptr<const char*>(a), static_cast<uid_t>(b), static_cast<gid_t>(c));
    case SYS_fchownat: return ::fchownat(i32(a), p, static_cast<uid_t>(c), static_cast<gid_t>(d), i32(e));
    case SYS_utime: return ::utime(ptr<const char*>(a), ptr<const struct utimbuf*>(b));
    case SYS_utimes: return ::utimes(ptr<const char*>(a), ptr<const struct timeval*>(b));
    case SYS_utimensat:
      // A NULL path means the descriptor itself (glibc's utimensat refuses
      // NULL with EINVAL, the kernel does not): no path to decide.
      if (p == nullptr) break;
      return ::utimensat(i32(a), p, ptr<const struct timespec*>(c), i32(d));
    case SYS_futimesat:
      if (p == nullptr) break;
      return ::futimesat(i32(a), p, ptr<const struct timeval*>(c));
    case SYS_truncate: return ::truncate(ptr<const char*>(a), static_cast<off_t>(b));
    case SYS_mknod: return ::mknod(ptr<const char*>(a), static_cast<mode_t>(b), static_cast<dev_t>(c));
    case SYS_mknodat: return ::mknodat(i32(a), p, static_cast<mode_t>(c), static_cast<dev_t>(d));
    case SYS_chdir: return ::chdir(ptr<const char*>(a));
    case SYS_fchdir: return ::fchdir(i32(a));
    case SYS_chroot: return ::chroot(ptr<const char*>(a));
    case SYS_inotify_add_watch: return ::inotify_add_watch(i32(a), p, u32(c));
    case SYS_setxattr:
      return ::setxattr(ptr<const char*>(a), p, ptr<const void*>(c), sz(d), i32(e));
    case SYS_lsetxattr:
      return ::lsetxattr(ptr<const char*>(a), p, ptr<const void*>(c), sz(d), i32(e));
    case SYS_getxattr: return ::getxattr(ptr<const char*>(a), p, ptr<void*>(c), sz(d));
    case SYS_lgetxattr: return ::lgetxattr(ptr<const char*>(a), p, ptr<void*>(c), sz(d));
    case SYS_listxattr: return ::listxattr(ptr<const char*>(a), ptr<char*>(b), sz(c));
    case SYS_llistxattr: return ::llistxattr(ptr<const char*>(a), ptr<char*>(b), sz(c));
    case SYS_removexattr: return ::removexattr(ptr<const char*>(a), p);
    case SYS_lremovexattr: return ::lremovexattr(ptr<const char*>(a), p);
    // ---- processes ----------------------------------------------------------
    case SYS_execve: return ::execve(ptr<const char*>(a), ptr<char* const*>(b), ptr<char* const*>(c));
    case SYS_execveat:
      return ::execveat(i32(a), p, ptr<char* const*>(c), ptr<char* const*>(d), i32(e));
    case SYS_fork:
    case SYS_vfork: return ::fork();
    case SYS_kill: return ::kill(static_cast<pid_t>(a), i32(b));
    case SYS_tgkill: return ::tgkill(static_cast<pid_t>(a), static_cast<pid_t>(b), i32(c));
    case SYS_tkill:
      if (sb::proc::is_own_thread(static_cast<pid_t>(a))) break;
      if (const long r = refused(*t, "tkill", tenant::Need::Send, a, "not a thread of this process", &proceed); !proceed)
        return r;
      break;
    case SYS_pidfd_open: return ::pidfd_open(static_cast<pid_t>(a), u32(b));
    case SYS_rt_sigqueueinfo:
    case SYS_rt_tgsigqueueinfo:
      if (sb::proc::may_signal(*t, static_cast<pid_t>(a))) break;
      if (const long r = refused(*t, "syscall", tenant::Need::Send, a,
                                 "not this process or a child the tenant started", &proceed);
          !proceed)
        return r;
      break;
    case SYS_pidfd_send_signal: return ::pidfd_send_signal(i32(a), i32(b), ptr<siginfo_t*>(c), u32(d));
    case SYS_pidfd_getfd: return ::pidfd_getfd(i32(a), i32(b), u32(c));
    case SYS_ptrace:
      if (const long r = refused(*t, "ptrace", tenant::Need::Send, b, "ptrace is never allowed to a tenant", &proceed);
          !proceed)
        return r;
      break;
    case SYS_process_vm_readv:
    case SYS_process_vm_writev:
      if (const long r = refused(*t, nr == SYS_process_vm_readv ? "process_vm_readv" : "process_vm_writev",
                                 tenant::Need::Read, a, "cross-process memory access is never allowed to a tenant",
                                 &proceed);
          !proceed)
        return r;
      break;
    case SYS_shmget: return ::shmget(static_cast<key_t>(a), sz(b), i32(c));
    case SYS_shmat: {
      void* r = ::shmat(i32(a), ptr<const void*>(b), i32(c));
      return reinterpret_cast<long>(r);
    }
    case SYS_shmctl: return ::shmctl(i32(a), i32(b), ptr<struct shmid_ds*>(c));
    case SYS_msgget: return ::msgget(static_cast<key_t>(a), i32(b));
    case SYS_msgsnd: return ::msgsnd(i32(a), ptr<const void*>(b), sz(c), i32(d));
    case SYS_msgrcv: return ::msgrcv(i32(a), ptr<void*>(b), sz(c), d, i32(e));
    case SYS_msgctl: return ::msgctl(i32(a), i32(b), ptr<struct msqid_ds*>(c));
    case SYS_semget: return ::semget(static_cast<key_t>(a), i32(b), i32(c));
    case SYS_semctl: return ::semctl(i32(a), i32(b), i32(c), d);
    case SYS_io_uring_setup:
    case SYS_io_uring_enter:
    case SYS_io_uring_register:
      if (sb::refuse(*t, "io_uring", tenant::Need::Read, "io_uring", EACCES,
                     "io_uring performs opens and connects no wrapper sees"))
        return sb::fail(EACCES);
      break;
    // ---- network and descriptors --------------------------------------------
    case SYS_socket: return ::socket(i32(a), i32(b), i32(c));
    case SYS_socketpair: return ::socketpair(i32(a), i32(b), i32(c), ptr<int*>(d));
    case SYS_connect: return ::connect(i32(a), ptr<const struct sockaddr*>(b), static_cast<socklen_t>(c));
    case SYS_bind: return ::bind(i32(a), ptr<const struct sockaddr*>(b), static_cast<socklen_t>(c));
    case SYS_listen: return ::listen(i32(a), i32(b));
    case SYS_sendto:
      return ::sendto(i32(a), ptr<const void*>(b), sz(c), i32(d), ptr<const struct sockaddr*>(e),
                      static_cast<socklen_t>(f));
    case SYS_sendmsg: return ::sendmsg(i32(a), ptr<const struct msghdr*>(b), i32(c));
    case SYS_sendmmsg: return ::sendmmsg(i32(a), ptr<struct mmsghdr*>(b), u32(c), i32(d));
    case SYS_close: return ::close(i32(a));
    case SYS_close_range: return ::close_range(u32(a), u32(b), i32(c));
    case SYS_dup: return ::dup(i32(a));
    case SYS_dup2: return ::dup2(i32(a), i32(b));
    case SYS_dup3: return ::dup3(i32(a), i32(b), i32(c));
    // fcntl(F_DUPFD*) makes another reference to a counted socket, accept
    // and pipe make descriptors the fd table must see: a raw number would
    // otherwise leave the connection budget blind to them (THREATS 14).
    case SYS_fcntl: return ::fcntl(i32(a), i32(b), ptr<void*>(c));
    case SYS_accept: return ::accept(i32(a), ptr<struct sockaddr*>(b), ptr<socklen_t*>(c));
    case SYS_accept4: return ::accept4(i32(a), ptr<struct sockaddr*>(b), ptr<socklen_t*>(c), i32(d));
    case SYS_pipe: return ::pipe(ptr<int*>(a));
    case SYS_pipe2: return ::pipe2(ptr<int*>(a), i32(b));
    default: break;
  }
  return SB_REAL(syscall)(nr, a, b, c, d, e, f);
}
