// Tenant ids (DESIGN.md): 1 to 64 characters of [A-Za-z0-9._-], the first a
// letter or digit. Validated before an id reaches any path template, so
// "..", "/", NUL, spaces and non-ASCII can never become part of a path.
#pragma once
#include <cstddef>
#include <string_view>

namespace tenant {

inline constexpr std::size_t kMaxTenantIdLen = 64;

bool is_valid_tenant_id(std::string_view id) noexcept;

// Why an id is invalid, for error messages ("" when it is valid).
const char* tenant_id_problem(std::string_view id) noexcept;

}  // namespace tenant
