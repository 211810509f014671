// `tenant-sandbox check POLICY [--json]`: load and validate, then expand
// every tenant that has rules of its own (and the defaults with a
// longest-possible id) so that errors only visible after "{tenant}"
// expansion are found before the policy reaches Apache (policy_files.cpp).
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.hpp"
#include "policy_files.hpp"
#include "tenant/policy.hpp"

namespace cli {

const Command kCheck{
    "check",
    "POLICY [--json]",
    "validate a policy file or folder: exit 0 and a summary, or 1 and every error located",
    {{"json", nullptr, "print the result as one JSON object on stdout (ok, tenants, errors)"}},
    "  errors: FILE: JSON-POINTER: what was wrong (a folder policy names the file in it)\n"
    "  exit: 0 valid, 1 invalid (or unreadable), 2 usage\n",
};

namespace {

const char* unknown_name(tenant::UnknownTenants u) { return u == tenant::UnknownTenants::Deny ? "deny" : "defaults"; }
const char* mode_name(tenant::Mode m) { return m == tenant::Mode::Audit ? "audit" : "enforce"; }

}  // namespace

int cmd_check(int argc, char** argv) {
  Args args;
  if (const int rc = parse(kCheck, argc, argv, &args); rc >= 0) return rc;
  if (args.operands.size() != 1 || args.operands[0].empty())
    return usage_error(kCheck, args.operands.empty() ? "no POLICY given" : "exactly one POLICY expected");
  const std::string& file = args.operands[0];
  const Checked checked = load_checked(file);

  std::size_t with_own = 0;
  if (checked.policy)
    checked.policy->for_each_tenant([&](std::string_view, const tenant::RuleSet& r) { with_own += r.own_keys != 0; });

  if (args.has("json")) {
    nlohmann::ordered_json out = {{"ok", checked.policy != nullptr}, {"policy", file}};
    if (checked.policy) {
      const tenant::Policy& p = *checked.policy;
      out["folder"] = p.is_folder();
      out["tenants"] = p.tenant_count();
      out["tenants_with_rules"] = with_own;
      out["unknown_tenants"] = unknown_name(p.unknown_tenants());
      out["defaults_mode"] = mode_name(p.defaults().mode);
    } else {
      out["tenants"] = nullptr;
    }
    out["errors"] = nlohmann::ordered_json::array();
    for (const tenant::FileError& e : checked.errors)
      out["errors"].push_back({{"file", e.file}, {"pointer", e.pointer}, {"message", e.what}});
    // Replace, not throw, on bytes that are not UTF-8 (a file name, a key).
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
    return checked.policy ? 0 : 1;
  }
  if (!checked.policy) {
    print_errors(checked.errors);
    return 1;
  }
  const tenant::Policy& p = *checked.policy;
  std::printf("%s: ok: %zu tenants (%zu with rules of their own), unknown_tenants=%s, defaults mode=%s\n", file.c_str(),
              p.tenant_count(), with_own, unknown_name(p.unknown_tenants()), mode_name(p.defaults().mode));
  return 0;
}

}  // namespace cli
