// probe(): what the running kernel offers (Landlock ABI, scopes, seccomp).
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "kernel_confine.hpp"
#include "landlock_uapi.hpp"

namespace tenant::kernel {

KernelSupport probe() noexcept {
  KernelSupport s;
  const long abi = ll::create_ruleset(nullptr, 0, ll::kCreateRulesetVersion);
  if (abi < 0) {
    // ENOSYS: kernel older than 5.13 or built without Landlock;
    // EOPNOTSUPP: built in but not enabled (lsm= boot parameter).
    s.landlock_errno = errno;
  } else {
    s.landlock_abi = static_cast<int>(abi);
    const long errata = ll::create_ruleset(nullptr, 0, ll::kCreateRulesetErrata);
    s.landlock_errata = errata > 0 ? static_cast<int>(errata) : 0;
  }
  s.fs_rights = ll::fs_rights_for_abi(s.landlock_abi);
  s.net_tcp = s.landlock_abi >= 4;
  s.scope_signal = s.landlock_abi >= 6;
  s.scope_abstract_unix = s.landlock_abi >= 6;
  // SECCOMP_GET_ACTION_AVAIL (Linux 4.14) answers 0 when filters can return
  // errno values; an older kernel or one without CONFIG_SECCOMP_FILTER fails.
  unsigned action = SECCOMP_RET_ERRNO;
  s.seccomp = ::syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
  return s;
}

std::string KernelSupport::describe() const {
  std::string out;
  if (landlock_abi <= 0) {
    out = "landlock: unavailable (";
    out += landlock_errno == EOPNOTSUPP ? "disabled at boot: add landlock to lsm=" : "kernel without Landlock";
    out += "; filesystem, signal and abstract-socket isolation rest on the preload layer only)";
  } else {
    out = "landlock ABI " + std::to_string(landlock_abi) + ": fs";
    if (net_tcp) out += ", net(tcp)";
    if (scope_signal || scope_abstract_unix) {
      out += ", scopes(";
      if (scope_signal) out += "signal";
      if (scope_signal && scope_abstract_unix) out += ", ";
      if (scope_abstract_unix) out += "abstract-unix";
      out += ")";
    }
  }
  out += seccomp ? "; seccomp: yes" : "; seccomp: no";
  return out;
}

}  // namespace tenant::kernel
