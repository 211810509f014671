// The status report's rows and formats (tenant/status_report.hpp): what the
// status page and `tenant-sandbox status` print. Hostile tenant input
// (denial targets) must never break out of its format; top=N bounds the
// per-tenant series; the "other" aggregate and the totals add up.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "tenant/denials.hpp"
#include "tenant/state_file.hpp"
#include "tenant/status_report.hpp"

namespace ts = tenant::state;

namespace {

ts::StatusRow row(const std::string& id, std::uint64_t in_progress, std::uint64_t denied_read) {
  ts::StatusRow r;
  r.tenant = id;
  r.in_progress = in_progress;
  r.admitted = in_progress * 10;
  r.denied[1] = denied_read;
  return r;
}

ts::StatusReport report_of(std::vector<ts::StatusRow> rows) {
  ts::StatusReport r;
  r.state_dir = "/run/tenant-sandbox";
  r.generated = 1795410000;
  r.unlisted.tenants = 0;
  r.totals.tenants = 0;
  r.rows = std::move(rows);
  for (const auto& x : r.rows) r.totals.add(x);
  r.sorted = r.rows.size();
  return r;
}

// One line of the Prometheus text exposition format 0.0.4: a comment
// (# HELP name text / # TYPE name type), or a sample
// name{label="value",...} value. Label values: any chars but \ " and
// newline, which must be escaped.
bool prometheus_line_ok(const std::string& line, std::set<std::string>& typed, std::string& why) {
  static const std::regex help(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$)");
  static const std::regex type(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  static const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? (-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|NaN|[+-]Inf)$)");
  std::smatch m;
  if (std::regex_match(line, m, help)) return true;
  if (std::regex_match(line, m, type)) {
    if (!typed.insert(m[1]).second) {
      why = "TYPE given twice";
      return false;
    }
    return true;
  }
  if (std::regex_match(line, m, sample)) {
    if (typed.count(m[1]) == 0) {
      why = "sample before its TYPE";
      return false;
    }
    return true;
  }
  why = "matches no production";
  return false;
}

// A private STATE_DIR holding only a fresh denial table (the other tables
// are missing on purpose), removed afterwards.
struct DenialFolder {
  std::string dir;
  void* base = nullptr;
  DenialFolder() {
    char tmpl[] = "/tmp/ts-unit-status-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    char err[256];
    base = ts::map_state_file(dir.c_str(), "denials", ts::denial_map_size(), ts::OpenMode::ReadWrite,
                              ts::libc_calls(), err, sizeof err);
    REQUIRE(base != nullptr);
    REQUIRE(ts::denial_map_attach(base, ts::denial_map_size()));
  }
  ~DenialFolder() {
    ts::unmap_state_file(base, ts::denial_map_size());
    (void)!std::system(("rm -rf '" + dir + "'").c_str());
  }
};

}  // namespace

TEST_CASE("escapes keep hostile bytes inside their format", "[status][format]") {
  const std::string evil = std::string("</td><script>alert(1)</script>\"'&\n\x01\xff\xc3(") + "\\";
  const std::string h = ts::html_escape(evil);
  CHECK(h.find('<') == std::string::npos);
  CHECK(h.find('>') == std::string::npos);
  CHECK(h.find('"') == std::string::npos);
  CHECK(h.find('\'') == std::string::npos);
  CHECK(h.find('\n') == std::string::npos);
  CHECK(h.find("&lt;script&gt;") != std::string::npos);

  const std::string j = "\"" + ts::json_escape(evil) + "\"";
  for (char ch : j) CHECK((static_cast<unsigned char>(ch) >= 0x20 && static_cast<unsigned char>(ch) < 0x7f));  // ASCII only: valid UTF-8 whatever the bytes
  auto parsed = nlohmann::json::parse(j);
  CHECK(parsed.get<std::string>().substr(0, 5) == "</td>");

  const std::string p = ts::prometheus_label_escape(evil);
  CHECK(p.find('\n') == std::string::npos);
  std::set<std::string> typed{"m"};
  std::string why;
  CHECK(prometheus_line_ok("m{tenant=\"" + p + "\"} 1", typed, why));
}

