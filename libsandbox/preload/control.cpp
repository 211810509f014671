// The C API (tenant_sandbox.h, DESIGN.md "C API") and the process tenant
// lock of processes a tenant started.
//
// Who may steer: sandbox_claim_control records the shared object that
// called it (the module, or a test program) by the address range of its
// code. From then on set/clear/load succeed only when the return address of
// the call lies in that range. Tenant code that reaches these functions --
// PHP FFI (the return address is in libffi), an extension, a library the
// tenant dlopen()s -- gets -EPERM and changes nothing (THREATS 21). Native
// code can of course jump into the claimant's code or write t_state
// directly; against that only the kernel layer helps (DESIGN.md threat
// model).
#include <link.h>
#include <malloc.h>
#include <dirent.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>

#include "internal.hpp"
#include "proc_common.hpp"
#include "tenant/context.hpp"
#include "tenant/doors.hpp"
#include "tenant/policy.hpp"
#include "tenant/tenant_id.hpp"
#include "tenant/wire.hpp"
#include "tenant_sandbox.h"

namespace sb {
namespace {

// ---- the claimant -----------------------------------------------------------
struct CodeRange {
  std::uintptr_t lo = 0, hi = 0;  // [lo, hi)
};
constexpr int kMaxRanges = 8;
CodeRange g_claimant[kMaxRanges];
int g_claimant_ranges = 0;
// Published with release after g_claimant is written; never reset.
std::atomic<bool> g_claimed{false};
std::mutex g_control_mutex;  // claim and load only; never taken on set/clear

struct FindObject {
  std::uintptr_t addr;
  CodeRange ranges[kMaxRanges];
  int count = 0;
  bool found = false;
};

// Finds the loaded object with a PT_LOAD segment containing `addr` and
// records all of its executable segments (the object's code). Works for the
// main program (PIE or not) and for every shared object, which dladdr's
// dli_fbase alone does not tell apart for non-PIE programs.
int find_object(dl_phdr_info* info, std::size_t, void* data) noexcept {
  auto* f = static_cast<FindObject*>(data);
  bool contains = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    const std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    if (f->addr >= lo && f->addr < lo + ph.p_memsz) contains = true;
  }
  if (!contains) return 0;
  for (int i = 0; i < info->dlpi_phnum && f->count < kMaxRanges; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
    const std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    f->ranges[f->count++] = CodeRange{lo, lo + ph.p_memsz};
  }
  f->found = true;
  return 1;
}

bool in_claimant(const void* return_address) noexcept {
  if (!g_claimed.load(std::memory_order_acquire)) return false;
  const auto a = reinterpret_cast<std::uintptr_t>(return_address);
  for (int i = 0; i < g_claimant_ranges; ++i)
    if (a >= g_claimant[i].lo && a < g_claimant[i].hi) return true;
  return false;
}

// ---- the policy -------------------------------------------------------------
// set_tenant reads the current policy without a lock: a load publishes a new
// immutable holder with one atomic store. An old holder is freed only in a
// process that never set a tenant (the Apache parent); elsewhere a reader
// may still be inside TenantContext::create with it, and reloads happen a
// handful of times per process life, so it is leaked there.
struct PolicyHolder {
  std::shared_ptr<const tenant::Policy> policy;
  std::uint64_t fingerprint = 0;  // what was read: a load of the same unchanged file is not parsed again
};
std::atomic<PolicyHolder*> g_policy{nullptr};
// A tenant was set in this process at least once: from then on a reader may
// hold an old holder, which is leaked on replace. The Apache parent never
// sets one (workers do), so there the old policy is freed: a graceful
// restart with a large policy does not grow the parent by a policy each time.
std::atomic<bool> g_tenant_ever_set{false};

std::uint64_t mix(std::uint64_t h, std::uint64_t v) noexcept {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h;
}

std::uint64_t stat_hash(const struct stat& st) noexcept {
  std::uint64_t h = 0;
  for (const std::uint64_t v : {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                                static_cast<std::uint64_t>(st.st_size), static_cast<std::uint64_t>(st.st_mtim.tv_sec),
                                static_cast<std::uint64_t>(st.st_mtim.tv_nsec), static_cast<std::uint64_t>(st.st_ctim.tv_sec),
                                static_cast<std::uint64_t>(st.st_ctim.tv_nsec)})
    h = mix(h, v);
  return h | 1;
}

// Identity of what a load would read: the file's inode, size and times, or
// for a policy folder those of the folder and of every file in it (an edit
// in place changes a file's times, a rename the folder's). 0: unknown.
std::uint64_t fingerprint(const char* path) noexcept {
  struct stat st{};
  if (::stat(path, &st) != 0) return 0;
  std::uint64_t h = stat_hash(st);
  if (!S_ISDIR(st.st_mode)) return h;
  DIR* d = ::opendir(path);
  if (d == nullptr) return 0;
  std::uint64_t entries = 0;
  while (const dirent* e = ::readdir(d)) {
    struct stat es{};
    if (::fstatat(::dirfd(d), e->d_name, &es, 0) != 0) continue;
    std::uint64_t eh = stat_hash(es);
    for (const char* c = e->d_name; *c != '\0'; ++c) eh = mix(eh, static_cast<unsigned char>(*c));
    entries += eh;  // order-independent: readdir's order is the folder's business
  }
  ::closedir(d);
  return mix(h, entries) | 1;
}

char g_state_dir[4096] = "/run/tenant-sandbox";  // tenant::wire::kDefaultStateDir

void log_line(const char* what, const char* detail) noexcept {
  char line[512];
  const int n = std::snprintf(line, sizeof line, "tenant-sandbox: %s%s%s\n", what,
                              detail != nullptr ? ": " : "", detail != nullptr ? detail : "");
  if (n > 0) (void)!::write(2, line, static_cast<std::size_t>(n < 511 ? n : 511));
}

bool locked_process() noexcept { return g_process_tenant.load(std::memory_order_acquire) != nullptr; }

// ---- prepared tenants ---------------------------------------------------------
// The tenants this process served lately, prepared (rules expanded, roots
// kept open: runtime.hpp PreparedTenant), so that a request of one of them
// costs a lookup instead of a policy expansion, allocations and an open of
// each root. Bounded (a worker serving thousands of sites keeps the busiest
// kPreparedMax; each holds a descriptor per area it used), least recently
// used out. A mutex, taken once per request, never on a libc call; entries
// of an older policy are not reused.
constexpr std::size_t kPreparedMax = 256;
struct PreparedEntry {
  char id[tenant::kMaxTenantIdLen + 1];
  std::uint8_t len = 0;
  const void* policy = nullptr;  // the PolicyHolder it was made from
  PreparedTenant* p = nullptr;   // the cache's reference
  std::uint64_t last_use = 0;
};
PreparedEntry g_prepared[kPreparedMax];
std::uint64_t g_prepared_clock = 0;
std::mutex g_prepared_mutex;

// A reference to the prepared tenant `id` of policy `h` (made now if
// needed), or nullptr with *admitted false when the policy does not admit it.
PreparedTenant* prepared_for(const PolicyHolder& h, std::string_view id, bool* admitted) {
  *admitted = true;
  {
    std::lock_guard<std::mutex> lock(g_prepared_mutex);
    ++g_prepared_clock;
    for (PreparedEntry& e : g_prepared) {
      if (e.p != nullptr && e.policy == &h && e.len == id.size() && std::memcmp(e.id, id.data(), id.size()) == 0) {
        e.last_use = g_prepared_clock;
        e.p->refs.fetch_add(1, std::memory_order_relaxed);
        return e.p;
      }
    }
  }
  auto ctx = tenant::TenantContext::create(*h.policy, id);
  if (!ctx) {
    *admitted = false;
    if (h.policy->find(id) != nullptr) log_line("cannot build the rules of an admitted tenant", ctx.error().str().c_str());
    return nullptr;
  }
  PreparedTenant* p = prepare_tenant(std::move(ctx).value());
  if (p == nullptr) return nullptr;
  PreparedTenant* evicted = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_prepared_mutex);
    PreparedEntry* slot = &g_prepared[0];
    for (PreparedEntry& e : g_prepared) {
      if (e.p == nullptr) {
        slot = &e;
        break;
      }
      if (e.last_use < slot->last_use) slot = &e;
    }
    evicted = slot->p;
    std::memcpy(slot->id, id.data(), id.size());
    slot->len = static_cast<std::uint8_t>(id.size());
    slot->policy = &h;
    slot->p = p;
    slot->last_use = g_prepared_clock;
    p->refs.fetch_add(1, std::memory_order_relaxed);  // the caller's
  }
  release(evicted);  // requests still using it hold their own references
  return p;
}

