// The C API for the server (tenant_sandbox.h, "extensions for the server"):
// what mod_tenant_tag asks of libsandbox besides setting and clearing the
// tag -- the server's start, each worker's start and end, the request cap
// (max_requests) and the status page. libsandbox is the one control plane:
// the policy, the shared tables under STATE_DIR and the kernel layer's
// threads live here, behind the re-entrancy guard, and the module keeps
// none of its own.
//
// Every entry point is noinline and checks its caller with
// __builtin_return_address(0) against the claimant (control.cpp), like
// set/clear: tenant code (PHP FFI, an extension) gets -EPERM.
#include <fcntl.h>
#include <grp.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "budget.hpp"
#include "internal.hpp"
#include "proc_common.hpp"
#include "tenant/context.hpp"
#include "tenant/doors.hpp"
#include "tenant/denials.hpp"
#include "tenant/requests.hpp"
#include "tenant/state_file.hpp"
#include "tenant/status_report.hpp"
#include "tenant/tenant_id.hpp"
#include "tenant_sandbox.h"

namespace sb::server {
namespace {

namespace st = tenant::state;

// Opened in the root Apache parent (sandbox_server_start) and inherited by
// every worker with the mapping; a worker whose parent could not open it
// tries once more in sandbox_worker_start (the folder may have been fixed).
st::RequestTable g_requests;
char g_requests_err[200] = "not opened yet";

// What the status page says about the policy in force.
const tenant::Policy* g_policy_seen = nullptr;
std::int64_t g_policy_loaded_at = 0;

// Can uid/gid read this library? Asked of the kernel by a child that takes
// those ids (the only answer that covers every folder's mode, ACLs and
// mounts): the Apache parent is root here, the workers will not be.
bool library_readable_by(uid_t uid, gid_t gid, char* why, std::size_t len) noexcept {
  const char* lib = sb::library_path();
  if (lib == nullptr || lib[0] != '/') {
    std::snprintf(why, len, "the path of libsandbox.so is not known");
    return false;
  }
  if (::geteuid() != 0) return true;  // not the root parent: nothing to switch to
  const pid_t pid = SB_REAL(fork)();
  if (pid < 0) return true;  // cannot tell: the exec wrappers check again
  if (pid == 0) {
    const gid_t groups[1] = {gid};
    if (::setgroups(1, groups) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) SB_REAL(_exit)(2);
    const int fd = SB_REAL(open)(lib, O_RDONLY | O_CLOEXEC);
    SB_REAL(_exit)(fd >= 0 ? 0 : 1);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 1) {
    std::snprintf(why, len,
                  "%s is not readable by Apache's user (uid %u gid %u): every program a tenant starts would run "
                  "without libsandbox; install it in a folder every user can read (the package's "
                  "/usr/lib/x86_64-linux-gnu/tenant-sandbox, or chmod o+rx each folder on its path)",
                  lib, static_cast<unsigned>(uid), static_cast<unsigned>(gid));
    return false;
  }
  return true;
}

// This host's interface addresses: a listener on 0.0.0.0 or :: is reached
// through every one of them, not only through loopback.
std::vector<tenant::CanonicalAddress> local_addresses() {
  std::vector<tenant::CanonicalAddress> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    const socklen_t len = i->ifa_addr->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    if (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6) continue;
    if (auto a = tenant::canonicalize(i->ifa_addr, len)) {
      a->port = 0;
      out.push_back(*a);
    }
  }
  ::freeifaddrs(list);
  return out;
}

st::SysCalls real_calls() noexcept {
  // ::read is not interposed; the others are our own wrappers.
  return st::SysCalls{SB_REAL(mkdir), SB_REAL(open), SB_REAL(openat), SB_REAL(close), ::read};
}

void put(char* out, std::size_t len, const char* text) noexcept {
  if (out == nullptr || len == 0) return;
  std::snprintf(out, len, "%s", text != nullptr ? text : "");
}

std::int64_t unix_now() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec;
}

