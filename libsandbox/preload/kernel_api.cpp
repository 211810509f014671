// The kernel layer's C API (tenant_sandbox.h): the worker baseline and the
// confined request threads (libsandbox/kernel), driven from libsandbox so
// that the module needs neither C++ nor a policy copy of its own.
//
// Why here and not in the module: building a tenant's Landlock ruleset opens
// every path of its rules (O_PATH). Done from the module on a request's
// thread, those opens were judged by libsandbox as the TENANT's and refused
// (the module had a preparer thread without a tag to get around it). Inside
// libsandbox they run in InternalScope, straight to the kernel, and the
// ruleset is built from the very TenantContext the request's tag carries --
// one parse of the policy, no second copy.
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fs_resolve.hpp"
#include "internal.hpp"
#include "kernel_confine.hpp"
#include "proc_common.hpp"
#include "tenant/wire.hpp"
#include "tenant_sandbox.h"

namespace sb::kernel_glue {
namespace {

namespace k = tenant::kernel;

void put(char* out, std::size_t len, const std::string& text) noexcept {
  if (out == nullptr || len == 0) return;
  std::snprintf(out, len, "%s", text.c_str());
}

// Per-worker cache of pinned Confinements, one per recently seen tenant: a
// pinned ruleset turns a pool miss into one landlock_restrict_self instead
// of building the ruleset again (~22 rules x 3 system calls). A tenant whose
// ruleset finds no room in the pinned fd range (Confinement::pin) is used
// for that request only.
struct Entry {
  std::string tenant;
  std::shared_ptr<k::Confinement> confinement;
  std::uint64_t last_use = 0;
  std::uint64_t root_dev = 0, root_ino = 0;  // the tenant's root when the ruleset was built
};
constexpr std::size_t kCacheMax = 128;
std::mutex g_mutex;  // the cache; never held while a request runs
std::vector<Entry> g_cache;
std::uint64_t g_clock = 0;
pid_t g_cache_pid = 0;  // a fork starts with the parent's entries: dropped

// What every confined thread needs besides the tenant's own paths:
// libsandbox.so (the loader of every exec'd child maps it via LD_PRELOAD)
// and the state folder (a child's libsandbox opens the connection budget).
k::ConfineOptions confine_options() {
  k::ConfineOptions o;
  const char* lib = library_path();
  if (lib != nullptr && lib[0] == '/') o.extra_read_only.emplace_back(lib);
  o.extra_read_write.emplace_back(proc::state_dir());
  return o;
}

// The tenant's root as it is now: (dev, ino) of its prepared root
// descriptor, checked against the path in this request (fs::area_root).
// A ruleset is built from O_PATH descriptors, i.e. from objects, not names:
// after an operator renames or swaps tenant folders, a ruleset built before
// would grant the folder that is now another tenant's path.
void root_identity(ActiveTenant& t, std::uint64_t& dev, std::uint64_t& ino) noexcept {
  dev = ino = 0;
  const auto& areas = t.ctx->areas();
  for (std::size_t i = 0; i < areas.size(); ++i) {
    if (areas[i].key != tenant::RuleKey::Root) continue;
    if (fs::area_root_fd(t, static_cast<int>(i)) >= 0 && t.prepared != nullptr) {
      dev = t.prepared->area_dev[i].load(std::memory_order_relaxed);
      ino = t.prepared->area_ino[i].load(std::memory_order_relaxed);
    }
    return;
  }
}

// nullptr with err set when the ruleset cannot be built; *fresh: built now.
std::shared_ptr<k::Confinement> confinement_for(ActiveTenant& t, std::string& err, bool& fresh) {
  fresh = false;
  const std::string_view id = t.ctx->id();
  std::uint64_t dev = 0, ino = 0;
  root_identity(t, dev, ino);
  {
    std::lock_guard<std::mutex> g(g_mutex);
    if (g_cache_pid != ::getpid()) {
      g_cache.clear();
      g_cache_pid = ::getpid();
    }
    ++g_clock;
    for (auto it = g_cache.begin(); it != g_cache.end(); ++it) {
      if (it->tenant != id) continue;
      if (it->root_dev == dev && it->root_ino == ino) {
        it->last_use = g_clock;
        return it->confinement;
      }
      // The folder changed under the ruleset: build a new one, and the
      // threads bound to the old one never serve this tenant again.
      g_cache.erase(it);
      k::pool_forget_tenant(t.ctx->id_cstr());
      break;
    }
  }
  auto prepared = k::Confinement::prepare(*t.ctx, confine_options());
  if (!prepared) {
    err = prepared.error().str();
    return nullptr;
  }
  std::shared_ptr<k::Confinement> c(std::move(prepared).value().release());
  fresh = true;
  if (c->pin() != 0) return c;  // no room in the reserved range: this request only
  std::lock_guard<std::mutex> g(g_mutex);
  if (g_cache.size() >= kCacheMax) {
    auto oldest = std::min_element(g_cache.begin(), g_cache.end(),
                                   [](const Entry& a, const Entry& b) { return a.last_use < b.last_use; });
    g_cache.erase(oldest);  // a thread still using it holds its own reference
  }
  g_cache.push_back(Entry{std::string(id), c, g_clock, dev, ino});
  return c;
}

// The job on the confined thread: the caller's tenant (its ActiveTenant,
// shared: request id, audit switch, connection budget) is this thread's for
// the job only, then the thread holds none again.
struct Job {
  ActiveTenant* tenant;
  void* (*fn)(void*);
  void* arg;
};

void* confined_job(void* p) {
  auto* job = static_cast<Job*>(p);
  retain(job->tenant);
  t_state.tenant = job->tenant;
  void* ret = job->fn(job->arg);
  t_state.tenant = nullptr;
  release(job->tenant);
  return ret;
}

void* warm_noop(void*) { return nullptr; }

}  // namespace

int worker_start(char* report, std::size_t len) noexcept {
  InternalScope internal;
  try {
    auto b = k::apply_worker_baseline();
    if (!b) {
      put(report, len, "worker baseline: " + b.error().str());
      return -EPERM;
    }
    std::string text = b.value().describe();
    // Both spawner variants (with and without exec) start now, from this
    // thread, which holds no tenant: a tenant with no rules at all (its root
    // does not exist), once with an exec path and once without.
    tenant::RuleSet none;
    none.root = "/nonexistent/tenant-sandbox-warm-up";
    auto ctx = tenant::TenantContext::create(none, "warm-up");
    if (!ctx) {
      put(report, len, text + "; warm-up: " + ctx.error().str());
      return -EINVAL;
    }
    for (int with_exec = 0; with_exec < 2; ++with_exec) {
      k::ConfineOptions o;
      if (with_exec != 0) o.extra_exec.emplace_back("/bin/true");
      auto c = k::Confinement::prepare(*ctx.value(), o);
      if (!c) {
        put(report, len, text + "; warm-up: " + c.error().str());
        return -EINVAL;
      }
      pthread_t t{};
      if (const int rc = k::start_confined_thread(*c.value(), warm_noop, nullptr, &t); rc != 0) {
        put(report, len, text + "; confined threads cannot be started: " + std::strerror(-rc));
        return rc;
      }
      pthread_join(t, nullptr);
    }
    // TENANT_SANDBOX_CONFINED_THREADS bound threads per worker (default 16;
    // 0 = a fresh thread per request), plus one spare per filter variant.
    k::PoolOptions po;
    if (const char* n = std::getenv(tenant::wire::kEnvConfinedThreads); n != nullptr && *n != '\0') {
      char* end = nullptr;
      const long v = std::strtol(n, &end, 10);
      if (end != nullptr && *end == '\0' && v >= 0 && v <= 1024) po.max_threads = static_cast<std::size_t>(v);
    }
    k::set_pool_options(po);
    k::pool_prewarm();
    put(report, len, text);
    return 0;
  } catch (...) {
    put(report, len, "out of memory");
    return -ENOMEM;
  }
}

}  // namespace sb::kernel_glue

