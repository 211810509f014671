// Fuzz target: tenant ids, addresses and CIDRs -- the strings that arrive
// from requests (headers, Host maps) and policy files. Checks that a valid
// id uses only the documented characters, that canonical texts parse back
// to the same value, and that canonicalize() never reads past `len`.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "tenant/address.hpp"
#include "tenant/tenant_id.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const bool valid = tenant::is_valid_tenant_id(text);
  if (valid != (tenant::tenant_id_problem(text)[0] == '\0')) std::abort();
  if (valid) {
    if (text.empty() || text.size() > tenant::kMaxTenantIdLen) std::abort();
    for (const char c : text) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-';
      if (!ok) std::abort();
    }
    if (text == "." || text == ".." || text.front() == '-' || text.front() == '.') std::abort();
  }

  if (auto c = tenant::parse_cidr(text)) {
    if (c.value().prefix_len > 128) std::abort();
    auto again = tenant::parse_cidr(tenant::to_string(c.value()));
    if (!again || !(again.value() == c.value())) std::abort();
  } else if (c.error().what.empty()) {
    std::abort();
  }

  if (auto a = tenant::parse_address(text)) {
    auto again = tenant::parse_address(tenant::to_string(*a));
    if (!again || !(*again == *a)) std::abort();
  }

  // The raw bytes as a sockaddr of exactly `size` bytes (heap copy so ASan
  // sees any read past the end).
  std::vector<std::uint8_t> buf(data, data + size);
  auto sa = tenant::canonicalize(reinterpret_cast<const sockaddr*>(buf.data()), static_cast<socklen_t>(size));
  if (sa) {
    // Canonical form is a fixed point.
    if (!(tenant::canonicalize_v6(sa->bytes.data(), sa->port) == *sa)) std::abort();
  }
  return 0;
}
