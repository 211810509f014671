// Policy parsing: every error kind with its exact JSON pointer, merging of
// defaults, the tenant table at scale, and file loading.
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tenant/policy.hpp"

using namespace std::string_literals;

namespace {

// A valid policy with `body` spliced in after the required keys.
std::string doc(const std::string& body) {
  return R"({"version":1,"tenant_root":"/srv/www/{tenant}")" + (body.empty() ? "" : "," + body) + "}";
}

tenant::Errors errors_of(std::string_view text) {
  auto r = tenant::Policy::parse(text);
  if (r) return {};
  return r.error();
}

std::string joined(const tenant::Errors& es) {
  std::string s;
  for (const auto& e : es) s += e.str() + "\n";
  return s;
}

std::shared_ptr<const tenant::Policy> load(const std::string& text) {
  auto r = tenant::Policy::parse(text);
  if (!r) FAIL(joined(r.error()));
  return r.value();
}

}  // namespace

TEST_CASE("policy: a minimal policy loads", "[policy]") {
  auto p = load(doc(R"("tenants":{"site-a":{}})"));
  CHECK(p->version() == 1);
  CHECK(p->tenant_root() == "/srv/www/{tenant}");
  CHECK(p->tenant_count() == 1);
  CHECK(p->unknown_tenants() == tenant::UnknownTenants::Deny);
  REQUIRE(p->find("site-a") != nullptr);
  CHECK(p->find("site-a")->root == "/srv/www/{tenant}");
  CHECK(p->find("site-a") == &p->defaults());  // no own keys: the shared defaults
  CHECK(p->find("site-b") == nullptr);
  CHECK(p->lists("site-a"));
  CHECK_FALSE(p->lists("site-b"));
}