// Valid ids are at most 64 bytes; never read further than that into memory
// the caller handed us.
bool read_id(const char* id, std::string_view& out) noexcept {
  if (id == nullptr) return false;
  const std::size_t n = ::strnlen(id, tenant::kMaxTenantIdLen + 1);
  out = std::string_view(id, n);
  return n <= tenant::kMaxTenantIdLen && tenant::is_valid_tenant_id(out);
}

void copy_error(char* err, std::size_t errlen, const std::string& text) noexcept {
  if (err == nullptr || errlen == 0) return;
  const std::size_t n = text.size() < errlen - 1 ? text.size() : errlen - 1;
  std::memcpy(err, text.data(), n);
  err[n] = '\0';
}

}  // namespace

namespace proc {
const char* state_dir() noexcept { return g_state_dir; }
}  // namespace proc

bool claimant_call(const void* return_address) noexcept {
  return in_claimant(return_address) && !locked_process();
}

std::shared_ptr<const tenant::Policy> current_policy() noexcept {
  const PolicyHolder* h = g_policy.load(std::memory_order_acquire);
  if (h == nullptr) return nullptr;
  return h->policy;
}

bool set_request_id(ActiveTenant& t, const char* id) noexcept {
  if (id == nullptr) return false;
  const std::size_t n = ::strnlen(id, ActiveTenant::kMaxRequestId + 1);
  if (n == 0 || n > ActiveTenant::kMaxRequestId) return false;
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(id[i]);
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
  }
  // Readers (refuse() in threads the request started) load the length with
  // acquire; hide the old id while the bytes change.
  t.request_id_len.store(0, std::memory_order_release);
  std::memcpy(t.request_id, id, n);
  t.request_id[n] = '\0';
  t.request_id_len.store(static_cast<std::uint8_t>(n), std::memory_order_release);
  return true;
}