bool open_requests() noexcept {
  if (g_requests.is_open()) return true;
  return g_requests.open(proc::state_dir(), real_calls(), g_requests_err, sizeof g_requests_err);
}

// The tenant set in this thread by the claimant (not a process tenant: the
// server's calls are about requests, and a process a tenant started cannot
// call them anyway).
ActiveTenant* thread_tenant() noexcept {
  ActiveTenant* t = t_state.tenant;
  return t != nullptr && t != g_deny_all && t->ctx ? t : nullptr;
}

}  // namespace
}  // namespace sb::server

using sb::server::g_requests;

extern "C" __attribute__((visibility("default"))) const char* sandbox_tenant_id_problem(const char* id) {
  if (id == nullptr) return "no id";
  const std::size_t n = ::strnlen(id, tenant::kMaxTenantIdLen + 1);
  if (n > tenant::kMaxTenantIdLen) return tenant::tenant_id_problem(std::string_view(id, n));
  return tenant::is_valid_tenant_id(std::string_view(id, n)) ? nullptr
                                                             : tenant::tenant_id_problem(std::string_view(id, n));
}

extern "C" __attribute__((visibility("default"))) int sandbox_tenant_flags(void) {
  const sb::ActiveTenant* t = sb::t_state.tenant;
  if (t == nullptr) t = sb::g_process_tenant.load(std::memory_order_acquire);
  if (t == nullptr || !t->ctx) return -ENOENT;
  return t->ctx->mode() == tenant::Mode::Audit || t->request_audit() ? SANDBOX_TENANT_AUDIT : 0;
}

extern "C" __attribute__((noinline, visibility("default"))) int sandbox_server_start(
    const struct sandbox_server_config* cfg, char* err, size_t errlen) {
  const void* caller = __builtin_return_address(0);
  if (!sb::claimant_call(caller)) return -EPERM;
  // Fields the caller knows: everything up to first_start is the first
  // version of the struct; later fields are read only when size covers them.
  if (cfg == nullptr || cfg->size < offsetof(sandbox_server_config, first_start) + sizeof(int)) return -EINVAL;
  try {
    sb::InternalScope internal;
    std::string problems;
    const bool have_ids = cfg->size >= offsetof(sandbox_server_config, worker_gid) + sizeof(int);
    if (have_ids && cfg->worker_gid >= 0) tenant::state::set_state_group(static_cast<gid_t>(cfg->worker_gid));
    tenant::set_access_file_names(cfg->access_files != nullptr ? cfg->access_files : ".htaccess");
    tenant::state::repair_state(sb::proc::state_dir(), sb::server::real_calls());
    // The tables every worker shares, mapped here in the root parent so
    // they are inherited after the workers drop privileges.
    if (!sb::server::open_requests()) {
      problems += sb::server::g_requests_err;
    } else if (cfg->first_start != 0) {
      (void)g_requests.reclaim_all_dead();
    }
    sb::status_open_early();
    sb::budget::open_early();
    if (void* denials = sb::status_map(); denials != nullptr) {
      std::shared_ptr<const tenant::Policy> p = sb::current_policy();
      if (p.get() != sb::server::g_policy_seen) {
        sb::server::g_policy_seen = p.get();
        sb::server::g_policy_loaded_at = sb::server::unix_now();
      }
      tenant::state::ServerInfo info;
      info.policy = cfg->policy_path != nullptr ? cfg->policy_path : "";
      info.policy_ok = cfg->policy_ok != 0 && p != nullptr;
      info.policy_loaded = sb::server::g_policy_loaded_at;
      info.policy_tenants = p ? p->tenant_count() : 0;
      info.kernel = cfg->kernel_note != nullptr ? cfg->kernel_note : "";
      info.written = sb::server::unix_now();
      info.pid = static_cast<std::int32_t>(::getpid());
      tenant::state::write_server_info(denials, info);
    } else {
      if (!problems.empty()) problems += "; ";
      problems += std::string("denial counters (") + sb::proc::state_dir() + "/denials) cannot be mapped";
    }
    if (cfg->size >= offsetof(sandbox_server_config, open_doors) + sizeof(void*)) {
      std::vector<tenant::ServerDoor> closed, open;
      for (const char* const* p = cfg->closed_doors; p != nullptr && *p != nullptr; ++p) {
        auto d = tenant::parse_door(*p);
        if (!d) {
          sb::server::put(err, errlen, d.error().what.c_str());
          return -EINVAL;
        }
        closed.push_back(std::move(d).value());
      }
      for (const char* const* p = cfg->open_doors; p != nullptr && *p != nullptr; ++p) {
        const std::string_view e(*p);
        const std::size_t sp = e.find(' ');
        auto d = tenant::parse_door(sp == std::string_view::npos ? e : e.substr(sp + 1));
        if (sp == std::string_view::npos || !d) {
          sb::server::put(err, errlen, sp == std::string_view::npos ? "open door without a name" : d.error().what.c_str());
          return -EINVAL;
        }
        tenant::ServerDoor door = std::move(d).value();
        door.name = std::string(e.substr(0, sp));
        open.push_back(std::move(door));
      }
      tenant::set_server_doors(std::move(closed), std::move(open), sb::server::local_addresses());
    }
    if (have_ids && cfg->worker_uid >= 0 && cfg->worker_gid >= 0) {
      char why[512];
      if (!sb::server::library_readable_by(static_cast<uid_t>(cfg->worker_uid), static_cast<gid_t>(cfg->worker_gid),
                                           why, sizeof why)) {
        sb::server::put(err, errlen, why);
        return -EACCES;
      }
    }
    sb::server::put(err, errlen, problems.c_str());
    return 0;
  } catch (...) {
    sb::server::put(err, errlen, "out of memory");
    return -ENOMEM;
  }
}

