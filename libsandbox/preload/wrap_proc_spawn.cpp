// posix_spawn, posix_spawnp, system, popen, pclose (THREATS 1, 5).
//
// glibc's system() and popen() run posix_spawn internally, and posix_spawn
// runs clone(CLONE_VFORK) + execve (and the file actions) through internal
// calls: none of it passes a wrapper. So for a tenant all of them are
// rebuilt here on the checked posix_spawn: the program is checked like an
// exec (proc_exec.cpp), the environment is the tenant child's, and the file
// actions the child will perform before exec are checked against the
// tenant's path rules. system/popen run /bin/sh -c, so /bin/sh must be on the
// tenant's exec list (its children are then checked by the confined shell).
#include <sys/wait.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>

#include "fdtable.hpp"
#include "internal.hpp"
#include "proc_common.hpp"

extern char** environ;

namespace {

// ---- file actions -------------------------------------------------------------
// posix_spawn_file_actions_t only holds a pointer to glibc's private array of
// struct __spawn_action. This mirrors glibc 2.36's posix/spawn_int.h:
//
//   struct __spawn_action {
//     enum { spawn_do_close, spawn_do_dup2, spawn_do_open, spawn_do_chdir,
//            spawn_do_fchdir, spawn_do_closefrom, spawn_do_tcsetpgrp } tag;
//     union {
//       struct { int fd; } close_action;
//       struct { int fd; int newfd; } dup2_action;
//       struct { int fd; char *path; int oflag; mode_t mode; } open_action;
//       struct { char *path; } chdir_action;
//       struct { int fd; } fchdir_action;
//       struct { int from; } closefrom_action;
//       struct { int fd; } setpgrp_action;
//     } action;
//   };
//
// The layout is checked twice: statically (sizes below) and once at run time
// by building a file-actions object with glibc's own addopen/addchdir and
// reading it back (layout_verified). If glibc ever changes it, tenants'
// spawns with file actions fail closed instead of being misread.
enum SpawnTag : int { kClose, kDup2, kOpen, kChdir, kFchdir, kClosefrom, kTcsetpgrp };
struct SpawnAction {
  SpawnTag tag;
  union {
    struct {
      int fd;
    } close_action;
    struct {
      int fd;
      int newfd;
    } dup2_action;
    struct {
      int fd;
      char* path;
      int oflag;
      mode_t mode;
    } open_action;
    struct {
      char* path;
    } chdir_action;
    struct {
      int fd;
    } fchdir_action;
  } action;
};
static_assert(sizeof(SpawnAction) == 32, "glibc 2.36 struct __spawn_action is 32 bytes on LP64");
static_assert(offsetof(SpawnAction, action) == 8);
static_assert(sizeof(posix_spawn_file_actions_t) == 80, "glibc posix_spawn_file_actions_t");

bool check_layout() noexcept {
  posix_spawn_file_actions_t fa;
  if (::posix_spawn_file_actions_init(&fa) != 0) return false;
  bool ok = ::posix_spawn_file_actions_addopen(&fa, 7, "/sb-layout", O_WRONLY, 0640) == 0 &&
            ::posix_spawn_file_actions_addchdir_np(&fa, "/sb-dir") == 0 && fa.__used == 2;
  if (ok) {
    const auto* a = reinterpret_cast<const SpawnAction*>(fa.__actions);
    ok = a[0].tag == kOpen && a[0].action.open_action.fd == 7 && a[0].action.open_action.oflag == O_WRONLY &&
         a[0].action.open_action.mode == 0640 && std::strcmp(a[0].action.open_action.path, "/sb-layout") == 0 &&
         a[1].tag == kChdir && std::strcmp(a[1].action.chdir_action.path, "/sb-dir") == 0;
  }
  ::posix_spawn_file_actions_destroy(&fa);
  return ok;
}

bool layout_verified() noexcept {
  static const bool ok = check_layout();
  return ok;
}

// Joins a relative `path` onto the child's working directory as the
// actions so far have set it (`cwd`, empty: the parent's), absolutised.
int child_path(const char* cwd, const char* path, char* out, std::size_t cap) noexcept {
  if (path == nullptr) return -EFAULT;
  if (cwd[0] == '\0' || path[0] == '/') return sb::fs::absolute_path(AT_FDCWD, path, out, cap);
  char joined[8192];
  if (std::snprintf(joined, sizeof joined, "%s/%s", cwd, path) >= static_cast<int>(sizeof joined)) return -ENAMETOOLONG;
  return sb::fs::absolute_path(AT_FDCWD, joined, out, cap);
}

// The opens and chdirs the child performs before exec run inside glibc
// (no wrapper): posix_spawn with an addopen of another tenant's file would
// hand the program that file on stdin. So the actions are checked and
// rebuilt: each open is performed here, in the parent, through the checked
// openat wrapper (resolution beneath the tenant's area root, so a symlink
// the tenant planted in its own tree cannot lead the open elsewhere,
// THREATS 8), and the child only dup2()s the verified descriptor onto the
// target. The parent's copies sit high (>= kSpawnFdBase) so they do not
// collide with descriptors the actions create; a closefrom() action below
// them makes the spawn fail (EBADF) rather than open anything unchecked.
// Known difference: an open action with O_CLOEXEC leaves its target open
// across exec (dup2 clears the flag).
class SpawnActions {
 public:
  SpawnActions() noexcept = default;
  ~SpawnActions() {
    if (built_) ::posix_spawn_file_actions_destroy(&fa_);
    for (int i = 0; i < nfds_; ++i) ::close(fds_[i]);
  }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;

