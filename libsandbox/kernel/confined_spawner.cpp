// start_confined_thread(): request threads that inherit their seccomp filter
// from a spawner thread instead of compiling one each (see the header: the
// per-thread install costs ~0.25 ms here, inheriting it is free).
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <new>

#include "kernel_confine.hpp"
#include "seccomp_filters.hpp"

namespace tenant::kernel {
namespace {

struct Launch {
  const Confinement* confinement = nullptr;
  // Set: the spawner starts a DETACHED thread running raw(arg) with the
  // spawner's filter and an all-blocked signal mask, and no Landlock (the
  // pooled confined threads of confined_pool.cpp bind themselves later).
  void* (*raw)(void*) = nullptr;
  bool async = false;  // raw only: nobody waits; the spawner deletes the Launch
  void (*on_async_failure)(void*) = nullptr;  // async: pthread_create failed
  void* stack = nullptr;  // raw only: the caller's stack (joinable thread)
  std::size_t stack_size = 0;
  void* (*fn)(void*) = nullptr;
  void* arg = nullptr;
  sigset_t caller_mask{};
  pthread_t thread{};
  int create_rc = 0;
  int apply_rc = 0;
  bool created = false;  // spawner answered
  bool applied = false;  // the new thread answered
  std::mutex m;
  std::condition_variable cv;
};

struct Spawner {
  std::mutex m;
  std::condition_variable cv;
  std::deque<Launch*> queue;
  bool started = false;
  int start_rc = 0;  // 0, or -errno: the spawner could not install its filter
  bool exec_allowed = false;
};

// The new request thread: confine, tell the caller, then run the handler.
void* trampoline(void* p) {
  auto* l = static_cast<Launch*>(p);
  void* (*fn)(void*) = l->fn;
  void* arg = l->arg;
  const sigset_t mask = l->caller_mask;
  int rc = 0;
  if (l->confinement->private_fd_table() && ::unshare(CLONE_FILES) != 0) rc = -errno;
  if (rc == 0) rc = l->confinement->apply_landlock();
  {
    std::lock_guard<std::mutex> g(l->m);
    l->apply_rc = rc;
    l->applied = true;
    l->cv.notify_all();
  }
  // `l` belongs to the caller from here on.
  if (rc != 0) return nullptr;
  pthread_sigmask(SIG_SETMASK, &mask, nullptr);
  return fn(arg);
}

void* spawner_main(void* p) {
  auto* s = static_cast<Spawner*>(p);
  int rc = 0;
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) rc = -errno;
  if (rc == 0) rc = detail::install(detail::thread_filter(s->exec_allowed), 0);
  {
    std::lock_guard<std::mutex> g(s->m);
    s->start_rc = rc;
    s->started = true;
    s->cv.notify_all();
  }
  if (rc != 0) return nullptr;
  for (;;) {
    Launch* l = nullptr;
    {
      std::unique_lock<std::mutex> g(s->m);
      s->cv.wait(g, [s] { return !s->queue.empty(); });
      l = s->queue.front();
      s->queue.pop_front();
    }
    pthread_t t{};
    if (l->raw != nullptr) {
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      int crc = 0;
      if (l->stack != nullptr) {
        // A stack of the caller's (recycled after a join): glibc neither
        // mmaps one nor madvises it away when the thread exits.
        crc = pthread_attr_setstack(&attr, l->stack, l->stack_size);
      } else {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
      }
      if (crc == 0) crc = pthread_create(&t, &attr, l->raw, l->arg);
      pthread_attr_destroy(&attr);
      if (l->async) {
        // Nobody waits: tell the thread's owner through its argument.
        if (crc != 0 && l->on_async_failure != nullptr) l->on_async_failure(l->arg);
        delete l;
        continue;
      }
      std::lock_guard<std::mutex> g(l->m);
      l->create_rc = crc;
      l->created = true;
      l->cv.notify_all();
      continue;
    }
    const int crc = pthread_create(&t, nullptr, trampoline, l);
    std::lock_guard<std::mutex> g(l->m);
    l->thread = t;
    l->create_rc = crc;
    l->created = true;
    l->cv.notify_all();
  }
}

std::mutex g_spawners_mutex;
pid_t g_spawners_pid = 0;
Spawner* g_spawners[2] = {nullptr, nullptr};

// The spawner for this process and filter variant, started on first use.
// After fork the child has no spawner threads (and maybe a copied, locked
// mutex in the old objects): a pid change abandons them.
Spawner* spawner(bool exec_allowed, int& err) {
  std::lock_guard<std::mutex> g(g_spawners_mutex);
  const pid_t me = ::getpid();
  if (g_spawners_pid != me) {
    g_spawners[0] = g_spawners[1] = nullptr;  // leaked on purpose (inherited by fork)
    g_spawners_pid = me;
  }
  Spawner*& slot = g_spawners[exec_allowed ? 1 : 0];
  if (slot == nullptr) {
    auto* s = new (std::nothrow) Spawner();
    if (s == nullptr) {
      err = -ENOMEM;
      return nullptr;
    }
    s->exec_allowed = exec_allowed;
    // The spawner never takes a signal meant for the process; it blocks all,
    // and its threads start that way until the trampoline restores the
    // caller's mask.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t{};
    const int rc = pthread_create(&t, &attr, spawner_main, s);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (rc != 0) {
      delete s;
      err = -rc;
      return nullptr;
    }
    std::unique_lock<std::mutex> sg(s->m);
    s->cv.wait(sg, [s] { return s->started; });
    if (s->start_rc != 0) {
      err = s->start_rc;
      return nullptr;  // keep the dead spawner out of the slot; leak it
    }
    slot = s;
  }
  return slot;
}

}  // namespace

