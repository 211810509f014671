// apply_worker_baseline(): what every worker gives up for good before it
// serves its first request (issue 4, THREATS 20-21).
#include <dirent.h>
#include <fcntl.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kernel_confine.hpp"
#include "seccomp_filters.hpp"

namespace tenant::kernel {
namespace {

std::string errno_text(const char* what, int err) { return std::string(what) + ": " + std::strerror(err); }

// Capabilities are per thread (credentials), and libcap without libpsx only
// changes the calling thread. So the check reads every thread's status:
// a worker whose other threads kept CAP_SYS_PTRACE or CAP_DAC_OVERRIDE
// would be one pthread away from every tenant's files.
bool every_thread_capless(std::string& offender) {
  DIR* d = ::opendir("/proc/self/task");
  if (d == nullptr) {
    offender = errno_text("/proc/self/task", errno);
    return false;
  }
  bool clean = true;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const std::string path = std::string("/proc/self/task/") + e->d_name + "/status";
    FILE* f = std::fopen(path.c_str(), "re");
    if (f == nullptr) continue;  // thread exited meanwhile
    char line[256];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      // CapInh, CapPrm, CapEff, CapAmb (CapBnd is the bounding set: separate)
      if (std::strncmp(line, "Cap", 3) != 0 || std::strncmp(line, "CapBnd", 6) == 0) continue;
      const char* colon = std::strchr(line, ':');
      if (colon == nullptr) continue;
      const unsigned long long v = std::strtoull(colon + 1, nullptr, 16);
      if (v != 0) {
        clean = false;
        offender = std::string("thread ") + e->d_name + " " + std::string(line, static_cast<std::size_t>(colon - line)) + "=" +
                   std::to_string(v);
      }
    }
    std::fclose(f);
  }
  ::closedir(d);
  return clean;
}

}  // namespace

std::string BaselineReport::describe() const {
  std::string s = "caps: ";
  s += capabilities_dropped ? "none left" : "STILL HELD";
  s += bounding_set_cleared ? " (bounding set cleared)" : " (bounding set kept: no CAP_SETPCAP)";
  s += non_dumpable ? "; dumpable: no (siblings cannot ptrace or read /proc/PID/mem, even with CoreDumpDirectory)"
                    : "; dumpable: YES";
  s += no_new_privs ? "; no_new_privs: yes" : "; no_new_privs: no";
  if (seccomp) {
    s += "; seccomp: " + std::to_string(seccomp_rules) +
         " system calls refused (io_uring, clone3 -> ENOSYS; ptrace, bpf, mount, ... -> EPERM)";
  } else {
    s += "; seccomp: not installed";
  }
  for (const std::string& w : warnings) s += "; warning: " + w;
  return s;
}

Result<BaselineReport> apply_worker_baseline() noexcept {
  try {
    BaselineReport r;

    // 1. While CAP_SETPCAP may still be held: lock "root is not special"
    // (an exec as uid 0 would otherwise be handed a full capability set)
    // and empty the bounding set, so nothing exec'd can regain a capability
    // from file capabilities either.
    if (cap_set_secbits(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED) != 0 && errno != EPERM) {
      r.warnings.push_back(errno_text("securebits", errno));
    }
    bool bound_ok = true;
    const cap_value_t max = cap_max_bits();
    for (cap_value_t c = 0; c < max; ++c) {
      if (cap_get_bound(c) > 0 && cap_drop_bound(c) != 0) bound_ok = false;
    }
    for (cap_value_t c = 0; c < max; ++c) {
      if (cap_get_bound(c) > 0) bound_ok = false;
    }
    r.bounding_set_cleared = bound_ok;
    if (!bound_ok) {
      r.warnings.push_back("bounding set not cleared (needs CAP_SETPCAP); no_new_privs still stops exec gains");
    }

    // 2. Ambient, then effective/permitted/inheritable.
    if (cap_get_ambient(CAP_CHOWN) >= 0 && cap_reset_ambient() != 0) {
      return Error{"capabilities", errno_text("cannot clear the ambient set", errno)};
    }
    cap_t empty = cap_init();
    if (empty == nullptr) return Error{"capabilities", errno_text("cap_init", errno)};
    const int set_rc = cap_set_proc(empty);
    const int set_err = errno;
    cap_free(empty);
    if (set_rc != 0) return Error{"capabilities", errno_text("cannot drop capabilities", set_err)};
    std::string offender;
    if (!every_thread_capless(offender)) {
      return Error{"capabilities", "a capability is still held (" + offender +
                                       "); call apply_worker_baseline() before starting threads"};
    }
    r.capabilities_dropped = true;

    // 3. Not dumpable: /proc/PID/mem, ptrace and process_vm_* of this
    // process need PTRACE_MODE_ATTACH, which a non-dumpable target refuses to
    // same-uid callers without CAP_SYS_PTRACE. Apache's CoreDumpDirectory
    // turns dumpable back on in every child; this runs after it.
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) {
      return Error{"dumpable", errno_text("cannot make the worker non-dumpable", errno)};
    }
    r.non_dumpable = true;

    // 4. no_new_privs: needed to install seccomp without CAP_SYS_ADMIN, and
    // no setuid/file-capability program can raise privileges any more.
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
      return Error{"no_new_privs", errno_text("prctl(PR_SET_NO_NEW_PRIVS)", errno)};
    }
    r.no_new_privs = true;

    // 5. The worker filter on every thread (TSYNC also copies no_new_privs).
    const detail::BpfProgram& wf = detail::worker_filter();
    if (!wf.error.empty()) return Error{"seccomp", wf.error};
    int rc = detail::install(wf, SECCOMP_FILTER_FLAG_TSYNC);
    if (rc != 0) return Error{"seccomp", errno_text("installing the worker filter", -rc)};
    rc = detail::install(detail::personality_filter(), SECCOMP_FILTER_FLAG_TSYNC);
    if (rc != 0) return Error{"seccomp", errno_text("installing the personality filter", -rc)};
    r.seccomp = true;
    r.seccomp_rules = wf.refused + detail::personality_filter().refused;
    return r;
  } catch (...) {
    return Error{"kernel", "out of memory"};
  }
}

}  // namespace tenant::kernel
