// noexcept extern "C" layer over tenant_kernel for mod_tenant_tag (see
// tt_kernel.h). Nothing throws across this boundary; every failure comes
// back as -errno with a text, and the C glue answers 503 (never unconfined).
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kernel_confine.hpp"
#include "tenant/context.hpp"
#include "tenant/policy.hpp"
#include "tt_kernel.h"

namespace {

namespace k = tenant::kernel;

void put(char* out, std::size_t len, const std::string& text) noexcept {
  if (out == nullptr || len == 0) return;
  std::snprintf(out, len, "%s", text.c_str());
}

// The policy the rulesets are built from. Loaded in the parent (post_config)
// and inherited by every worker, as libsandbox's own copy is; a reload that
// fails keeps the old one, as libsandbox does.
std::mutex g_mutex;  // guards everything below (threaded MPMs)
std::shared_ptr<const tenant::Policy> g_policy;

// Per-worker cache of pinned Confinements, one per recently seen tenant:
// a pinned ruleset turns the per-request cost into thread creation +
// landlock_restrict_self (README of tenant_kernel: ~25 us instead of ~200).
// Room for a host's busy tenants: a miss here costs ~200-270 us (the
// ruleset is built again, ~22 rules x 3 system calls), a miss in the
// thread pool (run_on_tenant_thread) only a thread bind. Entries that find
// no room in the pinned fd range (reserved_fd_floor: 64 or 256 fds) are
// used for one request and not kept.
struct Entry {
  std::string tenant;
  std::shared_ptr<k::Confinement> confinement;
  std::uint64_t last_use = 0;
};
constexpr std::size_t kCacheMax = 128;
std::vector<Entry> g_cache;
std::uint64_t g_clock = 0;

// What every confined thread needs besides the tenant's own paths:
// libsandbox.so (an exec'd child's loader maps it through LD_PRELOAD) and
// the state directory (children's libsandbox opens the connection budget
// map there). Writable state means raw system calls can tamper with the
// budget map -- a preload-layer feature the kernel cannot express anyway.
k::ConfineOptions confine_options() {
  k::ConfineOptions o;
  Dl_info info{};
  void* sym = ::dlsym(RTLD_DEFAULT, "sandbox_set_tenant");
  if (sym != nullptr && ::dladdr(sym, &info) != 0 && info.dli_fname != nullptr && info.dli_fname[0] == '/')
    o.extra_read_only.emplace_back(info.dli_fname);
  const char* state = std::getenv("TENANT_SANDBOX_STATE_DIR");
  o.extra_read_write.emplace_back(state != nullptr && state[0] == '/' ? state : "/run/tenant-sandbox");
  return o;
}

// Confinement::prepare() opens every rule's path (O_PATH) and pin() dups
// the ruleset fd. Called from the request's thread, those calls would be
// judged by libsandbox as the request's tenant (its tag is set since
// post_read_request) and refused -- /etc/passwd, libsandbox.so, the state
// dir... would silently get no rule. So they run on a preparer thread
// started in child_init, which carries no tenant tag.
struct PrepareJob {
  std::string tenant;
  std::shared_ptr<const tenant::Policy> policy;
  std::shared_ptr<k::Confinement> result;
  bool pinned = false;
  std::string err;
  bool done = false;
};
// Heap-allocated and never destroyed: the preparer thread waits on the
// condition variable for the life of the process, and glibc's
// pthread_cond_destroy (run by a static destructor at exit) blocks until
// its waiters are gone -- a worker would hang in exit() on graceful restart.
struct PrepState {
  std::mutex m;
  std::condition_variable cv;
  std::deque<PrepareJob*> queue;
};
PrepState& prep() {
  static PrepState* s = new PrepState();  // leaked on purpose (above)
  return *s;
}
#define g_prep_mutex (prep().m)
#define g_prep_cv (prep().cv)
#define g_prep_queue (prep().queue)
pid_t g_prep_pid = 0;  // the process whose preparer runs (fork leaves none behind)

void prepare_now(PrepareJob& job) {
  auto ctx = tenant::TenantContext::create(*job.policy, job.tenant);
  if (!ctx) {
    job.err = "tenant " + job.tenant + ": " + ctx.error().str();
    return;
  }
  auto prepared = k::Confinement::prepare(*ctx.value(), confine_options());
  if (!prepared) {
    job.err = prepared.error().str();
    return;
  }
  job.result.reset(std::move(prepared).value().release());
  job.pinned = job.result->pin() == 0;
}

void* preparer_main(void*) {
  for (;;) {
    PrepareJob* job = nullptr;
    {
      std::unique_lock<std::mutex> g(g_prep_mutex);
      g_prep_cv.wait(g, [] { return !g_prep_queue.empty(); });
      job = g_prep_queue.front();
      g_prep_queue.pop_front();
    }
    try {
      prepare_now(*job);
    } catch (...) {
      job->result.reset();
      job->err = "out of memory preparing the confinement";
    }
    std::lock_guard<std::mutex> g(g_prep_mutex);
    job->done = true;
    g_prep_cv.notify_all();
  }
}

int start_preparer() {
  std::lock_guard<std::mutex> g(g_prep_mutex);
  if (g_prep_pid == ::getpid()) return 0;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // never takes the process's signals
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t{};
  const int rc = pthread_create(&t, &attr, preparer_main, nullptr);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (rc != 0) return -rc;
  g_prep_queue.clear();
  g_prep_pid = ::getpid();
  return 0;
}

// nullptr with err set when the tenant is not admitted or prepare failed.
// *fresh: built now (the caller logs its report once).
std::shared_ptr<k::Confinement> confinement_for(const char* tenant, std::string& err, bool& fresh) {
  fresh = false;
  std::shared_ptr<const tenant::Policy> policy;
  {
    std::lock_guard<std::mutex> g(g_mutex);
    ++g_clock;
    for (Entry& e : g_cache) {
      if (e.tenant == tenant) {
        e.last_use = g_clock;
        return e.confinement;
      }
    }
    policy = g_policy;
  }
  if (!policy) {
    err = "no policy loaded for the kernel layer";
    return nullptr;
  }
  PrepareJob job;
  job.tenant = tenant;
  job.policy = policy;
  {
    std::unique_lock<std::mutex> g(g_prep_mutex);
    if (g_prep_pid != ::getpid()) {
      err = "no preparer thread in this process (child_init did not run)";
      return nullptr;
    }
    g_prep_queue.push_back(&job);
    g_prep_cv.notify_all();
    g_prep_cv.wait(g, [&job] { return job.done; });
  }
  if (!job.result) {
    err = job.err;
    return nullptr;
  }
  std::shared_ptr<k::Confinement> c = std::move(job.result);
  fresh = true;
  // Not pinned (no room in the reserved range): used for this request only.
  if (!job.pinned) return c;
  std::lock_guard<std::mutex> g(g_mutex);
  if (g_cache.size() >= kCacheMax) {
    auto oldest = std::min_element(g_cache.begin(), g_cache.end(),
                                   [](const Entry& a, const Entry& b) { return a.last_use < b.last_use; });
    g_cache.erase(oldest);  // a thread still using it holds its own reference
  }
  g_cache.push_back(Entry{tenant, c, g_clock});
  return c;
}

void* warm_noop(void*) { return nullptr; }

}  // namespace

