// STATE_DIR/denials: the shared denial table (tenant/denials.hpp). Counts
// from many threads and many processes must sum exactly; the last denial is
// kept whole or not at all; a full table fails soft into "other".
#include <catch2/catch.hpp>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tenant/context.hpp"
#include "tenant/denials.hpp"
#include "tenant/state_file.hpp"

namespace ts = tenant::state;

namespace {

// A private STATE_DIR (mode 0700, owned by us) removed afterwards.
struct StateDir {
  std::string path;
  StateDir() {
    char tmpl[] = "/tmp/ts-unit-denials-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    REQUIRE(d != nullptr);
    path = d;
  }
  ~StateDir() {
    const std::string cmd = "rm -rf '" + path + "'";
    (void)!std::system(cmd.c_str());
  }
};

void* map_rw(const std::string& dir) {
  char err[512];
  void* base = ts::map_state_file(dir.c_str(), "denials", ts::denial_map_size(), ts::OpenMode::ReadWrite,
                                  ts::libc_calls(), err, sizeof err);
  INFO(err);
  REQUIRE(base != nullptr);
  REQUIRE(ts::denial_map_attach(base, ts::denial_map_size()));
  return base;
}

const ts::TenantDenials* find(const ts::DenialSnapshot& s, const std::string& id) {
  for (const auto& t : s.tenants)
    if (t.tenant == id) return &t;
  return nullptr;
}

}  // namespace

TEST_CASE("denial kinds are tenant::Need in order", "[state][denials]") {
  for (std::size_t k = 0; k < ts::kDenialKinds; ++k)
    CHECK(std::string(ts::denial_kind_name(k)) == tenant::need_name(static_cast<tenant::Need>(k)));
  CHECK(std::string(ts::denial_kind_name(ts::kDenialKinds)) == "?");
}

TEST_CASE("a fresh table is stamped, a foreign file is refused", "[state][denials]") {
  StateDir dir;
  void* base = map_rw(dir.path);
  ts::DenialSnapshot s;
  ts::snapshot_denials(base, s);
  CHECK(s.tenants.empty());
  CHECK(s.rows_capacity >= 100000);
  // Another layout (a different magic) is never read as ours.
  std::memcpy(base, "NOTOURS!", 8);
  CHECK_FALSE(ts::denial_map_valid(base, ts::denial_map_size()));
  CHECK_FALSE(ts::denial_map_attach(base, ts::denial_map_size()));
  ts::snapshot_denials(base, s);
  CHECK(s.rows_capacity == 0);
  ts::unmap_state_file(base, ts::denial_map_size());
}

TEST_CASE("counts by kind, audit apart, and the last denial", "[state][denials]") {
  StateDir dir;
  void* base = map_rw(dir.path);
  std::int32_t hint_a = -1, hint_b = -1;
  ts::record_denial(base, &hint_a, "site-a", 1, false, "open", "/srv/www/site-b/secret", 13, 1000);
  ts::record_denial(base, &hint_a, "site-a", 1, false, "open", "/etc/shadow", 13, 1001);
  ts::record_denial(base, &hint_a, "site-a", 4, true, "connect", "10.0.0.1:3306", 13, 1002);
  ts::record_denial(base, &hint_b, "site-b", 3, false, "execve", "/bin/sh", 13, 999);
  ts::record_denial(base, nullptr, "site-a", 99, false, "x", "ignored kind", 13, 2000);
  CHECK(hint_a >= 0);
  CHECK(hint_b >= 0);
  CHECK(hint_a != hint_b);

  ts::DenialSnapshot s;
  ts::snapshot_denials(base, s);
  REQUIRE(s.tenants.size() == 2);
  const auto* a = find(s, "site-a");
  REQUIRE(a != nullptr);
  CHECK(a->denied[1] == 2);
  CHECK(a->audited[4] == 1);
  CHECK(a->denied[4] == 0);
  CHECK(a->denied_total() == 2);
  CHECK(a->audited_total() == 1);
  CHECK(a->last.when == 1002);
  CHECK(a->last.op == "connect");
  CHECK(a->last.target == "10.0.0.1:3306");
  CHECK(a->last.audit);
  CHECK(a->last.kind == 4);
  const auto* b = find(s, "site-b");
  REQUIRE(b != nullptr);
  CHECK(b->denied[3] == 1);
  CHECK(b->last.target == "/bin/sh");
  CHECK(b->last.err == 13);
  CHECK(s.other.denied_total() == 0);
  ts::unmap_state_file(base, ts::denial_map_size());
}

TEST_CASE("a long target is truncated and flagged, raw bytes kept", "[state][denials]") {
  StateDir dir;
  void* base = map_rw(dir.path);
  std::string target(1000, 'x');
  target[0] = '<';
  target[1] = '\n';
  ts::record_denial(base, nullptr, "site-a", 0, false, "a-very-long-operation-name-indeed", target, 13, 5);
  ts::DenialSnapshot s;
  ts::snapshot_denials(base, s);
  REQUIRE(s.tenants.size() == 1);
  CHECK(s.tenants[0].last.target.size() == ts::kDenialTargetMax);
  CHECK(s.tenants[0].last.truncated);
  CHECK(s.tenants[0].last.target.substr(0, 2) == "<\n");
  CHECK(s.tenants[0].last.op.size() == ts::kDenialOpMax);
  ts::unmap_state_file(base, ts::denial_map_size());
}

