// The module's only C++: a noexcept extern "C" layer over tenant_core, so the
// module validates tenant ids and policies with exactly the code libsandbox
// uses (one definition of "valid"). Nothing throws across this boundary; a
// failure inside fails closed (invalid id, invalid policy).
#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

#include "tenant/policy.hpp"
#include "tenant/tenant_id.hpp"
#include "tt_core_bridge.hpp"

extern "C" {
int tt_core_valid_tenant_id(const char* id, std::size_t len) noexcept;
const char* tt_core_tenant_id_problem(const char* id, std::size_t len) noexcept;
int tt_core_check_policy(const char* path, char* err, std::size_t errlen) noexcept;
}

int tt_core_valid_tenant_id(const char* id, std::size_t len) noexcept {
  if (id == nullptr) return 0;
  return tenant::is_valid_tenant_id(std::string_view(id, len)) ? 1 : 0;
}

const char* tt_core_tenant_id_problem(const char* id, std::size_t len) noexcept {
  if (id == nullptr) return "no id";
  return tenant::tenant_id_problem(std::string_view(id, len));
}

namespace {
// The policy check_config last found valid: what libsandbox loads next, and
// what the module's own per-tenant settings (max_requests, tt_limit.c) are
// read from -- one load, not one more per feature.
std::shared_ptr<const tenant::Policy> g_checked;
}  // namespace

std::shared_ptr<const tenant::Policy> tt_core_checked_policy() noexcept { return g_checked; }

int tt_core_check_policy(const char* path, char* err, std::size_t errlen) noexcept {
  try {
    auto loaded = tenant::Policy::load_file(path);
    if (loaded.ok()) {
      g_checked = std::move(loaded).value();
      return 0;
    }
    std::string text;
    for (const auto& e : loaded.error()) {
      if (!text.empty()) text += "; ";
      text += e.str();
    }
    if (errlen > 0) std::snprintf(err, errlen, "%s", text.c_str());
  } catch (...) {
    if (errlen > 0) std::snprintf(err, errlen, "%s", "internal error while validating the policy");
  }
  return -1;
}
