// The hot path allocates nothing (CONVENTIONS.md): every decide_* call, the
// policy lookup, normalize_path and canonicalize run inside open/connect
// wrappers, in signal handlers and after vfork. This file replaces the
// global operator new to count allocations while `g_counting` is set.
#include <catch2/catch.hpp>
#include <netinet/in.h>

#include <cstdlib>
#include <new>
#include <string>

#include "tenant/context.hpp"
#include "tenant/path.hpp"
#include "tenant/policy.hpp"
#include "tenant/tenant_id.hpp"

// ASan supplies its own operator new/delete and flags ours as mismatched
// pairs; the counting runs in the ordinary (non-sanitizer) build.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define TS_COUNT_ALLOCATIONS 1
#endif

namespace {
thread_local bool g_counting = false;
thread_local long g_allocations = 0;
}  // namespace

#ifdef TS_COUNT_ALLOCATIONS
void* operator new(std::size_t n) {
  if (g_counting) ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif

TEST_CASE("hot path: decisions, lookups and normalisation allocate nothing", "[noalloc]") {
#ifndef TS_COUNT_ALLOCATIONS
  WARN("allocation counting is off in sanitizer builds");
  return;
#endif
  auto p = tenant::Policy::parse(R"({"version":1,"tenant_root":"/srv/www/{tenant}","unknown_tenants":"defaults",
    "defaults":{"read_only":["/usr/share/zoneinfo"],"ip_deny":["127.0.0.0/8"],"ip_allow":["192.0.2.0/24"],
                "exec":["/usr/bin/convert"],"unix_sockets":["@cache"]},
    "tenants":{"site-a":{"read_write":["/var/tmp/{tenant}"]},"site-b":{}}})");
  REQUIRE(p.ok());
  auto ctx = tenant::TenantContext::create(*p.value(), "site-a");
  REQUIRE(ctx.ok());
  const tenant::TenantContext& c = *ctx.value();
  const tenant::Policy& pol = *p.value();
  static_assert(noexcept(c.decide_path("", tenant::Need::Read)));
  static_assert(noexcept(c.decide_exec("")));
  static_assert(noexcept(c.decide_unix_socket("")));
  static_assert(noexcept(pol.find("")));
  const std::string long_path = "/srv/www/site-a/" + std::string(300, 'x') + "/y";
  const auto addr = *tenant::parse_address("::ffff:192.0.2.1");
  char buf[tenant::kMaxPath];
  tenant::NormalizedPath np;
  sockaddr_in in{};
  in.sin_family = AF_INET;

  g_allocations = 0;
  g_counting = true;
  int allowed = 0;
  for (int i = 0; i < 100; ++i) {
    allowed += c.decide_path("/srv/www/site-a/index.php", tenant::Need::Read).allowed;
    allowed += c.decide_path(long_path, tenant::Need::Write).allowed;
    allowed += c.decide_path("/srv/www", tenant::Need::Stat).allowed;
    allowed += c.decide_path("/etc/passwd", tenant::Need::Read).allowed;
    allowed += c.decide_exec("/usr/bin/convert").allowed;
    allowed += c.decide_address(addr).allowed;
    allowed += c.decide_unix_socket("@cache").allowed;
    allowed += c.decide_unix_socket("/var/tmp/site-a/s.sock").allowed;
    allowed += pol.find("site-a") != nullptr;
    allowed += pol.find("unlisted-but-admitted") != nullptr;
    allowed += pol.lists("site-b");
    allowed += tenant::normalize_path("/srv/www/site-a", "../site-a/./x//y/..", buf, sizeof buf, &np);
    allowed += tenant::canonicalize(reinterpret_cast<const sockaddr*>(&in), sizeof in).has_value();
    allowed += tenant::is_valid_tenant_id("site-a");
  }
  g_counting = false;
  CHECK(g_allocations == 0);
  CHECK(allowed == 100 * 13);
  // The counter itself works (otherwise the check above proves nothing).
  g_counting = true;
  std::string s(100, 'x');
  g_counting = false;
  CHECK(g_allocations > 0);
}
