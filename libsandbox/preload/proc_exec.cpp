// What a tenant may execute, and the environment its child starts with
// (THREATS 5-6). The child loads libsandbox afresh from LD_PRELOAD and locks
// itself to the tenant from TENANT_SANDBOX_TENANT/_POLICY_JSON, so every
// program a tenant runs must be one that honours LD_PRELOAD:
//   - dynamically linked ELF of this machine's class (a static binary, a
//     static-pie, or a 32-bit program ignores or cannot load our 64-bit
//     library),
//   - not set-uid/set-gid (the loader drops LD_PRELOAD in secure mode),
//   - reachable by a path that was checked (memfd, /proc/self/fd/N and
//     /dev/fd/N name code that has no path on the exec list),
//   - or a #! script whose interpreter is such an ELF program.
#include <elf.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string_view>

#include "tenant/doors.hpp"
#include "tenant/wire.hpp"
#include "internal.hpp"
#include "proc_common.hpp"

namespace sb::proc {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// Paths that name a descriptor or the process itself rather than a file:
// everything under /proc (fd/N, exe, cwd/root magic links, map_files) and
// /dev/fd, /dev/stdin|stdout|stderr (symlinks into /proc/self/fd).
bool names_no_file(std::string_view p) noexcept {
  return p == "/proc" || starts_with(p, "/proc/") || p == "/dev/fd" || starts_with(p, "/dev/fd/") ||
         p == "/dev/stdin" || p == "/dev/stdout" || p == "/dev/stderr";
}

// Logs the refusal; true when the call must fail (enforce), false in audit
// mode, where it goes on. Callers: `if (deny(...)) return EACCES;`
bool deny(ActiveTenant& t, const char* op, std::string_view target, const char* why) noexcept {
  return refuse(t, op, tenant::Need::Exec, target, EACCES, why);
}

enum class Kind { Elf, Script, Other };

struct Inspection {
  Kind kind = Kind::Other;
  const char* problem = nullptr;  // why it may not run under the preload, or null
  char interpreter[256] = {};     // for scripts
};

// Reads the start of the open file `fd` and says what it is.
void inspect(int fd, Inspection& out) noexcept {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    out.problem = "not a regular file";
    return;
  }
  if ((st.st_mode & (S_ISUID | S_ISGID)) != 0) {
    out.problem = "set-uid/set-gid program: the loader ignores LD_PRELOAD, the child would run unconfined";
    return;
  }
  // File capabilities put the program in secure-execution mode as well
  // (AT_SECURE: the loader ignores LD_PRELOAD with a slash in it).
  {
    InternalScope internal;
    ErrnoKeeper keep;
    if (::fgetxattr(fd, "security.capability", nullptr, 0) > 0) {
      out.problem = "program with file capabilities: the loader ignores LD_PRELOAD, the child would run unconfined";
      return;
    }
  }
  unsigned char head[256];
  const ssize_t n = ::pread(fd, head, sizeof head, 0);
  if (n >= 2 && head[0] == '#' && head[1] == '!') {
    out.kind = Kind::Script;
    std::size_t i = 2;
    const auto len = static_cast<std::size_t>(n);
    while (i < len && (head[i] == ' ' || head[i] == '\t')) ++i;
    std::size_t j = 0;
    while (i < len && head[i] != ' ' && head[i] != '\t' && head[i] != '\n' && j + 1 < sizeof out.interpreter)
      out.interpreter[j++] = static_cast<char>(head[i++]);
    out.interpreter[j] = '\0';
    if (out.interpreter[0] != '/') out.problem = "#! script without an absolute interpreter path";
    return;
  }
  if (n < static_cast<ssize_t>(sizeof(Elf64_Ehdr)) || std::memcmp(head, ELFMAG, SELFMAG) != 0) {
    // binfmt_misc could hand it to some other interpreter (qemu, wine,
    // java) that libsandbox knows nothing about.
    out.problem = "neither an ELF program nor a #! script";
    return;
  }
  Elf64_Ehdr eh;
  std::memcpy(&eh, head, sizeof eh);
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 || eh.e_phentsize != sizeof(Elf64_Phdr)) {
    out.problem = "ELF program of another class or machine: it cannot load libsandbox";
    return;
  }
  out.kind = Kind::Elf;
  constexpr int kMaxPhdrs = 64;
  if (eh.e_phnum == 0 || eh.e_phnum > kMaxPhdrs) {
    out.problem = "ELF program with no usable program headers";
    return;
  }
  Elf64_Phdr ph[kMaxPhdrs];
  const std::size_t bytes = sizeof(Elf64_Phdr) * eh.e_phnum;
  if (::pread(fd, ph, bytes, static_cast<off_t>(eh.e_phoff)) != static_cast<ssize_t>(bytes)) {
    out.problem = "ELF program headers unreadable";
    return;
  }
  for (int i = 0; i < eh.e_phnum; ++i) {
    if (ph[i].p_type != PT_INTERP) continue;
    // The interpreter must be the system's loader: a program the tenant
    // could write (an exec entry inside its own tree) could name a loader
    // of its own that ignores LD_PRELOAD.
    char interp[128] = {};
    if (ph[i].p_filesz == 0 || ph[i].p_filesz >= sizeof interp ||
        ::pread(fd, interp, ph[i].p_filesz, static_cast<off_t>(ph[i].p_offset)) != static_cast<ssize_t>(ph[i].p_filesz)) {
      out.problem = "ELF interpreter unreadable";
      return;
    }
    static constexpr std::string_view kLoaders[] = {
        "/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        "/usr/lib64/ld-linux-x86-64.so.2", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"};
    const std::string_view name(interp);
    for (std::string_view l : kLoaders)
      if (name == l) return;
    out.problem = "ELF interpreter is not the system loader: it may ignore LD_PRELOAD";
    return;
  }
  out.problem = "statically linked program (no PT_INTERP): it ignores LD_PRELOAD";
}