extern "C" __attribute__((visibility("default"))) int sandbox_kernel_support(char* out, size_t outlen) {
  try {
    sb::InternalScope internal;
    sb::kernel_glue::put(out, outlen, tenant::kernel::probe().describe());
    return 0;
  } catch (...) {
    sb::kernel_glue::put(out, outlen, "(unknown)");
    return -ENOMEM;
  }
}

extern "C" __attribute__((noinline, visibility("default"))) int sandbox_run_confined(void* (*fn)(void*), void* arg,
                                                                                     char* msg, size_t msglen) {
  const void* caller = __builtin_return_address(0);
  if (!sb::claimant_call(caller)) return -EPERM;
  sb::kernel_glue::put(msg, msglen, "");
  if (fn == nullptr) return -EINVAL;
  sb::ActiveTenant* t = sb::t_state.tenant;
  if (t == nullptr || t == sb::g_deny_all || !t->ctx) return -ENOENT;
  // Audit promises to log, not to deny: a ruleset could only refuse.
  if (t->ctx->mode() == tenant::Mode::Audit || t->request_audit()) return -EOPNOTSUPP;
  try {
    std::shared_ptr<tenant::kernel::Confinement> c;
    sb::kernel_glue::Job job{t, fn, arg};
    int rc;
    {
      sb::InternalScope internal;
      std::string why;
      bool fresh = false;
      c = sb::kernel_glue::confinement_for(*t, why, fresh);
      if (!c) {
        sb::kernel_glue::put(msg, msglen, why);
        return -EINVAL;
      }
      if (fresh) sb::kernel_glue::put(msg, msglen, c->report().describe());
      // The hand-over runs in InternalScope too: threads the pool starts
      // meanwhile are libsandbox's own and carry no tenant (pthread_create).
      rc = tenant::kernel::run_on_tenant_thread(t->ctx->id_cstr(), *c, sb::kernel_glue::confined_job, &job);
    }
    if (rc != 0) sb::kernel_glue::put(msg, msglen, std::string("run_on_tenant_thread: ") + std::strerror(-rc));
    return rc;
  } catch (...) {
    sb::kernel_glue::put(msg, msglen, "out of memory");
    return -ENOMEM;
  }
}
