// Kernel layers under the LD_PRELOAD library (issue 4, THREATS 4, 6, 20, 21).
//
// The preload library only sees calls that pass through libc. Raw system
// calls (syscall(2), inline `syscall`, io_uring), static binaries, memfd
// exec and native code in the worker go around it; these layers are what
// the kernel enforces whatever the calling code is:
//
//   apply_worker_baseline()  once per worker process, before its first
//                            request, never lifted: no capabilities, not
//                            dumpable, no_new_privs, and a process-wide
//                            seccomp filter (TSYNC) against what no web
//                            worker needs (io_uring, ptrace, bpf, mount...).
//   confine_thread(ctx)      one-way, for the calling thread only (a fresh
//                            per-request thread; what it starts inherits it):
//                            a Landlock ruleset from the tenant's areas and
//                            exec list, the signal and abstract-unix scopes,
//                            no TCP bind, and a per-thread seccomp filter for
//                            what Landlock cannot say (exec when the exec list
//                            is empty, socket families, SysV IPC, memfd exec).
//
// Per-thread confinement protects against raw system calls made from the
// confined thread. It does not protect the worker's memory: native code with
// arbitrary memory writes can corrupt the unconfined main thread of the same
// process (as with mod_process_security and mod_selinux). The worker baseline
// is process-wide and holds regardless.
//
// Everything here is noexcept; failures come back as tenant::Error values.
#pragma once
#include <pthread.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tenant/context.hpp"
#include "tenant/result.hpp"

