// noexcept extern "C" layer over tenant_state's status report for the
// status page (tt_status.h). Nothing throws across this boundary: a failure
// comes back as NULL / -1 and the C glue answers 500.
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "tenant/budget_map.hpp"
#include "tenant/denials.hpp"
#include "tenant/policy.hpp"
#include "tenant/state_file.hpp"
#include "tenant/status_report.hpp"
#include "tt_core_bridge.hpp"
#include "tt_status.h"

namespace {

namespace st = tenant::state;

// Mapped once in the parent and inherited by every worker (the workers run
// as the Apache user; the parent maps as root). Never unmapped: the module
// is pinned in memory across graceful restarts, and so are these.
void* g_denials = nullptr;
const void* g_budget = nullptr;

// The policy the page takes the caps from: the one check_config last
// validated, which is what libsandbox loaded (tt_core_bridge.cpp).
std::shared_ptr<const tenant::Policy> g_policy;
std::int64_t g_loaded = 0;

std::int64_t now_seconds() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec;
}

}  // namespace

int tt_status_bridge_parent_init(const char* policy_path, const char* kernel, char* err, std::size_t errlen) noexcept {
  try {
    if (err != nullptr && errlen > 0) err[0] = '\0';
    const char* dir = st::default_state_dir();
    int rc = 0;
    if (g_denials == nullptr) {
      const std::size_t size = st::denial_map_size();
      void* base = st::map_state_file(dir, "denials", size, st::OpenMode::ReadWrite, st::libc_calls(), err, errlen);
      if (base != nullptr && !st::denial_map_attach(base, size)) {
        st::unmap_state_file(base, size);
        base = nullptr;
        if (err != nullptr && errlen > 0) std::snprintf(err, errlen, "state file %s/denials: unknown layout", dir);
      }
      g_denials = base;
      if (base == nullptr) rc = -1;
    }
    if (g_budget == nullptr) {
      char ignored[256];  // absent until libsandbox made it: the page maps it per request then
      g_budget = st::map_state_file(dir, "budget", sizeof(st::budget_layout::Map), st::OpenMode::ReadOnly,
                                    st::libc_calls(), ignored, sizeof ignored);
    }
    // A new object means check_config accepted a (re)loaded policy; the
    // same one means the new file was refused and the old stays in force.
    std::shared_ptr<const tenant::Policy> p = tt_core_checked_policy();
    bool ok = p != nullptr;
    if (p != nullptr && p != g_policy) {
      g_policy = p;
      g_loaded = now_seconds();
    } else if (p != nullptr && g_loaded != 0) {
      ok = false;
    }
    if (g_denials != nullptr) {
      st::ServerInfo info;
      info.policy = policy_path != nullptr ? policy_path : "";
      info.policy_ok = ok;
      info.policy_loaded = g_loaded;
      info.policy_tenants = g_policy ? g_policy->tenant_count() : 0;
      info.kernel = kernel != nullptr ? kernel : "";
      info.written = now_seconds();
      info.pid = static_cast<std::int32_t>(::getpid());
      st::write_server_info(g_denials, info);
    }
    return rc;
  } catch (...) {
    if (err != nullptr && errlen > 0) std::snprintf(err, errlen, "%s", "internal error");
    return -1;
  }
}

char* tt_status_bridge_render(int format, std::size_t top, const char* tenant, std::size_t* len) noexcept {
  try {
    st::StatusSources src;
    src.state_dir = st::default_state_dir();
    src.denials = g_denials;
    src.budget = g_budget;
    if (std::shared_ptr<const tenant::Policy> p = g_policy)
      src.limits = [p](std::string_view id) {
        st::Limits l;
        if (const tenant::RuleSet* rules = p->find(id)) {
          l.max_connections = rules->max_connections;
          l.max_requests = rules->max_requests;
        }
        return l;
      };
    st::FormatOptions opts;
    opts.top = top > st::kMaxTop ? st::kMaxTop : top;
    if (tenant != nullptr) opts.tenant = tenant;
    const st::StatusReport report = st::collect_status(src, opts.top);
    std::string text;
    switch (format) {
      case TT_STATUS_JSON: text = st::format_json(report, opts); break;
      case TT_STATUS_PROMETHEUS: text = st::format_prometheus(report, opts); break;
      default: text = st::format_html(report, opts); break;
    }
    char* out = static_cast<char*>(std::malloc(text.size() + 1));
    if (out == nullptr) return nullptr;
    std::memcpy(out, text.data(), text.size() + 1);
    if (len != nullptr) *len = text.size();
    return out;
  } catch (...) {
    return nullptr;
  }
}
