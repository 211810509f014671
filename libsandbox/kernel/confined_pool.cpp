// run_on_tenant_thread(): long-lived confined threads, one per (process,
// tenant), reused across requests. See kernel_confine.hpp for why and for
// the security invariants; the comments below say where each one is kept.
//
// Hand-over: one 32-bit futex word per thread (Slot::state). The caller
// writes the job, stores JOB and wakes; the thread runs it, stores DONE and
// wakes; the caller reads the result and stores IDLE. Two futex wakes and at
// most two waits per request, no mutex on the hand-over itself, and no
// pthread condition variable anywhere: a parked thread is a thread blocked
// in FUTEX_WAIT, which exit_group() simply ends (a static
// std::condition_variable made exit() wait 12 s for its waiters before).
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/futex.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#include "kernel_confine.hpp"
#include "seccomp_filters.hpp"

namespace tenant::kernel {
namespace {

constexpr std::uint32_t kIdle = 0;
constexpr std::uint32_t kJob = 1;
constexpr std::uint32_t kDone = 2;
constexpr std::uint32_t kExit = 3;
constexpr std::uint32_t kStarting = 4;
constexpr std::size_t kTenantMax = 64;  // DESIGN.md: ids are 1-64 characters

// The futex calls go straight to the kernel: libsandbox interposes
// syscall(3), and these run on threads that may carry a tenant tag; an
// inline system call has no PLT slot anyone could hook or refuse.
long futex(std::atomic<std::uint32_t>* addr, int op, std::uint32_t val) noexcept {
#if defined(__x86_64__)
  long ret;
  register long r10 __asm__("r10") = 0;  // no timeout
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "0"(static_cast<long>(SYS_futex)), "D"(addr), "S"(static_cast<long>(op)),
                     "d"(static_cast<long>(val)), "r"(r10)
                   : "rcx", "r11", "memory");
  return ret;
#else
  return ::syscall(SYS_futex, addr, op, val, nullptr, nullptr, 0);
#endif
}
void wait_while(std::atomic<std::uint32_t>& a, std::uint32_t v) noexcept {
  while (a.load(std::memory_order_acquire) == v) futex(&a, FUTEX_WAIT_PRIVATE, v);
}
void wake(std::atomic<std::uint32_t>& a) noexcept { futex(&a, FUTEX_WAKE_PRIVATE, 1); }

struct Slot {
  std::atomic<std::uint32_t> state{kStarting};
  // The job (written by the caller before JOB, read by the thread).
  const Confinement* bind = nullptr;  // non-null: bind the thread with it first
  const char* job_tenant = nullptr;
  void* (*fn)(void*) = nullptr;
  void* arg = nullptr;
  // The result (written by the thread before DONE).
  int rc = 0;
  bool retire = false;
  // Pool side, guarded by Pool::m. `tenant` is only the lookup key; what
  // the thread enforces is its own copy (thread_main).
  bool exec_allowed = false;
  bool reserved = false;  // started for a waiting caller: not a spare
  bool one_shot = false;  // bound for one request, then retired (not in `bound`)
  void* stack = nullptr;  // ours (StackPool); the thread is joinable
  pthread_t self{};       // written by the thread before it first goes idle
  bool busy = false;
  bool forgotten = false;  // pool_forget_tenant: retire after the current job
  std::uint64_t last_use = 0;
  char tenant[kTenantMax + 1] = {};
};

// Thread stacks, recycled. A thread that exits on a stack glibc allocated
// has its stack madvise(MADV_DONTNEED)'d by glibc -- a TLB shootdown IPI to
// every other CPU that ran the process (measured: ~10% of the worker's
// time with requests spread over 100 tenants). On a stack we pass in
// (pthread_attr_setstack) glibc does neither mmap nor madvise; we reuse it
// once the thread that ran on it is joined (pthread_tryjoin_np: the kernel
// clears the tid when the thread is gone, CLONE_CHILD_CLEARTID).
struct Retired {
  pthread_t thread;
  void* stack;
};
std::size_t stack_bytes() noexcept {
  static const std::size_t n = [] {
    std::size_t size = 8u << 20;
    pthread_attr_t a;
    if (pthread_getattr_default_np(&a) == 0) {
      std::size_t d = 0;
      if (pthread_attr_getstacksize(&a, &d) == 0 && d >= (256u << 10)) size = d;
      pthread_attr_destroy(&a);
    }
    return (size + 4095) & ~static_cast<std::size_t>(4095);
  }();
  return n;
}
constexpr std::size_t kGuard = 4096;

struct Pool {
  std::mutex m;
  std::vector<Retired> retired;  // exited or exiting, not joined yet
  std::vector<void*> stacks;     // free (usable part, after the guard page)
  pid_t pid = 0;
  std::vector<Slot*> bound;
  std::vector<Slot*> spares[2];
  unsigned pending[2] = {0, 0};  // asynchronous spare starts in flight
  std::uint64_t clock = 0;
  PoolOptions opts;
  PoolStats stats;
  // Admission doorkeeper: hashes of the last tenants that missed while the
  // pool was full (ring). 0 = empty slot.
  std::uint64_t seen[64] = {};
  unsigned seen_next = 0;
};

std::uint64_t tenant_hash(const char* id) noexcept {
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a
  for (; *id != '\0'; ++id) {
    h ^= static_cast<unsigned char>(*id);
    h *= 1099511628211ull;
  }
  return h | 1;  // never 0 (the empty slot)
}

// Under p.m: true when `h` missed lately (and forget it: it is admitted
// now); else remember it and return false.
bool seen_before_locked(Pool& p, std::uint64_t h) noexcept {
  for (std::uint64_t& e : p.seen) {
    if (e == h) {
      e = 0;
      return true;
    }
  }
  p.seen[p.seen_next] = h;
  p.seen_next = (p.seen_next + 1) % 64;
  return false;
}

// Heap-allocated and never destroyed: no static destructor runs at exit()
// while threads are parked (they hold pointers into it only under m).
Pool& pool() noexcept {
  static Pool* p = new (std::nothrow) Pool();
  return *p;
}

// Under p.m: a stack for a new thread, or nullptr (then glibc's own).
void* take_stack_locked(Pool& p) noexcept {
  for (std::size_t i = 0; i < p.retired.size();) {
    if (pthread_tryjoin_np(p.retired[i].thread, nullptr) == 0) {
      try {
        p.stacks.push_back(p.retired[i].stack);
      } catch (...) {
      }
      p.retired[i] = p.retired.back();
      p.retired.pop_back();
    } else {
      ++i;
    }
  }
  if (!p.stacks.empty()) {
    void* st = p.stacks.back();
    p.stacks.pop_back();
    return st;
  }
  // Reserve address space only (MAP_NORESERVE); pages come on first touch,
  // as with glibc's stacks. A PROT_NONE guard page below catches overflow.
  void* m = ::mmap(nullptr, stack_bytes() + kGuard, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  if (::mprotect(m, kGuard, PROT_NONE) != 0) {
    ::munmap(m, stack_bytes() + kGuard);
    return nullptr;
  }
  return static_cast<char*>(m) + kGuard;
}

void give_back_stack_locked(Pool& p, void* st) noexcept {
  if (st == nullptr) return;
  try {
    p.stacks.push_back(st);
  } catch (...) {
  }
}

// After fork() the child has none of the threads; the vectors are the
// parent's. Abandon them (leaked on purpose: a spare of the parent could
// still be registering itself in the parent's copy, never in ours).
void check_pid(Pool& p) noexcept {
  const pid_t me = ::getpid();
  if (p.pid == me) return;
  p.pid = me;
  p.bound.clear();
  p.spares[0].clear();
  p.spares[1].clear();
  p.pending[0] = p.pending[1] = 0;
  p.stats = PoolStats{};
  for (std::uint64_t& e : p.seen) e = 0;
  // The parent's threads' stacks: nobody to join in this process. Their
  // memory is a copy in ours; leave it (a fork of a worker execs soon).
  p.retired.clear();
  p.stacks.clear();
}

void* thread_main(void* arg) {
  auto* s = static_cast<Slot*>(arg);
  // The tenant this thread is bound to, in the thread's own memory: the
  // pool-side key in the Slot could be rewritten by a bug; this cannot be
  // changed by anyone but this thread, and it is set exactly once.
  char mine[kTenantMax + 1] = {};
  bool bound = false;
  s->self = pthread_self();
  // Idle before anyone can hand us a job: a spare becomes visible to
  // callers only below, and a reserved thread's creator waits for this.
  s->state.store(kIdle, std::memory_order_release);
  wake(s->state);
  if (!s->reserved) {
    Pool& p = pool();
    std::lock_guard<std::mutex> g(p.m);
    const int v = s->exec_allowed ? 1 : 0;
    if (p.pending[v] > 0) --p.pending[v];
    bool kept = false;
    if (p.pid == ::getpid()) {
      try {
        p.spares[v].push_back(s);
        kept = true;
      } catch (...) {
      }
    }
    if (!kept) {
      if (s->stack != nullptr && p.pid == ::getpid()) {
        try {
          p.retired.push_back(Retired{s->self, s->stack});
        } catch (...) {
        }
      }
      delete s;
      return nullptr;
    }
  }
  for (;;) {
    const std::uint32_t st = s->state.load(std::memory_order_acquire);
    if (st == kExit) {
      delete s;
      return nullptr;
    }
    if (st != kJob) {
      futex(&s->state, FUTEX_WAIT_PRIVATE, st);
      continue;
    }
    int rc = 0;
    if (!bound) {
      // Invariant: a spare runs nothing before it is confined.
      if (s->bind == nullptr || s->job_tenant == nullptr) {
        rc = -EINVAL;
      } else {
        rc = s->bind->apply_landlock();
        if (rc == 0) {
          std::strncpy(mine, s->job_tenant, kTenantMax);
          bound = true;
        }
      }
    } else if (s->bind != nullptr) {
      // Invariant: never a second ruleset, never a second tenant.
      rc = -EINVAL;
    }
    if (rc == 0 && (s->job_tenant == nullptr || std::strncmp(mine, s->job_tenant, kTenantMax + 1) != 0))
      rc = -EPERM;
    void* ret = nullptr;
    if (rc == 0) ret = s->fn(s->arg);
    s->rc = rc;
    s->retire = rc != 0 || ret != nullptr;
    s->state.store(kDone, std::memory_order_release);
    wake(s->state);
    // A thread that failed to bind (half confined, or not at all) is
    // retired by the caller: it only waits for kExit from here on.
  }
}

void spare_failed(void* arg) {
  auto* s = static_cast<Slot*>(arg);
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> g(p.m);
    const int v = s->exec_allowed ? 1 : 0;
    if (p.pending[v] > 0) --p.pending[v];
    give_back_stack_locked(p, s->stack);
  }
  delete s;
}

// Under p.m: ask the spawner for spares until the target is met.
void refill_locked(Pool& p, bool exec_allowed) noexcept {
  const int v = exec_allowed ? 1 : 0;
  while (p.spares[v].size() + p.pending[v] < p.opts.spares) {
    auto* s = new (std::nothrow) Slot();
    if (s == nullptr) return;
    s->exec_allowed = exec_allowed;
    s->stack = take_stack_locked(p);
    ++p.pending[v];
    if (detail::spawn_filtered_thread(exec_allowed, thread_main, s, true, spare_failed, s->stack,
                                      stack_bytes()) != 0) {
      --p.pending[v];
      give_back_stack_locked(p, s->stack);
      delete s;
      return;
    }
  }
}

// Under p.m, before retire(): remember the thread so its stack comes back.
void note_retired_locked(Pool& p, Slot* s) noexcept {
  if (s->stack == nullptr) return;  // glibc's stack, detached thread
  try {
    p.retired.push_back(Retired{s->self, s->stack});
  } catch (...) {
    // Never joined: the stack and the thread's descriptor stay (a leak of
    // one stack), nothing unsafe.
  }
}

void retire(Slot* s) noexcept {
  s->state.store(kExit, std::memory_order_release);
  wake(s->state);  // s may be gone already: a stray wake on freed memory is harmless
}

// Under p.m: evict least recently used idle bound threads over the limit.
void trim_locked(Pool& p, std::vector<Slot*>& out) {
  while (p.bound.size() > p.opts.max_threads) {
    std::size_t victim = p.bound.size();
    for (std::size_t i = 0; i < p.bound.size(); ++i) {
      if (p.bound[i]->busy) continue;
      if (victim == p.bound.size() || p.bound[i]->last_use < p.bound[victim]->last_use) victim = i;
    }
    if (victim == p.bound.size()) return;  // all busy (threaded MPM burst)
    out.push_back(p.bound[victim]);
    note_retired_locked(p, p.bound[victim]);
    p.bound.erase(p.bound.begin() + static_cast<std::ptrdiff_t>(victim));
    ++p.stats.evictions;
  }
}

}  // namespace