TEST_CASE("policy: each error kind is reported at its JSON pointer", "[policy]") {
  struct Case {
    const char* name;
    std::string text;
    const char* where;
    const char* what;  // a substring of the message
  };
  const auto c = GENERATE(values<Case>({
      {"unknown top-level key", doc(R"("tennants":{})"), "/tennants", "unknown key"},
      {"unknown defaults key", doc(R"("defaults":{"read_olny":[]})"), "/defaults/read_olny", "unknown key"},
      {"unknown tenant key", doc(R"("tenants":{"site-a":{"rot":"/x"}})"), "/tenants/site-a/rot", "unknown key"},
      {"version missing", R"({"tenant_root":"/srv/www/{tenant}"})", "/version", "missing"},
      {"version 2", R"({"version":2,"tenant_root":"/srv/www/{tenant}"})", "/version", "expected 1"},
      {"version string", R"({"version":"1","tenant_root":"/srv/www/{tenant}"})", "/version", "expected 1"},
      {"tenant_root missing", R"({"version":1})", "/tenant_root", "missing"},
      {"tenant_root without template", R"({"version":1,"tenant_root":"/srv/www"})", "/tenant_root", "share"},
      {"tenant_root relative", R"({"version":1,"tenant_root":"srv/{tenant}"})", "/tenant_root", "absolute"},
      {"tenant_root not a string", R"({"version":1,"tenant_root":5})", "/tenant_root", "got number"},
      {"unknown template", R"({"version":1,"tenant_root":"/srv/{tenant}/{user}"})", "/tenant_root", "{user}"},
      {"misspelt template", doc(R"("defaults":{"read_only":["/srv/{Tenant}"]})"), "/defaults/read_only/0", "unknown template"},
      {"relative read_only", doc(R"("defaults":{"read_only":["/ok","etc"]})"), "/defaults/read_only/1", "relative"},
      {"relative exec", doc(R"("tenants":{"a":{"exec":["convert"]}})"), "/tenants/a/exec/0", "relative"},
      {"empty path", doc(R"("tenants":{"a":{"read_write":[""]}})"), "/tenants/a/read_write/0", "empty"},
      {"NUL in path", doc(R"("tenants":{"a":{"read_write":["/srv/x\u0000y"]}})"), "/tenants/a/read_write/0", "NUL"},
      {"path list not array", doc(R"("tenants":{"a":{"read_only":"/x"}})"), "/tenants/a/read_only", "array"},
      {"path not string", doc(R"("tenants":{"a":{"read_only":[1]}})"), "/tenants/a/read_only/0", "got number"},
      {"bad CIDR", doc(R"("tenants":{"site-a":{"ip_deny":["10.0.0.0/8","::1","10.0.0.0/33"]}})"), "/tenants/site-a/ip_deny/2", "out of range"},
      {"junk CIDR", doc(R"("defaults":{"ip_allow":["localhost"]})"), "/defaults/ip_allow/0", "not an IP address"},
      {"CIDR not string", doc(R"("defaults":{"ip_allow":[10]})"), "/defaults/ip_allow/0", "CIDR"},
      {"invalid tenant id", doc(R"("tenants":{"../etc":{}})"), "/tenants/..~1etc", "invalid tenant id"},
      {"empty tenant id", doc(R"("tenants":{"":{}})"), "/tenants/", "invalid tenant id"},
      {"duplicate tenant", doc(R"("tenants":{"a":{},"b":{},"a":{"exec":[]}})"), "/tenants/a", "duplicate tenant"},
      {"duplicate key", doc(R"("defaults":{"mode":"audit","mode":"enforce"})"), "/defaults/mode", "duplicate key"},
      {"duplicate top key", doc(R"("version":1)"), "/version", "duplicate key"},
      {"negative limit", doc(R"("defaults":{"max_connections":-1})"), "/defaults/max_connections", "negative"},
      {"fractional limit", doc(R"("tenants":{"a":{"max_requests":1.5}})"), "/tenants/a/max_requests", "whole number"},
      {"huge limit", doc(R"("tenants":{"a":{"max_requests":10000000000}})"), "/tenants/a/max_requests", "too large"},
      {"limit as string", doc(R"("tenants":{"a":{"max_connections":"5"}})"), "/tenants/a/max_connections", "got string"},
      {"bad mode", doc(R"("tenants":{"a":{"mode":"permissive"}})"), "/tenants/a/mode", "\"enforce\" or \"audit\""},
      {"bad unknown_tenants", doc(R"("unknown_tenants":"allow")"), "/unknown_tenants", "\"deny\" or \"defaults\""},
      {"tenant not object", doc(R"("tenants":{"a":[]})"), "/tenants/a", "expected an object"},
      {"tenant scalar", doc(R"("tenants":{"a":true})"), "/tenants/a", "expected an object"},
      {"tenants not object", doc(R"("tenants":[])"), "/tenants", "expected an object"},
      {"defaults not object", doc(R"("defaults":[])"), "/defaults", "expected an object"},
      {"defaults root shared", doc(R"("defaults":{"root":"/srv/shared"})"), "/defaults/root", "share"},
      {"empty abstract socket", doc(R"("defaults":{"unix_sockets":["@"]})"), "/defaults/unix_sockets/0", "@name"},
      {"relative socket", doc(R"("defaults":{"unix_sockets":["run/x.sock"]})"), "/defaults/unix_sockets/0", "relative"},
      {"top level array", R"([1,2])", "", "top level"},
      {"pointer escaping", doc(R"("defaults":{"a/b~c":1})"), "/defaults/a~1b~0c", "unknown key"},
  }));
  CAPTURE(c.name, c.text);
  const auto errs = errors_of(c.text);
  REQUIRE_FALSE(errs.empty());
  bool found = false;
  for (const auto& e : errs) found = found || (e.where == c.where && e.what.find(c.what) != std::string::npos);
  INFO(joined(errs));
  CHECK(found);
}

TEST_CASE("policy: every error is collected, not just the first", "[policy]") {
  const auto errs = errors_of(R"({"version":3,"tenant_root":"rel","bogus":1,
      "defaults":{"ip_deny":["1.2.3.4/40"]},
      "tenants":{"a":{"read_only":["x"]},"b/c":{},"d":{"mode":1}}})");
  INFO(joined(errs));
  std::vector<std::string> where;
  for (const auto& e : errs) where.push_back(e.where);
  const std::vector<std::string> expected = {"/bogus",          "/version",          "/tenant_root",
                                             "/defaults/ip_deny/0", "/tenants/a/read_only/0", "/tenants/b~1c",
                                             "/tenants/d/mode"};
  CHECK(where == expected);
}

