// noexcept extern "C" layer over the requests table (tenant_state) and the
// policy (tenant_core) for tt_limit.c. Nothing throws across this boundary;
// nothing here allocates on the request path.
#include <dlfcn.h>

#include <cstdio>
#include <memory>

#include "tenant/policy.hpp"
#include "tenant/requests.hpp"
#include "tenant/state_file.hpp"
#include "tt_core_bridge.hpp"
#include "tt_limit.h"

namespace {

namespace ts = tenant::state;

// One table per process: opened in the parent (root, post_config) and
// inherited by every worker with the mapping; a worker whose parent could
// not open it tries once more in child_init.
ts::RequestTable g_table;
// The policy max_requests is read from: the copy check_config validated,
// taken in the parent's post_config and inherited (never written in a
// worker, so request threads read it without a lock).
std::shared_ptr<const tenant::Policy> g_policy;

// The functions the table opens files with. A reclaim reads
// /proc/PID/stat while the request's tenant is set in this thread; through
// libsandbox's wrappers that open would be judged against the TENANT's
// policy (and refused, and logged as the tenant's denial). The module's
// own bookkeeping therefore calls libc itself, as libsandbox's does with
// SB_REAL: dlsym on libc's handle finds libc's definitions, not the
// preloaded wrappers that RTLD_DEFAULT would.
ts::SysCalls module_calls() noexcept {
  ts::SysCalls sys = ts::libc_calls();
  void* libc = ::dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  if (libc == nullptr) return sys;
  union {
    void* p;
    int (*mkdir)(const char*, mode_t);
    int (*open)(const char*, int, ...);
    int (*openat)(int, const char*, int, ...);
    int (*close)(int);
    ssize_t (*read)(int, void*, std::size_t);
  } u{};
  ts::SysCalls real = sys;
  if ((u.p = ::dlsym(libc, "mkdir")) != nullptr) real.mkdir = u.mkdir;
  if ((u.p = ::dlsym(libc, "open")) != nullptr) real.open = u.open;
  if ((u.p = ::dlsym(libc, "openat")) != nullptr) real.openat = u.openat;
  if ((u.p = ::dlsym(libc, "close")) != nullptr) real.close = u.close;
  if ((u.p = ::dlsym(libc, "read")) != nullptr) real.read = u.read;
  ::dlclose(libc);  // RTLD_NOLOAD: only drops the reference dlopen added
  return real;
}

}  // namespace

extern "C" int tt_limit_bridge_open(char* err, std::size_t errlen) noexcept {
  if (g_table.is_open()) return 0;
  return g_table.open(ts::default_state_dir(), module_calls(), err, errlen) ? 0 : -1;
}

extern "C" void tt_limit_bridge_take_policy(void) noexcept { g_policy = tt_core_checked_policy(); }

extern "C" void tt_limit_bridge_child(void) noexcept { (void)g_table.note_process(); }

extern "C" void tt_limit_bridge_admit(const char* tenant, int audit_vhost, tt_limit_result* out) noexcept {
  *out = tt_limit_result{};
  out->cap = TT_LIMIT_NO_CAP;
  out->enforce = audit_vhost ? 0 : 1;
  if (const tenant::Policy* p = g_policy.get(); p != nullptr && tenant != nullptr) {
    if (const tenant::RuleSet* rules = p->find(tenant); rules != nullptr) {  // O(1), no allocation
      out->cap = rules->max_requests;
      if (rules->mode == tenant::Mode::Audit) out->enforce = 0;
    }
  }
  if (!g_table.is_open() || tenant == nullptr) {
    out->verdict = TT_LIMIT_NO_TABLE;
    return;
  }
  const ts::Admission a = g_table.admit(tenant, out->cap, out->enforce != 0);
  out->ticket = a.ticket.slot_plus_one;
  out->in_progress = a.in_progress;
  out->refused = a.refused;
  out->over_cap = a.over_cap ? 1 : 0;
  out->log_now = a.log_now ? 1 : 0;
  switch (a.verdict) {
    case ts::Verdict::Admitted: out->verdict = TT_LIMIT_ADMITTED; break;
    case ts::Verdict::OverLimit: out->verdict = TT_LIMIT_OVER; break;
    default: out->verdict = TT_LIMIT_FULL; break;
  }
}

extern "C" void tt_limit_bridge_release(unsigned* ticket) noexcept {
  ts::Ticket t{*ticket};
  *ticket = 0;
  g_table.release(t);
}

extern "C" unsigned tt_limit_bridge_process_exited(pid_t pid) noexcept { return g_table.release_process(pid); }

extern "C" unsigned tt_limit_bridge_sweep(void) noexcept { return g_table.reclaim_all_dead(); }
