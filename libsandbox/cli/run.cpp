// tenant-sandbox run --policy POLICY --tenant ID -- COMMAND [ARG...]
//
// Runs COMMAND as tenant ID from its first instruction: the environment
// protocol (DESIGN.md, BRIEFING "Environment protocol") makes libsandbox in
// COMMAND lock the process to the tenant in its constructor, before main.
// COMMAND itself is the operator's choice and is not checked against
// `exec`; whatever COMMAND executes is. The exit status is COMMAND's, since
// exec replaces this process.
//
// Right before the exec the kernel layers (libsandbox/kernel) are applied
// to this process for good: the worker baseline (no capabilities, not
// dumpable, no_new_privs, seccomp against io_uring/ptrace/bpf/...) and the
// tenant's Landlock ruleset + seccomp filter, with EXECUTE granted for
// COMMAND itself (and its #! interpreter). So COMMAND and everything it
// starts stay confined even through raw system calls and static binaries.
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tenant/budget_map.hpp"
#include "tenant/state_file.hpp"
#include "tenant/wire.hpp"
#include "commands.hpp"
#include "kernel_confine.hpp"
#include "tenant/context.hpp"
#include "tenant/policy.hpp"
#include "tenant/tenant_id.hpp"

#ifndef TS_PRELOAD_PATH
#define TS_PRELOAD_PATH "/usr/lib/tenant-sandbox/libsandbox.so"
#endif

namespace cli {

const Command kRun{
    "run",
    "--policy POLICY --tenant ID [--no-kernel] -- COMMAND [ARG...]",
    "run COMMAND confined as tenant ID (cron jobs, CLI scripts)",
    {{"policy", "POLICY", "the policy file or folder"},
     {"tenant", "ID", "the tenant COMMAND runs as"},
     // --no-kernel exists for the preload layer's own probes: with the
     // kernel layers on, Landlock refuses most of what they check as well,
     // so they would pass with the wrapper they test removed.
     {"no-kernel", nullptr, "LD_PRELOAD layer only (for tests of that layer alone; never for tenants)"}},
    "  libsandbox is preloaded, and the kernel layers (seccomp, Landlock, no capabilities)\n"
    "  apply for the life of COMMAND and its children\n"
    "  exit: COMMAND's status; 127 COMMAND cannot be executed; 2 usage or policy error\n",
    /*stop_at_operand=*/true,
};

namespace {

bool readable_file(const std::string& p) { return !p.empty() && ::access(p.c_str(), R_OK) == 0; }

// TENANT_SANDBOX_LIBRARY, else libsandbox.so next to this binary (the build
// tree and the install both put it there or in TS_PRELOAD_PATH), else the
// compiled-in install path. Empty when none exists.
std::string find_library() {
  if (const char* env = std::getenv("TENANT_SANDBOX_LIBRARY"); env != nullptr && env[0] != '\0')
    return readable_file(env) && env[0] == '/' ? std::string(env) : std::string();
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    std::string dir(self, static_cast<std::size_t>(n));
    dir.erase(dir.find_last_of('/') + 1);
    if (readable_file(dir + "libsandbox.so")) return dir + "libsandbox.so";
  }
  if (readable_file(TS_PRELOAD_PATH)) return TS_PRELOAD_PATH;
  return {};
}

bool executable_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

// The file execvp would run: the kernel layer grants EXECUTE on exactly this
// file, and we exec exactly it (execv), so the PATH search happens once.
// Empty when nothing on PATH fits (execvp then reports the error).
std::string resolve_command(const char* name) {
  if (std::strchr(name, '/') != nullptr) return name;
  const char* env = std::getenv("PATH");
  const std::string path = env != nullptr && env[0] != '\0' ? env : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = path.find(':', start);
    std::string dir = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + name;
    if (executable_file(candidate)) return candidate;
    if (end == std::string::npos) return {};
    start = end + 1;
  }
}

