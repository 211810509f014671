// Fuzz target: Policy::parse on arbitrary bytes. Beyond "no crash, no
// throw": every policy that loads must expand for each listed tenant (or
// fail with an Error, never a crash), and a tenant's to_policy_json() must
// load again and decide the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tenant/context.hpp"
#include "tenant/policy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = tenant::Policy::parse(text);
  if (!r) {
    if (r.error().empty()) std::abort();  // a failure must say why
    return 0;
  }
  const tenant::Policy& p = *r.value();
  int budget = 8;  // bound the work per input
  p.for_each_tenant([&](std::string_view id, const tenant::RuleSet&) {
    if (budget-- <= 0) return;
    if (p.find(id) == nullptr || !p.lists(id)) std::abort();
    auto ctx = tenant::TenantContext::create(p, id);
    if (!ctx) return;
    auto again = tenant::Policy::parse(ctx.value()->to_policy_json());
    if (!again) std::abort();
    auto copy = tenant::TenantContext::create(*again.value(), id);
    if (!copy) std::abort();
    for (const auto& area : ctx.value()->areas()) {
      for (auto need : {tenant::Need::Stat, tenant::Need::Read, tenant::Need::Write}) {
        if (ctx.value()->decide_path(area.path, need).allowed != copy.value()->decide_path(area.path, need).allowed)
          std::abort();
      }
    }
  });
  return 0;
}