// Resource limits as they were when libsandbox loaded (before any tenant
// code). A child inherits the limits of the process that execs it, and a
// loader that runs out of address space, data or descriptors while mapping
// the preload prints "cannot be preloaded ... ignored" and runs the program
// without it (THREATS 29).
constexpr int kLimits[] = {RLIMIT_AS, RLIMIT_DATA, RLIMIT_STACK, RLIMIT_NOFILE};
constexpr const char* kLimitNames[] = {"RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_NOFILE"};
rlim_t g_limits_at_load[4] = {RLIM_INFINITY, RLIM_INFINITY, RLIM_INFINITY, RLIM_INFINITY};

// Why a child started now could not load libsandbox, or null. The loader
// of the child runs with this process's ids and limits (set-uid programs
// are refused by inspect()), so what this process sees is what it will see.
const char* preload_problem(char* buf, std::size_t len) noexcept {
  InternalScope internal;
  ErrnoKeeper keep;
  const char* lib = library_path();
  if (lib == nullptr || lib[0] != '/') return "the path of libsandbox.so is not known: the child could not preload it";
  if (SB_REAL(faccessat)(AT_FDCWD, lib, R_OK, AT_EACCESS) != 0) {
    std::snprintf(buf, len,
                  "%s is not readable by uid %u (a folder on its path is not searchable, or the file not "
                  "readable): the child would run without libsandbox; install it in a folder every user can read",
                  lib, static_cast<unsigned>(::geteuid()));
    return buf;
  }
  for (std::size_t i = 0; i < 4; ++i) {
    rlimit now{};
    if (::getrlimit(kLimits[i], &now) == 0 && now.rlim_cur < g_limits_at_load[i]) {
      std::snprintf(buf, len,
                    "%s was lowered since the process started (%llu < %llu): the child's loader could fail to "
                    "map libsandbox and run it without the sandbox",
                    kLimitNames[i], static_cast<unsigned long long>(now.rlim_cur),
                    static_cast<unsigned long long>(g_limits_at_load[i]));
      return buf;
    }
  }
  return nullptr;
}

int open_program(const char* path, bool nofollow) noexcept {
  InternalScope internal;
  return SB_REAL(open)(path, O_RDONLY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
}

}  // namespace

void record_limits_at_load() noexcept {
  for (std::size_t i = 0; i < 4; ++i) {
    rlimit now{};
    if (::getrlimit(kLimits[i], &now) == 0) g_limits_at_load[i] = now.rlim_cur;
  }
}

void close_program(CheckedProgram& p) noexcept {
  if (p.fd >= 0) {
    ErrnoKeeper keep;
    InternalScope internal;
    SB_REAL(close)(p.fd);
    p.fd = -1;
  }
}

int check_program(ActiveTenant& t, const char* op, int dirfd, const char* path, bool nofollow, bool want_fd,
                  CheckedProgram& out) noexcept {
  out.fd = -1;
  out.script = false;
  if (path == nullptr) return EFAULT;
  if (path[0] == '\0') return ENOENT;
  const int r = fs::absolute_path(dirfd, path, out.path, sizeof out.path);
  if (r < 0) {
    if (r != -EACCES) return -r;
    if (deny(t, op, path, "program path relative to a descriptor with no path")) return EACCES;
    std::snprintf(out.path, sizeof out.path, "%s", path);
  }
  const std::string_view abs(out.path);
  if (names_no_file(abs) && deny(t, op, abs, "program has no path of its own (memfd, /proc, /dev/fd)")) return EACCES;
  const tenant::Decision d = t.ctx->decide_exec(abs);
  if (!d.allowed && deny(t, op, abs, "not on the tenant's exec list")) return EACCES;

  // The decision above was made before touching the file system, so a
  // denied program fails the same way whether it exists or not.
  const int fd = open_program(out.path, nofollow);
  if (fd < 0) {
    // No read permission (mode 0711 programs): we cannot tell whether it
    // honours LD_PRELOAD, so it does not run.
    const int e = errno;
    if (e == EACCES && deny(t, op, abs, "program not readable: cannot check that it loads libsandbox")) return EACCES;
    return e == EACCES ? 0 : e;  // audit: let exec report what it reports
  }
  Inspection what;
  inspect(fd, what);
  if (what.problem == nullptr && what.kind == Kind::Script) {
    // One level: the interpreter must itself load libsandbox. (It need not
    // be on the exec list: the listed script is what the operator allowed.)
    const int ifd = open_program(what.interpreter, false);
    Inspection interp;
    if (ifd < 0) {
      interp.problem = nullptr;  // exec will fail with the kernel's own error
    } else {
      inspect(ifd, interp);
      ErrnoKeeper keep;
      InternalScope internal;
      SB_REAL(close)(ifd);
    }
    if (interp.problem != nullptr || (ifd >= 0 && interp.kind != Kind::Elf))
      what.problem = "#! interpreter would not load libsandbox (static, set-uid, foreign or nested script)";
    out.script = true;
  }
  char why[512];
  if (what.problem == nullptr) what.problem = preload_problem(why, sizeof why);
  if (what.problem != nullptr && deny(t, op, abs, what.problem)) {
    ErrnoKeeper keep;
    InternalScope internal;
    SB_REAL(close)(fd);
    return EACCES;
  }
  if (want_fd && !out.script) {
    out.fd = fd;
  } else {
    InternalScope internal;
    SB_REAL(close)(fd);
  }
  return 0;
}