namespace sb::kernel_glue {
int worker_start(char* report, std::size_t len) noexcept;  // kernel_api.cpp
}

extern "C" __attribute__((noinline, visibility("default"))) int sandbox_worker_start(int flags, char* report,
                                                                                      size_t reportlen) {
  const void* caller = __builtin_return_address(0);
  if (!sb::claimant_call(caller)) return -EPERM;
  if ((flags & ~SANDBOX_WORKER_KERNEL) != 0) return -EINVAL;
  sb::server::put(report, reportlen, "");
  {
    sb::InternalScope internal;
    if (sb::server::open_requests()) (void)g_requests.note_process();
  }
  if ((flags & SANDBOX_WORKER_KERNEL) == 0) return 0;
  return sb::kernel_glue::worker_start(report, reportlen);
}

extern "C" __attribute__((noinline, visibility("default"))) int sandbox_worker_exited(int pid) {
  const void* caller = __builtin_return_address(0);
  if (!sb::claimant_call(caller)) return -EPERM;
  if (pid <= 0) return -EINVAL;
  if (!g_requests.is_open()) return 0;
  sb::InternalScope internal;
  return static_cast<int>(g_requests.release_process(static_cast<pid_t>(pid)));
}

extern "C" __attribute__((noinline, visibility("default"))) int sandbox_request_admit(struct sandbox_admission* out) {
  const void* caller = __builtin_return_address(0);
  if (!sb::claimant_call(caller)) return -EPERM;
  if (out == nullptr) return -EINVAL;
  std::memset(out, 0, sizeof *out);
  sb::ActiveTenant* t = sb::server::thread_tenant();
  if (t == nullptr) return -ENOENT;
  const std::uint32_t cap = t->ctx->max_requests();  // tenant::kUnlimited == SANDBOX_NO_CAP
  out->cap = cap;
  out->enforce = t->ctx->mode() == tenant::Mode::Enforce && !t->request_audit() ? 1 : 0;
  if (!g_requests.is_open()) {
    out->verdict = SANDBOX_NOT_COUNTED;
    std::snprintf(out->why, sizeof out->why, "is unavailable (%s)", sb::server::g_requests_err);
    return 0;
  }
  sb::InternalScope internal;  // a reclaim reads /proc/PID/stat: libsandbox's own work
  const tenant::state::Admission a = g_requests.admit(t->ctx->id(), cap, out->enforce != 0);
  out->ticket = a.ticket.slot_plus_one;
  out->in_progress = a.in_progress;
  out->refused = a.refused;
  out->over_cap = a.over_cap ? 1 : 0;
  out->log_now = a.log_now ? 1 : 0;
  switch (a.verdict) {
    case tenant::state::Verdict::Admitted: out->verdict = SANDBOX_ADMITTED; break;
    case tenant::state::Verdict::OverLimit: out->verdict = SANDBOX_OVER_LIMIT; break;
    case tenant::state::Verdict::TenantTableFull:
      out->verdict = SANDBOX_NOT_COUNTED;
      std::snprintf(out->why, sizeof out->why, "is full (no row for the tenant)");
      break;
    case tenant::state::Verdict::SlotTableFull:
      out->verdict = SANDBOX_NOT_COUNTED;
      std::snprintf(out->why, sizeof out->why, "is full (no slot for the request)");
      break;
  }
  return 0;
}

