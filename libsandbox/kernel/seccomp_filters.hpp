// The two seccomp programs of the kernel layer, compiled with libseccomp once
// per process and kept as raw BPF so a per-request thread installs its
// filter with one seccomp(2) call (no libseccomp work on the request path).
// Internal to tenant_kernel.
#pragma once
#include <linux/filter.h>

#include <cstddef>
#include <string>
#include <vector>

namespace tenant::kernel::detail {

struct BpfProgram {
  std::vector<sock_filter> insns;
  int refused = 0;     // system calls with a rule (for the log line)
  std::string error;   // non-empty: compiling failed, do not install
};

// Process-wide worker filter (EPERM, ENOSYS for io_uring and clone3).
const BpfProgram& worker_filter() noexcept;
// Per-thread filter of a confined request thread; two variants by whether
// the tenant may exec at all.
const BpfProgram& thread_filter(bool exec_allowed) noexcept;
// A tiny hand-written filter: personality() only with PER_LINUX (0) or the
// query 0xffffffff. libseccomp cannot compare one argument twice in a rule.
const BpfProgram& personality_filter() noexcept;

// File descriptors from this number up are the worker's own (pinned
// Landlock rulesets, Confinement::pin): a confined thread may not close them
// or dup2/dup3 onto them. Fixed on first use from RLIMIT_NOFILE.
int reserved_fd_floor() noexcept;

// Starts a detached thread running fn(arg) from the spawner of this filter
// variant (confined_spawner.cpp): it inherits the per-thread seccomp filter
// and no_new_privs, has every signal blocked and no Landlock domain yet.
// Synchronous: 0 once the thread exists, or -errno. async: returns at once;
// on_async_failure(arg) is called (on the spawner) if it could not start.
// stack: NULL (glibc's, detached thread) or the caller's stack of
// stack_size bytes; the thread is then joinable and the caller must join it
// (pthread_tryjoin_np) before it reuses or frees the stack.
int spawn_filtered_thread(bool exec_allowed, void* (*fn)(void*), void* arg, bool async,
                          void (*on_async_failure)(void*), void* stack, std::size_t stack_size) noexcept;

// seccomp(SECCOMP_SET_MODE_FILTER, flags, prog); 0 or -errno.
int install(const BpfProgram& p, unsigned flags) noexcept;

}  // namespace tenant::kernel::detail
