// `tenant-sandbox status [--json] [--top N] [--tenant ID]`: per tenant,
// requests in progress, connections held and denials, read from the tables
// under STATE_DIR (env TENANT_SANDBOX_STATE_DIR, default
// /run/tenant-sandbox) that every Apache process shares. The rows and the
// formats are tenant_state's (status_report.hpp), the same code the status
// page runs, so the two always agree.
//
// Exit status: 0 every table was read; 1 at least one could not be (each is
// named on stderr with the reason; whatever could be read is still printed);
// 2 usage.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "commands.hpp"
#include "tenant/policy.hpp"
#include "tenant/state_file.hpp"
#include "tenant/status_report.hpp"

namespace cli {
namespace {

constexpr const char kUsage[] =
    "usage: tenant-sandbox status [--json] [--top N] [--tenant ID]\n"
    "  reads STATE_DIR (TENANT_SANDBOX_STATE_DIR, default /run/tenant-sandbox)\n"
    "  --json      the same document as the status page's ?json\n"
    "  --top N     only the N most active tenants, the rest summed as \"other\" (default: all)\n"
    "  --tenant ID only this tenant's row\n"
    "  exit status: 0 all tables read, 1 a table could not be read (named on stderr), 2 usage\n";

bool parse_count(const char* s, std::size_t& out) {
  if (s == nullptr || *s == '\0') return false;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (*end != '\0' || s[0] == '-') return false;
  out = v > tenant::state::kMaxTop ? tenant::state::kMaxTop : static_cast<std::size_t>(v);
  return true;
}

}  // namespace

int cmd_status(int argc, char** argv) {
  bool json = false;
  tenant::state::FormatOptions opts;
  opts.top = 0;  // the operator asked on the host: everything unless told
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--top" && i + 1 < argc) {
      if (!parse_count(argv[++i], opts.top)) {
        std::fprintf(stderr, "tenant-sandbox status: --top wants a number, got \"%s\"\n%s", argv[i], kUsage);
        return 2;
      }
    } else if (a == "--tenant" && i + 1 < argc) {
      opts.tenant = argv[++i];
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "tenant-sandbox status: unexpected argument \"%s\"\n%s", argv[i], kUsage);
      return 2;
    }
  }

  tenant::state::StatusSources src;
  src.state_dir = tenant::state::default_state_dir();
  // The caps come from the policy the Apache parent recorded as in force
  // (in the denial table's header).
  std::shared_ptr<const tenant::Policy> policy;
  {
    char err[512];
    const std::size_t size = tenant::state::denial_map_size();
    void* base = tenant::state::map_state_file(src.state_dir.c_str(), "denials", size, tenant::state::OpenMode::ReadOnly,
                                               tenant::state::libc_calls(), err, sizeof err);
    tenant::state::ServerInfo info;
    if (base != nullptr && tenant::state::read_server_info(base, info) && !info.policy.empty()) {
      auto loaded = tenant::Policy::load_file(info.policy);
      if (loaded) policy = loaded.value();
      else
        std::fprintf(stderr, "tenant-sandbox status: note: policy %s could not be read, caps not shown\n",
                     info.policy.c_str());
    }
    tenant::state::unmap_state_file(base, size);
  }
  if (policy)
    src.limits = [policy](std::string_view id) {
      tenant::state::Limits l;
      if (const tenant::RuleSet* rules = policy->find(id)) {
        l.max_connections = rules->max_connections;
        l.max_requests = rules->max_requests;
      }
      return l;
    };
  const tenant::state::StatusReport report = tenant::state::collect_status(src, opts.top);
  for (const auto& p : report.problems) std::fprintf(stderr, "tenant-sandbox status: %s\n", p.c_str());
  const std::string out = json ? tenant::state::format_json(report, opts) : tenant::state::format_text(report, opts);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return report.problems.empty() ? 0 : 1;
}

}  // namespace cli
