// The server's doors (doors.hpp): every spelling of a listener's address is
// the listener, and only an open door lets a tenant through.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <catch2/catch.hpp>
#include <string>

#include "tenant/context.hpp"
#include "tenant/doors.hpp"
#include "tenant/policy.hpp"

namespace {

tenant::CanonicalAddress v4(const char* ip, std::uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  REQUIRE(inet_pton(AF_INET, ip, &sa.sin_addr) == 1);
  return *tenant::canonicalize(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
}

tenant::CanonicalAddress v6(const char* ip, std::uint16_t port) {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(port);
  REQUIRE(inet_pton(AF_INET6, ip, &sa.sin6_addr) == 1);
  return *tenant::canonicalize(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
}

tenant::ServerDoor door(const char* text) {
  auto d = tenant::parse_door(text);
  REQUIRE(d.ok());
  return d.value();
}

}  // namespace

TEST_CASE("doors: parse and print", "[doors]") {
  for (const char* text : {"127.0.0.1:8080", "[::1]:443", "*:80", "/run/apache2/proxy.sock"})
    CHECK(tenant::to_string(door(text)) == text);
  CHECK(tenant::to_string(door("0.0.0.0:80")) == "*:80");
  CHECK(tenant::to_string(door("[::]:80")) == "*:80");
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "host:80", "[::1]80", "::1:80", "rel.sock"})
    CHECK_FALSE(tenant::parse_door(bad).ok());
}

TEST_CASE("doors: every spelling of a listener is refused, an open door is not", "[doors]") {
  tenant::set_server_doors({door("*:8080"), door("127.0.0.1:9000"), door("[::1]:9443"), door("/run/p.sock"),
                            door("127.0.0.1:7000")},
                           [] {
                             auto o = door("127.0.0.1:7000");
                             o.name = "api";
                             return std::vector<tenant::ServerDoor>{o};
                           }(),
                           {v4("192.0.2.5", 0)});
  // A listener on 0.0.0.0:8080: loopback in every form, and the host's own address.
  for (auto a : {v4("127.0.0.1", 8080), v4("127.3.4.5", 8080), v4("0.0.0.0", 8080), v6("::1", 8080),
                 v6("::ffff:127.0.0.1", 8080), v6("::", 8080), v4("192.0.2.5", 8080)})
    CHECK(tenant::closed_door(a) != nullptr);
  CHECK(tenant::closed_door(v4("192.0.2.6", 8080)) == nullptr);  // another host
  CHECK(tenant::closed_door(v4("127.0.0.1", 8081)) == nullptr);  // another port
  CHECK(tenant::closed_door(v4("127.0.0.1", 9000)) != nullptr);
  CHECK(tenant::closed_door(v6("::ffff:127.0.0.1", 9000)) != nullptr);
  CHECK(tenant::closed_door(v6("::1", 9443)) != nullptr);
  CHECK(tenant::closed_door(v4("127.0.0.1", 7000)) == nullptr);  // opened by name
  CHECK(tenant::closed_door(std::string_view("/run/p.sock")) != nullptr);
  CHECK(tenant::closed_door(std::string_view("/run/q.sock")) == nullptr);

  // Whatever the tenant's ip_allow says.
  auto policy = tenant::Policy::parse(R"({"version":1,"tenant_root":"/srv/www/{tenant}","unknown_tenants":"deny",
      "defaults":{"ip_allow":["127.0.0.0/8","::1/128"],"unix_sockets":["/run/p.sock"]},"tenants":{"a":{}}})");
  REQUIRE(policy.ok());
  auto ctx = tenant::TenantContext::create(*policy.value(), "a");
  REQUIRE(ctx.ok());
  const auto d = ctx.value()->decide_address(v4("127.0.0.1", 8080));
  CHECK_FALSE(d.allowed);
  CHECK(d.key == tenant::RuleKey::ServerDoor);
  CHECK(ctx.value()->decide_address(v4("127.0.0.1", 3306)).allowed);
  CHECK_FALSE(ctx.value()->decide_unix_socket("/run/p.sock").allowed);

  // A child's environment carries them.
  const std::string text = tenant::doors_to_text();
  tenant::set_server_doors({}, {}, {});
  CHECK(tenant::closed_door(v4("127.0.0.1", 8080)) == nullptr);
  tenant::doors_from_text(text);
  CHECK(tenant::closed_door(v4("192.0.2.5", 8080)) != nullptr);
  CHECK(tenant::closed_door(v4("127.0.0.1", 7000)) == nullptr);
  tenant::set_server_doors({}, {}, {});
}

TEST_CASE("proc guard: other processes' /proc entries and /proc/net", "[doors]") {
  tenant::set_own_pid(4242);
  auto policy = tenant::Policy::parse(R"({"version":1,"tenant_root":"/srv/www/{tenant}","unknown_tenants":"deny",
      "defaults":{"read_only":["/proc"]},"tenants":{"a":{}}})");
  REQUIRE(policy.ok());
  auto ctx = tenant::TenantContext::create(*policy.value(), "a");
  REQUIRE(ctx.ok());
  const auto& c = *ctx.value();
  CHECK(c.decide_path("/proc/4242/status", tenant::Need::Read).allowed);
  CHECK(c.decide_path("/proc/loadavg", tenant::Need::Read).allowed);
  for (const char* p : {"/proc/net/unix", "/proc/net", "/proc/4243/cmdline", "/proc/1/environ", "/proc/4242/net/tcp",
                        "/proc/99999999999/x"}) {
    INFO(p);
    const auto d = c.decide_path(p, tenant::Need::Read);
    CHECK_FALSE(d.allowed);
    CHECK(d.key == tenant::RuleKey::ProcGuard);
  }
}
