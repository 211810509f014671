// The runtime every wrapper stands on: the real functions, the calling
// thread's tenant, the re-entrancy guard and the denial log.
//
// A wrapper has this shape (see wrap_fs.cpp for many):
//
//   extern "C" int unlink(const char* path) noexcept {
//     sb::ActiveTenant* t = sb::current();
//     if (t == nullptr) return SB_REAL(unlink)(path);   // no tenant: pass through
//     ... decide with t->ctx, call sb::refuse(...) on a denial ...
//   }
//
// Nothing on this path allocates, locks, or throws: it runs for every
// open/stat/connect of every request, in signal handlers and after vfork.
#pragma once
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "decls.hpp"
#include "tenant_sandbox.h"
#include "tenant/context.hpp"

namespace sb {

// ---- real functions -------------------------------------------------------
struct RealFunctions {
#define SB_SYM(cat, variant, ret, name, params) ret(*name) params = nullptr;
#include "interpose.def"
#undef SB_SYM
};

// Resolved once (constructor + pthread_once, dlsym(RTLD_NEXT)); a wrapper
// that runs before the constructor resolves them itself. A symbol that
// resolves to our own wrapper (libsandbox loaded twice, or a broken
// LD_PRELOAD order) aborts with a message: calling it would recurse forever.
const RealFunctions& real() noexcept;
#define SB_REAL(name) (::sb::real().name)

// ---- tenants --------------------------------------------------------------
// One tenant as set in a thread (or a process). Reference counted: threads
// started by the tenant share it, and it lives until the last of them drops
// it. The root descriptors of its areas are opened lazily, once, and closed
// with it; the fs wrappers resolve paths beneath them (openat2
// RESOLVE_BENEATH), so what the kernel opens is what was allowed.
// What a tenant's rules cost to prepare, done once per tenant per process
// and shared by every request of it there: the expanded rules and the area
// root descriptors (kept open). The module's per-request sandbox_set_tenant
// takes one from a small per-process cache (control.cpp) instead of
// expanding the policy and opening the roots again for each request.
struct PreparedTenant {
  std::atomic<std::int32_t> refs{1};
  std::unique_ptr<const tenant::TenantContext> ctx;
  std::unique_ptr<std::atomic<int>[]> area_fds;  // one per ctx->areas(); -1 until opened
  // (dev, ino) of each root when it was opened: a root descriptor is reused
  // by a later request only after its path is seen to name the same object
  // (an operator who renames or swaps tenant folders must never have site-a
  // served from what is now site-b's folder). 0: not opened.
  std::unique_ptr<std::atomic<std::uint64_t>[]> area_dev, area_ino;
};
PreparedTenant* prepare_tenant(std::unique_ptr<const tenant::TenantContext> ctx) noexcept;
void release(PreparedTenant* p) noexcept;

struct ActiveTenant {
  std::atomic<std::int32_t> refs{1};
  PreparedTenant* prepared = nullptr;             // one reference, owned
  const tenant::TenantContext* ctx = nullptr;     // prepared->ctx
  std::atomic<int>* area_fds = nullptr;           // prepared->area_fds
  // Areas whose root this request has checked against its path (bit i).
  std::atomic<std::uint64_t> areas_checked{0};
  std::uint64_t serial = 0;                       // unique per process lifetime
  bool locked = false;  // a process started from a tenant: can never be cleared
  // sandbox_set_request_info (control.cpp): the request's id for denial
  // lines and the vhost's audit switch. Kept here, not in ThreadState: an
  // ActiveTenant is made per sandbox_set_tenant (one per request and
  // thread), and the threads and forks the request starts share it, so they
  // stay audit and keep the id; sandbox_clear_tenant drops it with the tag.
  // Written by the claimant before tenant code runs; read with acquire.
  static constexpr std::size_t kMaxRequestId = 64;
  std::atomic<std::uint8_t> request_flags{0};   // SANDBOX_REQUEST_AUDIT
  std::atomic<std::uint8_t> request_id_len{0};  // 0: no id
  char request_id[kMaxRequestId + 1] = {};
  bool request_audit() const noexcept { return (request_flags.load(std::memory_order_acquire) & 1u) != 0; }
  // sandbox_set_request_context: the module's handle of the request (its
  // request_rec), passed back to the log sink so that denial lines go to
  // Apache's own log for that request; only in the process that set it
  // (log_pid), and dropped by sandbox_clear_tenant.
  std::atomic<void*> log_ctx{nullptr};
  pid_t log_pid = 0;
  static constexpr std::size_t kMaxVhost = 128;
  std::atomic<std::uint8_t> vhost_len{0};  // 0: none
  char vhost[kMaxVhost + 1] = {};
};
// A new per-request tag over a prepared tenant (takes a reference of it).
ActiveTenant* make_active(PreparedTenant* p) noexcept;
ActiveTenant* make_active(std::unique_ptr<const tenant::TenantContext> ctx) noexcept;
void retain(ActiveTenant* t) noexcept;
void release(ActiveTenant* t) noexcept;

// How a thread came to be. Threads created through our pthread_create are
// System (no tenant) or inherit the creator's tenant; the main thread is
// System. Any other thread (created inside glibc, by raw clone) is Unknown,
// and in a supervised process an Unknown thread gets no rights at all:
// an empty thread-local tenant never means "free" (THREATS 17).
enum class ThreadKind : std::uint8_t { Unknown = 0, System = 1 };

struct ThreadState {
  ActiveTenant* tenant;          // the thread's tenant, or nullptr
  ThreadKind kind;
  std::uint8_t internal_depth;   // >0: libsandbox's own work, pass through
};
// initial-exec: libsandbox is loaded at process start (LD_PRELOAD), so its
// TLS is static and each access is one %fs-relative load; the dynamic model
// calls __tls_get_addr, which may allocate -- not allowed on this path.
extern thread_local ThreadState t_state __attribute__((tls_model("initial-exec")));

// Process-wide state.
extern std::atomic<ActiveTenant*> g_process_tenant;  // set for life in a process a tenant started
extern std::atomic<bool> g_supervised;               // control claimed, or a process tenant
extern ActiveTenant* g_deny_all;                      // no rights (unknown threads)

// The tenant whose rules apply to this call, or nullptr to pass it through.
inline ActiveTenant* current() noexcept {
  ThreadState& s = t_state;
  if (s.internal_depth != 0) return nullptr;
  if (s.tenant != nullptr) return s.tenant;
  if (ActiveTenant* p = g_process_tenant.load(std::memory_order_acquire)) return p;
  if (s.kind == ThreadKind::Unknown && g_supervised.load(std::memory_order_relaxed)) return g_deny_all;
  return nullptr;
}

// libsandbox's own file and socket work (loading a policy, logging, the
// connection budget) runs inside this scope and goes straight to libc.
class InternalScope {
 public:
  InternalScope() noexcept { ++t_state.internal_depth; }
  ~InternalScope() { --t_state.internal_depth; }
  InternalScope(const InternalScope&) = delete;
  InternalScope& operator=(const InternalScope&) = delete;
};

// Keeps errno as the caller will see it across our own bookkeeping.
class ErrnoKeeper {
 public:
  ErrnoKeeper() noexcept : saved_(errno) {}
  ~ErrnoKeeper() { errno = saved_; }
  ErrnoKeeper(const ErrnoKeeper&) = delete;
  ErrnoKeeper& operator=(const ErrnoKeeper&) = delete;

