// The denial line: what libsandbox writes (format_denial, in refuse()) is
// what tenant-sandbox learn and the operators' tools read back
// (parse_denial), whatever the target holds and whatever prefix Apache's
// log puts in front.
#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "tenant/wire.hpp"

using tenant::wire::Denial;
using tenant::wire::LineKind;
using tenant::wire::ParsedDenial;

namespace {

ParsedDenial round_trip(const Denial& d, const std::string& prefix = "", const std::string& suffix = "") {
  char line[1024];
  const std::size_t n = tenant::wire::format_denial(line, sizeof line, d);
  REQUIRE(n == std::strlen(line));
  ParsedDenial p;
  std::string problem;
  REQUIRE(tenant::wire::parse_denial(prefix + std::string(line, n) + suffix, p, problem) == LineKind::Entry);
  CHECK(problem.empty());
  return p;
}

}  // namespace

TEST_CASE("wire: every target and rule survives the line", "[wire]") {
  const std::string targets[] = {
      "/srv/www/site-b/secret.txt",
      "/srv/www/a b/with space",
      "/x/\"quoted\"/and\\backslash",
      "/x/\" errno=EPERM rule=\"forged\" request=FAKE",  // a name that tries to forge fields
      std::string("/x/new\nline/and\rreturn\tand\x01\x7f", 31),
      "/x/\xc3\xa9t\xc3\xa9/non-ascii",
      std::string("/x/nul\0inside", 13),
      "@abstract-socket",
      "192.0.2.1:80",
  };
  for (const std::string& t : targets) {
    for (bool audit : {false, true}) {
      INFO(t << " audit=" << audit);
      Denial d;
      d.audit = audit;
      d.tenant = "site-a";
      d.op = "open";
      d.need = "read";
      d.target = t;
      d.err = "EACCES";
      d.rule = "no rule: outside \"every\" allowed path";
      d.request = "Z2x9-Ab_c";
      const ParsedDenial p = round_trip(d);
      CHECK(p.audit == audit);
      CHECK(p.tenant == "site-a");
      CHECK(p.op == "open");
      CHECK(p.need == "read");
      CHECK(p.target == t);
      CHECK(p.err == "EACCES");
      CHECK(p.rule == "no rule: outside \"every\" allowed path");
      CHECK(p.request == "Z2x9-Ab_c");
    }
  }
}

TEST_CASE("wire: a line as Apache's log and libsandbox's own fallback write it", "[wire]") {
  Denial d;
  d.tenant = "wp-a";
  d.op = "connect";
  d.need = "connect";
  d.target = "/run/mysqld/other.sock";
  d.err = "EACCES";
  d.vhost = "wp-a.test";
  const ParsedDenial apache = round_trip(
      d, "[Wed Dec 02 18:03:29.292579 2026] [tenant_tag:error] [pid 7690:tid 7690] [client 127.0.0.1:41630] AH10990: ");
  CHECK(apache.vhost == "wp-a.test");
  CHECK(apache.target == "/run/mysqld/other.sock");
  d.vhost = {};
  const ParsedDenial child = round_trip(d, "[Wed Dec 02 18:03:29.292579 2026] [tenant_sandbox:error] [pid 1:tid 1] ");
  CHECK(child.vhost.empty());
  CHECK(child.rule.empty());
  CHECK(child.request.empty());
}

TEST_CASE("wire: a target too long for the line is cut inside its quotes", "[wire]") {
  Denial d;
  d.tenant = "site-a";
  d.op = "stat";
  d.need = "stat";
  const std::string longpath = "/" + std::string(3000, 'x');
  d.target = longpath;
  d.err = "EACCES";
  d.rule = "no rule";
  const ParsedDenial p = round_trip(d);
  REQUIRE(p.target.size() > 100);
  CHECK(p.target.substr(p.target.size() - 3) == "...");
  CHECK(longpath.compare(0, p.target.size() - 3, p.target, 0, p.target.size() - 3) == 0);
  CHECK(p.rule == "no rule");
}

TEST_CASE("wire: never writes past its buffer", "[wire]") {
  Denial d;
  d.tenant = "site-a";
  d.op = "open";
  d.need = "write";
  d.target = std::string(500, '"');
  d.err = "EACCES";
  for (std::size_t cap : {1u, 2u, 10u, 64u, 300u}) {
    std::string buf(cap + 16, '#');
    const std::size_t n = tenant::wire::format_denial(buf.data(), cap, d);
    CHECK(n < cap);
    CHECK(buf[n] == '\0');
    CHECK(buf[cap] == '#');  // nothing beyond cap
  }
}

TEST_CASE("wire: summaries, other lines and broken ones", "[wire]") {
  char line[200];
  const std::size_t n = tenant::wire::format_suppressed(line, sizeof line, "site-a", false, 9872, 10);
  CHECK(std::string(line, n) == "tenant-sandbox: deny tenant=site-a suppressed=9872 window=10s");
  ParsedDenial p;
  std::string problem;
  CHECK(tenant::wire::parse_denial(line, p, problem) == LineKind::Summary);
  CHECK(tenant::wire::parse_denial("[x] AH00163: Apache/2.4 configured", p, problem) == LineKind::Other);
  CHECK(tenant::wire::parse_denial("tenant-sandbox: fatal: real function resolves to libsandbox", p, problem) ==
        LineKind::Other);
  CHECK(tenant::wire::parse_denial("tenant-sandbox: deny tenant=a op=open need=fly target=\"/x\" errno=E", p,
                                   problem) == LineKind::Malformed);
  CHECK(tenant::wire::parse_denial("tenant-sandbox: deny tenant=a op=open need=read target=\"/x", p, problem) ==
        LineKind::Malformed);
}