TEST_CASE("threads sum exactly", "[state][denials]") {
  StateDir dir;
  void* base = map_rw(dir.path);
  constexpr int kThreads = 8, kPer = 20000;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([base, i] {
      std::int32_t hint = -1;  // as libsandbox: one cached row per thread
      const std::string id = "t" + std::to_string(i % 3);
      for (int n = 0; n < kPer; ++n)
        ts::record_denial(base, &hint, id, static_cast<std::size_t>(n % 7), (n & 1) != 0, "open", "/x", 13, n);
    });
  for (auto& t : threads) t.join();
  ts::DenialSnapshot s;
  ts::snapshot_denials(base, s);
  REQUIRE(s.tenants.size() == 3);  // three ids, one row each despite the races
  std::uint64_t total = 0;
  for (const auto& t : s.tenants) total += t.denied_total() + t.audited_total();
  CHECK(total == static_cast<std::uint64_t>(kThreads) * kPer);
  const auto* t0 = find(s, "t0");  // threads 0, 3, 6
  REQUIRE(t0 != nullptr);
  CHECK(t0->denied_total() + t0->audited_total() == 3u * kPer);
  ts::unmap_state_file(base, ts::denial_map_size());
}

TEST_CASE("forked processes sum exactly (each maps the file itself)", "[state][denials]") {
  StateDir dir;
  void* parent = map_rw(dir.path);
  constexpr int kProcs = 6, kPer = 20000;
  std::vector<pid_t> kids;
  for (int i = 0; i < kProcs; ++i) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // Half the children use the inherited mapping, half map the file
      // anew, as an exec'd child of a worker would.
      void* base = parent;
      if (i % 2 == 1) {
        char err[256];
        base = ts::map_state_file(dir.path.c_str(), "denials", ts::denial_map_size(), ts::OpenMode::ReadWrite,
                                  ts::libc_calls(), err, sizeof err);
        if (base == nullptr || !ts::denial_map_attach(base, ts::denial_map_size())) ::_exit(3);
      }
      std::int32_t hints[2] = {-1, -1};  // a row hint is per tenant
      for (int n = 0; n < kPer; ++n)
        ts::record_denial(base, &hints[n % 2], n % 2 == 0 ? "even" : "odd", 2, false, "unlink", "/y", 13, n);
      ::_exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  }
  ts::DenialSnapshot s;
  ts::snapshot_denials(parent, s);
  REQUIRE(s.tenants.size() == 2);
  CHECK(find(s, "even")->denied[2] == static_cast<std::uint64_t>(kProcs) * kPer / 2);
  CHECK(find(s, "odd")->denied[2] == static_cast<std::uint64_t>(kProcs) * kPer / 2);
  ts::unmap_state_file(parent, ts::denial_map_size());
}

TEST_CASE("a full table fails soft into the other row", "[state][denials]") {
  StateDir dir;
  void* base = map_rw(dir.path);
  ts::DenialSnapshot s;
  ts::snapshot_denials(base, s);
  const std::uint32_t cap = s.rows_capacity;
  // Fill every row, then some: the extra tenants' counts land in "other".
  for (std::uint32_t i = 0; i < cap + 500; ++i)
    ts::record_denial(base, nullptr, "n" + std::to_string(i), 0, false, "stat", "/z", 13, 1);
  ts::snapshot_denials(base, s);
  CHECK(s.rows_used == cap);
  std::uint64_t in_rows = 0;
  for (const auto& t : s.tenants) in_rows += t.denied[0];
  CHECK(in_rows + s.other.denied[0] == cap + 500);
  CHECK(s.other.denied[0] >= 500);
  CHECK(s.other.last.target == "/z");
  // A tenant that has a row keeps counting there.
  ts::record_denial(base, nullptr, "n0", 1, false, "open", "/w", 13, 2);
  ts::snapshot_denials(base, s);
  CHECK(find(s, "n0")->denied[1] == 1);
  ts::unmap_state_file(base, ts::denial_map_size());
}

TEST_CASE("server info round-trips", "[state][denials]") {
  StateDir dir;
  void* base = map_rw(dir.path);
  ts::ServerInfo none;
  CHECK_FALSE(ts::read_server_info(base, none));
  ts::ServerInfo w;
  w.policy = "/etc/tenant-sandbox/policy.json";
  w.policy_ok = true;
  w.policy_loaded = 1234;
  w.policy_tenants = 100000;
  w.kernel = "landlock abi 3; seccomp";
  w.written = 1235;
  w.pid = 42;
  ts::write_server_info(base, w);
  ts::ServerInfo r;
  REQUIRE(ts::read_server_info(base, r));
  CHECK(r.policy == w.policy);
  CHECK(r.policy_ok);
  CHECK(r.policy_loaded == 1234);
  CHECK(r.policy_tenants == 100000);
  CHECK(r.kernel == w.kernel);
  CHECK(r.pid == 42);
  ts::unmap_state_file(base, ts::denial_map_size());
}
