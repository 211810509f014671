// Folder policies (docs/cli.md "Policy folder"): _main.json plus one ID.json
// of RULES per tenant, through the same Policy::load_file every caller uses.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tenant/policy.hpp"

namespace fs = std::filesystem;

namespace {

constexpr const char kMain[] =
    R"({"version":1,"tenant_root":"/srv/www/{tenant}","defaults":{"max_connections":9,"exec":["/usr/sbin/sendmail"]}})";

class Folder {
 public:
  Folder() {
    std::string templ = (fs::temp_directory_path() / "ts-policy-folder-XXXXXX").string();
    REQUIRE(::mkdtemp(templ.data()) != nullptr);
    dir_ = templ;
  }
  ~Folder() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Folder(const Folder&) = delete;
  Folder& operator=(const Folder&) = delete;

  const std::string& dir() const { return dir_; }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream out(path(name), std::ios::binary | std::ios::trunc);
    out << text;
    REQUIRE(out.good());
  }

 private:
  std::string dir_;
};

std::string joined(const tenant::FileErrors& es) {
  std::string s;
  for (const auto& e : es) s += e.str() + "\n";
  return s;
}

std::shared_ptr<const tenant::Policy> load_ok(const std::string& path, const tenant::FolderOverlay* overlay = nullptr) {
  auto r = tenant::Policy::load(path, overlay);
  if (!r) FAIL(joined(r.error()));
  return r.value();
}

tenant::FileErrors errors_of(const std::string& path) {
  auto r = tenant::Policy::load(path);
  if (r) return {};
  return r.error();
}

