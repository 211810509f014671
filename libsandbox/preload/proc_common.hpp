// Shared pieces of the process part (control, exec, spawn, signals): what a
// child of a tenant inherits and which processes a tenant may signal.
// Not exported; only the proc_* and wrap_proc* files include this.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime.hpp"

namespace sb::proc {

// ---- control (control.cpp) --------------------------------------------------
// TENANT_SANDBOX_STATE_DIR as it was when the library loaded (default
// /run/tenant-sandbox). Snapshotted before any tenant code runs, so a
// tenant's putenv() cannot point its children's shared counters elsewhere.
const char* state_dir() noexcept;

// ---- children (proc_children.cpp) -------------------------------------------
// Processes started (fork, posix_spawn, system, popen) while tenant `t` was
// set, so that `t` may signal them and nobody else (THREATS 20). Lock-free,
// fixed size; a full table forgets the oldest entries (those children can
// then no longer be signalled by the tenant: fails closed).
void note_child(pid_t pid, const ActiveTenant* t) noexcept;
// In a forked child: the parent's children are not ours.
void forget_children() noexcept;
// May `t` send a signal to process `pid` (> 0)? Its own process, or a
// direct child it started that is still our child.
bool may_signal(const ActiveTenant& t, pid_t pid) noexcept;
// Same for a thread id (tkill): a thread of this process.
bool is_own_thread(pid_t tid) noexcept;
// The process a pidfd or an open /proc/PID directory refers to, or -1
// (wrap_proc_signal.cpp).
pid_t pid_of_pidfd(int fd) noexcept;

// ---- exec (proc_exec.cpp) ---------------------------------------------------
// A program a tenant may run, resolved and checked.
struct CheckedProgram {
  char path[4096];   // absolute, normalised path that was checked
  int fd = -1;       // O_RDONLY|O_CLOEXEC descriptor of the checked file (ELF), or -1 (script)
  bool script = false;
};

// Resolves `path` (relative to `dirfd` or the cwd), checks it against the
// tenant's exec list and refuses what would escape the preload: path-less
// programs (/proc/self/fd/N, /dev/fd/N, memfd), statically linked ELF files
// (no PT_INTERP: they ignore LD_PRELOAD), set-uid/set-gid files (the loader
// ignores LD_PRELOAD for them). 0 with `out` filled (out.fd open for ELF
// files when `want_fd`), or an errno (EACCES after sb::refuse logged it;
// 0 as well in audit mode, where the program runs anyway).
int check_program(ActiveTenant& t, const char* op, int dirfd, const char* path, bool nofollow,
                  bool want_fd, CheckedProgram& out) noexcept;

// PATH search for the p-variants (execvp, execvpe, execlp, posix_spawnp):
// each candidate dir/file is checked; the first one that is on the exec list
// and exists is taken. `file` containing '/' is used as is.
int search_program(ActiveTenant& t, const char* op, const char* file, CheckedProgram& out) noexcept;

// The environment of a tenant's child: `envp` without any LD_* loader
// variable and without libsandbox's own variables, then LD_PRELOAD=this
// library and TENANT_SANDBOX_{TENANT,POLICY_JSON,STATE_DIR} of `t`
// (THREATS 6: an empty envp still gets them). The pointers stay valid as
// long as `store` lives. Throws std::bad_alloc.
class ChildEnv {
 public:
  ChildEnv(const ActiveTenant& t, char* const* envp);
  char* const* envp() const noexcept { return ptrs_.data(); }

 private:
  std::vector<std::string> own_;
  std::vector<char*> ptrs_;
};

// Closes out.fd if open.
void close_program(CheckedProgram& p) noexcept;
// At load, before any tenant code: the resource limits a child's loader must
// not find lowered (proc_exec.cpp, preload_problem).
void record_limits_at_load() noexcept;

}  // namespace sb::proc