int search_program(ActiveTenant& t, const char* op, const char* file, CheckedProgram& out) noexcept {
  if (file == nullptr) return EFAULT;
  if (std::strchr(file, '/') != nullptr) return check_program(t, op, AT_FDCWD, file, false, true, out);
  if (file[0] == '\0') return ENOENT;
  const char* path_var = ::getenv("PATH");
  if (path_var == nullptr) path_var = "/bin:/usr/bin";  // glibc's default for execvp
  const std::size_t flen = std::strlen(file);
  // Pass 1: the first candidate on the exec list that exists. Pass 2 (audit
  // mode only, after the refusal was logged): the first that exists, as
  // execvp would pick it.
  for (int pass = 0; pass < 2; ++pass) {
    const char* p = path_var;
    while (true) {
      const char* end = std::strchr(p, ':');
      const std::size_t dlen = end != nullptr ? static_cast<std::size_t>(end - p) : std::strlen(p);
      char cand[4096];
      if (dlen + 1 + flen + 1 <= sizeof cand) {
        if (dlen == 0) {
          std::memcpy(cand, file, flen + 1);  // empty entry: the cwd
        } else {
          std::memcpy(cand, p, dlen);
          cand[dlen] = '/';
          std::memcpy(cand + dlen + 1, file, flen + 1);
        }
        char abs[4096];
        if (fs::absolute_path(AT_FDCWD, cand, abs, sizeof abs) == 0 && !names_no_file(abs) &&
            (pass == 1 || t.ctx->decide_exec(abs).allowed)) {
          InternalScope internal;
          ErrnoKeeper keep;
          if (SB_REAL(access)(abs, X_OK) == 0) return check_program(t, op, AT_FDCWD, abs, false, true, out);
        }
      }
      if (end == nullptr) break;
      p = end + 1;
    }
    if (pass == 0 && deny(t, op, file, "no program of that name on the tenant's exec list along PATH")) return EACCES;
  }
  return ENOENT;
}

ChildEnv::ChildEnv(const ActiveTenant& t, char* const* envp) {
  std::size_t n = 0;
  if (envp != nullptr)
    while (envp[n] != nullptr) ++n;
  own_.reserve(6);
  own_.push_back(std::string("LD_PRELOAD=") + library_path());
  own_.push_back(std::string(tenant::wire::kEnvTenant) + "=" + std::string(t.ctx->id()));
  // A request of a `TenantSandbox Audit` vhost (sandbox_set_request_info):
  // its children stay audit, and their lines name the same request.
  own_.push_back(std::string(tenant::wire::kEnvPolicyJson) + "=" + t.ctx->to_policy_json(t.request_audit()));
  own_.push_back(std::string(tenant::wire::kEnvStateDir) + "=" + state_dir());
  // The server's doors stay closed to the child (doors.hpp).
  if (std::string doors = tenant::doors_to_text(); !doors.empty())
    own_.push_back(std::string(tenant::wire::kEnvDoors) + "=" + doors);
  if (const std::size_t idlen = t.request_id_len.load(std::memory_order_acquire); idlen != 0)
    own_.push_back(std::string(tenant::wire::kEnvRequestId) + "=" + std::string(t.request_id, idlen));
  ptrs_.reserve(n + own_.size() + 1);
  for (std::size_t i = 0; i < n; ++i) {
    const std::string_view e(envp[i]);
    // Every loader variable (LD_PRELOAD additions, LD_AUDIT, LD_LIBRARY_PATH,
    // LD_BIND_*, ...) the tenant set would let its own code into the child
    // ahead of or around libsandbox (THREATS 6: putenv LD_PRELOAD + mail()).
    if (starts_with(e, "LD_") || starts_with(e, tenant::wire::kEnvPrefix)) continue;
    ptrs_.push_back(envp[i]);
  }
  for (std::string& s : own_) ptrs_.push_back(s.data());
  ptrs_.push_back(nullptr);
}

}  // namespace sb::proc