TEST_CASE("prometheus output: every line parses, top=N bounds the tenant series", "[status][format]") {
  std::vector<ts::StatusRow> rows;
  for (int i = 0; i < 500; ++i) rows.push_back(row("site-" + std::to_string(i), static_cast<std::uint64_t>(i % 7), static_cast<std::uint64_t>(i)));
  rows[3].last.when = 1795400000;
  rows[3].last.target = "/srv/www/\"x\"\n";
  rows[3].max_connections = 10;
  ts::StatusReport r = report_of(rows);
  r.have_server = true;
  r.server.policy = "/etc/tenant-sandbox/policy.json";
  r.server.kernel = "landlock \"abi\" 3";
  r.problems.push_back("state file /x/requests: cannot open");

  ts::FormatOptions o;
  o.top = 25;
  const std::string text = ts::format_prometheus(r, o);
  std::istringstream in(text);
  std::string line;
  std::set<std::string> typed, tenants;
  static const std::regex tenant_label(R"re(tenant="([^"]*)")re");
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::string why;
    INFO(line);
    REQUIRE(prometheus_line_ok(line, typed, why));
    std::smatch m;
    if (line[0] != '#' && std::regex_search(line, m, tenant_label)) tenants.insert(m[1]);
  }
  CHECK(n > 20);
  CHECK(tenants.size() == 25 + 1);  // the top 25 and "_other"
  CHECK(tenants.count("_other") == 1);
  CHECK(text.find("tenant_sandbox_state_problems 1\n") != std::string::npos);
  CHECK(text.find("tenant_sandbox_tenants 500\n") != std::string::npos);
  CHECK(text.find("tenant_sandbox_tenants_shown 25\n") != std::string::npos);
  // Counters end in _total and are typed counter.
  CHECK(text.find("# TYPE tenant_sandbox_denials_total counter") != std::string::npos);
  CHECK(text.find("# TYPE tenant_sandbox_requests_in_progress gauge") != std::string::npos);
}

TEST_CASE("top view: the rest is one aggregate, totals are everybody", "[status][format]") {
  ts::StatusReport r = report_of({row("a", 1, 5), row("b", 2, 6), row("c", 3, 7), row("d", 4, 8)});
  r.unlisted.denied[0] = 100;
  r.totals.add(r.unlisted);
  const ts::TopView v = ts::top_view(r, 2);
  REQUIRE(v.top.size() == 2);
  CHECK(v.other.tenants == 2);
  CHECK(v.other.denied[1] == 7 + 8);
  CHECK(v.other.denied[0] == 100);  // tenants beyond the denial table's rows
  CHECK(r.totals.denied[1] == 5 + 6 + 7 + 8);
  CHECK(r.totals.in_progress == 10);
  CHECK(r.totals.tenants == 4);

  ts::FormatOptions o;
  o.top = 2;
  auto j = nlohmann::json::parse(ts::format_json(r, o));
  CHECK(j["tenants"].size() == 2);
  CHECK(j["shown"] == 2);
  CHECK(j["other"]["tenants"] == 2);
  CHECK(j["totals"]["denials"]["read"] == 26);
  CHECK(j["totals"]["denials"]["stat"] == 100);
  CHECK(j["server"].is_null());
  o.tenant = "c";
  j = nlohmann::json::parse(ts::format_json(r, o));
  REQUIRE(j["tenants"].size() == 1);
  CHECK(j["tenants"][0]["tenant"] == "c");
  CHECK(j["tenants"][0]["max_connections"].is_null());
}

TEST_CASE("HTML shows the last denial escaped", "[status][format]") {
  ts::StatusRow a = row("site-a", 1, 1);
  a.last.when = 1795400000;
  a.last.op = "open";
  a.last.kind = 1;
  a.last.err = 13;
  a.last.target = "/srv/www/site-a/<img src=x onerror=alert(1)>";
  ts::StatusReport r = report_of({a});
  const std::string html = ts::format_html(r, ts::FormatOptions{});
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("&lt;img src=x onerror=alert(1)&gt;") != std::string::npos);
  CHECK(html.find("EACCES") != std::string::npos);
  CHECK(html.find("site-a") != std::string::npos);
}

