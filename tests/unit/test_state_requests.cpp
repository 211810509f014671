// tenant_state: the safe STATE_DIR open (state_file) and the requests-in-
// progress table (requests). Threads and forked processes hammer one table
// at a cap; a SIGKILLed process's requests are reclaimed; folders and files
// that would let another user swap the table are refused, by name.
#include <catch2/catch.hpp>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tenant/requests.hpp"
#include "tenant/state_file.hpp"

namespace st = tenant::state;

namespace {

// A fresh 0750 folder under /tmp (mkdtemp: 0700, ours), removed at the end.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/ts-state-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
    REQUIRE(::chmod(path.c_str(), 0750) == 0);
  }
  ~TempDir() {
    const std::string cmd = "rm -rf '" + path + "'";
    (void)!std::system(cmd.c_str());
  }
  std::string sub(const char* name) const { return path + "/" + name; }
};

std::string map_error(const std::string& dir, const char* name, st::OpenMode mode = st::OpenMode::ReadWrite) {
  char err[512] = "";
  void* p = st::map_state_file(dir.c_str(), name, 4096, mode, st::libc_calls(), err, sizeof err);
  if (p != nullptr) {
    st::unmap_state_file(p, 4096);
    return "";
  }
  return err;
}

// Process-shared "how many are running right now" watermark (the test's
// own view, independent of the table).
struct Watermark {
  std::atomic<int> now{0};
  std::atomic<int> max{0};
  void enter() {
    const int n = now.fetch_add(1) + 1;
    int m = max.load();
    while (n > m && !max.compare_exchange_weak(m, n)) {
    }
  }
  void leave() { now.fetch_sub(1); }
};

Watermark* shared_watermark() {
  void* p = ::mmap(nullptr, sizeof(Watermark), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  REQUIRE(p != MAP_FAILED);
  return new (p) Watermark();
}

// Admit/release `rounds` times at `cap`; returns how many were admitted.
long hammer(st::RequestTable& t, const char* tenant, std::uint32_t cap, int rounds, Watermark& w) {
  long admitted = 0;
  for (int i = 0; i < rounds; ++i) {
    st::Admission a = t.admit(tenant, cap, true);
    if (a.verdict != st::Verdict::Admitted) continue;
    ++admitted;
    w.enter();
    if ((i & 7) == 0) std::this_thread::yield();  // hold the slot a little
    w.leave();
    t.release(a.ticket);
  }
  return admitted;
}

std::uint64_t admitted_of(const std::string& dir, const char* tenant, std::uint64_t& refused, std::uint32_t& now) {
  std::vector<st::TenantRequests> rows;
  std::string err;
  REQUIRE(st::read_requests(dir, rows, err));
  for (const auto& r : rows)
    if (r.tenant == tenant) {
      refused = r.refused;
      now = r.in_progress;
      return r.admitted;
    }
  FAIL("tenant " << tenant << " not in the table");
  return 0;
}

}  // namespace