extern "C" int tt_kernel_load_policy(const char* path, char* err, std::size_t errlen) noexcept {
  try {
    auto loaded = tenant::Policy::load_file(path);
    if (!loaded) {
      std::string text;
      for (const auto& e : loaded.error()) text += (text.empty() ? "" : "; ") + e.str();
      put(err, errlen, text);
      return -1;
    }
    std::lock_guard<std::mutex> g(g_mutex);
    g_policy = std::move(loaded).value();
    g_cache.clear();  // rulesets of the old policy
    return 0;
  } catch (...) {
    put(err, errlen, "out of memory loading the policy");
    return -1;
  }
}

extern "C" void tt_kernel_support(char* out, std::size_t outlen) noexcept {
  try {
    put(out, outlen, k::probe().describe());
  } catch (...) {
    put(out, outlen, "(unknown)");
  }
}

extern "C" int tt_kernel_baseline(char* out, std::size_t outlen) noexcept {
  try {
    auto b = k::apply_worker_baseline();
    if (!b) {
      put(out, outlen, b.error().str());
      return -1;
    }
    put(out, outlen, b.value().describe());
    return 0;
  } catch (...) {
    put(out, outlen, "out of memory");
    return -1;
  }
}

namespace {
// Runs fn(arg) on a fresh thread confined by `c` and waits for it to end.
// 0, or -errno with the reason in err (the thread never ran).
int run_and_join(k::Confinement& c, void* (*fn)(void*), void* arg, char* err, std::size_t errlen) {
  pthread_t t{};
  const int rc = k::start_confined_thread(c, fn, arg, &t);
  if (rc != 0) {
    put(err, errlen, std::string("start_confined_thread: ") + std::strerror(-rc));
    return rc;
  }
  pthread_join(t, nullptr);
  return 0;
}
}  // namespace

