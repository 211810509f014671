// The exec family (THREATS 5-6). With no tenant every call passes through
// unchanged. For a tenant the program is resolved to an absolute path
// (PATH search for the p-variants done here, candidate by candidate), must
// be on the tenant's exec list and must load libsandbox (proc_exec.cpp);
// the child's environment is rebuilt so that it is the same tenant whatever
// environment the caller passed (even none: proc_open(..., env: [])).
//
// ELF programs are executed with execveat(fd, "", AT_EMPTY_PATH) on the
// descriptor that was inspected, so the file checked for PT_INTERP is the
// file the kernel runs (no swap between check and exec). #! scripts go by
// path: the kernel hands a script run from an O_CLOEXEC descriptor to its
// interpreter as /dev/fd/N, which is already closed by then.
#include <cstdarg>
#include <vector>

#include "internal.hpp"
#include "proc_common.hpp"

extern char** environ;

namespace {

int run_checked(sb::ActiveTenant& t, sb::proc::CheckedProgram& prog, char* const argv[], char* const envp[]) noexcept {
  try {
    const sb::proc::ChildEnv env(t, envp);
    sb::net::before_exec();
    if (prog.fd >= 0) {
      SB_REAL(syscall)(SYS_execveat, prog.fd, "", argv, env.envp(), AT_EMPTY_PATH);
      // Under the kernel layer (tenant-sandbox run, a confined request
      // thread) the per-thread seccomp filter refuses execveat(AT_EMPTY_PATH)
      // with EACCES: it would run memfds no Landlock rule covers. Then exec
      // by the checked path: Landlock grants EXECUTE only on the listed
      // files' inodes, so a file swapped in after the check is refused by
      // the kernel instead. (kernel-wire: additive fallback)
      if (errno == EACCES) SB_REAL(execve)(prog.path, argv, env.envp());
    } else {
      SB_REAL(execve)(prog.path, argv, env.envp());
    }
    const int e = errno;
    sb::net::exec_failed();
    sb::proc::close_program(prog);
    return sb::fail(e);
  } catch (...) {
    sb::proc::close_program(prog);
    return sb::fail(ENOMEM);
  }
}

// execl/execle/execlp: the argument list as an argv array. envp_out gets
// the array after the terminating NULL (execle).
std::vector<char*> collect_args(const char* arg0, va_list ap, char* const** envp_out) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(arg0));
  if (arg0 != nullptr) {
    while (char* a = va_arg(ap, char*)) argv.push_back(a);
    argv.push_back(nullptr);
  }
  if (envp_out != nullptr) *envp_out = va_arg(ap, char* const*);
  return argv;
}

}  // namespace

extern "C" int execve(const char* path, char* const argv[], char* const envp[]) noexcept {
  sb::ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(execve)(path, argv, envp);
  sb::proc::CheckedProgram prog;
  if (const int e = sb::proc::check_program(*t, "execve", AT_FDCWD, path, false, true, prog); e != 0) return sb::fail(e);
  return run_checked(*t, prog, argv, envp);
}

extern "C" int execv(const char* path, char* const argv[]) noexcept {
  if (sb::current() == nullptr) return SB_REAL(execv)(path, argv);
  return ::execve(path, argv, environ);
}

extern "C" int execvpe(const char* file, char* const argv[], char* const envp[]) noexcept {
  sb::ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(execvpe)(file, argv, envp);
  sb::proc::CheckedProgram prog;
  if (const int e = sb::proc::search_program(*t, "execvp", file, prog); e != 0) return sb::fail(e);
  return run_checked(*t, prog, argv, envp);
}

extern "C" int execvp(const char* file, char* const argv[]) noexcept {
  if (sb::current() == nullptr) return SB_REAL(execvp)(file, argv);
  return ::execvpe(file, argv, environ);
}

extern "C" int execl(const char* path, const char* arg, ...) noexcept {
  try {
    va_list ap;
    va_start(ap, arg);
    std::vector<char*> argv = collect_args(arg, ap, nullptr);
    va_end(ap);
    return ::execve(path, argv.data(), environ);
  } catch (...) {
    return sb::fail(ENOMEM);
  }
}

extern "C" int execlp(const char* file, const char* arg, ...) noexcept {
  try {
    va_list ap;
    va_start(ap, arg);
    std::vector<char*> argv = collect_args(arg, ap, nullptr);
    va_end(ap);
    return ::execvpe(file, argv.data(), environ);
  } catch (...) {
    return sb::fail(ENOMEM);
  }
}

extern "C" int execle(const char* path, const char* arg, ...) noexcept {
  try {
    va_list ap;
    va_start(ap, arg);
    char* const* envp = nullptr;
    std::vector<char*> argv = collect_args(arg, ap, &envp);
    va_end(ap);
    return ::execve(path, argv.data(), envp);
  } catch (...) {
    return sb::fail(ENOMEM);
  }
}

// fexecve and execveat of a descriptor run code that has no path on the
// exec list: memfd_create + fexecve runs bytes the tenant wrote (THREATS 6).
extern "C" int fexecve(int fd, char* const argv[], char* const envp[]) noexcept {
  sb::ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(fexecve)(fd, argv, envp);
  char target[32];
  std::snprintf(target, sizeof target, "fd:%d", fd);
  if (sb::refuse(*t, "fexecve", tenant::Need::Exec, target, EACCES, "program has no path of its own (fexecve)"))
    return sb::fail(EACCES);
  try {
    const sb::proc::ChildEnv env(*t, envp);
    return SB_REAL(fexecve)(fd, argv, env.envp());
  } catch (...) {
    return sb::fail(ENOMEM);
  }
}

extern "C" int execveat(int dirfd, const char* path_arg, char* const argv[], char* const envp[], int flags) noexcept {
  // glibc declares `path` nonnull, which would let the compiler drop the
  // NULL test below; the kernel accepts NULL with AT_EMPTY_PATH (6.11+).
  const char* path = path_arg;
  asm("" : "+r"(path));
  sb::ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(execveat)(dirfd, path, argv, envp, flags);
  if ((flags & AT_EMPTY_PATH) != 0 && (path == nullptr || path[0] == '\0')) {
    char target[32];
    std::snprintf(target, sizeof target, "fd:%d", dirfd);
    if (sb::refuse(*t, "execveat", tenant::Need::Exec, target, EACCES, "program has no path of its own (AT_EMPTY_PATH)"))
      return sb::fail(EACCES);
    try {
      const sb::proc::ChildEnv env(*t, envp);
      return SB_REAL(execveat)(dirfd, path, argv, env.envp(), flags);
    } catch (...) {
      return sb::fail(ENOMEM);
    }
  }
  sb::proc::CheckedProgram prog;
  if (const int e = sb::proc::check_program(*t, "execveat", dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) != 0, true, prog);
      e != 0)
    return sb::fail(e);
  return run_checked(*t, prog, argv, envp);
}