TEST_CASE("state_file: refuses folders and files another user could swap, naming the path", "[state]") {
  TempDir d;
  SECTION("a good folder works and the file is 0660") {
    CHECK(map_error(d.path, "t") == "");
    struct stat s {};
    REQUIRE(::stat(d.sub("t").c_str(), &s) == 0);
    CHECK((s.st_mode & 0777) == 0660);
  }
  SECTION("a world-writable folder") {
    REQUIRE(::chmod(d.path.c_str(), 0777) == 0);
    const std::string e = map_error(d.path, "t");
    CHECK_THAT(e, Catch::Contains(d.path + "/t") && Catch::Contains("world-writable (mode 0777)"));
  }
  SECTION("/tmp itself (sticky, world-writable)") {
    CHECK_THAT(map_error("/tmp", "ts-unit-never-created"), Catch::Contains("/tmp/ts-unit-never-created") &&
                                                                 Catch::Contains("world-writable (mode 1777)"));
  }
  SECTION("a relative folder") {
    CHECK_THAT(map_error("run/ts", "t"), Catch::Contains("run/ts/t") && Catch::Contains("absolute"));
  }
  SECTION("a folder that is a symlink") {
    REQUIRE(::mkdir(d.sub("real").c_str(), 0750) == 0);
    REQUIRE(::symlink(d.sub("real").c_str(), d.sub("link").c_str()) == 0);
    CHECK_THAT(map_error(d.sub("link"), "t"), Catch::Contains(d.sub("link") + "/t") && Catch::Contains("symlink"));
  }
  SECTION("a file that is a symlink") {
    REQUIRE(::symlink("/etc/passwd", d.sub("t").c_str()) == 0);
    CHECK_THAT(map_error(d.path, "t"), Catch::Contains(d.sub("t")) && Catch::Contains("symlink"));
  }
  SECTION("a file others may read or write") {
    FILE* f = std::fopen(d.sub("t").c_str(), "w");
    REQUIRE(f != nullptr);
    std::fclose(f);
    REQUIRE(::chmod(d.sub("t").c_str(), 0666) == 0);
    CHECK_THAT(map_error(d.path, "t"), Catch::Contains(d.sub("t")) && Catch::Contains("mode 0666"));
  }
  SECTION("a file with a second hard link") {
    FILE* f = std::fopen(d.sub("t").c_str(), "w");
    REQUIRE(f != nullptr);
    std::fclose(f);
    REQUIRE(::chmod(d.sub("t").c_str(), 0660) == 0);
    REQUIRE(::link(d.sub("t").c_str(), d.sub("t2").c_str()) == 0);
    CHECK_THAT(map_error(d.path, "t"), Catch::Contains(d.sub("t")) && Catch::Contains("single link"));
  }
  SECTION("a folder owned by another user") {
    if (::geteuid() != 0) return;  // only root can hand a folder to somebody else
    REQUIRE(::chown(d.path.c_str(), 65534, 65534) == 0);
    CHECK_THAT(map_error(d.path, "t"), Catch::Contains(d.sub("t")) && Catch::Contains("owned by uid 65534"));
  }
  SECTION("read-only: nothing is created") {
    CHECK_THAT(map_error(d.path, "t", st::OpenMode::ReadOnly), Catch::Contains(d.sub("t")));
    struct stat s {};
    CHECK(::stat(d.sub("t").c_str(), &s) != 0);
  }
  SECTION("a missing folder is created 3770: the group may create tables, nobody else may enter") {
    CHECK(map_error(d.sub("state"), "t") == "");
    struct stat s {};
    REQUIRE(::stat(d.sub("state").c_str(), &s) == 0);
    CHECK((s.st_mode & 07777) == 03770);
    REQUIRE(::stat(d.sub("state/t").c_str(), &s) == 0);
    CHECK((s.st_mode & 07777) == 0660);
  }
}

TEST_CASE("requests: the table refuses a bad folder with a message naming it", "[state]") {
  TempDir d;
  REQUIRE(::chmod(d.path.c_str(), 0757) == 0);
  st::RequestTable t;
  char err[512] = "";
  CHECK_FALSE(t.open(d.path.c_str(), st::libc_calls(), err, sizeof err));
  CHECK_THAT(std::string(err), Catch::Contains(d.path + "/requests") && Catch::Contains("world-writable"));
  std::vector<st::TenantRequests> rows;
  std::string e;
  CHECK_FALSE(st::read_requests(d.path, rows, e));
  CHECK_THAT(e, Catch::Contains(d.path + "/requests"));
}

TEST_CASE("requests: cap, totals, audit, rate-limited log flag", "[state]") {
  TempDir d;
  st::RequestTable t;
  char err[512] = "";
  REQUIRE(t.open(d.path.c_str(), st::libc_calls(), err, sizeof err));
  REQUIRE(t.note_process());
  st::Admission a1 = t.admit("site-a", 2, true);
  st::Admission a2 = t.admit("site-a", 2, true);
  CHECK(a1.verdict == st::Verdict::Admitted);
  CHECK(a2.verdict == st::Verdict::Admitted);
  CHECK(a2.in_progress == 2);
  st::Admission r1 = t.admit("site-a", 2, true);
  CHECK(r1.verdict == st::Verdict::OverLimit);
  CHECK(r1.ticket.slot_plus_one == 0);
  CHECK(r1.refused == 1);
  CHECK(r1.log_now);  // first refusal of this tenant: log it
  st::Admission r2 = t.admit("site-a", 2, true);
  CHECK(r2.verdict == st::Verdict::OverLimit);
  CHECK_FALSE(r2.log_now);  // within the same second: not again
  // Other tenants are not affected; unlimited ones are still counted.
  st::Admission b = t.admit("site-b", st::kNoCap, true);
  CHECK(b.verdict == st::Verdict::Admitted);
  CHECK(t.in_progress("site-b") == 1);
  // Audit: counted above the cap, flagged.
  st::Admission au = t.admit("site-a", 2, false);
  CHECK(au.verdict == st::Verdict::Admitted);
  CHECK(au.over_cap);
  CHECK(t.in_progress("site-a") == 3);
  t.release(au.ticket);
  t.release(a1.ticket);
  t.release(a1.ticket);  // twice: no-op
  CHECK(t.in_progress("site-a") == 1);
  t.release(a2.ticket);
  t.release(b.ticket);
  CHECK(t.in_progress("site-a") == 0);
  CHECK(t.in_progress("site-b") == 0);
  std::uint64_t refused = 0;
  std::uint32_t now = 9;
  CHECK(admitted_of(d.path, "site-a", refused, now) == 3);
  CHECK(refused == 2);
  CHECK(now == 0);
}