namespace detail {
int spawn_filtered_thread(bool exec_allowed, void* (*fn)(void*), void* arg, bool async,
                          void (*on_async_failure)(void*), void* stack, std::size_t stack_size) noexcept {
  try {
    if (fn == nullptr) return -EINVAL;
    if (!thread_filter(exec_allowed).error.empty()) return -EINVAL;
    int err = 0;
    Spawner* s = spawner(exec_allowed, err);
    if (s == nullptr) return err != 0 ? err : -EAGAIN;
    if (async) {
      auto* l = new Launch();
      l->raw = fn;
      l->arg = arg;
      l->async = true;
      l->on_async_failure = on_async_failure;
      l->stack = stack;
      l->stack_size = stack_size;
      std::lock_guard<std::mutex> g(s->m);
      s->queue.push_back(l);
      s->cv.notify_one();
      return 0;
    }
    Launch l;
    l.raw = fn;
    l.arg = arg;
    l.stack = stack;
    l.stack_size = stack_size;
    {
      std::lock_guard<std::mutex> g(s->m);
      s->queue.push_back(&l);
      s->cv.notify_one();
    }
    std::unique_lock<std::mutex> g(l.m);
    l.cv.wait(g, [&l] { return l.created; });
    return -l.create_rc;
  } catch (...) {
    return -ENOMEM;
  }
}
}  // namespace detail

int start_confined_thread(const Confinement& c, void* (*fn)(void*), void* arg, pthread_t* out) noexcept {
  try {
    if (fn == nullptr || out == nullptr) return -EINVAL;
    const detail::BpfProgram& prog = detail::thread_filter(c.exec_allowed());
    if (!prog.error.empty()) return -EINVAL;
    int err = 0;
    Spawner* s = spawner(c.exec_allowed(), err);
    if (s == nullptr) return err != 0 ? err : -EAGAIN;
    Launch l;
    l.confinement = &c;
    l.fn = fn;
    l.arg = arg;
    pthread_sigmask(SIG_SETMASK, nullptr, &l.caller_mask);
    {
      std::lock_guard<std::mutex> g(s->m);
      s->queue.push_back(&l);
      s->cv.notify_one();
    }
    std::unique_lock<std::mutex> g(l.m);
    l.cv.wait(g, [&l] { return l.created; });
    if (l.create_rc != 0) return -l.create_rc;
    l.cv.wait(g, [&l] { return l.applied; });
    if (l.apply_rc != 0) {
      g.unlock();
      pthread_join(l.thread, nullptr);
      return l.apply_rc;
    }
    *out = l.thread;
    return 0;
  } catch (...) {
    return -ENOMEM;
  }
}

}  // namespace tenant::kernel
