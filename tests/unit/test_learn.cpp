// tenant::learn: parsing refuse()'s lines, collapsing paths to directories,
// the refusals (another tenant's area, shared writable places, system
// directories, ip_deny), applying the additions so that the result loads
// and allows what was logged.
#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "tenant/context.hpp"
#include "tenant/learn.hpp"
#include "tenant/policy.hpp"

using tenant::RuleKey;
namespace learn = tenant::learn;

namespace {

const char* kPolicy = R"({
  "version": 1,
  "tenant_root": "/srv/www/{tenant}",
  "unknown_tenants": "deny",
  "defaults": {
    "read_only": ["/usr/share/php"],
    "ip_allow": ["192.0.2.0/24"],
    "ip_deny": ["10.0.0.0/8"]
  },
  "tenants": {
    "a": {},
    "b": {"read_write": ["/var/lib/b-cache"]},
    "c": {"root": "/home/c/public_html", "read_only": ["/srv/www/{tenant}/conf"]}
  }
})";

std::shared_ptr<const tenant::Policy> policy() {
  auto p = tenant::Policy::parse(kPolicy);
  REQUIRE(p.ok());
  return p.value();
}

learn::LogLine entry(const std::string& tenant, const std::string& need, const std::string& target,
                     const std::string& rule = "no rule: outside every allowed path", const std::string& op = "open") {
  learn::LogLine l;
  l.tenant = tenant;
  l.op = op;
  l.need = need;
  l.target = target;
  l.err = "EACCES";
  l.rule = rule;
  return l;
}

// Host where the listed paths are directories and /srv/shared-drop is world-writable.
learn::HostProbe host(std::set<std::string> dirs = {}) {
  learn::HostProbe h;
  h.is_directory = [dirs](const std::string& p) { return dirs.count(p) != 0; };
  h.world_writable = [](const std::string& p) { return p.rfind("/srv/shared-drop", 0) == 0; };
  return h;
}

const learn::TenantReport& report(const std::vector<learn::TenantReport>& r, const std::string& tenant) {
  for (const auto& x : r)
    if (x.tenant == tenant) return x;
  FAIL("no report for " << tenant);
  return r.front();
}

std::vector<std::string> added(const learn::TenantReport& r, RuleKey k) {
  std::vector<std::string> v;
  for (const auto& a : r.additions)
    if (a.key == k) v.push_back(a.value);
  return v;
}

