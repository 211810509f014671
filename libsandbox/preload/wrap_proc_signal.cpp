// Signals and process inspection between same-uid processes (THREATS 20).
// A tenant may signal its own process and the children it started; every
// process group form (pid 0, pid < -1, killpg: in prefork all workers share
// the parent's group) and pid -1 (every process of this uid: every Apache
// worker) is refused. ptrace and process_vm_readv/writev are refused
// outright: reading another worker's memory reads another tenant's request.
//
// errno: the kernel answers a forbidden signal or ptrace with EPERM, but a
// rule denial of libsandbox fails with EACCES everywhere (DESIGN.md "What a
// denial looks like"), and operators grep for it together with the log line
// sb::refuse writes; so these fail with EACCES too.
#include <fcntl.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "internal.hpp"
#include "proc_common.hpp"

namespace {

bool refuse_signal(sb::ActiveTenant& t, const char* op, long target) noexcept {
  char text[48];
  std::snprintf(text, sizeof text, "pid:%ld", target);
  return sb::refuse(t, op, tenant::Need::Send, text, EACCES,
                    target <= 0 ? "signals to process groups or every process are never allowed"
                                : "not this process or a child the tenant started");
}

}  // namespace

extern "C" int kill(pid_t pid, int sig) noexcept {
  sb::ActiveTenant* t = sb::current();
  if (t == nullptr || sb::proc::may_signal(*t, pid)) return SB_REAL(kill)(pid, sig);
  if (refuse_signal(*t, "kill", pid)) return sb::fail(EACCES);
  return SB_REAL(kill)(pid, sig);
}

extern "C" int killpg(int pgrp, int sig) noexcept {
  sb::ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(killpg)(pgrp, sig);
  if (refuse_signal(*t, "killpg", -static_cast<long>(pgrp))) return sb::fail(EACCES);
  return SB_REAL(killpg)(pgrp, sig);
}

extern "C" int sigqueue(pid_t pid, int sig, const union sigval value) noexcept {
  sb::ActiveTenant* t = sb::current();
  if (t == nullptr || sb::proc::may_signal(*t, pid)) return SB_REAL(sigqueue)(pid, sig, value);
  if (refuse_signal(*t, "sigqueue", pid)) return sb::fail(EACCES);
  return SB_REAL(sigqueue)(pid, sig, value);
}

extern "C" int tgkill(pid_t tgid, pid_t tid, int sig) noexcept {
  sb::ActiveTenant* t = sb::current();
  if (t == nullptr || sb::proc::may_signal(*t, tgid)) return SB_REAL(tgkill)(tgid, tid, sig);
  if (refuse_signal(*t, "tgkill", tgid)) return sb::fail(EACCES);
  return SB_REAL(tgkill)(tgid, tid, sig);
}

extern "C" long ptrace(enum __ptrace_request request, ...) noexcept {
  va_list ap;
  va_start(ap, request);
  const auto pid = va_arg(ap, pid_t);
  void* addr = va_arg(ap, void*);
  void* data = va_arg(ap, void*);
  va_end(ap);
  if (sb::ActiveTenant* t = sb::current(); t != nullptr) {
    char text[48];
    std::snprintf(text, sizeof text, "pid:%d", static_cast<int>(pid));
    if (sb::refuse(*t, "ptrace", tenant::Need::Send, text, EACCES, "ptrace is never allowed to a tenant"))
      return sb::fail(EACCES);
  }
  return SB_REAL(ptrace)(request, pid, addr, data);
}

namespace {
ssize_t vm_refused(const char* op, pid_t pid) noexcept {
  sb::ActiveTenant* t = sb::current();
  if (t == nullptr) return 0;
  char text[48];
  std::snprintf(text, sizeof text, "pid:%d", static_cast<int>(pid));
  return sb::refuse(*t, op, tenant::Need::Read, text, EACCES, "cross-process memory access is never allowed to a tenant")
             ? -1
             : 0;
}
}  // namespace

