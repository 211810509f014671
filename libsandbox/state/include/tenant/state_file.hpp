// state_file: the one place that opens and maps a file under STATE_DIR
// (DESIGN.md "Files and sockets the system itself creates").
//
// STATE_DIR (env TENANT_SANDBOX_STATE_DIR, default /run/tenant-sandbox) holds
// the tables every Apache process shares: the connection budget (budget),
// requests in progress (requests), denial counters (denials). Whoever can
// swap or write one of them can lift another tenant's limits or lock it out,
// so every open goes through the same checks:
//   - the folder must be an absolute path; opened O_DIRECTORY|O_NOFOLLOW;
//     refused when world-writable (/tmp itself) or owned by anybody but
//     root or the calling user;
//   - the file is opened beneath that folder fd, O_NOFOLLOW|O_CLOEXEC, must
//     be a regular file with one link (no hard link to a file elsewhere)
//     and give nothing to "other" (0660 or stricter);
//   - it is mapped MAP_SHARED; the fd is closed again (the mapping stays).
// Every refusal comes back as a message naming the path, what is wrong and
// the fix.
//
// Who may create what, whatever process comes first (THREATS 29): the
// folder is root:<state group> mode 3770 -- the state group is Apache's
// (the parent passes it; other processes take TENANT_SANDBOX_STATE_GROUP,
// else the group www-data) -- so that any process of that group can create
// a missing table (setgid: the file gets the folder's group; sticky: nobody
// but its owner and root can remove or replace it), and nobody else can
// enter. A missing folder is created so by root, or by a process of the
// group with a parent it can write to; a root process that finds the folder
// in a state no worker can use (a plain `mkdir`: root:root 0755; the 0750
// of older packages) puts it right, and gives existing tables the folder's
// group. Files are created 0660.
//
// Who calls the libc functions: libsandbox.so links this library and must
// never call its own interposed wrappers (open, openat, close, mkdir are
// wrappers there) -- it passes its real functions (SB_REAL) in a SysCalls.
// The module, the CLI and the tests pass libc_calls(). Nothing here
// allocates or throws: libsandbox opens its maps lazily, possibly inside a
// request.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdlib>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tenant/wire.hpp"

namespace tenant::state {

// The libc entry points this library calls that libsandbox interposes (or
// might). fstat, fchmod, fchown, ftruncate, mmap are called directly: they
// take an fd, never a path, and are not interposed.
struct SysCalls {
  int (*mkdir)(const char*, mode_t);
  int (*open)(const char*, int, ...);
  int (*openat)(int, const char*, int, ...);
  int (*close)(int);
  ssize_t (*read)(int, void*, std::size_t);
};

// The process's libc functions, for callers outside libsandbox.so. Inline on
// purpose: it is only ever instantiated in the code that calls it, so
// libsandbox.so never takes the address of its own wrappers through it.
inline SysCalls libc_calls() noexcept { return SysCalls{::mkdir, ::open, ::openat, ::close, ::read}; }

// STATE_DIR as the environment protocol defines it (module, CLI, tests;
// libsandbox keeps its own copy, taken at load).
inline const char* default_state_dir() noexcept { return tenant::wire::state_dir_from_env(); }

// The group the state folder and its files belong to, when this process
// (root) creates or repairs them: Apache's group, set by the parent before
// its first map. Unset: TENANT_SANDBOX_STATE_GROUP (a name or number), else
// the group "www-data", else root's.
void set_state_group(gid_t gid) noexcept;
gid_t state_group() noexcept;

// Root: creates the folder when missing, puts its owner, group and mode
// right (root:<state group> 3770) and gives every table in it the folder's
// group. Called where root still has its capabilities: the Apache parent at
// start, `tenant-sandbox run` before it confines the command.
void repair_state(const char* dir, const SysCalls& sys) noexcept;

enum class OpenMode {
  ReadWrite,  // create the folder and the file when missing, grow the file to `size`
  ReadOnly,   // both must exist and the file must hold `size` bytes; mapped PROT_READ
};

// Maps `size` bytes of the file `dir`/`name` (name: one path component)
// MAP_SHARED. Returns the mapping, or nullptr with a one-line message in
// `err` ("state file /run/tenant-sandbox/requests: folder is world-writable
// (mode 1777), refusing it"). errno is preserved. A fresh file reads as all
// zeroes: the caller stamps its own header (magic, version, sizes) and must
// check it on every open, so a file of another layout is refused.
void* map_state_file(const char* dir, const char* name, std::size_t size, OpenMode mode,
                     const SysCalls& sys, char* err, std::size_t errlen) noexcept;

// munmap; nullptr is ignored.
void unmap_state_file(void* base, std::size_t size) noexcept;

}  // namespace tenant::state