TEST_CASE("policy: syntax errors are located and never thrown", "[policy]") {
  const auto c = GENERATE(values<std::string>({
      "",
      "{",
      "{\"version\":1,\n \"tenant_root\": tru}",
      "{\"version\":1,}",
      "{\"a\":\"\xff\"}",  // invalid UTF-8
      "null",
      "{\"version\":1} trailing",
      "// comment\n{}",
  }));
  CAPTURE(c);
  tenant::Errors errs;
  REQUIRE_NOTHROW(errs = errors_of(c));
  REQUIRE_FALSE(errs.empty());
  if (c == "{\"version\":1,\n \"tenant_root\": tru}") {
    CHECK(errs[0].what.find("line 2") != std::string::npos);
    CHECK(errs[0].what.find("byte") != std::string::npos);
  }
}

TEST_CASE("policy: deep nesting and huge inputs do not crash", "[policy]") {
  const std::string deep = doc(R"("defaults":{"x":)" + std::string(20000, '[') + std::string(20000, ']') + "}");
  CHECK_FALSE(tenant::Policy::parse(deep).ok());
}

TEST_CASE("policy: merging lays defaults under a tenant's own keys", "[policy]") {
  auto p = load(doc(R"(
    "unknown_tenants":"defaults",
    "defaults":{"root":"/home/{tenant}/www","read_only":["/usr/share/zoneinfo"],"read_write":["/tmp/d"],
                "ip_deny":["10.0.0.0/8"],"max_connections":20,"max_requests":7,"exec":["/usr/bin/convert"],
                "unix_sockets":["/run/mysqld/mysqld.sock"],"mode":"audit"},
    "tenants":{
      "own-all":{"root":"/srv/special","read_only":[],"read_write":["/var/tmp/x"],"ip_deny":[],"ip_allow":["192.0.2.0/24"],
                 "max_connections":0,"max_requests":1,"exec":[],"unix_sockets":["@x"],"mode":"enforce"},
      "own-some":{"read_only":["/opt/lib"],"max_connections":3},
      "plain":{}
    })"));
  const tenant::RuleSet& d = p->defaults();
  CHECK(d.root == "/home/{tenant}/www");
  CHECK(d.own_keys == 0);

  const tenant::RuleSet* all = p->find("own-all");
  REQUIRE(all != nullptr);
  CHECK(all->root == "/srv/special");
  CHECK(all->read_only.empty());
  CHECK(all->read_write == std::vector<std::string>{"/var/tmp/x"});
  CHECK(all->ip_deny.empty());
  CHECK(all->ip_allow.size() == 1);
  CHECK(all->max_connections == 0);
  CHECK(all->max_requests == 1);
  CHECK(all->exec.empty());
  CHECK(all->unix_sockets == std::vector<std::string>{"@x"});
  CHECK(all->mode == tenant::Mode::Enforce);
  for (auto k : {tenant::RuleKey::Root, tenant::RuleKey::ReadOnly, tenant::RuleKey::ReadWrite, tenant::RuleKey::IpDeny,
                 tenant::RuleKey::IpAllow, tenant::RuleKey::MaxConnections, tenant::RuleKey::MaxRequests,
                 tenant::RuleKey::Exec, tenant::RuleKey::UnixSockets, tenant::RuleKey::Mode})
    CHECK(all->own(k));

  const tenant::RuleSet* some = p->find("own-some");
  REQUIRE(some != nullptr);
  CHECK(some->root == "/home/{tenant}/www");  // from defaults
  CHECK(some->read_only == std::vector<std::string>{"/opt/lib"});  // replaced, not appended
  CHECK(some->read_write == std::vector<std::string>{"/tmp/d"});
  CHECK(some->ip_deny.size() == 1);
  CHECK(some->max_connections == 3);
  CHECK(some->max_requests == 7);
  CHECK(some->exec == std::vector<std::string>{"/usr/bin/convert"});
  CHECK(some->mode == tenant::Mode::Audit);
  CHECK(some->own(tenant::RuleKey::ReadOnly));
  CHECK(some->own(tenant::RuleKey::MaxConnections));
  CHECK_FALSE(some->own(tenant::RuleKey::Root));
  CHECK_FALSE(some->own(tenant::RuleKey::Mode));

  CHECK(p->find("plain") == &d);
  // unknown_tenants "defaults": any valid id is admitted with the defaults...
  CHECK(p->find("never-listed") == &d);
  CHECK_FALSE(p->lists("never-listed"));
  // ...but never an invalid one.
  CHECK(p->find("..") == nullptr);
  CHECK(p->find("") == nullptr);
  CHECK(p->find("a/b") == nullptr);
}

TEST_CASE("policy: root falls back to defaults root, then tenant_root", "[policy]") {
  auto p = load(doc(R"("tenants":{"a":{"exec":[]}})"));
  CHECK(p->defaults().root == "/srv/www/{tenant}");
  CHECK(p->find("a")->root == "/srv/www/{tenant}");
  auto q = load(doc(R"("defaults":{"root":"/home/{tenant}"},"tenants":{"a":{"exec":[]}})"));
  CHECK(q->find("a")->root == "/home/{tenant}");
  // Defaults given after the tenants still apply (the tenants are streamed).
  auto r = load(R"({"tenants":{"a":{"exec":[]}},"defaults":{"max_connections":4},"version":1,"tenant_root":"/w/{tenant}"})");
  CHECK(r->find("a")->max_connections == 4);
  CHECK(r->find("a")->root == "/w/{tenant}");
}

TEST_CASE("policy: limits default to unlimited and accept the documented range", "[policy]") {
  auto p = load(doc(R"("tenants":{"a":{},"b":{"max_connections":1000000,"max_requests":0}})"));
  CHECK(p->find("a")->max_connections == tenant::kUnlimited);
  CHECK(p->find("b")->max_connections == 1000000);
  CHECK(p->find("b")->max_requests == 0);
  CHECK_FALSE(tenant::Policy::parse(doc(R"("tenants":{"b":{"max_connections":1000001}})")).ok());
}

TEST_CASE("policy: 1,000 generated tenants, lookup and file order", "[policy]") {
  std::string text = doc(R"("defaults":{"max_connections":9},"tenants":{)");
  text.pop_back();  // reopen: doc() closed the object
  for (int i = 0; i < 1000; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "site-%04d", i);
    text += (i ? "," : "") + ("\""s + id + "\":") + (i % 10 == 0 ? R"({"max_connections":)" + std::to_string(i) + "}" : "{}");
  }
  text += "}}";
  auto p = load(text);
  REQUIRE(p->tenant_count() == 1000);
  for (int i = 0; i < 1000; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "site-%04d", i);
    const tenant::RuleSet* r = p->find(id);
    REQUIRE(r != nullptr);
    CHECK(r->max_connections == (i % 10 == 0 ? static_cast<std::uint32_t>(i) : 9u));
    CHECK((r == &p->defaults()) == (i % 10 != 0));
  }
  CHECK(p->find("site-1000") == nullptr);
  CHECK(p->find("site-000") == nullptr);
  CHECK(p->find("site-00000") == nullptr);
  int n = 0;
  bool in_order = true;
  p->for_each_tenant([&](std::string_view id, const tenant::RuleSet&) {
    char want[32];
    std::snprintf(want, sizeof want, "site-%04d", n++);
    in_order = in_order && id == want;
  });
  CHECK(n == 1000);
  CHECK(in_order);
}