TEST_CASE("requests: many threads at a cap never exceed it and end at exactly 0", "[state]") {
  TempDir d;
  st::RequestTable t;
  char err[512] = "";
  REQUIRE(t.open(d.path.c_str(), st::libc_calls(), err, sizeof err));
  REQUIRE(t.note_process());
  constexpr std::uint32_t kCap = 3;
  constexpr int kThreads = 16, kRounds = 5000;
  Watermark w;
  std::atomic<long> admitted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&] { admitted += hammer(t, "busy", kCap, kRounds, w); });
  for (auto& th : threads) th.join();
  CHECK(w.max.load() <= static_cast<int>(kCap));
  CHECK(w.max.load() >= 2);  // there was contention at all
  CHECK(t.in_progress("busy") == 0);
  std::uint64_t refused = 0;
  std::uint32_t now = 9;
  CHECK(admitted_of(d.path, "busy", refused, now) == static_cast<std::uint64_t>(admitted.load()));
  CHECK(admitted.load() + static_cast<long>(refused) == long{kThreads} * kRounds);
  CHECK(refused > 0);
  CHECK(now == 0);
}

TEST_CASE("requests: forked processes at a cap never exceed it and end at exactly 0", "[state]") {
  TempDir d;
  constexpr std::uint32_t kCap = 2;
  constexpr int kProcs = 6, kRounds = 4000;
  Watermark* w = shared_watermark();
  std::vector<pid_t> kids;
  for (int i = 0; i < kProcs; ++i) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // Each process opens the file itself, as a worker's libsandbox would.
      st::RequestTable t;
      char err[512];
      if (!t.open(d.path.c_str(), st::libc_calls(), err, sizeof err) || !t.note_process()) ::_exit(2);
      (void)hammer(t, "forked", kCap, kRounds, *w);
      ::_exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) {
    int status = -1;
    REQUIRE(::waitpid(k, &status, 0) == k);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  CHECK(w->max.load() <= static_cast<int>(kCap));
  CHECK(w->max.load() >= 1);
  std::uint64_t refused = 0;
  std::uint32_t now = 9;
  const std::uint64_t admitted = admitted_of(d.path, "forked", refused, now);
  CHECK(admitted + refused == std::uint64_t{kProcs} * kRounds);
  CHECK(now == 0);
  ::munmap(w, sizeof(Watermark));
}

namespace {
// A child that takes `n` requests of `tenant`, reports through the pipe and
// waits to be killed.
pid_t child_holding(const std::string& dir, const char* tenant, std::uint32_t cap, int n, bool note) {
  int p[2];
  REQUIRE(::pipe(p) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(p[0]);
    st::RequestTable t;
    char err[512];
    if (!t.open(dir.c_str(), st::libc_calls(), err, sizeof err)) ::_exit(2);
    if (note && !t.note_process()) ::_exit(3);
    char got = 0;
    for (int i = 0; i < n; ++i)
      if (t.admit(tenant, cap, true).verdict == st::Verdict::Admitted) ++got;
    (void)!::write(p[1], &got, 1);
    for (;;) ::pause();
  }
  ::close(p[1]);
  char got = 0;
  REQUIRE(::read(p[0], &got, 1) == 1);
  ::close(p[0]);
  REQUIRE(got == n);
  return pid;
}
}  // namespace