namespace {
// TENANT_SANDBOX_LOG_BUDGET=LINES/SECONDS (e.g. "100/10"): the operator's
// setting of refuse()'s per-tenant line budget, read once at load. Children
// a tenant starts never see the operator's value (ChildEnv drops every
// TENANT_SANDBOX_ variable) and run with the default.
void read_log_budget() noexcept {
  const char* v = ::getenv(tenant::wire::kEnvLogBudget);
  if (v == nullptr) return;
  char* end = nullptr;
  const unsigned long lines = std::strtoul(v, &end, 10);
  unsigned long secs = 0;
  if (end != nullptr && *end == '/') secs = std::strtoul(end + 1, &end, 10);
  if (end == nullptr || *end != '\0' || lines == 0 || lines > 1000000 || secs > 3600) {
    log_line("TENANT_SANDBOX_LOG_BUDGET is not LINES/SECONDS", "default kept");
    return;
  }
  set_log_budget(static_cast<std::uint32_t>(lines), static_cast<std::uint32_t>(secs));
}
}  // namespace

// Runs in the library constructor, before main and before any tenant code.
void control_init() noexcept {
  InternalScope internal;
  proc::record_limits_at_load();
  std::snprintf(g_state_dir, sizeof g_state_dir, "%s", tenant::wire::state_dir_from_env());
  read_log_budget();

  const char* id = ::getenv(tenant::wire::kEnvTenant);
  if (id != nullptr) {
    if (const char* doors = ::getenv(tenant::wire::kEnvDoors); doors != nullptr) tenant::doors_from_text(doors);
  }
  if (id == nullptr) {
    net::adopt_inherited();
    return;
  }
  // A process started from a tenant (exec wrapper or `tenant-sandbox run`):
  // it is that tenant for its whole life. Anything wrong with the variables
  // means no rights at all, never "no tenant" (fail closed).
  ActiveTenant* t = nullptr;
  const char* problem = nullptr;
  try {
    const char* json = ::getenv(tenant::wire::kEnvPolicyJson);
    std::string_view sid;
    if (!read_id(id, sid)) {
      problem = "TENANT_SANDBOX_TENANT is not a valid tenant id";
    } else if (json == nullptr) {
      problem = "TENANT_SANDBOX_POLICY_JSON is missing";
    } else {
      auto policy = tenant::Policy::parse(json);
      if (!policy) {
        problem = "TENANT_SANDBOX_POLICY_JSON is not a valid policy";
      } else {
        auto ctx = tenant::TenantContext::create(*policy.value(), sid);
        if (!ctx)
          problem = "TENANT_SANDBOX_POLICY_JSON does not admit TENANT_SANDBOX_TENANT";
        else if ((t = make_active(std::move(ctx).value())) == nullptr)
          problem = "out of memory";
      }
    }
  } catch (...) {
    problem = "cannot load the process tenant";
  }
  if (t == nullptr) {
    log_line(problem != nullptr ? problem : "cannot load the process tenant",
             "this process gets no rights (fail closed)");
    t = g_deny_all;
  } else {
    t->locked = true;
    // Started by a request: its lines carry that request's id too. (Audit
    // needs nothing here: ChildEnv wrote "mode": "audit" into the policy.)
    if (const char* rid = ::getenv(tenant::wire::kEnvRequestId); rid != nullptr) (void)set_request_id(*t, rid);
  }
  g_process_tenant.store(t, std::memory_order_release);
  g_supervised.store(true, std::memory_order_release);
  net::adopt_inherited();
}

}  // namespace sb