// "#!/bin/sh -e" -> "/bin/sh": the kernel opens a script's interpreter for
// execution too (Landlock checks EXECUTE on it), so it needs the same rule.
std::string script_interpreter(const std::string& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[256];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n < 3 || buf[0] != '#' || buf[1] != '!') return {};
  std::string line(buf + 2, static_cast<std::size_t>(n - 2));
  line = line.substr(0, line.find('\n'));
  const std::size_t b = line.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  line = line.substr(b);
  return line.substr(0, line.find_first_of(" \t"));
}

// The kernel layers (libsandbox/kernel/README.md), applied to this process
// right before exec and inherited by COMMAND and everything it starts, so a
// raw syscall(), io_uring or a static binary cannot go around the preload
// library (THREATS 4, 6, 20). The worker baseline (no capabilities, not
// dumpable, no_new_privs, seccomp against io_uring/ptrace/bpf/...) then the
// tenant's Landlock ruleset + per-thread seccomp filter. false: do not exec.
bool apply_kernel_layers(const tenant::TenantContext& ctx, const std::string& command,
                         const std::string& library, const char* state_dir) {
  namespace k = tenant::kernel;
  auto base = k::apply_worker_baseline();
  if (!base) {
    std::fprintf(stderr, "tenant-sandbox run: kernel baseline failed: %s; refusing to run COMMAND\n",
                 base.error().str().c_str());
    return false;
  }
  // The baseline's warnings are about root's extra powers (bounding set,
  // securebits); for any other user they are noise in every cron mail.
  if (::geteuid() == 0)
    for (const std::string& w : base.value().warnings)
      std::fprintf(stderr, "tenant-sandbox run: warning: %s\n", w.c_str());
  if (ctx.mode() == tenant::Mode::Audit) {
    // Audit mode promises that nothing is refused, only logged; a kernel
    // ruleset cannot log, it can only refuse. The baseline above stays.
    std::fprintf(stderr,
                 "tenant-sandbox run: tenant '%s' is in audit mode: the per-tenant kernel ruleset "
                 "(Landlock, seccomp) is not applied, denials are only logged\n",
                 std::string(ctx.id()).c_str());
    return true;
  }
  k::ConfineOptions opts;
  opts.extra_read_only.push_back(library);
  opts.extra_read_write.push_back(state_dir);
  if (!command.empty()) {
    opts.extra_exec.push_back(command);
    std::string interp = script_interpreter(command);
    for (int depth = 0; !interp.empty() && depth < 4; ++depth) {
      opts.extra_exec.push_back(interp);
      interp = script_interpreter(interp);
    }
  }
  auto c = k::Confinement::prepare(ctx, opts);
  if (!c) {
    std::fprintf(stderr, "tenant-sandbox run: kernel confinement failed: %s; refusing to run COMMAND\n",
                 c.error().str().c_str());
    return false;
  }
  for (const std::string& w : c.value()->report().warnings)
    std::fprintf(stderr, "tenant-sandbox run: warning: %s\n", w.c_str());
  if (const int rc = c.value()->apply(); rc != 0) {
    std::fprintf(stderr, "tenant-sandbox run: kernel confinement failed: %s; refusing to run COMMAND\n",
                 std::strerror(-rc));
    return false;
  }
  return true;
}

}  // namespace

