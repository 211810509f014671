// Threads and fork: a tenant follows its code into every thread and process
// it starts (THREATS 17, DESIGN.md "a thread started while a tenant is set
// inherits it").
#include <cerrno>
#include <cstdlib>
#include <new>

#include "internal.hpp"
#include "proc_common.hpp"

namespace {

struct ThreadStart {
  void* (*start)(void*);
  void* arg;
  sb::ActiveTenant* tenant;  // one reference, owned by the new thread
};

void release_thread_tenant(void*) noexcept {
  sb::ActiveTenant* t = sb::t_state.tenant;
  sb::t_state.tenant = nullptr;
  sb::release(t);
}

void* thread_trampoline(void* p) noexcept(false) {
  ThreadStart s = *static_cast<ThreadStart*>(p);
  std::free(p);
  sb::t_state.kind = sb::ThreadKind::System;
  sb::t_state.internal_depth = 0;
  sb::t_state.tenant = s.tenant;
  void* result = nullptr;
  // pthread_exit and cancellation unwind through here (glibc's forced
  // unwind runs the cleanup handler), so the reference is dropped on every
  // way out of the thread.
  pthread_cleanup_push(release_thread_tenant, nullptr);
  result = s.start(s.arg);
  pthread_cleanup_pop(1);
  return result;
}

}  // namespace

extern "C" int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*),
                              void* arg) noexcept {
  sb::ActiveTenant* t = sb::t_state.tenant;
  // libsandbox's own threads (the kernel layer's spawners and confined
  // threads, started inside InternalScope) carry no tenant of their own:
  // the confined threads take each job's tenant for the job only.
  if (sb::t_state.internal_depth != 0) {
    auto* own = static_cast<ThreadStart*>(std::malloc(sizeof(ThreadStart)));
    if (own == nullptr) return EAGAIN;
    *own = ThreadStart{start, arg, nullptr};
    const int rc = SB_REAL(pthread_create)(thread, attr, thread_trampoline, own);
    if (rc != 0) std::free(own);
    return rc;
  }
  // The creator's own tenant, or its effective one when it has none but is
  // an Unknown thread of a supervised process (g_deny_all): a thread started
  // from a thread without rights gets none either. A process tenant needs
  // no copy: sb::current() applies it to every thread.
  if (t == nullptr && sb::t_state.kind == sb::ThreadKind::Unknown &&
      sb::g_supervised.load(std::memory_order_relaxed) &&
      sb::g_process_tenant.load(std::memory_order_acquire) == nullptr)
    t = sb::g_deny_all;
  auto* s = static_cast<ThreadStart*>(std::malloc(sizeof(ThreadStart)));
  if (s == nullptr) return EAGAIN;
  if (t != nullptr && t != sb::g_deny_all) sb::retain(t);
  *s = ThreadStart{start, arg, t};
  const int rc = SB_REAL(pthread_create)(thread, attr, thread_trampoline, s);
  if (rc != 0) {
    std::free(s);
    sb::release(t);
  }
  return rc;
}

namespace {
// Common to fork and vfork. In the child, a thread that had a tenant makes
// it the process tenant: a process started from a tenant is that tenant for
// its whole life (DESIGN.md), so even the claimant's code in the child can
// no longer clear it -- a forked Apache worker that tries fails its clear
// and exits instead of serving another tenant.
pid_t checked_fork() noexcept {
  sb::ActiveTenant* t = sb::t_state.tenant;
  sb::net::before_fork();
  const pid_t pid = SB_REAL(fork)();
  if (pid == 0) {
    sb::net::after_fork(true);
    sb::proc::forget_children();
    if (t != nullptr && sb::g_process_tenant.load(std::memory_order_relaxed) == nullptr) {
      sb::retain(t);  // the process tenant's reference; the thread keeps its own
      t->locked = true;
      sb::g_process_tenant.store(t, std::memory_order_release);
      sb::g_supervised.store(true, std::memory_order_release);
    }
    return 0;
  }
  {
    sb::ErrnoKeeper keep;
    sb::net::after_fork(false);
    if (pid > 0) {
      if (sb::ActiveTenant* c = sb::current(); c != nullptr) sb::proc::note_child(pid, c);
    }
  }
  return pid;
}
}  // namespace

extern "C" pid_t fork(void) noexcept { return checked_fork(); }

// vfork is a fork here. A real vfork child shares the parent's stack and
// memory until it execs; returning from this wrapper's frame in the child
// and then calling further wrappers (exec, which allocates the child's
// environment) would overwrite the frame the parent resumes in -- undefined
// behaviour. POSIX allows vfork to be fork; the cost is one copy-on-write
// address space per spawn, and glibc's own spawns (posix_spawn, system,
// popen) use clone(CLONE_VFORK) internally and do not come here.
extern "C" pid_t vfork(void) noexcept { return checked_fork(); }