using sb::g_process_tenant;
using sb::t_state;

// Declared in tenant_sandbox.h without noexcept (a C header); none of these
// can throw: every fallible step is inside a catch-all that fails closed.
// noinline: __builtin_return_address(0) must be our caller's address, and
// nothing inside libsandbox calls these, so inlining would change nothing
// but make that fragile.
extern "C" __attribute__((noinline, visibility("default"))) int sandbox_claim_control(void) {
  const void* caller = __builtin_return_address(0);
  try {
    std::lock_guard<std::mutex> lock(sb::g_control_mutex);
    if (sb::locked_process()) return -EPERM;
    if (sb::g_claimed.load(std::memory_order_acquire)) return sb::in_claimant(caller) ? 0 : -EPERM;
    sb::FindObject f{};
    f.addr = reinterpret_cast<std::uintptr_t>(caller);
    {
      sb::InternalScope internal;
      ::dl_iterate_phdr(sb::find_object, &f);
    }
    if (!f.found || f.count == 0) return -EPERM;
    for (int i = 0; i < f.count; ++i) sb::g_claimant[i] = f.ranges[i];
    sb::g_claimant_ranges = f.count;
    sb::g_claimed.store(true, std::memory_order_release);
    sb::g_supervised.store(true, std::memory_order_release);
    return 0;
  } catch (...) {
    return -EPERM;
  }
}

