// TenantContext: expansion, area ordering and every decide_* function, as
// the preload library and `explain` use them.
#include <catch2/catch.hpp>
#include <string>

#include "tenant/context.hpp"
#include "tenant/path.hpp"
#include "tenant/policy.hpp"

using tenant::Access;
using tenant::Need;
using tenant::RuleKey;

namespace {

const char* kPolicy = R"({
  "version": 1,
  "tenant_root": "/srv/www/{tenant}",
  "unknown_tenants": "deny",
  "defaults": {
    "read_only": ["/usr/share/zoneinfo", "/usr/share/php"],
    "ip_deny": ["127.0.0.0/8", "::1", "169.254.0.0/16"],
    "unix_sockets": ["/run/mysqld/mysqld.sock"],
    "exec": ["/usr/sbin/sendmail"],
    "max_connections": 20
  },
  "tenants": {
    "a": {
      "read_only": ["/srv/www/{tenant}/conf", "/usr/share/zoneinfo", "/srv/www/{tenant}/conf/../lib//"],
      "read_write": ["/var/tmp/{tenant}", "/usr/share/zoneinfo"],
      "ip_allow": ["192.0.2.0/24", "2001:db8::/32", "127.0.0.1"],
      "unix_sockets": ["@{tenant}-cache", "/run/php/{tenant}.sock"],
      "mode": "audit"
    },
    "ab": {},
    "b": {"root": "/home/b/public_html", "exec": ["/usr/bin/../bin/convert"], "max_requests": 4}
  }
})";

std::shared_ptr<const tenant::Policy> policy() {
  static auto p = [] {
    auto r = tenant::Policy::parse(kPolicy);
    REQUIRE(r.ok());
    return r.value();
  }();
  return p;
}

std::unique_ptr<tenant::TenantContext> ctx(const char* id) {
  auto r = tenant::TenantContext::create(*policy(), id);
  if (!r) FAIL(r.error().str());
  return std::move(r).value();
}

}  // namespace

TEST_CASE("context: expansion and normalisation", "[context]") {
  auto a = ctx("a");
  CHECK(a->id() == "a");
  CHECK(std::string(a->id_cstr()) == "a");
  CHECK(a->mode() == tenant::Mode::Audit);
  CHECK(a->max_connections() == 20);
  CHECK(a->max_requests() == tenant::kUnlimited);
  CHECK(a->rules().root == "/srv/www/a");
  CHECK(a->rules().read_only[0] == "/srv/www/a/conf");
  CHECK(a->rules().read_only[2] == "/srv/www/a/lib");  // ".." and "//" resolved
  CHECK(a->rules().read_write[0] == "/var/tmp/a");
  CHECK(a->rules().unix_sockets[0] == "@a-cache");
  CHECK(a->rules().unix_sockets[1] == "/run/php/a.sock");
  auto b = ctx("b");
  CHECK(b->rules().root == "/home/b/public_html");
  CHECK(b->rules().exec[0] == "/usr/bin/convert");
  CHECK(b->max_requests() == 4);
}

TEST_CASE("context: areas are ordered most specific first, ties more restrictive first", "[context]") {
  auto a = ctx("a");
  const auto& areas = a->areas();
  REQUIRE(areas.size() == 6);
  for (std::size_t i = 1; i < areas.size(); ++i) {
    CAPTURE(i, areas[i - 1].path, areas[i].path);
    CHECK(areas[i - 1].path.size() >= areas[i].path.size());
    if (areas[i - 1].path.size() == areas[i].path.size() && areas[i - 1].path == areas[i].path)
      CHECK(areas[i - 1].access <= areas[i].access);
  }
  // /usr/share/zoneinfo is listed both read_only and read_write: read_only wins.
  auto d = a->decide_path("/usr/share/zoneinfo/UTC", Need::Write);
  CHECK_FALSE(d.allowed);
  CHECK(d.key == RuleKey::ReadOnly);
  CHECK(d.index == 1);
}

