// `tenant-sandbox check POLICY`: load and validate, then expand every tenant
// that has rules of its own (and the defaults with a longest-possible id) so
// that errors only visible after "{tenant}" expansion are found before the
// policy reaches Apache.
#include <cstdio>
#include <string>

#include "commands.hpp"
#include "tenant/context.hpp"
#include "tenant/policy.hpp"
#include "tenant/tenant_id.hpp"

namespace cli {
namespace {

void print_error(const std::string& file, const tenant::Error& e) {
  // load_file names the file itself in `where` for I/O errors.
  if (e.where.empty() || e.where == file) {
    std::fprintf(stderr, "%s: %s\n", file.c_str(), e.what.c_str());
  } else {
    std::fprintf(stderr, "%s: %s: %s\n", file.c_str(), e.where.c_str(), e.what.c_str());
  }
}

}  // namespace

int cmd_check(int argc, char** argv) {
  if (argc != 2 || argv[1][0] == '\0') {
    std::fputs("usage: tenant-sandbox check POLICY\n", stderr);
    return 2;
  }
  const std::string file = argv[1];
  auto loaded = tenant::Policy::load_file(file);
  if (!loaded) {
    for (const auto& e : loaded.error()) print_error(file, e);
    return 1;
  }
  const tenant::Policy& policy = *loaded.value();
  int bad = 0;
  std::size_t with_own = 0;
  policy.for_each_tenant([&](std::string_view id, const tenant::RuleSet& rules) {
    if (rules.own_keys == 0) return;
    ++with_own;
    auto ctx = tenant::TenantContext::create(rules, id);
    if (!ctx) {
      // `where` is "root" or "read_only/2": point at the tenant's own key, or
      // at the defaults (or tenant_root) it inherited the value from.
      const std::string& w = ctx.error().where;
      const std::string key = w.substr(0, w.find('/'));
      bool own = false;
      for (auto k : {tenant::RuleKey::Root, tenant::RuleKey::ReadWrite, tenant::RuleKey::ReadOnly,
                     tenant::RuleKey::UnixSockets, tenant::RuleKey::Exec})
        own = own || (key == tenant::rule_key_name(k) && rules.own(k));
      std::string where = own ? "/tenants/" + std::string(id) + "/" + w : "/defaults/" + w;
      if (!own && key == "root" && !policy.defaults().root.empty() && policy.defaults().root == policy.tenant_root())
        where = "/tenant_root";
      print_error(file, tenant::Error{where, ctx.error().what + " (tenant " + std::string(id) + ")"});
      ++bad;
    }
  });
  // Tenants without rules of their own use the defaults; the longest id is
  // the worst case for path length after expansion.
  const std::string longest(tenant::kMaxTenantIdLen, 'x');
  if (auto ctx = tenant::TenantContext::create(policy.defaults(), longest); !ctx) {
    const std::string& w = ctx.error().where;
    const bool from_template = w == "root" && policy.defaults().root == policy.tenant_root();
    print_error(file, tenant::Error{from_template ? "/tenant_root" : "/defaults/" + w,
                                    ctx.error().what + " (with a 64-character id)"});
    ++bad;
  }
  if (bad != 0) return 1;
  const tenant::RuleSet& d = policy.defaults();
  std::printf("%s: ok: %zu tenants (%zu with rules of their own), unknown_tenants=%s, defaults mode=%s\n",
              file.c_str(), policy.tenant_count(), with_own,
              policy.unknown_tenants() == tenant::UnknownTenants::Deny ? "deny" : "defaults",
              d.mode == tenant::Mode::Audit ? "audit" : "enforce");
  return 0;
}

}  // namespace cli