extern "C" __attribute__((noinline, visibility("default"))) int sandbox_set_tenant(const char* tenant_id) {
  const void* caller = __builtin_return_address(0);
  if (!sb::in_claimant(caller) || sb::locked_process()) return -EPERM;
  std::string_view id;
  if (!sb::read_id(tenant_id, id)) return -EINVAL;
  if (t_state.tenant != nullptr) return -EBUSY;
  const sb::PolicyHolder* h = sb::g_policy.load(std::memory_order_acquire);
  if (h == nullptr) return -ENOENT;
  if (!sb::g_tenant_ever_set.load(std::memory_order_relaxed)) sb::g_tenant_ever_set.store(true, std::memory_order_relaxed);
  try {
    sb::InternalScope internal;
    bool admitted = true;
    sb::PreparedTenant* p = sb::prepared_for(*h, id, &admitted);
    if (p == nullptr) return admitted ? -ENOMEM : -ENOENT;
    sb::ActiveTenant* t = sb::make_active(p);
    sb::release(p);  // the tag took its own reference
    if (t == nullptr) return -ENOMEM;
    t_state.tenant = t;
    return 0;
  } catch (...) {
    return -ENOMEM;
  }
}

extern "C" __attribute__((noinline, visibility("default"))) int sandbox_clear_tenant(const char* tenant_id) {
  const void* caller = __builtin_return_address(0);
  if (!sb::in_claimant(caller) || sb::locked_process()) return -EPERM;
  sb::ActiveTenant* t = t_state.tenant;
  if (t == nullptr) return tenant_id == nullptr ? 0 : -EINVAL;
  if (tenant_id != nullptr) {
    std::string_view id;
    if (!sb::read_id(tenant_id, id) || id != t->ctx->id()) return -EINVAL;
  }
  // The request's handle goes first: a thread of the request still holding
  // this ActiveTenant must not log into a request that is ending.
  t->log_ctx.store(nullptr, std::memory_order_release);
  // The thread is free of the tenant before the net part cleans up after it,
  // so that cleanup's own calls are not judged by the tenant's rules.
  t_state.tenant = nullptr;
  sb::net::on_tenant_cleared(*t);
  sb::release(t);
  return 0;
}

// Our extension of DESIGN.md's C API: the module's channel for what only it
// knows about a request -- its UNIQUE_ID (for the log lines) and whether
// its vhost is `TenantSandbox Audit` (every check of the request logs and
// allows). Stored on the thread's ActiveTenant, so sandbox_clear_tenant
// drops both; claimant only, like set/clear (tenant code must not switch
// its own request to audit, THREATS 21).
extern "C" __attribute__((noinline, visibility("default"))) int sandbox_set_request_info(const char* request_id,
                                                                                          int flags) {
  const void* caller = __builtin_return_address(0);
  if (!sb::in_claimant(caller) || sb::locked_process()) return -EPERM;
  sb::ActiveTenant* t = t_state.tenant;
  if (t == nullptr || t == sb::g_deny_all) return -EINVAL;
  if ((flags & ~SANDBOX_REQUEST_AUDIT) != 0) return -EINVAL;
  if (request_id != nullptr && request_id[0] != '\0') {
    if (!sb::set_request_id(*t, request_id)) return -EINVAL;
  }
  // One-way within a request: once audit, a later call (the UNIQUE_ID pass)
  // cannot make it enforcing again behind the operator's back -- and cannot
  // be needed to, since the vhost's setting does not change mid-request.
  if ((flags & SANDBOX_REQUEST_AUDIT) != 0)
    t->request_flags.fetch_or(static_cast<std::uint8_t>(SANDBOX_REQUEST_AUDIT), std::memory_order_acq_rel);
  return 0;
}

extern "C" __attribute__((visibility("default"))) const char* sandbox_current_tenant(void) {
  const sb::ActiveTenant* t = t_state.tenant;
  if (t == nullptr) t = g_process_tenant.load(std::memory_order_acquire);
  if (t == nullptr || !t->ctx) return nullptr;
  return t->ctx->id_cstr();
}