TEST_CASE("collect_status reads the tables under a folder and names what is missing", "[status][collect]") {
  DenialFolder folder;
  const std::string& dir = folder.dir;
  void* base = folder.base;
  std::int32_t hint = -1;
  ts::record_denial(base, &hint, "site-a", 4, false, "connect", "192.0.2.1:25", 13, 1795400000);
  ts::ServerInfo info;
  info.policy = "/etc/p.json";
  info.policy_ok = true;
  info.policy_tenants = 2;
  ts::write_server_info(base, info);

  ts::StatusSources src;
  src.state_dir = dir;
  src.limits = [](std::string_view id) {
    ts::Limits l;
    if (id == "site-a") l.max_connections = 4;
    return l;
  };
  const ts::StatusReport r = ts::collect_status(src, 0);
  REQUIRE(r.rows.size() == 1);
  CHECK(r.rows[0].tenant == "site-a");
  CHECK(r.rows[0].denied[4] == 1);
  CHECK(r.rows[0].max_connections == 4);
  CHECK(r.rows[0].last.target == "192.0.2.1:25");
  CHECK(r.have_server);
  CHECK(r.server.policy == "/etc/p.json");
  // requests and budget were never created here: both named, the rest still read.
  REQUIRE(r.problems.size() == 2);
  CHECK(r.problems[0].find(dir + "/requests") != std::string::npos);
  CHECK(r.problems[1].find(dir + "/budget") != std::string::npos);
  const std::string text = ts::format_text(r, ts::FormatOptions{0, ""});
  CHECK(text.find("site-a") != std::string::npos);
  CHECK(text.find("connect connect \"192.0.2.1:25\" EACCES") != std::string::npos);
}

TEST_CASE("100,000 tenants: one collect and a bounded scrape", "[status][collect][scale]") {
  DenialFolder folder;
  const std::string& dir = folder.dir;
  void* base = folder.base;
  constexpr int kTenants = 100000;
  for (int i = 0; i < kTenants; ++i)
    ts::record_denial(base, nullptr, "tenant-" + std::to_string(i), static_cast<std::size_t>(i % 7), false, "open",
                      "/srv/www/x", 13, 1795400000 + i);
  ts::StatusSources src;
  src.state_dir = dir;
  const auto t0 = std::chrono::steady_clock::now();
  const ts::StatusReport r = ts::collect_status(src, 100);
  const std::string prom = ts::format_prometheus(r, ts::FormatOptions{100, ""});
  const std::string json = ts::format_json(r, ts::FormatOptions{100, ""});
  const std::string html = ts::format_html(r, ts::FormatOptions{100, ""});
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  WARN("collect + 3 formats for 100,000 tenants: " << ms << " ms; prometheus " << prom.size() << " bytes");
  CHECK(r.rows.size() == kTenants);
  CHECK(r.totals.denied_total() == kTenants);
  CHECK(std::count(prom.begin(), prom.end(), '\n') < 2000);  // bounded by top, not by tenants
  CHECK(json.size() < 200000);
  CHECK(html.size() < 200000);
  auto j = nlohmann::json::parse(json);
  CHECK(j["other"]["tenants"] == kTenants - 100);
  CHECK(j["other"]["denials_total"].get<std::uint64_t>() + 100 == static_cast<std::uint64_t>(kTenants));
  CHECK(ms < 30000);  // wall time on a loaded 2-core box; the bound that matters is the size above
}
