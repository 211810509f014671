// confine_thread(): one-way confinement of a per-request thread.
//
// Landlock (filesystem rights from the tenant's areas and exec list, no TCP
// bind, signal and abstract-unix scopes) is restricted on this thread only
// -- landlock_restrict_self(fd, 0), never TSYNC -- so the worker's main
// thread stays free to serve the next tenant, and everything the request
// thread starts (threads, children) inherits the domain. A seccomp filter
// (also this thread only) says what Landlock cannot.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "kernel_confine.hpp"
#include "landlock_uapi.hpp"
#include "seccomp_filters.hpp"

namespace tenant::kernel {
namespace {

using namespace ll;

const KernelSupport& support() noexcept {
  static const KernelSupport s = probe();  // the kernel does not change under us
  return s;
}

constexpr std::uint64_t kReadRights = kFsReadFile | kFsReadDir;
constexpr std::uint64_t kExecRights = kFsExecute | kFsReadFile;
// A Write area gets every right but EXECUTE: with it, a tenant whose exec
// list is not empty could write a static binary into its own root and run
// it, and "exec only what the policy lists" would be gone.
constexpr std::uint64_t kWriteRights = ~kFsExecute;

std::string errno_text(const std::string& what, int err) { return what + ": " + std::strerror(err); }

}  // namespace

// Files and trees glibc reads behind libc's back while tenant code runs
// (research/libc-surface.md §3). All are world-readable system data that
// holds nothing of any tenant. Not listed on purpose:
//   /proc/self   magic links (/proc/self/root, /fd/N, /mem; THREATS 9). glibc
//                needs /proc/self/maps only for pthread_getattr_np on a main
//                thread; the request thread is not one. readlink of
//                /proc/self/fd/N (the preload layer's dirfd lookup) is not a
//                Landlock access and keeps working.
//   /tmp, /dev/shm   shared by every tenant; a policy grants a per-tenant one.
//   /etc/ssl/private server keys.
const std::vector<std::string>& system_read_baseline() noexcept {
  static const std::vector<std::string> paths = {
      // getaddrinfo / gethostbyname / res_*: name service switch, hosts,
      // resolver, address sorting (gai.conf), service and protocol names.
      "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf",
      "/etc/services", "/etc/protocols",
      // getpwuid/getgrgid (PHP get_current_user, posix_getpwuid, ~ in paths).
      "/etc/passwd", "/etc/group",
      // localtime(): TZ data. /etc/localtime is a symlink into zoneinfo, and
      // Landlock checks the file a symlink resolves to, so no rule of its own.
      "/usr/share/zoneinfo",
      // setlocale(): the locale archive and C.utf8.
      "/usr/lib/locale",
      // iconv() (PHP iconv, mbstring fallbacks) dlopens gconv modules.
      "/usr/lib/x86_64-linux-gnu/gconv",
      // TLS clients (curl, stream sockets): CA bundle and OpenSSL config.
      // /usr/lib/ssl/{certs,openssl.cnf} are symlinks resolved to these.
      "/etc/ssl/certs", "/etc/ssl/openssl.cnf", "/usr/share/ca-certificates",
      // Entropy fallbacks (OpenSSL, older libraries) and zero pages.
      "/dev/urandom", "/dev/random", "/dev/zero",
      // get_nprocs() / sysconf(_SC_NPROCESSORS_ONLN) read this first.
      "/sys/devices/system/cpu/online",
  };
  return paths;
}

// Added when the tenant may exec: what the dynamic loader of any program
// reads. The loader itself needs EXECUTE: the kernel opens PT_INTERP with
// open_exec(), which Landlock checks like an execve of it.
const std::vector<std::string>& system_exec_baseline() noexcept {
  static const std::vector<std::string> paths = {
      "/etc/ld.so.cache", "/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib",
  };
  return paths;
}

namespace {
constexpr const char* kDynamicLoader = "/lib64/ld-linux-x86-64.so.2";

class RulesetBuilder {
 public:
  RulesetBuilder(int fd, std::uint64_t handled, ConfineReport& rep) : fd_(fd), handled_(handled), rep_(rep) {}