extern "C" __attribute__((noinline, visibility("default"))) int sandbox_load_policy(const char* path, char* err,
                                                                                     size_t errlen) {
  const void* caller = __builtin_return_address(0);
  // Before any claim there is no tenant code yet to guard against (the
  // module loads the policy while Apache starts); after it, only the
  // claimant may replace the rules (THREATS 21).
  if (sb::locked_process() || (sb::g_claimed.load(std::memory_order_acquire) && !sb::in_claimant(caller))) {
    sb::copy_error(err, errlen, "sandbox_load_policy: not permitted from this caller");
    return -EPERM;
  }
  if (path == nullptr) {
    sb::copy_error(err, errlen, "sandbox_load_policy: no path");
    return -EINVAL;
  }
  try {
    sb::InternalScope internal;
    // Apache reads its configuration twice at start (a dry run, then for
    // real) and the module loads the policy in each pass: the second finds
    // the same unchanged file and keeps what the first parsed. One parse per
    // start and per graceful restart (docs/design.md "one parse").
    const std::uint64_t print = sb::fingerprint(path);
    if (const sb::PolicyHolder* cur = sb::g_policy.load(std::memory_order_acquire);
        print != 0 && cur != nullptr && cur->fingerprint == print) {
      sb::copy_error(err, errlen, "");
      return 0;
    }
    auto loaded = tenant::Policy::load_file(path);
    if (!loaded) {
      std::string text;
      for (const tenant::Error& e : loaded.error()) {
        if (!text.empty()) text += '\n';
        text += e.str();
      }
      if (text.empty()) text = std::string(path) + ": invalid policy";
      sb::copy_error(err, errlen, text);
      return -EINVAL;
    }
    auto* holder = new sb::PolicyHolder{std::move(loaded).value(), print};
    sb::PolicyHolder* old = nullptr;
    {
      std::lock_guard<std::mutex> lock(sb::g_control_mutex);
      old = sb::g_policy.exchange(holder, std::memory_order_acq_rel);
    }
    // See g_tenant_ever_set: freed only where no reader can hold it.
    if (old != nullptr && !sb::g_tenant_ever_set.load(std::memory_order_acquire)) {
      delete old;
      // Give the freed policy back to the kernel: the parent lives for
      // months, and without this its RSS keeps the old policy's peak.
      ::malloc_trim(0);
    }
    sb::copy_error(err, errlen, "");
    return 0;
  } catch (...) {
    sb::copy_error(err, errlen, "sandbox_load_policy: out of memory");
    return -ENOMEM;
  }
}


extern "C" __attribute__((noinline, visibility("default"))) int sandbox_set_log_sink(sandbox_log_sink sink) {
  const void* caller = __builtin_return_address(0);
  if (!sb::claimant_call(caller)) return -EPERM;
  sb::set_log_sink(sink);
  return 0;
}

extern "C" __attribute__((noinline, visibility("default"))) int sandbox_set_request_context(void* request_ctx,
                                                                                             const char* vhost) {
  const void* caller = __builtin_return_address(0);
  if (!sb::claimant_call(caller)) return -EPERM;
  sb::ActiveTenant* t = t_state.tenant;
  if (t == nullptr || t == sb::g_deny_all) return -EINVAL;
  if (vhost != nullptr) {
    // Written into the line unquoted: printable, no space, no quote.
    const std::size_t n = ::strnlen(vhost, sb::ActiveTenant::kMaxVhost + 1);
    bool ok = n > 0 && n <= sb::ActiveTenant::kMaxVhost;
    for (std::size_t i = 0; ok && i < n; ++i) {
      const auto c = static_cast<unsigned char>(vhost[i]);
      ok = c > 0x20 && c < 0x7f && c != '"' && c != '\\';
    }
    if (ok) {
      std::memcpy(t->vhost, vhost, n);
      t->vhost[n] = '\0';
      t->vhost_len.store(static_cast<std::uint8_t>(n), std::memory_order_release);
    }
  }
  t->log_pid = sb::process_pid();
  t->log_ctx.store(request_ctx, std::memory_order_release);
  return 0;
}