bool has_error(const tenant::FileErrors& es, const std::string& file, const std::string& pointer, const std::string& what) {
  for (const auto& e : es)
    if (e.file == file && e.pointer == pointer && e.what.find(what) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("policy folder: _main.json and tenant files make one policy", "[policy][folder]") {
  Folder f;
  f.write("_main.json", R"({"version":1,"tenant_root":"/srv/www/{tenant}","defaults":{"max_connections":9},
                            "tenants":{"old-site":{"max_connections":2}}})");
  f.write("site-b.json", "{}");
  f.write("site-a.json", R"({"read_only":["/srv/shared/{tenant}"],"mode":"audit"})");
  f.write(".site-c.json.tmp123", "not json: a temporary file of tenant add, skipped");

  for (const std::string& path : {f.dir(), f.dir() + "/"}) {
    auto p = load_ok(path);
    CHECK(p->is_folder());
    CHECK(p->tenant_count() == 3);
    CHECK(p->main_file() == f.path("_main.json"));
    const tenant::RuleSet* a = p->find("site-a");
    REQUIRE(a != nullptr);
    CHECK(a->read_only == std::vector<std::string>{"/srv/shared/{tenant}"});
    CHECK(a->mode == tenant::Mode::Audit);
    CHECK(a->max_connections == 9);  // merged with the defaults, like a tenant in one file
    CHECK(p->find("site-b") == &p->defaults());
    CHECK(p->find("old-site")->max_connections == 2);
    CHECK(p->find("site-c") == nullptr);

    // _main.json's tenants first, then the files in sorted order.
    std::vector<std::string> order;
    p->for_each_tenant([&](std::string_view id, const tenant::RuleSet&) { order.emplace_back(id); });
    CHECK(order == std::vector<std::string>{"old-site", "site-a", "site-b"});

    CHECK(p->source_of("site-a").file == f.path("site-a.json"));
    CHECK(p->source_of("site-a").pointer.empty());
    CHECK(p->source_of("old-site").file == f.path("_main.json"));
    CHECK(p->source_of("old-site").pointer == "/tenants/old-site");
    CHECK(p->source_of("nobody").file.empty());
  }
  // Every existing caller goes through load_file.
  auto legacy = tenant::Policy::load_file(f.dir());
  REQUIRE(legacy.ok());
  CHECK(legacy.value()->tenant_count() == 3);
}

TEST_CASE("policy folder: a single file still says where it came from", "[policy][folder]") {
  auto p = tenant::Policy::load_file(TS_TEST_DATA "/valid.policy.json");
  REQUIRE(p.ok());
  CHECK_FALSE(p.value()->is_folder());
  CHECK(p.value()->main_file() == TS_TEST_DATA "/valid.policy.json");
  CHECK(p.value()->source_of("site-a").file == TS_TEST_DATA "/valid.policy.json");
  CHECK(p.value()->source_of("site-a").pointer == "/tenants/site-a");
}

TEST_CASE("policy folder: every error names its file and the pointer inside it", "[policy][folder]") {
  Folder f;
  f.write("_main.json", kMain);
  f.write("site-ok.json", "{}");
  const std::string main = f.path("_main.json");

  SECTION("a bad value in a tenant file") {
    f.write("site-a.json", R"({"ip_deny":["10.0.0.0/8","::1","10.0.0.0/33"],"read_only":["rel"]})");
    const auto errs = errors_of(f.dir());
    INFO(joined(errs));
    CHECK(has_error(errs, f.path("site-a.json"), "/ip_deny/2", "out of range"));
    CHECK(has_error(errs, f.path("site-a.json"), "/read_only/0", "relative path"));
    // load_file: "FILE: POINTER" in `where`, for the module's and libsandbox's messages.
    auto legacy = tenant::Policy::load_file(f.dir());
    REQUIRE_FALSE(legacy.ok());
    CHECK(legacy.error()[0].where == f.path("site-a.json") + ": /ip_deny/2");
  }
  SECTION("a bad value in _main.json") {
    f.write("_main.json", R"({"version":1,"tenant_root":"/srv/www/{tenant}","defaults":{"ip_allow":["x"]}})");
    const auto errs = errors_of(f.dir());
    INFO(joined(errs));
    CHECK(has_error(errs, main, "/defaults/ip_allow/0", "not an IP address"));
  }
  SECTION("a key a tenant file cannot have") {
    f.write("site-a.json", R"({"version":1})");
    CHECK(has_error(errors_of(f.dir()), f.path("site-a.json"), "/version", "unknown key"));
  }
  SECTION("a duplicate key in a tenant file") {
    f.write("site-a.json", R"({"mode":"audit","mode":"enforce"})");
    CHECK(has_error(errors_of(f.dir()), f.path("site-a.json"), "/mode", "duplicate key"));
  }
  SECTION("a tenant file that is not JSON") {
    f.write("site-a.json", "{\"exec\": [\n");
    CHECK(has_error(errors_of(f.dir()), f.path("site-a.json"), "", "invalid JSON"));
  }
  SECTION("a tenant file that is not an object") {
    f.write("site-a.json", "[]");
    CHECK(has_error(errors_of(f.dir()), f.path("site-a.json"), "", "expected an object of rules"));
  }
  SECTION("_main.json missing") {
    REQUIRE(::unlink(main.c_str()) == 0);
    CHECK(has_error(errors_of(f.dir()), main, "", "missing"));
  }
  SECTION("a file name that is not a tenant id") {
    f.write("-site.json", "{}");
    f.write("site a.json", "{}");
    f.write("README", "notes");
    f.write("site-b.json~", "{}");
    const auto errs = errors_of(f.dir());
    INFO(joined(errs));
    CHECK(has_error(errs, f.path("-site.json"), "", "not a valid tenant id"));
    CHECK(has_error(errs, f.path("site a.json"), "", "not a valid tenant id"));
    CHECK(has_error(errs, f.path("README"), "", "expected ID.json"));
    CHECK(has_error(errs, f.path("site-b.json~"), "", "expected ID.json"));
    CHECK(errs.size() == 4);
  }
  SECTION("an over-long id as a file name") {
    const std::string name = std::string(65, 'a') + ".json";
    f.write(name, "{}");
    CHECK(has_error(errors_of(f.dir()), f.path(name), "", "not a valid tenant id"));
  }
  SECTION("a folder where a tenant file should be") {
    REQUIRE(::mkdir(f.path("site-d.json").c_str(), 0700) == 0);
    CHECK(has_error(errors_of(f.dir()), f.path("site-d.json"), "", "not a regular file"));
  }
  SECTION("a duplicate tenant across files names both") {
    f.write("_main.json", R"({"version":1,"tenant_root":"/srv/www/{tenant}","tenants":{"site-ok":{}}})");
    const auto errs = errors_of(f.dir());
    INFO(joined(errs));
    REQUIRE(errs.size() == 1);
    CHECK(errs[0].file == f.path("site-ok.json"));
    CHECK(errs[0].what.find("duplicate tenant \"site-ok\"") != std::string::npos);
    CHECK(errs[0].what.find(main + " at /tenants/site-ok") != std::string::npos);
  }
  SECTION("errors of several files are all reported, in file order") {
    f.write("b.json", R"({"mode":1})");
    f.write("a.json", R"({"exec":"/bin/sh"})");
    const auto errs = errors_of(f.dir());
    REQUIRE(errs.size() == 2);
    CHECK(errs[0].file == f.path("a.json"));
    CHECK(errs[1].file == f.path("b.json"));
  }
}

TEST_CASE("policy folder: a folder that cannot be listed is one error", "[policy][folder]") {
  const auto errs = errors_of("/nonexistent-ts-policy.d");
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].file == "/nonexistent-ts-policy.d");
  CHECK(errs[0].what.find("No such file or directory") != std::string::npos);
}