bool refused(const learn::TenantReport& r, const std::string& suggestion, const std::string& why_part) {
  for (const auto& x : r.refused)
    if (x.suggestion == suggestion && x.why.find(why_part) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("parse_line reads refuse()'s format, with or without an ErrorLog prefix", "[learn]") {
  learn::LogLine l;
  std::string why;
  const std::string line =
      "[Mon Nov 23 04:00:01.123 2026] [php:error] [pid 7] tenant-sandbox: audit tenant=site-a op=open need=read "
      "target=\"/srv/www/site-b/a \\\"q\\\" \\x0a\\\\z\" errno=EACCES rule=\"no rule: outside every allowed path\" "
      "request=YZab@1-x (audit mode: allowed)\n";
  REQUIRE(learn::parse_line(line, l, why) == learn::LineKind::Entry);
  CHECK(l.audit);
  CHECK(l.tenant == "site-a");
  CHECK(l.op == "open");
  CHECK(l.need == "read");
  CHECK(l.target == "/srv/www/site-b/a \"q\" \n\\z");
  CHECK(l.err == "EACCES");
  CHECK(l.rule == "no rule: outside every allowed path");
  CHECK(l.request == "YZab@1-x");

  REQUIRE(learn::parse_line("tenant-sandbox: deny tenant=b op=connect need=connect target=\"[::1]:80\" errno=EACCES",
                            l, why) == learn::LineKind::Entry);
  CHECK_FALSE(l.audit);
  CHECK(l.rule.empty());
  CHECK(l.target == "[::1]:80");
}

TEST_CASE("parse_line: summaries and foreign lines are skipped, broken denial lines reported", "[learn]") {
  learn::LogLine l;
  std::string why;
  CHECK(learn::parse_line("tenant-sandbox: deny tenant=a suppressed=9900 window=10s", l, why) ==
        learn::LineKind::Summary);
  CHECK(learn::parse_line("tenant-sandbox: audit tenant=a suppressed=3 window=10s", l, why) ==
        learn::LineKind::Summary);
  CHECK(learn::parse_line("[core:notice] AH00094: Command line: 'apache2'", l, why) == learn::LineKind::Other);
  CHECK(learn::parse_line("tenant-sandbox: fatal: real function resolves to libsandbox itself: open", l, why) ==
        learn::LineKind::Other);
  CHECK(learn::parse_line("tenant-sandbox: deny tenant=a op=open need=read target=\"/x", l, why) ==
        learn::LineKind::Malformed);
  CHECK(why.find("quoted") != std::string::npos);
  CHECK(learn::parse_line("tenant-sandbox: deny tenant=a op=open need=fly target=\"/x\" errno=EACCES", l, why) ==
        learn::LineKind::Malformed);
  CHECK(learn::parse_line("tenant-sandbox: deny tenant=a need=read", l, why) == learn::LineKind::Malformed);
}

TEST_CASE("reads collapse to the file's directory; broad directories keep the file", "[learn]") {
  learn::Learner L(policy(), host({"/opt/app/data"}));
  L.add(entry("a", "read", "/opt/app/lib/x.php"), "e:1");
  L.add(entry("a", "read", "/opt/app/lib/y.php"), "e:2");
  L.add(entry("a", "read", "/opt/app/data"), "e:3");    // a directory itself
  L.add(entry("a", "read", "/etc/hosts"), "e:4");        // /etc: too broad, the file only
  L.add(entry("a", "stat", "/usr/share/doc/x"), "e:5");  // parent /usr/share/doc is fine
  L.add(entry("a", "read", "/usr/share/x.txt"), "e:6");  // /usr/share: too broad
  const auto r = L.finish();
  const auto& a = report(r, "a");
  const auto ro = added(a, RuleKey::ReadOnly);
  // Stats are decided after the other paths (they may be covered by them).
  CHECK(ro == std::vector<std::string>{"/opt/app/lib", "/opt/app/data", "/etc/hosts", "/usr/share/x.txt",
                                       "/usr/share/doc"});
  CHECK(a.refused.empty());
}

TEST_CASE("stats of the directories on the way to a file add nothing of their own", "[learn]") {
  // PHP's realpath walk: lstat /opt, /opt/app, /opt/app/data, then open the file.
  learn::Learner L(policy(), host({"/opt", "/opt/app", "/opt/app/data", "/var", "/var/cache"}));
  L.add(entry("a", "stat", "/opt/app/data/info.txt", "no rule", "lstat"), "e:1");
  L.add(entry("a", "stat", "/opt/app/data", "no rule", "lstat"), "e:2");
  L.add(entry("a", "stat", "/opt/app", "no rule", "lstat"), "e:3");
  L.add(entry("a", "stat", "/opt", "no rule", "lstat"), "e:4");
  L.add(entry("a", "read", "/opt/app/data/info.txt"), "e:5");
  L.add(entry("a", "stat", "/var/cache", "no rule", "lstat"), "e:6");  // alone: too broad, a note
  L.add(entry("a", "stat", "/srv/other/file", "no rule", "stat"), "e:7");  // alone: read_only of its folder
  const auto r = L.finish();
  const auto& a = report(r, "a");
  CHECK(added(a, RuleKey::ReadOnly) == std::vector<std::string>{"/opt/app/data", "/srv/other"});
  std::string notes;
  for (const auto& n : a.notes) notes += n + "\n";
  CHECK(notes.find("too broad to allow whole") != std::string::npos);
  CHECK(notes.find("/var/cache") != std::string::npos);
}

TEST_CASE("three sibling directories at depth >= 3 collapse to their parent", "[learn]") {
  learn::Learner L(policy(), host());
  L.add(entry("a", "read", "/usr/share/zoneinfo/Europe/Paris"), "e:1");
  L.add(entry("a", "read", "/usr/share/zoneinfo/Asia/Tokyo"), "e:2");
  L.add(entry("a", "read", "/usr/share/zoneinfo/America/Lima"), "e:3");
  L.add(entry("a", "read", "/opt/x/one/f"), "e:4");  // two siblings only: no collapse
  L.add(entry("a", "read", "/opt/x/two/f"), "e:5");
  const auto r = L.finish();
  CHECK(added(report(r, "a"), RuleKey::ReadOnly) ==
        std::vector<std::string>{"/usr/share/zoneinfo", "/opt/x/one", "/opt/x/two"});
}

TEST_CASE("another tenant's area is never suggested", "[learn]") {
  learn::Learner L(policy(), host());
  L.add(entry("a", "read", "/srv/www/b/secret.txt"), "e:1");         // b's root by the template
  L.add(entry("a", "read", "/srv/www/zz/x"), "e:2");                 // unlisted id: still the template's
  L.add(entry("a", "read", "/srv/www"), "e:3");                      // contains every root
  L.add(entry("a", "write", "/var/lib/b-cache/f"), "e:4");           // b's own read_write
  L.add(entry("a", "read", "/home/c/public_html/index.php"), "e:5");  // c's explicit root
  L.add(entry("a", "read", "/home/c/notes.txt"), "e:6");             // the rest of c's home
  const auto r = L.finish();
  const auto& a = report(r, "a");
  CHECK(a.additions.empty());
  CHECK(refused(a, "read_only /srv/www/b", "tenant \"b\"'s root"));
  CHECK(refused(a, "read_only /srv/www/zz", "tenant \"zz\"'s root"));
  CHECK(refused(a, "read_only /srv/www", "contains every tenant's root"));
  CHECK(refused(a, "read_write /var/lib/b-cache", "tenant \"b\"'s read_write"));
  CHECK(refused(a, "read_only /home/c/public_html", "tenant \"c\"'s root"));
  CHECK(refused(a, "read_only /home/c/notes.txt", "tenant \"c\"'s home"));
}

TEST_CASE("shared writable places and system directories are refused", "[learn]") {
  learn::Learner L(policy(), host());
  L.add(entry("a", "write", "/tmp/upload.tmp"), "e:1");
  L.add(entry("a", "read", "/var/tmp/x"), "e:2");
  L.add(entry("a", "write", "/dev/shm/seg"), "e:3");
  L.add(entry("a", "write", "/run/lock/x"), "e:4");
  L.add(entry("a", "write", "/etc/php/8.2/conf.d/x.ini"), "e:5");
  L.add(entry("a", "write", "/x.txt"), "e:6");
  L.add(entry("a", "write", "/srv/shared-drop/in/f"), "e:7");  // world-writable on this host
  L.add(entry("a", "write", "/var/cache/a-app/c.dat"), "e:8");  // fine
  const auto r = L.finish();
  const auto& a = report(r, "a");
  CHECK(added(a, RuleKey::ReadWrite) == std::vector<std::string>{"/var/cache/a-app"});
  CHECK(refused(a, "read_write /tmp/upload.tmp", "every tenant writes"));
  CHECK(refused(a, "read_only /var/tmp", "every tenant writes"));
  CHECK(refused(a, "read_write /dev/shm", "every tenant writes"));
  CHECK(refused(a, "read_write /run/lock", "every tenant writes"));
  CHECK(refused(a, "read_write /etc/php/8.2/conf.d", "system files"));
  CHECK(refused(a, "read_write /x.txt", "top-level"));
  CHECK(refused(a, "read_write /srv/shared-drop/in", "world-writable"));
}

TEST_CASE("connect: ip_allow /32 and /128, never over ip_deny; unix sockets; exec", "[learn]") {
  learn::Learner L(policy(), host());
  L.add(entry("a", "connect", "127.0.0.1:8080", "ip_allow", "connect"), "e:1");
  L.add(entry("a", "send", "[2001:db8::5]:53", "ip_allow", "sendto"), "e:2");
  L.add(entry("a", "connect", "10.1.2.3:80", "ip_deny[0]", "connect"), "e:3");
  L.add(entry("a", "connect", "192.0.2.7:443", "ip_allow", "connect"), "e:4");  // allowed now: note
  L.add(entry("a", "connect", "/run/mysqld/mysqld.sock", "no rule", "connect"), "e:5");
  L.add(entry("a", "connect", "@memcached", "abstract socket not listed in unix_sockets", "connect"), "e:6");
  L.add(entry("a", "connect", "/srv/www/b/app.sock", "no rule", "connect"), "e:7");
  L.add(entry("a", "exec", "/usr/sbin/sendmail", "not on the tenant's exec list", "execve"), "e:8");
  L.add(entry("a", "exec", "/srv/www/a/bin/tool", "not on the tenant's exec list", "execve"), "e:9");
  L.add(entry("a", "exec", "sendmail", "no program of that name", "execvp"), "e:10");
  L.add(entry("a", "bind", "127.0.0.1:80", "tenants may bind inet sockets to port 0 only", "bind"), "e:11");
  auto edq = entry("a", "connect", "127.0.0.1:6379", "max_connections 4", "connect");
  edq.err = "EDQUOT";
  L.add(edq, "e:12");
  const auto r = L.finish();
  const auto& a = report(r, "a");
  CHECK(added(a, RuleKey::IpAllow) == std::vector<std::string>{"127.0.0.1/32", "2001:db8::5/128"});
  CHECK(refused(a, "ip_allow 10.1.2.3/32", "learn never overrides ip_deny"));
  CHECK(added(a, RuleKey::UnixSockets) == std::vector<std::string>{"/run/mysqld/mysqld.sock", "@memcached"});
  CHECK(refused(a, "unix_sockets /srv/www/b/app.sock", "tenant \"b\"'s root"));
  CHECK(added(a, RuleKey::Exec) == std::vector<std::string>{"/usr/sbin/sendmail"});
  CHECK(refused(a, "exec /srv/www/a/bin/tool", "can write this program"));
  std::string notes;
  for (const auto& n : a.notes) notes += n + "\n";
  CHECK(notes.find("already allowed by the current policy: op=connect need=connect 192.0.2.7:443") != std::string::npos);
  CHECK(notes.find("not an absolute path") != std::string::npos);
  CHECK(notes.find("not learnable (tenants bind only") != std::string::npos);
  CHECK(notes.find("max_connections reached") != std::string::npos);
}

TEST_CASE("apply keeps the defaults a new tenant key replaces, and the result allows what was logged", "[learn]") {
  auto p = policy();
  learn::Learner L(p, host());
  L.add(entry("a", "read", "/opt/app/lib/x.php"), "e:1");
  L.add(entry("a", "connect", "127.0.0.1:8080", "ip_allow", "connect"), "e:2");
  L.add(entry("c", "write", "/srv/www/c/conf/cache.php"), "e:3");  // c's read_only conf: the file only
  L.add(entry("ghost", "read", "/opt/x"), "e:4");
  auto reports = L.finish();
  auto out = learn::apply(kPolicy, reports);
  REQUIRE(out.ok());
  auto learned = tenant::Policy::parse(out.value());
  REQUIRE(learned.ok());
  learn::verify(*learned.value(), reports);
  for (const auto& rep : reports)
    for (const auto& n : rep.notes) CHECK(n.find("still denied") == std::string::npos);
  CHECK(report(reports, "ghost").notes.front().find("not admitted") != std::string::npos);

  auto a = tenant::TenantContext::create(*learned.value(), "a");
  REQUIRE(a.ok());
  const auto& rules = a.value()->rules();
  // The defaults' entries came along: "a" now owns read_only and ip_allow.
  CHECK(rules.read_only == std::vector<std::string>{"/usr/share/php", "/opt/app/lib"});
  CHECK(rules.ip_allow.size() == 2);
  CHECK(rules.ip_deny.size() == 1);  // untouched key: still the default
  CHECK(a.value()->decide_path("/opt/app/lib/x.php", tenant::Need::Read).allowed);
  CHECK_FALSE(a.value()->decide_path("/opt/app/lib/x.php", tenant::Need::Write).allowed);
  // c: the written file itself, since read_only conf/ (same path) would win.
  const auto& c = report(reports, "c");
  CHECK(added(c, RuleKey::ReadWrite) == std::vector<std::string>{"/srv/www/c/conf/cache.php"});
  // Nothing for b, who logged nothing.
  auto b = tenant::TenantContext::create(*learned.value(), "b");
  CHECK(b.value()->rules().read_only == std::vector<std::string>{"/usr/share/php"});
}

TEST_CASE("verify reports an addition the engine would still deny", "[learn]") {
  learn::TenantReport rep;
  rep.tenant = "a";
  rep.additions.push_back({RuleKey::ReadOnly, "/opt/app", {"e:1"}, {{"write", "/opt/app/x"}}});
  std::vector<learn::TenantReport> reps{rep};
  auto out = learn::apply(kPolicy, reps);
  REQUIRE(out.ok());
  auto learned = tenant::Policy::parse(out.value());
  REQUIRE(learned.ok());
  learn::verify(*learned.value(), reps);
  REQUIRE(reps[0].notes.size() == 1);
  CHECK(reps[0].notes[0].find("still denied") != std::string::npos);
}

TEST_CASE("unified_diff", "[learn]") {
  CHECK(learn::unified_diff("a\nb\nc\n", "a\nb\nc\n", "x", "y").empty());
  const std::string d = learn::unified_diff("1\n2\n3\n4\n5\n6\n7\n8\n", "1\n2\n3\n4\nnew\n5\n6\n7\n8\n", "x", "y");
  CHECK(d == "--- x\n+++ y\n@@ -2,6 +2,7 @@\n 2\n 3\n 4\n+new\n 5\n 6\n 7\n");
}