namespace tenant::kernel {

// What the running kernel offers. probe() is cheap (two system calls); the
// start-up log line is describe(). Call it unconfined: inside a confined
// thread the filter answers landlock_create_ruleset with ENOSYS, so a
// thread cannot confine itself twice (prepare() fails there: fail closed).
struct KernelSupport {
  int landlock_abi = 0;       // 0: no Landlock (kernel < 5.13, or not in lsm=)
  int landlock_errata = 0;    // bit mask of fixed Landlock errata (ABI >= 7)
  int landlock_errno = 0;     // why Landlock is unavailable (ENOSYS, EOPNOTSUPP)
  std::uint64_t fs_rights = 0;  // every filesystem right the ABI can handle
  bool net_tcp = false;         // ABI >= 4: TCP bind/connect rules
  bool scope_signal = false;    // ABI >= 6: no signals out of the domain
  bool scope_abstract_unix = false;  // ABI >= 6: no abstract unix sockets out of it
  bool seccomp = false;              // seccomp filters can be installed
  // "landlock ABI 7: fs, net(tcp), scopes(signal, abstract-unix); seccomp: yes"
  std::string describe() const;
};
KernelSupport probe() noexcept;

// What apply_worker_baseline() put in force.
struct BaselineReport {
  bool capabilities_dropped = false;  // effective, permitted, inheritable, ambient all empty
  bool bounding_set_cleared = false;  // needs CAP_SETPCAP; false is only a warning
  bool non_dumpable = false;
  bool no_new_privs = false;
  bool seccomp = false;
  int seccomp_rules = 0;              // system calls the filter refuses
  std::vector<std::string> warnings;  // things that could not be done, for the log
  // "caps: none left (bounding set cleared); dumpable: no; no_new_privs: yes;
  //  seccomp: 71 system calls refused (io_uring -> ENOSYS)"
  std::string describe() const;
};

// Once per worker, before its first request; cannot be undone. Fails (and
// the caller must refuse tenant requests, 503) when a capability is left or
// the seccomp filter cannot be installed. Applies to every thread (TSYNC).
Result<BaselineReport> apply_worker_baseline() noexcept;

// Extra paths for confine_thread(), for the callers' own needs rather than
// the tenant's: `tenant-sandbox run` passes the command it starts (exec),
// libsandbox.so (read: the loader of every exec'd child maps it) and the
// state directory (write: the connection budget map).
struct ConfineOptions {
  std::vector<std::string> extra_read_only;
  std::vector<std::string> extra_read_write;
  std::vector<std::string> extra_exec;  // non-empty also permits execve in seccomp
  // Fail instead of degrading when the kernel has no Landlock.
  bool require_landlock = false;
  // start_confined_thread only: the new thread unshares its fd table
  // (unshare(CLONE_FILES)) before it runs fn. Tenant code then cannot close
  // or dup2 over the worker's own fds (listeners, ErrorLog/access log:
  // THREATS 18) with raw system calls -- only its private copy changes. The
  // price: fds the thread opens are gone from the worker when it exits, so
  // the handler must finish all I/O on them (no file buckets set aside for
  // the worker thread to send later) and the preload's per-fd bookkeeping
  // sees two tables. Off by default.
  bool private_fd_table = false;
};

struct ConfineReport {
  int landlock_abi = 0;      // 0: Landlock not applied (kernel without it)
  bool landlock = false;
  bool net_bind_denied = false;     // ABI >= 4
  bool scope_signal = false;        // ABI >= 6
  bool scope_abstract_unix = false;
  bool seccomp = false;
  bool exec_allowed = false;        // the exec list (or extra_exec) is not empty
  int rules = 0;                    // Landlock path rules added
  std::vector<std::string> skipped;   // listed paths that do not exist (no rule)
  std::vector<std::string> warnings;  // e.g. "no Landlock: filesystem rules not enforced by the kernel"
  std::string describe() const;
};

// A confinement built ahead of time (in the unconfined parent thread) and
// applied by the new thread with three system calls. Holds a Landlock
// ruleset fd. Either build one per request and drop it after apply(), or
// pin() it and keep it (per tenant) across requests.
class Confinement {
 public:
  static Result<std::unique_ptr<Confinement>> prepare(const TenantContext& ctx,
                                                      const ConfineOptions& opts = {}) noexcept;
  // no_new_privs, landlock_restrict_self(0) (this thread only, not TSYNC),
  // then the per-thread seccomp filter. One-way. Only system calls: safe
  // right after clone/fork and in a signal handler. 0 or -errno; on failure
  // the thread may be half confined and must not run tenant code.
  int apply() const noexcept;
  // apply() plus a copy of report() (allocates).
  Result<ConfineReport> apply_and_report() const noexcept;
  const ConfineReport& report() const noexcept { return report_; }
  // For a Confinement kept across requests (a per-tenant cache in the
  // worker): moves the ruleset fd into the reserved range at the top of
  // RLIMIT_NOFILE, which confined threads cannot close or dup2/dup3 onto
  // (per-thread seccomp rules), so tenant code cannot swap another ruleset
  // into it. Cuts the per-request cost to restrict_self + thread creation.
  // 0 or -errno (EMFILE/EINVAL: no room there; do not cache then).
  int pin() noexcept;
  // Only landlock_restrict_self(fd, 0): for a thread that already carries
  // no_new_privs and the per-thread seccomp filter (start_confined_thread).
  int apply_landlock() const noexcept;
  bool exec_allowed() const noexcept { return exec_allowed_; }
  bool private_fd_table() const noexcept { return private_fd_table_; }
  int ruleset_fd() const noexcept { return ruleset_fd_; }  // -1 without Landlock
  ~Confinement();
  Confinement(const Confinement&) = delete;
  Confinement& operator=(const Confinement&) = delete;