TEST_CASE("policy folder: an overlay checks an edit before it is written", "[policy][folder]") {
  Folder f;
  f.write("_main.json", kMain);
  f.write("site-a.json", "{}");
  f.write("site-b.json", "{}");
  tenant::FolderOverlay overlay;
  overlay["site-c.json"] = R"({"max_requests":3})";  // added
  overlay["site-a.json"] = std::nullopt;             // removed
  overlay["site-b.json"] = R"({"max_connections":1})";  // replaced
  auto p = load_ok(f.dir(), &overlay);
  CHECK(p->tenant_count() == 2);
  CHECK(p->find("site-a") == nullptr);
  CHECK(p->find("site-b")->max_connections == 1);
  CHECK(p->find("site-c")->max_requests == 3);

  overlay["site-c.json"] = R"({"max_requests":-3})";
  CHECK(errors_of(f.dir()).empty());  // the overlay never reaches the folder
  auto bad = tenant::Policy::load(f.dir(), &overlay);
  REQUIRE_FALSE(bad.ok());
  CHECK(has_error(bad.error(), f.path("site-c.json"), "/max_requests", "negative"));
}

TEST_CASE("policy folder: 1,000 tenant files", "[policy][folder]") {
  Folder f;
  f.write("_main.json", kMain);
  for (int i = 999; i >= 0; --i) {
    char id[32];
    std::snprintf(id, sizeof id, "site-%04d", i);
    f.write(std::string(id) + ".json", i % 10 == 0 ? R"({"max_connections":)" + std::to_string(i) + "}" : "{}");
  }
  auto p = load_ok(f.dir());
  REQUIRE(p->tenant_count() == 1000);
  int n = 0;
  bool in_order = true;
  p->for_each_tenant([&](std::string_view id, const tenant::RuleSet& r) {
    char want[32];
    std::snprintf(want, sizeof want, "site-%04d", n);
    in_order = in_order && id == want && r.max_connections == (n % 10 == 0 ? static_cast<std::uint32_t>(n) : 9u);
    ++n;
  });
  CHECK(n == 1000);
  CHECK(in_order);
  CHECK(p->find("site-0500")->max_connections == 500);
  CHECK(p->find("site-0501") == &p->defaults());
  CHECK(p->find("site-1000") == nullptr);

  // One bad file among a thousand is found and named.
  f.write("site-0777.json", R"({"ip_allow":["300.1.2.3"]})");
  const auto errs = errors_of(f.dir());
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].file == f.path("site-0777.json"));
  CHECK(errs[0].pointer == "/ip_allow/0");
}

TEST_CASE("policy: check_rules locates errors inside one RULES object", "[policy][folder]") {
  CHECK(tenant::Policy::check_rules(R"({"read_only":["/x"],"max_requests":4})").empty());
  CHECK(tenant::Policy::check_rules("{}").empty());
  const auto errs = tenant::Policy::check_rules(R"({"read_only":["/x","y"],"mode":"on","mode":"audit"})");
  std::vector<std::string> where;
  for (const auto& e : errs) where.push_back(e.where);
  CHECK(std::find(where.begin(), where.end(), "/read_only/1") != where.end());
  CHECK(std::find(where.begin(), where.end(), "/mode") != where.end());
  CHECK(tenant::Policy::check_rules("[1]").at(0).what.find("expected an object") != std::string::npos);
  CHECK(tenant::Policy::check_rules("{").at(0).what.find("invalid JSON") != std::string::npos);
}