extern "C" ssize_t process_vm_readv(pid_t pid, const struct iovec* local, unsigned long liovcnt,
                                    const struct iovec* remote, unsigned long riovcnt, unsigned long flags) noexcept {
  if (vm_refused("process_vm_readv", pid) != 0) return sb::fail(EACCES);
  return SB_REAL(process_vm_readv)(pid, local, liovcnt, remote, riovcnt, flags);
}

extern "C" ssize_t process_vm_writev(pid_t pid, const struct iovec* local, unsigned long liovcnt,
                                     const struct iovec* remote, unsigned long riovcnt, unsigned long flags) noexcept {
  if (vm_refused("process_vm_writev", pid) != 0) return sb::fail(EACCES);
  return SB_REAL(process_vm_writev)(pid, local, liovcnt, remote, riovcnt, flags);
}

// ---- pidfds -------------------------------------------------------------------
// A pidfd is a handle on a process: pidfd_send_signal signals through it
// without kill(), pidfd_getfd copies a descriptor out of the process (a
// sibling worker's client socket or log fd). A tenant may open pidfds only
// for processes it may signal, may signal only those, and may never take
// descriptors from another process.
namespace sb::proc {
// The process a pidfd (or an open /proc/PID directory, which
// pidfd_send_signal also accepts) refers to, or -1.
pid_t pid_of_pidfd(int fd) noexcept {
  InternalScope internal;
  ErrnoKeeper keep;
  char path[64], buf[1024];
  std::snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
  const int info = SB_REAL(open)(path, O_RDONLY | O_CLOEXEC);
  if (info >= 0) {
    const ssize_t n = ::read(info, buf, sizeof buf - 1);
    SB_REAL(close)(info);
    if (n > 0) {
      buf[n] = '\0';
      if (const char* p = std::strstr(buf, "\nPid:"); p != nullptr) return static_cast<pid_t>(std::strtol(p + 5, nullptr, 10));
    }
  }
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  const ssize_t n = SB_REAL(readlink)(path, buf, sizeof buf - 1);
  if (n > 6) {
    buf[n] = '\0';
    if (std::strncmp(buf, "/proc/", 6) == 0) {
      char* end = nullptr;
      const long pid = std::strtol(buf + 6, &end, 10);
      if (end != buf + 6 && *end == '\0' && pid > 0) return static_cast<pid_t>(pid);
    }
  }
  return -1;
}
}  // namespace sb::proc

extern "C" int pidfd_open(pid_t pid, unsigned int flags) noexcept {
  sb::ActiveTenant* t = sb::current();
  if (t == nullptr || sb::proc::may_signal(*t, pid)) return SB_REAL(pidfd_open)(pid, flags);
  if (refuse_signal(*t, "pidfd_open", pid)) return sb::fail(EACCES);
  return SB_REAL(pidfd_open)(pid, flags);
}

extern "C" int pidfd_send_signal(int pidfd, int sig, siginfo_t* info, unsigned int flags) noexcept {
  sb::ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(pidfd_send_signal)(pidfd, sig, info, flags);
  const pid_t pid = sb::proc::pid_of_pidfd(pidfd);
  if (pid > 0 && sb::proc::may_signal(*t, pid)) return SB_REAL(pidfd_send_signal)(pidfd, sig, info, flags);
  if (refuse_signal(*t, "pidfd_send_signal", pid > 0 ? pid : 0)) return sb::fail(EACCES);
  return SB_REAL(pidfd_send_signal)(pidfd, sig, info, flags);
}

extern "C" int pidfd_getfd(int pidfd, int targetfd, unsigned int flags) noexcept {
  if (sb::ActiveTenant* t = sb::current(); t != nullptr) {
    char text[48];
    std::snprintf(text, sizeof text, "pidfd:%d fd:%d", pidfd, targetfd);
    if (sb::refuse(*t, "pidfd_getfd", tenant::Need::Read, text, EACCES,
                   "taking descriptors from another process is never allowed to a tenant"))
      return sb::fail(EACCES);
  }
  return SB_REAL(pidfd_getfd)(pidfd, targetfd, flags);
}