extern "C" int tt_kernel_warm(char* err, std::size_t errlen) noexcept {
  try {
    if (const int rc = start_preparer(); rc != 0) {
      put(err, errlen, std::string("preparer thread: ") + std::strerror(-rc));
      return rc;
    }
    // A tenant with nothing (its root does not exist: no rule), once with
    // and once without exec, so both spawner variants start here.
    tenant::RuleSet none;
    none.root = "/nonexistent/tenant-sandbox-warm-up";
    auto ctx = tenant::TenantContext::create(none, "warm-up");
    if (!ctx) {
      put(err, errlen, ctx.error().str());
      return -EINVAL;
    }
    for (int with_exec = 0; with_exec < 2; ++with_exec) {
      k::ConfineOptions o;
      if (with_exec != 0) o.extra_exec.emplace_back("/bin/true");
      auto c = k::Confinement::prepare(*ctx.value(), o);
      if (!c) {
        put(err, errlen, c.error().str());
        return -EINVAL;
      }
      if (const int rc = run_and_join(*c.value(), warm_noop, nullptr, err, errlen); rc != 0) return rc;
    }
    // Pooled confined threads: TENANT_SANDBOX_CONFINED_THREADS bound threads
    // per worker (default 16; 0 = a fresh thread per request, the previous
    // design), plus one spare per seccomp variant started now.
    k::PoolOptions po;
    if (const char* n = std::getenv("TENANT_SANDBOX_CONFINED_THREADS"); n != nullptr && *n != '\0') {
      char* end = nullptr;
      const long v = std::strtol(n, &end, 10);
      if (end != nullptr && *end == '\0' && v >= 0 && v <= 1024) po.max_threads = static_cast<std::size_t>(v);
    }
    k::set_pool_options(po);
    k::pool_prewarm();
    return 0;
  } catch (...) {
    put(err, errlen, "out of memory");
    return -ENOMEM;
  }
}

extern "C" int tt_kernel_tenant_is_audit(const char* tenant) noexcept {
  std::shared_ptr<const tenant::Policy> policy;
  {
    std::lock_guard<std::mutex> g(g_mutex);
    policy = g_policy;
  }
  if (!policy || tenant == nullptr) return 0;
  const tenant::RuleSet* rules = policy->find(tenant);
  return rules != nullptr && rules->mode == tenant::Mode::Audit ? 1 : 0;
}

extern "C" int tt_kernel_run_confined(const char* tenant, void* (*fn)(void*), void* arg, char* err,
                                      std::size_t errlen, char* prepared_log, std::size_t loglen) noexcept {
  try {
    put(prepared_log, loglen, "");
    std::string why;
    bool fresh = false;
    std::shared_ptr<k::Confinement> c = confinement_for(tenant, why, fresh);
    if (!c) {
      put(err, errlen, why);
      return -EINVAL;
    }
    if (fresh) put(prepared_log, loglen, c->report().describe());
    // A thread of this worker already confined for this tenant (or a spare
    // bound to it now): see kernel_confine.hpp for the invariants.
    const int rc = k::run_on_tenant_thread(tenant, *c, fn, arg);
    if (rc != 0) put(err, errlen, std::string("run_on_tenant_thread: ") + std::strerror(-rc));
    return rc;
  } catch (...) {
    put(err, errlen, "out of memory");
    return -ENOMEM;
  }
}