TEST_CASE("context: path decisions", "[context]") {
  auto a = ctx("a");
  struct Case {
    const char* path;
    Need need;
    bool allowed;
    RuleKey key;
    Access granted;
  };
  const auto c = GENERATE(values<Case>({
      {"/srv/www/a", Need::Read, true, RuleKey::Root, Access::Write},
      {"/srv/www/a/index.php", Need::Read, true, RuleKey::Root, Access::Write},
      {"/srv/www/a/upload/x", Need::Write, true, RuleKey::Root, Access::Write},
      {"/srv/www/ab/index.php", Need::Read, false, RuleKey::None, Access::None},  // prefix trap
      {"/srv/www/ab", Need::Stat, false, RuleKey::None, Access::None},
      {"/srv/www/a.bak", Need::Read, false, RuleKey::None, Access::None},
      {"/srv/www/b/x", Need::Read, false, RuleKey::None, Access::None},
      {"/srv/www/a/conf", Need::Read, true, RuleKey::ReadOnly, Access::Read},  // nested read_only
      {"/srv/www/a/conf/db.php", Need::Read, true, RuleKey::ReadOnly, Access::Read},
      {"/srv/www/a/conf/db.php", Need::Write, false, RuleKey::ReadOnly, Access::Read},
      {"/srv/www/a/conf/x", Need::Bind, false, RuleKey::ReadOnly, Access::Read},
      {"/srv/www/a/config", Need::Write, true, RuleKey::Root, Access::Write},  // not inside conf
      {"/srv/www/a/conf/x", Need::Exec, true, RuleKey::ReadOnly, Access::Read},
      {"/srv/www/a/lib/x.php", Need::Write, false, RuleKey::ReadOnly, Access::Read},
      {"/srv/www", Need::Stat, true, RuleKey::Ancestor, Access::Stat},  // ancestors: stat only
      {"/srv/www", Need::Read, false, RuleKey::Ancestor, Access::Stat},
      {"/srv", Need::Stat, true, RuleKey::Ancestor, Access::Stat},
      {"/", Need::Stat, true, RuleKey::Ancestor, Access::Stat},
      {"/", Need::Read, false, RuleKey::Ancestor, Access::Stat},
      {"/usr/share", Need::Stat, true, RuleKey::Ancestor, Access::Stat},
      {"/usr/share/php/x", Need::Read, false, RuleKey::None, Access::None},  // a's list replaced the default
      {"/usr/share/phpmyadmin", Need::Read, false, RuleKey::None, Access::None},
      {"/var/tmp/a/sess_1", Need::Write, true, RuleKey::ReadWrite, Access::Write},
      {"/var/tmp/b/sess_1", Need::Read, false, RuleKey::None, Access::None},
      {"/etc/passwd", Need::Read, false, RuleKey::None, Access::None},
      {"/etc", Need::Stat, false, RuleKey::None, Access::None},
  }));
  CAPTURE(c.path, tenant::need_name(c.need));
  const auto d = a->decide_path(c.path, c.need);
  CHECK(d.allowed == c.allowed);
  CHECK(d.key == c.key);
  CHECK(d.granted == c.granted);
  if (c.key != RuleKey::None) {
    REQUIRE(d.area >= 0);
    REQUIRE(static_cast<std::size_t>(d.area) < a->areas().size());
  }
  CHECK_FALSE(a->describe(d, c.need).empty());
}

TEST_CASE("context: normalised user paths with .. cannot escape", "[context]") {
  auto a = ctx("a");
  char buf[tenant::kMaxPath];
  tenant::NormalizedPath np;
  REQUIRE(tenant::normalize_path("/srv/www/a", "../b/../../../etc/passwd", buf, sizeof buf, &np));
  CHECK_FALSE(a->decide_path({buf, np.len}, Need::Read).allowed);
  REQUIRE(tenant::normalize_path("/srv/www/a", "x/../../a//index.php", buf, sizeof buf, &np));
  CHECK(a->decide_path({buf, np.len}, Need::Read).allowed);
  REQUIRE(tenant::normalize_path("/", "/srv/www/a/conf/../conf/./db.php/", buf, sizeof buf, &np));
  CHECK(np.trailing_slash);
  CHECK_FALSE(a->decide_path({buf, np.len}, Need::Write).allowed);
}