void set_pool_options(const PoolOptions& o) noexcept {
  Pool& p = pool();
  std::lock_guard<std::mutex> g(p.m);
  p.opts = o;
}

void pool_prewarm() noexcept {
  Pool& p = pool();
  std::lock_guard<std::mutex> g(p.m);
  check_pid(p);
  if (p.opts.max_threads == 0) return;
  refill_locked(p, false);
  refill_locked(p, true);
}

PoolStats pool_stats() noexcept {
  Pool& p = pool();
  std::lock_guard<std::mutex> g(p.m);
  PoolStats s = p.stats;
  s.threads = p.bound.size();
  return s;
}

namespace {
int run_fresh(const Confinement& c, void* (*fn)(void*), void* arg) noexcept {
  pthread_t t{};
  const int rc = start_confined_thread(c, fn, arg, &t);
  if (rc != 0) return rc;
  pthread_join(t, nullptr);
  return 0;
}
}  // namespace

int run_on_tenant_thread(const char* tenant, const Confinement& c, void* (*fn)(void*), void* arg) noexcept {
  try {
    if (tenant == nullptr || fn == nullptr) return -EINVAL;
    const std::size_t len = std::strlen(tenant);
    if (len == 0 || len > kTenantMax) return -EINVAL;
    Pool& p = pool();
    if (c.private_fd_table()) return run_fresh(c, fn, arg);
    const bool ex = c.exec_allowed();
    const int v = ex ? 1 : 0;
    Slot* s = nullptr;
    bool bind = false;
    bool pooled = false;
    bool unpooled = false;
    std::vector<Slot*> evicted;
    {
      std::lock_guard<std::mutex> g(p.m);
      check_pid(p);
      pooled = p.opts.max_threads != 0;
      if (pooled) {
        ++p.clock;
        for (Slot* b : p.bound) {
          if (!b->busy && b->exec_allowed == ex && std::strcmp(b->tenant, tenant) == 0) {
            s = b;
            break;
          }
        }
        if (s == nullptr && p.bound.size() >= p.opts.max_threads &&
            !seen_before_locked(p, tenant_hash(tenant))) {
          ++p.stats.fresh;
          // Not admitted: a ready spare runs this one request and exits
          // (no clone on this path, our recycled stack); without a spare,
          // start_confined_thread.
          if (!p.spares[v].empty()) {
            s = p.spares[v].back();
            p.spares[v].pop_back();
            ++p.stats.spare_used;
            s->busy = true;
            s->one_shot = true;
            bind = true;
            refill_locked(p, ex);
          } else {
            unpooled = true;
          }
        } else if (s != nullptr) {
          ++p.stats.hits;
        } else {
          ++p.stats.misses;
          bind = true;
          if (!p.spares[v].empty()) {
            s = p.spares[v].back();
            p.spares[v].pop_back();
            ++p.stats.spare_used;
          }
          refill_locked(p, ex);
        }
        if (s != nullptr && !s->one_shot) {
          s->busy = true;
          s->last_use = p.clock;
          if (bind) {
            std::memcpy(s->tenant, tenant, len + 1);
            p.bound.push_back(s);
            trim_locked(p, evicted);
          }
        }
      }
    }
    // Pooling off, or a tenant not admitted into a full pool: a fresh
    // confined thread for this request only (it exits after it).
    if (!pooled || unpooled) return run_fresh(c, fn, arg);
    for (Slot* e : evicted) retire(e);
    evicted.clear();
    if (s == nullptr) {
      // No spare ready (first miss of a variant, or a burst): start one now
      // and wait for it.
      auto* fresh = new Slot();
      fresh->exec_allowed = ex;
      fresh->reserved = true;
      fresh->busy = true;
      std::memcpy(fresh->tenant, tenant, len + 1);
      {
        std::lock_guard<std::mutex> g(p.m);
        fresh->stack = take_stack_locked(p);
      }
      const int rc =
          detail::spawn_filtered_thread(ex, thread_main, fresh, false, nullptr, fresh->stack, stack_bytes());
      if (rc != 0) {
        std::lock_guard<std::mutex> g(p.m);
        give_back_stack_locked(p, fresh->stack);
        delete fresh;
        return rc;
      }
      wait_while(fresh->state, kStarting);
      s = fresh;
      std::lock_guard<std::mutex> g(p.m);
      s->last_use = ++p.clock;
      p.bound.push_back(s);
      trim_locked(p, evicted);
    }
    for (Slot* e : evicted) retire(e);
    evicted.clear();

    // The hand-over. The thread is ours (busy) until we store kIdle.
    s->bind = bind ? &c : nullptr;
    s->job_tenant = tenant;
    s->fn = fn;
    s->arg = arg;
    s->state.store(kJob, std::memory_order_release);
    wake(s->state);
    wait_while(s->state, kJob);
    const int rc = s->rc;
    bool gone = s->retire || s->one_shot;
    s->bind = nullptr;
    s->job_tenant = nullptr;
    {
      std::lock_guard<std::mutex> g(p.m);
      s->busy = false;
      if (s->forgotten) gone = true;
      if (gone) {
        for (std::size_t i = 0; i < p.bound.size(); ++i) {
          if (p.bound[i] == s) {
            p.bound.erase(p.bound.begin() + static_cast<std::ptrdiff_t>(i));
            break;
          }
        }
        if (!s->one_shot) ++p.stats.evictions;
        note_retired_locked(p, s);
      } else {
        s->state.store(kIdle, std::memory_order_release);
      }
      trim_locked(p, evicted);
    }
    if (gone) retire(s);
    for (Slot* e : evicted) retire(e);
    return rc;
  } catch (...) {
    return -ENOMEM;
  }
}

void pool_forget_tenant(const char* tenant) noexcept {
  if (tenant == nullptr) return;
  Pool& p = pool();
  std::vector<Slot*> idle;
  {
    std::lock_guard<std::mutex> g(p.m);
    check_pid(p);
    for (std::size_t i = 0; i < p.bound.size();) {
      Slot* s = p.bound[i];
      if (std::strcmp(s->tenant, tenant) != 0) {
        ++i;
        continue;
      }
      if (s->busy) {
        s->forgotten = true;
        ++i;
        continue;
      }
      try {
        idle.push_back(s);
      } catch (...) {
        s->forgotten = true;  // retired after its next job instead
        ++i;
        continue;
      }
      note_retired_locked(p, s);
      p.bound.erase(p.bound.begin() + static_cast<std::ptrdiff_t>(i));
      ++p.stats.evictions;
    }
  }
  for (Slot* s : idle) retire(s);
}

}  // namespace tenant::kernel
