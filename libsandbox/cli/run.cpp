// tenant-sandbox run --policy POLICY --tenant ID -- COMMAND [ARG...]
//
// Runs COMMAND as tenant ID from its first instruction: the environment
// protocol (DESIGN.md, BRIEFING "Environment protocol") makes libsandbox in
// COMMAND lock the process to the tenant in its constructor, before main.
// COMMAND itself is the operator's choice and is not checked against
// `exec`; whatever COMMAND executes is. The exit status is COMMAND's, since
// exec replaces this process.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "commands.hpp"
#include "tenant/context.hpp"
#include "tenant/policy.hpp"
#include "tenant/tenant_id.hpp"

#ifndef TS_PRELOAD_PATH
#define TS_PRELOAD_PATH "/usr/lib/tenant-sandbox/libsandbox.so"
#endif

namespace cli {
namespace {

int usage() {
  std::fputs("usage: tenant-sandbox run --policy POLICY --tenant ID -- COMMAND [ARG...]\n", stderr);
  return 2;
}

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

}  // namespace

int cmd_run(int argc, char** argv) {
  const char* policy_path = nullptr;
  const char* id = nullptr;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if ((a == "--policy" || a == "--tenant") && i + 1 < argc) {
      (a == "--policy" ? policy_path : id) = argv[++i];
    } else if (a.rfind("--policy=", 0) == 0) {
      policy_path = argv[i] + 9;
    } else if (a.rfind("--tenant=", 0) == 0) {
      id = argv[i] + 9;
    } else {
      std::fprintf(stderr, "tenant-sandbox run: unexpected argument '%s'\n", argv[i]);
      return usage();
    }
  }
  if (policy_path == nullptr || id == nullptr || i >= argc) return usage();
  char** command = argv + i;

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
  const char* state = std::getenv("TENANT_SANDBOX_STATE_DIR");
  if (::setenv("TENANT_SANDBOX_TENANT", id, 1) != 0 ||
      ::setenv("TENANT_SANDBOX_POLICY_JSON", json.c_str(), 1) != 0 ||
      ::setenv("TENANT_SANDBOX_STATE_DIR", state != nullptr && state[0] == '/' ? state : "/run/tenant-sandbox", 1) != 0 ||
      ::setenv("LD_PRELOAD", library.c_str(), 1) != 0) {
    std::perror("tenant-sandbox run: setenv");
    return 2;
  }

  // ---- KERNEL CONFINEMENT CALL SITE ----------------------------------------
  // The lead adds the kernel layers (seccomp, Landlock, capabilities) here,
  // after the policy is known and right before exec; nothing may run
  // between that call and the exec below.
  // ---------------------------------------------------------------------------

  ::execvp(command[0], command);
  const int err = errno;
  std::fprintf(stderr, "tenant-sandbox run: cannot execute %s: %s\n", command[0], std::strerror(err));
  return 127;
}

}  // namespace cli
