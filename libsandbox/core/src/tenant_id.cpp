// Tenant id validation (DESIGN.md "Tenant ids"). An id is spliced into path
// templates ("/srv/www/{tenant}"), so every character that could change the
// path's meaning ("/", "..", NUL) or confuse a log line (spaces, control
// characters, non-ASCII look-alikes) is refused here, before any use.
#include "tenant/tenant_id.hpp"

namespace tenant {
namespace {

constexpr bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
constexpr bool is_id_char(char c) noexcept { return is_alnum(c) || c == '.' || c == '_' || c == '-'; }

}  // namespace

const char* tenant_id_problem(std::string_view id) noexcept {
  if (id.empty()) return "empty; expected 1 to 64 characters of [A-Za-z0-9._-]";
  if (id.size() > kMaxTenantIdLen) return "longer than 64 characters";
  // The first character rule is what excludes ".", ".." and option-like "-x".
  if (!is_alnum(id.front())) return "must start with a letter or a digit";
  for (const char c : id) {
    if (c == '\0') return "contains a NUL byte";
    if (!is_id_char(c)) return "contains a character outside [A-Za-z0-9._-]";
  }
  return "";
}

bool is_valid_tenant_id(std::string_view id) noexcept { return tenant_id_problem(id)[0] == '\0'; }

}  // namespace tenant