TEST_CASE("context: exec is an exact list", "[context]") {
  auto b = ctx("b");
  CHECK(b->decide_exec("/usr/bin/convert").allowed);
  CHECK(b->decide_exec("/usr/bin/convert").key == RuleKey::Exec);
  CHECK_FALSE(b->decide_exec("/usr/bin/convert2").allowed);
  CHECK_FALSE(b->decide_exec("/usr/bin").allowed);
  CHECK_FALSE(b->decide_exec("/usr/sbin/sendmail").allowed);  // b's own exec replaced the default
  auto ab = ctx("ab");
  CHECK(ab->decide_exec("/usr/sbin/sendmail").allowed);
  CHECK_FALSE(ab->decide_exec("/bin/sh").allowed);
}

TEST_CASE("context: addresses, deny wins, allow admits only its ranges", "[context]") {
  auto a = ctx("a");    // allow list + default deny list
  auto ab = ctx("ab");  // default deny list only
  struct Case {
    const char* addr;
    bool a_allowed;
    bool ab_allowed;
  };
  const auto c = GENERATE(values<Case>({
      {"192.0.2.7", true, true},
      {"198.51.100.1", false, true},      // not in a's allow list
      {"127.0.0.1", false, false},        // deny wins over a's allow of 127.0.0.1
      {"::ffff:127.0.0.1", false, false},
      {"0.0.0.0", false, false},
      {"::", false, false},
      {"::1", false, false},
      {"64:ff9b::7f00:1", false, false},
      {"2002:7f00:1::", false, false},
      {"::127.0.0.1", false, false},
      {"169.254.169.254", false, false},  // cloud metadata
      {"2001:db8::5", true, true},
      {"2001:db9::5", false, true},
  }));
  CAPTURE(c.addr);
  auto addr = tenant::parse_address(c.addr);
  REQUIRE(addr);
  const auto da = a->decide_address(*addr);
  const auto dab = ab->decide_address(*addr);
  CHECK(da.allowed == c.a_allowed);
  CHECK(dab.allowed == c.ab_allowed);
  if (!c.ab_allowed) CHECK(dab.key == RuleKey::IpDeny);
  if (!c.a_allowed && c.ab_allowed) {
    CHECK(da.key == RuleKey::IpAllow);
    CHECK(da.index == -1);
  }
  CHECK_FALSE(a->describe(da, Need::Connect).empty());
}

TEST_CASE("context: unix sockets", "[context]") {
  auto a = ctx("a");
  auto ab = ctx("ab");
  CHECK(a->decide_unix_socket("@a-cache").allowed);
  CHECK(a->decide_unix_socket("@a-cache").key == RuleKey::UnixSockets);
  CHECK_FALSE(a->decide_unix_socket("@ab-cache").allowed);
  CHECK_FALSE(a->decide_unix_socket("@").allowed);
  CHECK(a->decide_unix_socket("/run/php/a.sock").allowed);
  CHECK_FALSE(a->decide_unix_socket("/run/php/ab.sock").allowed);
  CHECK_FALSE(a->decide_unix_socket("/run/mysqld/mysqld.sock").allowed);  // a replaced the default list
  CHECK(ab->decide_unix_socket("/run/mysqld/mysqld.sock").allowed);
  // Inside its own writable paths: allowed; inside read-only ones: not.
  CHECK(a->decide_unix_socket("/srv/www/a/app.sock").allowed);
  CHECK(a->decide_unix_socket("/var/tmp/a/x.sock").allowed);
  CHECK_FALSE(a->decide_unix_socket("/srv/www/a/conf/x.sock").allowed);
  CHECK_FALSE(a->decide_unix_socket("/srv/www/ab/app.sock").allowed);  // another tenant's
  CHECK_FALSE(a->decide_unix_socket("/run/docker.sock").allowed);
  // An abstract name is never matched against paths.
  CHECK_FALSE(a->decide_unix_socket("@/srv/www/a/app.sock").allowed);
}