 private:
  Confinement() = default;
  int ruleset_fd_ = -1;
  bool exec_allowed_ = false;
  bool private_fd_table_ = false;
  ConfineReport report_;
};

// prepare() + apply() in the calling thread.
Result<ConfineReport> confine_thread(const TenantContext& ctx, const ConfineOptions& opts = {}) noexcept;

// The fast way to run a request on a fresh confined thread (what the module
// should use). Installing a seccomp program costs about 0.2-0.3 ms per thread
// on Linux 6.18 (the BPF JIT allocates and later frees executable memory,
// with TLB flushes), far more than Landlock (~10 us). A filter inherited at
// pthread_create costs nothing, so a long-lived spawner thread per filter
// variant -- no_new_privs + the per-thread filter, never runs tenant code,
// all signals blocked -- creates the request threads; each new thread then
// applies the prepared Landlock ruleset itself before `fn` runs, with the
// caller's signal mask. Returns 0 once the new thread is confined and
// running fn (join it with pthread_join), or -errno when it could not be
// started or confined (then fn never ran and nothing is left to join).
// `c` need only live until this returns. Safe to call after fork (the
// spawners are per process).
int start_confined_thread(const Confinement& c, void* (*fn)(void*), void* arg, pthread_t* out) noexcept;

// ---- pooled confined threads (the module's per-request path) -------------
//
// A fresh thread per request costs far more in a worker than in isolation
// (measured in Apache, prefork + mod_php, Linux 6.18 paravirtualised: +405
// us p50): clone + exit, glibc's madvise(MADV_DONTNEED) of the dead thread's
// stack (TLB shootdown IPIs to the other CPU), and the hop through the
// spawner thread (two more context switches and a contended mutex). So the
// module keeps confined threads alive and reuses them:
//
// Security invariants (each one is enforced here, not by the caller):
//  * A pooled thread is bound to ONE tenant by its first job: it applies that
//    tenant's Landlock ruleset (one-way; the kernel never lifts a domain) on
//    top of the per-thread seccomp filter it inherited from its spawner, and
//    copies the tenant id into its own stack. From then on it runs a job only
//    when the job's tenant equals that copy (-EPERM otherwise) and never
//    applies a second ruleset (-EINVAL): it never serves another tenant.
//  * Spares (started ahead of time so a miss does not wait for clone) carry
//    the seccomp filter but no Landlock domain; a spare refuses to run
//    anything before it is bound.
//  * If binding fails, the job never runs (the caller answers 503) and the
//    thread is retired, never reused.
//  * A job whose fn returns non-NULL retires its thread after the job (the
//    module does this when the libsandbox tag could not be cleared).
//  * Parked threads wait on a process-private futex with every signal
//    blocked: no condition variable, no destructor, nothing exit() or a
//    graceful restart would wait for; exit_group ends them.
//  * At most max_threads bound threads per process (LRU: the least recently
//    used idle thread is told to exit); busy threads are never evicted.
//    Admission: when the pool is full, a tenant missed for the first time
//    lately (not among the last 64 misses) runs on a fresh confined thread
//    that exits after the request (start_confined_thread) instead of
//    evicting a thread; its next miss is admitted. A long tail of rare
//    tenants then does not push the busy tenants' threads out, and a miss
//    that would only churn the pool costs one thread instead of two
//    lifecycles (bind + evict + a new spare).
struct PoolOptions {
  std::size_t max_threads = 16;  // bound threads kept per process; 0 = no pooling
  std::size_t spares = 1;        // unbound threads kept ready per filter variant
};
struct PoolStats {
  std::uint64_t hits = 0;       // ran on an idle thread already bound to the tenant
  std::uint64_t misses = 0;     // bound a new thread (a spare, or one started now)
  std::uint64_t spare_used = 0; // ... of which a ready spare
  std::uint64_t fresh = 0;      // pool full, tenant not seen lately: a fresh
                                // thread that exits after the request
  std::uint64_t evictions = 0;  // bound threads told to exit (LRU, or retired)
  std::uint64_t threads = 0;    // bound threads alive now
};
void set_pool_options(const PoolOptions& o) noexcept;
// Starts the spares of both filter variants (asynchronously).
void pool_prewarm() noexcept;
PoolStats pool_stats() noexcept;

// Runs fn(arg) on a thread of this process confined for `tenant` by `c`,
// and waits for it. `c` is used only when a thread must be bound (a miss);
// it must be the tenant's confinement. 0 once fn ran; -errno when no
// confined thread could run it (fn did not run). fn's return value: NULL,
// or non-NULL to retire the thread after this job. Options the pool cannot
// honour (private_fd_table: a private fd table copied once would go stale
// across requests) run on a fresh thread (start_confined_thread) instead.
int run_on_tenant_thread(const char* tenant, const Confinement& c, void* (*fn)(void*), void* arg) noexcept;

// The tenant's bound threads are not used again (their Landlock domain was
// built from folders that have since been renamed or swapped): idle ones
// exit now, busy ones after their job.
void pool_forget_tenant(const char* tenant) noexcept;

// First fd number of the reserved range (Confinement::pin).
int reserved_fd_floor() noexcept;

// The fixed system paths every confined thread may read (glibc reads them
// behind libc's back: resolver, NSS, time zones, locales, iconv, CA
// certificates), and those added when the tenant may exec. For docs/tests.
const std::vector<std::string>& system_read_baseline() noexcept;
const std::vector<std::string>& system_exec_baseline() noexcept;

}  // namespace tenant::kernel