TEST_CASE("requests: slots of a SIGKILLed process are reclaimed when its tenant is at the cap", "[state]") {
  TempDir d;
  st::RequestTable t;
  char err[512] = "";
  REQUIRE(t.open(d.path.c_str(), st::libc_calls(), err, sizeof err));
  REQUIRE(t.note_process());
  const pid_t kid = child_holding(d.path, "killed", 2, 2, true);
  // The child is alive: its requests are really in progress.
  CHECK(t.admit("killed", 2, true).verdict == st::Verdict::OverLimit);
  CHECK(t.in_progress("killed") == 2);
  REQUIRE(::kill(kid, SIGKILL) == 0);
  // Not reaped yet: a zombie runs no request (its /proc entry stays until
  // the parent reaps it -- an Apache parent may be slow or stopped).
  for (int i = 0; i < 200; ++i) {
    char path[64], buf[512] = "";
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(kid));
    FILE* f = std::fopen(path, "r");
    if (f == nullptr) break;
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    const char* close_paren = std::strrchr(buf, ')');
    if (close_paren != nullptr && close_paren[1] == ' ' && close_paren[2] == 'Z') break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Reclaims run at most every 100 ms per tenant; the refusal above used one.
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  st::Admission a = t.admit("killed", 2, true);
  CHECK(a.verdict == st::Verdict::Admitted);
  CHECK(a.in_progress == 1);  // both dead requests returned, this one counted
  st::Admission b = t.admit("killed", 2, true);
  CHECK(b.verdict == st::Verdict::Admitted);
  CHECK(t.admit("killed", 2, true).verdict == st::Verdict::OverLimit);  // the cap holds again
  t.release(a.ticket);
  t.release(b.ticket);
  CHECK(t.in_progress("killed") == 0);
  int status = 0;
  REQUIRE(::waitpid(kid, &status, 0) == kid);
}

TEST_CASE("requests: a child that never noted its start time is still reclaimed (pid check)", "[state]") {
  TempDir d;
  st::RequestTable t;
  char err[512] = "";
  REQUIRE(t.open(d.path.c_str(), st::libc_calls(), err, sizeof err));
  REQUIRE(t.note_process());
  const pid_t kid = child_holding(d.path, "nonote", 1, 1, false);
  REQUIRE(::kill(kid, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(kid, &status, 0) == kid);
  CHECK(t.in_progress("nonote") == 1);
  CHECK(t.admit("nonote", 1, true).verdict == st::Verdict::Admitted);
  CHECK(t.in_progress("nonote") == 1);
}

TEST_CASE("requests: release_process frees a reaped worker's slots at once; start-up sweep", "[state]") {
  TempDir d;
  st::RequestTable t;
  char err[512] = "";
  REQUIRE(t.open(d.path.c_str(), st::libc_calls(), err, sizeof err));
  REQUIRE(t.note_process());
  const pid_t k1 = child_holding(d.path, "reaped", st::kNoCap, 3, true);
  const pid_t k2 = child_holding(d.path, "reaped", st::kNoCap, 2, true);
  CHECK(t.in_progress("reaped") == 5);
  int status = 0;
  REQUIRE(::kill(k1, SIGKILL) == 0);
  REQUIRE(::waitpid(k1, &status, 0) == k1);
  CHECK(t.release_process(k1) == 3);
  CHECK(t.in_progress("reaped") == 2);
  CHECK(t.reclaim_all_dead() == 0);  // k2 is alive
  CHECK(t.in_progress("reaped") == 2);
  REQUIRE(::kill(k2, SIGKILL) == 0);
  REQUIRE(::waitpid(k2, &status, 0) == k2);
  CHECK(t.reclaim_all_dead() == 2);
  CHECK(t.in_progress("reaped") == 0);
}

TEST_CASE("requests: 100,000 tenants each get their own row", "[state]") {
  TempDir d;
  st::RequestTable t;
  char err[512] = "";
  REQUIRE(t.open(d.path.c_str(), st::libc_calls(), err, sizeof err));
  REQUIRE(t.note_process());
  constexpr int kTenants = 100000;
  int admitted = 0;
  char id[32];
  for (int i = 0; i < kTenants; ++i) {
    std::snprintf(id, sizeof id, "tenant-%d", i);
    st::Admission a = t.admit(id, 1, true);
    if (a.verdict == st::Verdict::Admitted) ++admitted;
    t.release(a.ticket);
  }
  CHECK(admitted == kTenants);
  std::vector<st::TenantRequests> rows;
  std::string e;
  REQUIRE(st::read_requests(d.path, rows, e));
  CHECK(rows.size() == static_cast<std::size_t>(kTenants));
  bool all_once = true;
  for (const auto& r : rows) all_once = all_once && r.admitted == 1 && r.in_progress == 0;
  CHECK(all_once);
}

TEST_CASE("requests: a file of another layout is refused", "[state]") {
  TempDir d;
  {
    FILE* f = std::fopen(d.sub("requests").c_str(), "w");
    REQUIRE(f != nullptr);
    const char junk[64] = "not a request table";
    std::fwrite(junk, 1, sizeof junk, f);
    std::fclose(f);
    REQUIRE(::chmod(d.sub("requests").c_str(), 0660) == 0);
  }
  st::RequestTable t;
  char err[512] = "";
  CHECK_FALSE(t.open(d.path.c_str(), st::libc_calls(), err, sizeof err));
  CHECK_THAT(std::string(err), Catch::Contains(d.sub("requests")) && Catch::Contains("unknown layout"));
}