  // follow: system paths and exec entries follow a final symlink (root-owned,
  // /usr/bin/php -> /etc/alternatives/php -> php8.2); a tenant area does not,
  // because a symlink the tenant planted at an area path would re-point the
  // rule at another tenant's tree.
  bool add(const std::string& path, std::uint64_t rights, bool follow) {
    // Every system call counts: on a paravirtualised host one costs ~4 us
    // (measured here), and this runs per request. A directory takes three
    // (open, add_rule, close); only non-directories pay for an fstat.
    const int nofollow = follow ? 0 : O_NOFOLLOW;
    int pfd = ::open(path.c_str(), O_PATH | O_CLOEXEC | O_DIRECTORY | nofollow);
    if (pfd < 0 && errno == ENOTDIR) {
      pfd = ::open(path.c_str(), O_PATH | O_CLOEXEC | nofollow);
      if (pfd >= 0) {
        struct stat st {};
        if (::fstat(pfd, &st) != 0) {
          const int err = errno;
          ::close(pfd);
          error_ = errno_text("fstat " + path, err);
          return false;
        }
        if (S_ISLNK(st.st_mode)) {
          ::close(pfd);
          rep_.skipped.push_back(path + " (symlink, not followed)");
          return true;
        }
        rights &= kFsFileRights;  // the kernel refuses directory rights on a file
      }
    }
    if (pfd < 0) {
      rep_.skipped.push_back(path + " (" + std::strerror(errno) + ")");
      return true;
    }
    rights &= handled_;
    if (rights == 0) {
      ::close(pfd);
      return true;
    }
    PathBeneathAttr attr{};
    attr.allowed_access = rights;
    attr.parent_fd = pfd;
    const long rc = add_rule(fd_, kRulePathBeneath, &attr, 0);
    const int err = errno;
    ::close(pfd);
    if (rc != 0) {
      error_ = errno_text("landlock_add_rule " + path, err);
      return false;
    }
    ++rep_.rules;
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  int fd_;
  std::uint64_t handled_;
  ConfineReport& rep_;
  std::string error_;
};

}  // namespace

int reserved_fd_floor() noexcept { return detail::reserved_fd_floor(); }

Confinement::~Confinement() {
  if (ruleset_fd_ >= 0) ::close(ruleset_fd_);
}

Result<std::unique_ptr<Confinement>> Confinement::prepare(const TenantContext& ctx,
                                                          const ConfineOptions& opts) noexcept {
  try {
    std::unique_ptr<Confinement> c(new Confinement());
    ConfineReport& rep = c->report_;
    const RuleSet& rules = ctx.rules();
    c->exec_allowed_ = !rules.exec.empty() || !opts.extra_exec.empty();
    c->private_fd_table_ = opts.private_fd_table;
    rep.exec_allowed = c->exec_allowed_;

    // Compile (once per process) the per-thread filter now, so apply() does
    // nothing but system calls.
    const detail::BpfProgram& prog = detail::thread_filter(c->exec_allowed_);
    if (!prog.error.empty()) return Error{"seccomp", prog.error};
    if (!support().seccomp) return Error{"seccomp", "the kernel cannot install seccomp filters"};
    rep.seccomp = true;  // compiled; apply() installs it or fails

    const KernelSupport& ks = support();
    if (ks.landlock_abi <= 0) {
      if (opts.require_landlock) return Error{"landlock", "the kernel has no Landlock (" + ks.describe() + ")"};
      rep.warnings.push_back("no Landlock on this kernel: tenant file, signal and abstract-socket isolation "
                             "is NOT enforced by the kernel (preload layer only)");
      return c;
    }
    RulesetAttr attr{};
    attr.handled_access_fs = ks.fs_rights;
    if (ks.net_tcp) {
      // Handle TCP bind with no rule: tenant code may not open a TCP server
      // (bind to any port, 0 included). CONNECT_TCP stays unhandled: Landlock
      // matches ports only, and the policy's outbound rules are IP ranges,
      // which the preload layer enforces (ip_allow/ip_deny, budget).
      attr.handled_access_net = kNetBindTcp;
      rep.net_bind_denied = true;
    }
    if (ks.scope_signal) {
      // No signal to a process outside this domain (sibling workers, the
      // Apache parent); threads of the same process are exempt (errata 2).
      attr.scoped |= kScopeSignal;
      rep.scope_signal = true;
    }
    if (ks.scope_abstract_unix) {
      // Abstract unix sockets have no path and no permissions (THREATS 15).
      attr.scoped |= kScopeAbstractUnixSocket;
      rep.scope_abstract_unix = true;
    }
    const long fd = create_ruleset(&attr, sizeof attr, 0);
    if (fd < 0) return Error{"landlock", errno_text("landlock_create_ruleset", errno)};
    c->ruleset_fd_ = static_cast<int>(fd);
    rep.landlock_abi = ks.landlock_abi;

    RulesetBuilder b(c->ruleset_fd_, attr.handled_access_fs, rep);
    auto add_all = [&b](const std::vector<std::string>& paths, std::uint64_t rights, bool follow) {
      for (const std::string& p : paths) {
        if (!b.add(p, rights, follow)) return false;
      }
      return true;
    };
    bool ok = true;
    for (const Area& a : ctx.areas()) {
      if (a.access == Access::Write) {
        ok = ok && b.add(a.path, kWriteRights, false);
      } else if (a.access == Access::Read) {
        ok = ok && b.add(a.path, kReadRights, false);
      }
    }
    ok = ok && add_all(opts.extra_read_write, kWriteRights, true);
    ok = ok && add_all(opts.extra_read_only, kReadRights, true);
    ok = ok && add_all(system_read_baseline(), kReadRights, true);
    // /dev/null: written to and opened with O_TRUNC by every `> /dev/null`.
    ok = ok && b.add("/dev/null", kFsReadFile | kFsWriteFile | kFsTruncate | kFsIoctlDev, true);
    if (c->exec_allowed_) {
      ok = ok && add_all(rules.exec, kExecRights, true);
      ok = ok && add_all(opts.extra_exec, kExecRights, true);
      ok = ok && add_all(system_exec_baseline(), kReadRights, true);
      ok = ok && b.add(kDynamicLoader, kExecRights, true);
    }
    if (!ok) return Error{"landlock", b.error()};
    rep.landlock = true;
    return c;
  } catch (...) {
    return Error{"kernel", "out of memory preparing the confinement"};
  }
}

Result<ConfineReport> Confinement::apply_and_report() const noexcept {
  const int rc = apply();
  if (rc != 0) {
    try {
      return Error{"confine", errno_text(rc == -EBADF ? "landlock_restrict_self" : "confine", -rc)};
    } catch (...) {
      return Error{};
    }
  }
  try {
    ConfineReport r = report_;
    r.seccomp = true;
    return r;
  } catch (...) {
    return Error{};
  }
}

int Confinement::pin() noexcept {
  if (ruleset_fd_ < 0) return 0;  // no Landlock: nothing to protect
  const int floor = detail::reserved_fd_floor();
  if (ruleset_fd_ >= floor) return 0;
  const int fd = ::fcntl(ruleset_fd_, F_DUPFD_CLOEXEC, floor);
  if (fd < 0) return -errno;
  ::close(ruleset_fd_);
  ruleset_fd_ = fd;
  return 0;
}

int Confinement::apply_landlock() const noexcept {
  if (ruleset_fd_ >= 0 && restrict_self(ruleset_fd_, 0) != 0) return -errno;
  return 0;
}

int Confinement::apply() const noexcept {
  // no_new_privs is required for both layers without CAP_SYS_ADMIN and is
  // per thread; it is also what keeps a confined child from regaining
  // anything through a setuid or file-capability binary.
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -errno;
  if (ruleset_fd_ >= 0 && restrict_self(ruleset_fd_, 0) != 0) return -errno;
  return detail::install(detail::thread_filter(exec_allowed_), 0);
}

std::string ConfineReport::describe() const {
  std::string s;
  if (landlock) {
    s = "landlock ABI " + std::to_string(landlock_abi) + ": " + std::to_string(rules) + " path rules";
    if (net_bind_denied) s += ", tcp bind denied";
    if (scope_signal) s += ", signal scope";
    if (scope_abstract_unix) s += ", abstract-unix scope";
  } else {
    s = "landlock: not applied";
  }
  s += seccomp ? "; seccomp: thread filter" : "; seccomp: not applied";
  s += exec_allowed ? " (exec: listed programs only)" : " (exec: none)";
  for (const std::string& w : warnings) s += "; warning: " + w;
  return s;
}

Result<ConfineReport> confine_thread(const TenantContext& ctx, const ConfineOptions& opts) noexcept {
  auto c = Confinement::prepare(ctx, opts);
  if (!c) return c.error();
  return c.value()->apply_and_report();
}

}  // namespace tenant::kernel