extern "C" __attribute__((noinline, visibility("default"))) int sandbox_request_done(unsigned ticket) {
  const void* caller = __builtin_return_address(0);
  if (!sb::claimant_call(caller)) return -EPERM;
  if (ticket == 0) return 0;
  tenant::state::Ticket t{ticket};
  g_requests.release(t);
  return 0;
}

extern "C" __attribute__((noinline, visibility("default"))) char* sandbox_status_render(int format, size_t top,
                                                                                        const char* tenant,
                                                                                        size_t* len) {
  const void* caller = __builtin_return_address(0);
  if (!sb::claimant_call(caller) || sb::t_state.tenant != nullptr ||
      sb::g_process_tenant.load(std::memory_order_acquire) != nullptr) {
    errno = EPERM;  // and never inside a tenant's request: the page shows every tenant
    return nullptr;
  }
  if (format < SANDBOX_STATUS_HTML || format > SANDBOX_STATUS_PROMETHEUS) {
    errno = EINVAL;
    return nullptr;
  }
  try {
    sb::InternalScope internal;
    namespace st = tenant::state;
    st::StatusSources src;
    src.state_dir = sb::proc::state_dir();
    src.denials = sb::status_map();
    src.budget = sb::budget::map_base();
    if (std::shared_ptr<const tenant::Policy> p = sb::current_policy())
      src.limits = [p](std::string_view id) {
        st::Limits l;
        if (const tenant::RuleSet* rules = p->find(id)) {
          l.max_connections = rules->max_connections;
          l.max_requests = rules->max_requests;
        }
        return l;
      };
    st::FormatOptions opts;
    opts.top = top == 0 ? st::kDefaultTop : (top > st::kMaxTop ? st::kMaxTop : top);
    if (tenant != nullptr && tenant[0] != '\0') opts.tenant = tenant;
    const st::StatusReport report = st::collect_status(src, opts.top);
    std::string text;
    switch (format) {
      case SANDBOX_STATUS_JSON: text = st::format_json(report, opts); break;
      case SANDBOX_STATUS_PROMETHEUS: text = st::format_prometheus(report, opts); break;
      default: text = st::format_html(report, opts); break;
    }
    char* out = static_cast<char*>(std::malloc(text.size() + 1));
    if (out == nullptr) {
      errno = ENOMEM;
      return nullptr;
    }
    std::memcpy(out, text.data(), text.size() + 1);
    if (len != nullptr) *len = text.size();
    return out;
  } catch (...) {
    errno = ENOMEM;
    return nullptr;
  }
}

extern "C" __attribute__((visibility("default"))) const char* sandbox_door_problem(const char* door) {
  if (door == nullptr) return "no door";
  try {
    return tenant::parse_door(door) ? nullptr : "expected ADDR:PORT, [V6]:PORT, *:PORT or an absolute unix socket path";
  } catch (...) {
    return "out of memory";
  }
}