  // 0 or an errno; `use()` is then the actions to hand to posix_spawn.
  int build(sb::ActiveTenant& t, const char* op, const posix_spawn_file_actions_t* fa) noexcept;
  const posix_spawn_file_actions_t* use() const noexcept { return built_ ? &fa_ : original_; }

 private:
  static constexpr int kSpawnFdBase = 512;
  static constexpr int kMaxOpens = 32;
  const posix_spawn_file_actions_t* original_ = nullptr;
  posix_spawn_file_actions_t fa_{};
  bool built_ = false;
  int fds_[kMaxOpens] = {};
  int nfds_ = 0;
};

int SpawnActions::build(sb::ActiveTenant& t, const char* op, const posix_spawn_file_actions_t* fa) noexcept {
  original_ = fa;
  if (fa == nullptr || fa->__used == 0) return 0;
  if (!layout_verified() || fa->__used < 0 || fa->__used > fa->__allocated || fa->__actions == nullptr) {
    return sb::refuse(t, op, tenant::Need::Read, "file actions", EACCES,
                      "posix_spawn file actions in a layout libsandbox cannot read")
               ? EACCES
               : 0;
  }
  if (::posix_spawn_file_actions_init(&fa_) != 0) return ENOMEM;
  built_ = true;
  const auto* actions = reinterpret_cast<const SpawnAction*>(fa->__actions);
  char cwd[4096] = "";
  for (int i = 0; i < fa->__used; ++i) {
    const SpawnAction& a = actions[i];
    char abs[4096];
    int rc = 0;
    switch (a.tag) {
      case kOpen: {
        const int oflag = a.action.open_action.oflag;
        const tenant::Need need = ((oflag & O_ACCMODE) != O_RDONLY || (oflag & (O_CREAT | O_TRUNC)) != 0)
                                      ? tenant::Need::Write
                                      : tenant::Need::Read;
        const char* path = a.action.open_action.path != nullptr ? a.action.open_action.path : "";
        if (child_path(cwd, path, abs, sizeof abs) < 0) {
          sb::refuse(t, op, need, path, EACCES, "file action path cannot be resolved");
          return EACCES;
        }
        if (!t.ctx->decide_path(abs, need).allowed &&
            sb::refuse(t, op, need, abs, EACCES, "posix_spawn open action outside the tenant's paths"))
          return EACCES;
        if (nfds_ == kMaxOpens) return ENOMEM;
        int fd = ::openat(AT_FDCWD, abs, oflag | O_CLOEXEC, a.action.open_action.mode);
        if (fd < 0) return errno;
        if (fd < kSpawnFdBase) {
          const int high = SB_REAL(fcntl)(fd, F_DUPFD_CLOEXEC, kSpawnFdBase);
          if (high >= 0) {
            sb::fds::note_opened(high, &t);
            ::close(fd);
            fd = high;
          }
        }
        fds_[nfds_++] = fd;
        rc = ::posix_spawn_file_actions_adddup2(&fa_, fd, a.action.open_action.fd);
        break;
      }
      case kChdir: {
        const int r = child_path(cwd, a.action.chdir_action.path, abs, sizeof abs);
        if (r < 0 || !t.ctx->decide_path(abs, tenant::Need::Stat).allowed) {
          if (sb::refuse(t, op, tenant::Need::Stat, r < 0 ? "" : abs, EACCES,
                         "posix_spawn chdir action outside the tenant's paths") ||
              r < 0)
            return EACCES;
        }
        std::snprintf(cwd, sizeof cwd, "%s", abs);
        rc = ::posix_spawn_file_actions_addchdir_np(&fa_, abs);
        break;
      }
      case kFchdir: {
        if (sb::fs::absolute_path(a.action.fchdir_action.fd, ".", abs, sizeof abs) == 0)
          std::snprintf(cwd, sizeof cwd, "%s", abs);
        else if (sb::refuse(t, op, tenant::Need::Stat, "fchdir action", EACCES,
                            "posix_spawn fchdir to a descriptor with no path"))
          return EACCES;
        rc = ::posix_spawn_file_actions_addfchdir_np(&fa_, a.action.fchdir_action.fd);
        break;
      }
      case kClose: rc = ::posix_spawn_file_actions_addclose(&fa_, a.action.close_action.fd); break;
      case kDup2:
        rc = ::posix_spawn_file_actions_adddup2(&fa_, a.action.dup2_action.fd, a.action.dup2_action.newfd);
        break;
      case kClosefrom: rc = ::posix_spawn_file_actions_addclosefrom_np(&fa_, a.action.close_action.fd); break;
      case kTcsetpgrp: rc = ::posix_spawn_file_actions_addtcsetpgrp_np(&fa_, a.action.close_action.fd); break;
      default:
        sb::refuse(t, op, tenant::Need::Read, "file actions", EACCES, "unknown posix_spawn file action");
        return EACCES;
    }
    if (rc != 0) return rc;
  }
  return 0;
}

// posix_spawn of a checked program. Returns 0 or an error number (the
// posix_spawn convention: errno is not the channel).
int spawn_checked(sb::ActiveTenant& t, const char* op, pid_t* pid, sb::proc::CheckedProgram& prog,
                  const posix_spawn_file_actions_t* fa, const posix_spawnattr_t* attr, char* const argv[],
                  char* const envp[]) noexcept {
  SpawnActions actions;
  if (const int e = actions.build(t, op, fa); e != 0) return e;
  try {
    const sb::proc::ChildEnv env(t, envp);
    pid_t child = -1;
    // By path: the child's file actions may close any descriptor (closefrom),
    // so the inspected descriptor cannot be handed over as in exec.
    const int rc = SB_REAL(posix_spawn)(&child, prog.path, actions.use(), attr, argv, env.envp());
    if (rc == 0) {
      sb::proc::note_child(child, &t);
      if (pid != nullptr) *pid = child;
    }
    return rc;
  } catch (...) {
    return ENOMEM;
  }
}

// ---- popen bookkeeping ------------------------------------------------------
// Streams this file opened for tenants, so pclose() waits for the right
// child (glibc's pclose knows only streams its own popen made).
struct PopenEntry {
  FILE* stream;
  pid_t pid;
  int fd;
};
constexpr int kMaxPopen = 64;
PopenEntry g_popen[kMaxPopen];
std::mutex g_popen_mutex;

int shell_command(sb::ActiveTenant& t, const char* op, const char* command, pid_t* pid,
                  const posix_spawn_file_actions_t* fa, const posix_spawnattr_t* attr) noexcept {
  sb::proc::CheckedProgram prog;
  if (const int e = sb::proc::check_program(t, op, AT_FDCWD, "/bin/sh", false, false, prog); e != 0) return e;
  const char* argv[] = {"sh", "-c", command, nullptr};
  return spawn_checked(t, op, pid, prog, fa, attr, const_cast<char* const*>(argv), environ);
}

}  // namespace