TEST_CASE("policy: load_file reports a missing file once, with the path", "[policy]") {
  auto r = tenant::Policy::load_file("/nonexistent/dir/policy.json");
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.error().size() == 1);
  CHECK(r.error()[0].where == "/nonexistent/dir/policy.json");
  CHECK(r.error()[0].what.find("No such file or directory") != std::string::npos);
  // A folder is a folder policy now (test_policy_folder.cpp); "/" is not one.
  auto d = tenant::Policy::load_file("/");
  REQUIRE_FALSE(d.ok());
  CHECK(d.error()[0].where == "/_main.json");
  CHECK(d.error()[0].what.find("missing") != std::string::npos);
}

TEST_CASE("policy: load_file reads the example data", "[policy]") {
  auto r = tenant::Policy::load_file(TS_TEST_DATA "/valid.policy.json");
  INFO((r ? "" : joined(r.error())));
  REQUIRE(r.ok());
  CHECK(r.value()->tenant_count() == 2);
}

TEST_CASE("policy: a flood of errors is capped and counted", "[policy]") {
  std::string text = R"({"version":1,"tenant_root":"/srv/www/{tenant}","tenants":{)";
  for (int i = 0; i < 3000; ++i) text += (i ? "," : "") + std::string("\"bad id ") + std::to_string(i) + "\":{}";
  text += "}}";
  const auto errs = errors_of(text);
  REQUIRE(errs.size() == 1001);
  CHECK(errs.back().what == "... and 2000 more errors not listed");
  CHECK(errs.front().where == "/tenants/bad id 0");
}
