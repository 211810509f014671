// Policy parsing: every error kind with its exact JSON pointer, and merging.
#include <catch2/catch.hpp>
#include <string>

#include "tenant/policy.hpp"

namespace {
std::string errors_of(std::string_view text) {
  auto r = tenant::Policy::parse(text);
  if (r) return "";
  std::string all;
  for (const auto& e : r.error()) all += e.str() + "\n";
  return all;
}
}  // namespace

TEST_CASE("policy: a minimal policy loads", "[policy]") {
  auto r = tenant::Policy::parse(R"({"version":1,"tenant_root":"/srv/www/{tenant}","tenants":{"site-a":{}}})");
  REQUIRE(r.ok());
  const auto& p = *r.value();
  CHECK(p.version() == 1);
  CHECK(p.tenant_count() == 1);
  CHECK(p.unknown_tenants() == tenant::UnknownTenants::Deny);
  REQUIRE(p.find("site-a") != nullptr);
  CHECK(p.find("site-a")->root == "/srv/www/{tenant}");
  CHECK(p.find("site-b") == nullptr);
  CHECK(p.lists("site-a"));
  CHECK_FALSE(p.lists("site-b"));
}

TEST_CASE("policy: bad CIDR is located", "[policy]") {
  const std::string e = errors_of(
      R"({"version":1,"tenant_root":"/srv/www/{tenant}","tenants":{"site-a":{"ip_deny":["10.0.0.0/8","::1","10.0.0.0/33"]}}})");
  CHECK(e.find("/tenants/site-a/ip_deny/2: ") == 0);
}
