// Hooks between the parts of libsandbox (not exported). Each part owns the
// definitions of its namespace; the others call only what is declared here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime.hpp"
#include "tenant/policy.hpp"

namespace sb {

// control.cpp: true when the function that called __builtin_return_address
// (the C API entry point) was called by the claimant, in a process no
// tenant started. Every steering C API function checks this first.
bool claimant_call(const void* return_address) noexcept;
// control.cpp: the policy in force (nullptr before the first load).
std::shared_ptr<const tenant::Policy> current_policy() noexcept;

// control.cpp: at load, a process started by a tenant (TENANT_SANDBOX_TENANT
// and TENANT_SANDBOX_POLICY_JSON in its environment) locks itself to it.
void control_init() noexcept;

// runtime.cpp: the per-tenant log line budget (refuse()): at most `lines`
// lines per `window_seconds` per tenant and process; 0 keeps the default.
void set_log_budget(std::uint32_t lines, std::uint32_t window_seconds) noexcept;

// control.cpp: checks a request id for sandbox_set_request_info and the
// TENANT_SANDBOX_REQUEST_ID a child inherits: 1 to ActiveTenant::kMaxRequestId
// printable ASCII characters, no space, '"' or '\\' (it is written into log
// lines unquoted). Copies it into t and returns true, or changes nothing.
bool set_request_id(ActiveTenant& t, const char* id) noexcept;

// status.cpp: per-tenant denial counters and the last denial, shared by
// every process (STATE_DIR/denials) for the status page and
// `tenant-sandbox status`. Every denial, audit ones included.
void note_denial(const ActiveTenant& t, tenant::Need need, bool audit, const char* op, std::string_view target,
                 int err) noexcept;
// status.cpp: maps STATE_DIR/denials now (the root Apache parent at load,
// so that its workers inherit the mapping after dropping privileges).
void status_open_early() noexcept;
// status.cpp: the denial table's mapping, or nullptr (not mapped here).
void* status_map() noexcept;

namespace fs {
// Makes `path` absolute (relative to `dirfd`, or the cwd for AT_FDCWD) and
// normalises it into out[cap]. 0, or -ENAMETOOLONG, -ENOENT (empty path),
// -EACCES (dirfd's path cannot be known: pipe, socket, deleted).
int absolute_path(int dirfd, const char* path, char* out, std::size_t cap) noexcept;
// openat2(2) under the tenant's rules: the syscall() wrapper routes
// SYS_openat2 here (glibc 2.36 has no openat2 wrapper). fd, or -1 + errno.
int checked_openat2(int dirfd, const char* path, const void* how, std::size_t size) noexcept;
// An O_PATH descriptor of the object `abs_path` (absolute, normalised)
// names, resolved beneath the area of `t` that grants `need` (following a
// final symlink when `follow`): callers act on the verified object through
// it (unix sockets via /proc/self/fd/N). The fd, or -errno (-EACCES after
// refuse() logged the denial). The caller closes it.
int anchor(ActiveTenant& t, const char* op, const char* abs_path, tenant::Need need, bool follow) noexcept;
}  // namespace fs

namespace net {
// Connection-budget and descriptor bookkeeping around process changes
// (called by the proc part's fork / exec wrappers).
void before_fork() noexcept;
void after_fork(bool in_child) noexcept;
void before_exec() noexcept;   // descriptors closed by exec (close-on-exec) leave the budget
void exec_failed() noexcept;   // ... and come back if the exec did not happen
// A thread's tenant was cleared: what that tenant left open in this process
// (persistent connections, THREATS 18) must not serve the next tenant.
void on_tenant_cleared(ActiveTenant& t) noexcept;
// Called once at load by control_init, after the process tenant is known: a
// new process image of a tenant takes its inherited descriptors as its own
// and adopts the counted connections among them (and a root process -- the
// Apache parent -- opens the budget map for its workers to inherit).
void adopt_inherited() noexcept;
}  // namespace net

}  // namespace sb