TEST_CASE("context: deny_all has no rights at all", "[context]") {
  auto d = tenant::TenantContext::deny_all();
  CHECK(d->id() == "(unknown-thread)");
  CHECK(d->mode() == tenant::Mode::Enforce);
  CHECK(d->areas().empty());
  CHECK(d->max_connections() == 0);
  for (const char* p : {"/", "/srv/www/a", "/tmp", "/etc/passwd"}) {
    CHECK_FALSE(d->decide_path(p, Need::Stat).allowed);
    CHECK_FALSE(d->decide_path(p, Need::Read).allowed);
  }
  CHECK_FALSE(d->decide_exec("/bin/sh").allowed);
  for (const char* s : {"10.0.0.1", "8.8.8.8", "::1", "2001:db8::1", "127.0.0.1"})
    CHECK_FALSE(d->decide_address(*tenant::parse_address(s)).allowed);
  CHECK_FALSE(d->decide_unix_socket("/run/mysqld/mysqld.sock").allowed);
  CHECK_FALSE(d->decide_unix_socket("@x").allowed);
}

TEST_CASE("context: create refuses unadmitted, invalid and over-long", "[context]") {
  CHECK_FALSE(tenant::TenantContext::create(*policy(), "zzz").ok());  // unlisted, unknown_tenants deny
  CHECK_FALSE(tenant::TenantContext::create(*policy(), "..").ok());
  CHECK_FALSE(tenant::TenantContext::create(*policy(), "a/b").ok());
  tenant::RuleSet rs;
  rs.root = "/srv/" + std::string(4080, 'x') + "/{tenant}";
  CHECK(tenant::TenantContext::create(rs, "a").ok());
  CHECK_FALSE(tenant::TenantContext::create(rs, std::string(64, 'a')).ok());  // too long once expanded
  tenant::RuleSet rel;
  rel.root = "{tenant}/www";
  CHECK_FALSE(tenant::TenantContext::create(rel, "a").ok());
  tenant::RuleSet bad_ro;
  bad_ro.root = "/srv/{tenant}";
  bad_ro.read_only = {"/ok", "relative"};
  auto r = tenant::TenantContext::create(bad_ro, "a");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().where == "read_only/1");
}

TEST_CASE("context: describe names the rule and where it came from", "[context]") {
  auto a = ctx("a");
  CHECK(a->describe(a->decide_path("/srv/www/a/conf/x", Need::Write), Need::Write) ==
        "read_only[0] (/srv/www/a/conf, from tenant) grants read only, write denied");
  CHECK(a->describe(a->decide_path("/srv/www/a/x", Need::Read), Need::Read) == "root (/srv/www/a, from defaults)");
  CHECK(a->describe(a->decide_path("/etc/passwd", Need::Read), Need::Read) == "no rule: outside every allowed path");
  auto ab = ctx("ab");
  CHECK(ab->describe(ab->decide_path("/usr/share/php/x", Need::Read), Need::Read) ==
        "read_only[1] (/usr/share/php, from defaults)");
  CHECK(ab->describe(ab->decide_address(*tenant::parse_address("::ffff:127.0.0.1")), Need::Connect) ==
        "ip_deny[0] (127.0.0.0/8, from defaults)");
  CHECK(ab->describe(ab->decide_exec("/bin/sh"), Need::Exec) == "no rule: program not listed in exec");
}

