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

const Command kStatus{
    "status",
    "[--json] [--top N] [--tenant ID]",
    "per-tenant requests in progress, connections and denials, from the shared state",
    {{"json", nullptr, "the same document as the status page's ?json"},
     {"top", "N", "only the N most active tenants, the rest summed as \"other\" (default: all)"},
     {"tenant", "ID", "only this tenant's row"}},
    "  reads STATE_DIR (TENANT_SANDBOX_STATE_DIR, default /run/tenant-sandbox)\n"
    "  exit: 0 all tables read, 1 a table could not be read (named on stderr), 2 usage\n",
};

namespace {

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
  Args args;
  if (const int rc = parse(kStatus, argc, argv, &args); rc >= 0) return rc;
  if (!args.operands.empty()) return usage_error(kStatus, "unexpected argument \"" + args.operands[0] + "\"");
  const bool json = args.has("json");
  tenant::state::FormatOptions opts;
  opts.top = 0;  // the operator asked on the host: everything unless told
  if (args.has("top") && !parse_count(args.value("top").c_str(), opts.top))
    return usage_error(kStatus, "--top wants a number, got \"" + args.value("top") + "\"");
  if (args.has("tenant")) opts.tenant = args.value("tenant");

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