extern "C" int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* fa,
                           const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) noexcept {
  sb::ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(posix_spawn)(pid, path, fa, attr, argv, envp);
  sb::proc::CheckedProgram prog;
  if (const int e = sb::proc::check_program(*t, "posix_spawn", AT_FDCWD, path, false, false, prog); e != 0) return e;
  return spawn_checked(*t, "posix_spawn", pid, prog, fa, attr, argv, envp);
}

extern "C" int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* fa,
                            const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) noexcept {
  sb::ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(posix_spawnp)(pid, file, fa, attr, argv, envp);
  sb::proc::CheckedProgram prog;
  if (const int e = sb::proc::search_program(*t, "posix_spawnp", file, prog); e != 0) return e;
  sb::proc::close_program(prog);
  return spawn_checked(*t, "posix_spawnp", pid, prog, fa, attr, argv, envp);
}

// system(): glibc's semantics (SIGINT/SIGQUIT ignored and SIGCHLD blocked
// in the caller while the shell runs; the child gets the defaults back) on
// the checked spawn. A refused shell fails with -1/EACCES rather than the
// status 127 glibc reports when /bin/sh cannot run, so callers see why.
extern "C" int system(const char* command) noexcept {
  sb::ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(system)(command);
  if (command == nullptr) return t->ctx->decide_exec("/bin/sh").allowed ? 1 : 0;

  struct sigaction ignore {}, old_int {}, old_quit {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGQUIT, &ignore, &old_quit);
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGCHLD);
  sigprocmask(SIG_BLOCK, &block, &old_mask);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  if (old_int.sa_handler != SIG_IGN) sigaddset(&defaults, SIGINT);
  if (old_quit.sa_handler != SIG_IGN) sigaddset(&defaults, SIGQUIT);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &old_mask);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  pid_t pid = -1;
  int status = -1;
  const int rc = shell_command(*t, "system", command, &pid, nullptr, &attr);
  posix_spawnattr_destroy(&attr);
  int err = 0;
  if (rc == 0) {
    while (::waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) {
        status = -1;
        err = errno;
        break;
      }
    }
  } else if (rc == EACCES) {
    err = EACCES;
  } else {
    status = W_EXITCODE(127, 0);  // as glibc: the shell could not be run
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGQUIT, &old_quit, nullptr);
  sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  if (err != 0) return sb::fail(err);
  return status;
}

