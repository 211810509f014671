// Tenant id validation: every id that could change a path's meaning is refused.
#include <catch2/catch.hpp>
#include <string>

#include "tenant/tenant_id.hpp"

using namespace std::string_literals;

TEST_CASE("tenant ids: accepted and refused", "[tenant_id]") {
  struct Case {
    std::string id;
    bool valid;
  };
  const auto c = GENERATE(values<Case>({
      {"site-a", true},
      {"a", true},
      {"0", true},
      {"Site_1.example-2", true},
      {std::string(64, 'a'), true},
      {"", false},
      {std::string(65, 'a'), false},
      {"..", false},
      {".", false},
      {".hidden", false},
      {"-rf", false},
      {"_x", false},
      {"a/b", false},
      {"a/../b", false},
      {"a b", false},
      {"a\tb", false},
      {"a\nb", false},
      {"a\0b"s, false},
      {"a\0"s, false},
      {"caf\xc3\xa9", false},
      {"\xd0\xb0", false},  // Cyrillic a, a look-alike
      {"a{tenant}", false},
      {"a:b", false},
      {"a\\b", false},
  }));
  CAPTURE(c.id);
  CHECK(tenant::is_valid_tenant_id(c.id) == c.valid);
  CHECK((std::string(tenant::tenant_id_problem(c.id)).empty()) == c.valid);
}