int cmd_run(int argc, char** argv) {
  Args args;
  if (const int rc = parse(kRun, argc, argv, &args); rc >= 0) return rc;
  if (!args.has("policy") || args.value("policy").empty()) return usage_error(kRun, "--policy POLICY is required");
  if (!args.has("tenant")) return usage_error(kRun, "--tenant ID is required");
  if (args.operands.empty()) return usage_error(kRun, "no COMMAND given (after --)");
  // "--" keeps a COMMAND that happens to look like a typo of ours from
  // being run by accident: `run --policy P --tenant x ls` is refused.
  if (!args.double_dash) return usage_error(kRun, "unexpected argument '" + args.operands[0] + "': COMMAND must follow --");
  const char* policy_path = args.value("policy").c_str();
  const char* id = args.value("tenant").c_str();
  const bool kernel = !args.has("no-kernel");
  // The operands are argv's own strings, in order: exec them from there.
  char** command = argv + (argc - static_cast<int>(args.operands.size()));

  auto policy = tenant::Policy::load_file(policy_path);
  if (!policy) {
    for (const tenant::Error& e : policy.error()) std::fprintf(stderr, "%s\n", e.str().c_str());
    std::fprintf(stderr, "tenant-sandbox run: %s: policy not loaded\n", policy_path);
    return 2;
  }
  if (const char* why = tenant::tenant_id_problem(id); why != nullptr && why[0] != '\0') {
    std::fprintf(stderr, "tenant-sandbox run: invalid tenant id '%s': %s\n", id, why);
    return 2;
  }
  if (policy.value()->find(id) == nullptr) {
    std::fprintf(stderr, "tenant-sandbox run: tenant '%s' is not admitted by %s (unknown_tenants is \"deny\" and it is not listed)\n",
                 id, policy_path);
    return 2;
  }
  auto ctx = tenant::TenantContext::create(*policy.value(), id);
  if (!ctx) {
    std::fprintf(stderr, "tenant-sandbox run: tenant '%s': %s\n", id, ctx.error().str().c_str());
    return 2;
  }
  const std::string library = find_library();
  if (library.empty()) {
    std::fprintf(stderr,
                 "tenant-sandbox run: libsandbox.so not found (TENANT_SANDBOX_LIBRARY, next to this program, %s); "
                 "refusing to run COMMAND unconfined\n",
                 TS_PRELOAD_PATH);
    return 2;
  }

  // libsandbox's own variables; everything else is passed on unchanged.
  const std::string json = ctx.value()->to_policy_json();
  namespace wire = tenant::wire;
  if (::setenv(wire::kEnvTenant, id, 1) != 0 || ::setenv(wire::kEnvPolicyJson, json.c_str(), 1) != 0 ||
      ::setenv(wire::kEnvStateDir, wire::state_dir_from_env(), 1) != 0 ||
      ::setenv("LD_PRELOAD", library.c_str(), 1) != 0) {
    std::perror("tenant-sandbox run: setenv");
    return 2;
  }

  // The shared tables the command's libsandbox opens (the connection
  // budget), made or repaired here while this process is still free to: the
  // kernel layer's ruleset lets the command write inside the state folder,
  // not create it next to it. Best effort: on failure the command's
  // libsandbox says what is wrong and fails closed.
  {
    char err[512];
    if (::geteuid() == 0) {
      tenant::state::repair_state(wire::state_dir_from_env(), tenant::state::libc_calls());
      // Root runs the command as itself, but the kernel layer takes its
      // capabilities (no DAC override left): the tables are opened through
      // their group, like every worker's, so root joins it.
      const gid_t g = tenant::state::state_group();
      gid_t groups[64];
      const int n = ::getgroups(63, groups);
      bool member = g == ::getegid();
      for (int i = 0; i < n && !member; ++i) member = groups[i] == g;
      if (!member && n >= 0) {
        groups[n] = g;
        (void)!::setgroups(static_cast<std::size_t>(n) + 1, groups);
      }
    }
    void* m = tenant::state::map_state_file(wire::state_dir_from_env(), "budget",
                                            sizeof(tenant::state::budget_layout::Map),
                                            tenant::state::OpenMode::ReadWrite, tenant::state::libc_calls(), err,
                                            sizeof err);
    tenant::state::unmap_state_file(m, sizeof(tenant::state::budget_layout::Map));
  }

  // ---- KERNEL CONFINEMENT CALL SITE ----------------------------------------
  // After the policy is known and right before exec; nothing runs between
  // the confinement and the exec below.
  const std::string resolved = resolve_command(command[0]);
  if (kernel && !apply_kernel_layers(*ctx.value(), resolved, library, tenant::wire::state_dir_from_env()))
    return 2;
  // ---------------------------------------------------------------------------

  if (!resolved.empty()) ::execv(resolved.c_str(), command);
  else ::execvp(command[0], command);
  const int err = errno;
  std::fprintf(stderr, "tenant-sandbox run: cannot execute %s: %s\n", command[0], std::strerror(err));
  return 127;
}

}  // namespace cli