extern "C" FILE* popen(const char* command, const char* mode) noexcept {
  sb::ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(popen)(command, mode);
  if (command == nullptr || mode == nullptr || (mode[0] != 'r' && mode[0] != 'w')) {
    errno = EINVAL;
    return nullptr;
  }
  const bool reading = mode[0] == 'r';
  const bool cloexec = std::strchr(mode, 'e') != nullptr;
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return nullptr;
  const int parent_end = reading ? pipefd[0] : pipefd[1];
  const int child_end = reading ? pipefd[1] : pipefd[0];
  const int child_std = reading ? STDOUT_FILENO : STDIN_FILENO;

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  // dup2 onto itself clears FD_CLOEXEC (glibc >= 2.29), as popen needs when
  // the pipe end already is the target descriptor.
  int rc = posix_spawn_file_actions_adddup2(&fa, child_end, child_std);
  {
    // POSIX: streams of earlier popen() calls are closed in the new child.
    std::lock_guard<std::mutex> lock(g_popen_mutex);
    for (const PopenEntry& e : g_popen)
      if (rc == 0 && e.stream != nullptr && e.fd != child_std) rc = posix_spawn_file_actions_addclose(&fa, e.fd);
  }
  pid_t pid = -1;
  if (rc == 0) rc = shell_command(*t, "popen", command, &pid, &fa, nullptr);
  posix_spawn_file_actions_destroy(&fa);
  // Our own pipe: closed and flagged directly, not through the descriptor
  // wrappers (which judge descriptors by who opened them).
  SB_REAL(close)(child_end);
  if (rc != 0) {
    SB_REAL(close)(parent_end);
    errno = rc;
    return nullptr;
  }
  if (!cloexec) SB_REAL(fcntl)(parent_end, F_SETFD, 0);
  // From here the stream is the tenant's, like any descriptor it opened.
  sb::fds::note_opened(parent_end, t);
  FILE* f = ::fdopen(parent_end, reading ? "r" : "w");
  if (f == nullptr) {
    const int e = errno;
    SB_REAL(close)(parent_end);
    int st;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    errno = e;
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(g_popen_mutex);
  for (PopenEntry& e : g_popen) {
    if (e.stream == nullptr) {
      e = PopenEntry{f, pid, parent_end};
      return f;
    }
  }
  // Table full: no way to pclose it correctly later; undo.
  ::fclose(f);
  int st;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  errno = EMFILE;
  return nullptr;
}

extern "C" int pclose(FILE* stream) noexcept {
  pid_t pid = -1;
  {
    std::lock_guard<std::mutex> lock(g_popen_mutex);
    for (PopenEntry& e : g_popen) {
      if (e.stream != nullptr && e.stream == stream) {
        pid = e.pid;
        e = PopenEntry{nullptr, -1, -1};
        break;
      }
    }
  }
  if (pid < 0) return SB_REAL(pclose)(stream);
  ::fclose(stream);
  int status = -1;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}
