// Canonical addresses and CIDR ranges (THREATS 12): every alias of a local
// or IPv4 address must land on the one canonical form a rule is written for.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "tenant/address.hpp"

namespace {
std::string canon(const char* text) {
  auto a = tenant::parse_address(text);
  return a ? tenant::to_string(*a) : "(invalid)";
}
tenant::Cidr cidr(const char* text) {
  auto r = tenant::parse_cidr(text);
  if (!r) FAIL(text << ": " << r.error().what);
  return r.value();
}
}  // namespace

TEST_CASE("address: every alias of THREATS 12 is canonicalised", "[address]") {
  struct Case {
    const char* in;
    const char* out;
  };
  const auto c = GENERATE(values<Case>({
      {"127.0.0.1", "127.0.0.1"},
      {"127.3.4.5", "127.3.4.5"},          // still loopback: matched by 127.0.0.0/8
      {"::ffff:127.0.0.1", "127.0.0.1"},   // IPv4-mapped
      {"::ffff:7f00:1", "127.0.0.1"},
      {"::ffff:0.0.0.0", "127.0.0.1"},     // mapped 0.0.0.0 reaches this host
      {"0.0.0.0", "127.0.0.1"},
      {"0.1.2.3", "127.0.0.1"},            // all of 0.0.0.0/8
      {"::", "::1"},
      {"::1", "::1"},
      {"::127.0.0.1", "127.0.0.1"},        // IPv4-compatible
      {"::10.1.2.3", "10.1.2.3"},
      {"::0.0.0.2", "127.0.0.1"},          // compatible form of 0.0.0.2
      {"64:ff9b::7f00:1", "127.0.0.1"},    // NAT64 well-known prefix
      {"64:ff9b::10.0.0.1", "10.0.0.1"},
      {"64:ff9b:1::7f00:1", "127.0.0.1"},  // NAT64 local-use /48
      {"64:ff9b:1:abcd:1234::7f00:1", "127.0.0.1"},
      {"2002:7f00:1::", "127.0.0.1"},      // 6to4
      {"2002:7f00:1:1234::5", "127.0.0.1"},
      {"2002:0a00:0001::", "10.0.0.1"},
      {"2001:db8::1", "2001:db8::1"},      // ordinary IPv6 unchanged
      {"fe80::1", "fe80::1"},
      {"64:ff9a::7f00:1", "64:ff9a::7f00:1"},  // near miss of NAT64
      {"2003:7f00:1::", "2003:7f00:1::"},      // near miss of 6to4
      {"::fffe:7f00:1", "::fffe:7f00:1"},      // near miss of mapped
      {"1.2.3", "(invalid)"},
      {"127.1", "(invalid)"},
      {"", "(invalid)"},
      {"[::1]", "(invalid)"},
      {"1.2.3.4:80", "(invalid)"},
      {"::1%lo", "(invalid)"},
      {"localhost", "(invalid)"},
  }));
  CAPTURE(c.in);
  CHECK(canon(c.in) == c.out);
}

TEST_CASE("address: canonicalize() reads sockaddrs of both families, never past len", "[address]") {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(3306);
  inet_pton(AF_INET, "0.0.0.0", &in.sin_addr);
  auto a = tenant::canonicalize(reinterpret_cast<const sockaddr*>(&in), sizeof in);
  REQUIRE(a);
  CHECK(tenant::to_string(*a) == "127.0.0.1");
  CHECK(a->port == 3306);
  CHECK(a->is_v4());
  CHECK_FALSE(tenant::canonicalize(reinterpret_cast<const sockaddr*>(&in), sizeof in - 1));
  CHECK_FALSE(tenant::canonicalize(reinterpret_cast<const sockaddr*>(&in), 0));
  CHECK_FALSE(tenant::canonicalize(nullptr, sizeof in));

  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(80);
  inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6.sin6_addr);
  auto b = tenant::canonicalize(reinterpret_cast<const sockaddr*>(&in6), sizeof in6);
  REQUIRE(b);
  CHECK(tenant::to_string(*b) == "127.0.0.1");
  CHECK(b->port == 80);
  // The kernel accepts the RFC 2133 length (no scope id): so do we.
  CHECK(tenant::canonicalize(reinterpret_cast<const sockaddr*>(&in6), 24));
  CHECK_FALSE(tenant::canonicalize(reinterpret_cast<const sockaddr*>(&in6), 23));
  CHECK_FALSE(tenant::canonicalize(reinterpret_cast<const sockaddr*>(&in6), sizeof(sockaddr_in)));

  sockaddr_in6 unspec = in6;
  unspec.sin6_family = AF_UNIX;
  CHECK_FALSE(tenant::canonicalize(reinterpret_cast<const sockaddr*>(&unspec), sizeof unspec));

  // canonicalize_v4/v6 agree with the sockaddr path.
  CHECK(tenant::canonicalize_v4(in.sin_addr.s_addr, 3306) == *a);
  CHECK(tenant::canonicalize_v6(in6.sin6_addr.s6_addr, 80) == *b);
}