 private:
  int saved_;
};

// ---- denials --------------------------------------------------------------
// Records that tenant `t` was refused `need` on `target` in libc function
// `op` (errno `err`; `why` names the rule, may be null). Logs one line to
// stderr -- the Apache error log in a worker -- at most once per (tenant, op,
// target) within a short window:
//
//   tenant-sandbox: deny tenant=site-a op=open need=read target="/srv/www/site-b/secret" errno=EACCES rule="no rule: outside every allowed path"
//
// and the same with "audit" instead of "deny" in audit mode. Returns true
// when the call must fail (enforce), false when it must go on (audit). Never
// allocates, never blocks; `tenant-sandbox learn` parses these lines.
bool refuse(const ActiveTenant& t, const char* op, tenant::Need need, std::string_view target,
            int err, const char* why = nullptr) noexcept;

// The module's log sink (sandbox_set_log_sink); and this process's pid,
// cached (getpid is a system call; refreshed in a forked child by atfork).
void set_log_sink(sandbox_log_sink sink) noexcept;
pid_t process_pid() noexcept;

// Sets errno and returns -1: `return sb::fail(EACCES);`
inline int fail(int err) noexcept {
  errno = err;
  return -1;
}

// Path of this libsandbox.so (from dladdr), for re-injecting LD_PRELOAD.
const char* library_path() noexcept;

}  // namespace sb