TEST_CASE("context: to_policy_json round-trips to identical decisions", "[context]") {
  const auto id = GENERATE(as<std::string>{}, "a", "ab", "b");
  auto orig = ctx(id.c_str());
  const std::string json = orig->to_policy_json();
  CAPTURE(json);
  auto p = tenant::Policy::parse(json);
  if (!p) FAIL(p.error()[0].str());
  REQUIRE(p.value()->tenant_count() == 1);
  auto copy_r = tenant::TenantContext::create(*p.value(), id);
  REQUIRE(copy_r.ok());
  const auto& copy = *copy_r.value();
  CHECK(copy.mode() == orig->mode());
  CHECK(copy.max_connections() == orig->max_connections());
  CHECK(copy.max_requests() == orig->max_requests());
  REQUIRE(copy.areas().size() == orig->areas().size());
  for (std::size_t i = 0; i < copy.areas().size(); ++i) {
    CHECK(copy.areas()[i].path == orig->areas()[i].path);
    CHECK(copy.areas()[i].access == orig->areas()[i].access);
  }
  for (const char* path : {"/srv/www/a/x", "/srv/www/a/conf/y", "/srv/www/ab/x", "/srv/www", "/usr/share/zoneinfo/UTC",
                           "/var/tmp/a/s", "/home/b/public_html/i.php", "/etc/passwd", "/"}) {
    for (Need n : {Need::Stat, Need::Read, Need::Write}) {
      CAPTURE(path, tenant::need_name(n));
      const auto x = orig->decide_path(path, n);
      const auto y = copy.decide_path(path, n);
      CHECK(x.allowed == y.allowed);
      CHECK(x.key == y.key);
      CHECK(orig->describe(x, n) == copy.describe(y, n));
    }
  }
  for (const char* addr : {"192.0.2.1", "127.0.0.1", "::", "2001:db8::1", "8.8.8.8", "169.254.1.1"}) {
    CAPTURE(addr);
    const auto x = orig->decide_address(*tenant::parse_address(addr));
    const auto y = copy.decide_address(*tenant::parse_address(addr));
    CHECK(x.allowed == y.allowed);
    CHECK(orig->describe(x, Need::Connect) == copy.describe(y, Need::Connect));
  }
  for (const char* prog : {"/usr/bin/convert", "/usr/sbin/sendmail", "/bin/sh"})
    CHECK(orig->decide_exec(prog).allowed == copy.decide_exec(prog).allowed);
  for (const char* s : {"@a-cache", "/run/php/a.sock", "/run/mysqld/mysqld.sock", "/srv/www/a/s.sock"})
    CHECK(orig->decide_unix_socket(s).allowed == copy.decide_unix_socket(s).allowed);
  // And once more: the document is a fixed point.
  CHECK(copy.to_policy_json() == json);
}

TEST_CASE("context: Apache's access files above the allowed paths read only", "[context]") {
  auto b = ctx("ab");  // root /srv/www/ab
  struct Row {
    const char* path;
    Need need;
    bool allowed;
    RuleKey key;
  };
  const Row rows[] = {
      {"/srv/www/.htaccess", Need::Read, true, RuleKey::AccessFile},  // the operator's, above the root
      {"/srv/.htaccess", Need::Read, true, RuleKey::AccessFile},
      {"/.htaccess", Need::Stat, true, RuleKey::AccessFile},
      {"/srv/www/.htaccess", Need::Write, false, RuleKey::AccessFile},  // never changed
      {"/srv/www/a/.htaccess", Need::Read, false, RuleKey::None},       // another tenant's folder
      {"/srv/www/abc/.htaccess", Need::Read, false, RuleKey::None},     // prefix trap
      {"/srv/www/.htpasswd", Need::Read, false, RuleKey::None},         // not an access file name
      {"/etc/.htaccess", Need::Read, false, RuleKey::None},             // not above an allowed path
      {"/srv/www/ab/.htaccess", Need::Write, true, RuleKey::Root},      // the tenant's own
  };
  for (const Row& r : rows) {
    INFO(r.path << " " << tenant::need_name(r.need));
    const auto d = b->decide_path(r.path, r.need);
    CHECK(d.allowed == r.allowed);
    CHECK(d.key == r.key);
  }
  // AccessFileName .acl .htaccess: both names, nothing else.
  tenant::set_access_file_names(".acl  .htaccess  bad/name ..");
  CHECK(b->decide_path("/srv/www/.acl", Need::Read).allowed);
  CHECK(b->decide_path("/srv/www/.htaccess", Need::Read).allowed);
  CHECK_FALSE(b->decide_path("/srv/www/..", Need::Read).allowed);
  tenant::set_access_file_names(".acl");
  CHECK_FALSE(b->decide_path("/srv/www/.htaccess", Need::Read).allowed);
  tenant::set_access_file_names(".htaccess");
  CHECK(b->describe(b->decide_path("/srv/www/.htaccess", Need::Write), Need::Write).find("read only") !=
        std::string::npos);
}