TEST_CASE("cidr: parse, canonical text and errors", "[cidr]") {
  struct Case {
    const char* in;
    const char* out;  // nullptr: an error whose text contains `err`
    const char* err;
  };
  const auto c = GENERATE(values<Case>({
      {"10.0.0.0/8", "10.0.0.0/8", nullptr},
      {"10.1.2.3/8", "10.0.0.0/8", nullptr},  // host bits masked, as iptables does
      {"1.2.3.4", "1.2.3.4/32", nullptr},
      {"0.0.0.0/0", "0.0.0.0/0", nullptr},
      {"0.0.0.0/8", "127.0.0.1/32", nullptr},  // the alias becomes what it reaches
      {"0.0.0.0", "127.0.0.1/32", nullptr},
      {"::1", "::1/128", nullptr},
      {"::", "::1/128", nullptr},
      {"::/0", "::/0", nullptr},
      {"2001:db8::/32", "2001:db8::/32", nullptr},
      {"2001:db8::1/32", "2001:db8::/32", nullptr},
      {"::ffff:10.0.0.0/104", "10.0.0.0/8", nullptr},  // mapped range
      {"::ffff:0:0/96", "0.0.0.0/0", nullptr},
      {"64:ff9b::a00:0/104", "10.0.0.0/8", nullptr},   // the header's example
      {"64:ff9b::/96", "0.0.0.0/0", nullptr},
      {"64:ff9b:1::/48", "0.0.0.0/0", nullptr},
      {"64:ff9b:1::7f00:0/104", "127.0.0.0/8", nullptr},
      {"2002:7f00::/24", "127.0.0.0/8", nullptr},      // 6to4
      {"2002::/16", "0.0.0.0/0", nullptr},
      {"2002:a00:1::/64", "10.0.0.1/32", nullptr},
      {"::10.0.0.0/104", "10.0.0.0/8", nullptr},       // IPv4-compatible
      {"2000::/3", "2000::/3", nullptr},               // contains 6to4 but is not inside it
      {"", nullptr, "empty"},
      {"10.0.0.0/33", nullptr, "out of range"},
      {"::/129", nullptr, "out of range"},
      {"10.0.0.0/", nullptr, "prefix"},
      {"10.0.0.0/-1", nullptr, "prefix"},
      {"10.0.0.0/+8", nullptr, "prefix"},
      {"10.0.0.0/8 ", nullptr, "prefix"},
      {"10.0.0.0/0008", nullptr, "prefix"},
      {"10.0.0/8", nullptr, "not an IP address"},
      {"example.com/8", nullptr, "not an IP address"},
      {"/8", nullptr, "not an IP address"},
      {"1.2.3.4/8/8", nullptr, "prefix"},
  }));
  CAPTURE(c.in);
  auto r = tenant::parse_cidr(c.in);
  if (c.out != nullptr) {
    REQUIRE(r.ok());
    CHECK(tenant::to_string(r.value()) == c.out);
    // The canonical text parses back to the same range (to_policy_json relies on it).
    auto again = tenant::parse_cidr(tenant::to_string(r.value()));
    REQUIRE(again.ok());
    CHECK(again.value() == r.value());
  } else {
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().what.find(c.err) != std::string::npos);
  }
}

TEST_CASE("cidr: matching across families and embeddings", "[cidr]") {
  struct Case {
    const char* range;
    const char* addr;
    bool in;
  };
  const auto c = GENERATE(values<Case>({
      {"127.0.0.0/8", "127.0.0.1", true},
      {"127.0.0.0/8", "127.3.4.5", true},
      {"127.0.0.0/8", "::ffff:127.0.0.1", true},
      {"127.0.0.0/8", "::ffff:0.0.0.0", true},
      {"127.0.0.0/8", "0.0.0.0", true},
      {"127.0.0.0/8", "::127.0.0.1", true},
      {"127.0.0.0/8", "64:ff9b::7f00:1", true},
      {"127.0.0.0/8", "64:ff9b:1::7f00:1", true},
      {"127.0.0.0/8", "2002:7f00:1::", true},
      {"127.0.0.0/8", "128.0.0.1", false},
      {"127.0.0.0/8", "::1", false},
      {"::1/128", "::", true},
      {"::1/128", "::1", true},
      {"0.0.0.0/8", "127.0.0.1", true},
      {"0.0.0.0/8", "0.0.0.0", true},
      {"64:ff9b::/96", "10.0.0.1", true},   // a NAT64 rule also covers the address itself
      {"2002::/16", "8.8.8.8", true},
      {"2001:db8::/32", "2001:db8:ffff::1", true},
      {"2001:db8::/32", "2001:db9::1", false},
      {"2001:db8::/32", "10.0.0.1", false},
      {"::/0", "10.0.0.1", true},
      {"::/0", "2001:db8::1", true},
      {"0.0.0.0/0", "10.0.0.1", true},
      {"0.0.0.0/0", "2001:db8::1", false},
      {"10.0.0.0/8", "11.0.0.0", false},
      {"192.168.1.0/24", "192.168.1.255", true},
      {"192.168.1.0/24", "192.168.2.0", false},
      {"192.168.1.128/25", "192.168.1.127", false},
  }));
  CAPTURE(c.range, c.addr);
  auto a = tenant::parse_address(c.addr);
  REQUIRE(a);
  CHECK(cidr(c.range).contains(*a) == c.in);
}
