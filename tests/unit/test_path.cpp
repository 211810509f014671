// normalize_path and path_within: the lexical half of path enforcement.
#include <catch2/catch.hpp>
#include <string>

#include "tenant/path.hpp"

namespace {
struct Norm {
  bool ok;
  std::string path;
  bool trailing;
};
Norm norm(std::string_view base, std::string_view p, std::size_t cap = tenant::kMaxPath) {
  std::string buf(cap, '\xff');
  tenant::NormalizedPath np;
  const bool ok = tenant::normalize_path(base, p, buf.data(), cap, &np);
  if (!ok) return {false, "", false};
  REQUIRE(np.len < cap);
  REQUIRE(buf[np.len] == '\0');
  return {true, buf.substr(0, np.len), np.trailing_slash};
}
}  // namespace

TEST_CASE("normalize_path: table", "[path]") {
  struct Case {
    const char* base;
    const char* path;
    bool ok;
    const char* out;
    bool trailing;
  };
  const auto c = GENERATE(values<Case>({
      {"/", "/", true, "/", true},
      {"/", "/srv/www/a", true, "/srv/www/a", false},
      {"/", "//srv///www//a", true, "/srv/www/a", false},
      {"/", "/srv/./www/./a/.", true, "/srv/www/a", true},
      {"/", "/srv/www/a/", true, "/srv/www/a", true},
      {"/", "/srv/www/a/..", true, "/srv/www", true},
      {"/", "/srv/www/a/../b", true, "/srv/www/b", false},
      {"/", "/srv/www/a/../../../../../etc/passwd", true, "/etc/passwd", false},
      {"/", "/..", true, "/", true},
      {"/", "/../..", true, "/", true},
      {"/srv/www/a", "x/y", true, "/srv/www/a/x/y", false},
      {"/srv/www/a", "../b/x", true, "/srv/www/b/x", false},
      {"/srv/www/a", ".", true, "/srv/www/a", true},
      {"/srv/www/a/", "./x/", true, "/srv/www/a/x", true},
      {"/srv/www/a", "/abs", true, "/abs", false},
      {"/srv/www/a", "..", true, "/srv/www", true},
      {"/", "", false, "", false},           // the kernel's ENOENT
      {"relative", "x", false, "", false},   // base must be absolute
      {"", "x", false, "", false},
      {"/", "/a...", true, "/a...", false},  // "..." is a name, not ".."
      {"/", "/a/..b", true, "/a/..b", false},
  }));
  CAPTURE(c.base, c.path);
  const Norm n = norm(c.base, c.path);
  REQUIRE(n.ok == c.ok);
  if (c.ok) {
    CHECK(n.path == c.out);
    CHECK(n.trailing == c.trailing);
  }
}

TEST_CASE("normalize_path: over-long paths fail, never truncate", "[path]") {
  // 4095 bytes of input is PATH_MAX-1: accepted by the kernel; 4096 is not.
  std::string ok = "/" + std::string(4094, 'a');
  CHECK(norm("/", ok).ok);
  std::string too_long = "/" + std::string(4095, 'a');
  CHECK_FALSE(norm("/", too_long).ok);
  // An input over PATH_MAX that would normalise to something short is still
  // refused: the real call would fail with ENAMETOOLONG.
  std::string chain = "/etc";
  while (chain.size() < 5000) chain += "/x/..";
  CHECK_FALSE(norm("/", chain).ok);
  // Result does not fit the caller's buffer.
  CHECK_FALSE(norm("/", "/abcdef", 7).ok);
  CHECK(norm("/", "/abcdef", 8).ok);
  // Relative path whose join with the base overflows.
  CHECK_FALSE(norm("/" + std::string(3000, 'b'), std::string(2000, 'c')).ok);
  // Embedded NUL: the kernel would see a shorter path.
  CHECK_FALSE(norm("/", std::string_view("/srv/www/a\0/../../etc", 21)).ok);
}

TEST_CASE("path_within: component boundaries", "[path]") {
  struct Case {
    const char* outer;
    const char* inner;
    bool within;
  };
  const auto c = GENERATE(values<Case>({
      {"/srv/www/a", "/srv/www/a", true},
      {"/srv/www/a", "/srv/www/a/x", true},
      {"/srv/www/a", "/srv/www/ab", false},  // the prefix trap
      {"/srv/www/a", "/srv/www/a.bak", false},
      {"/srv/www/a", "/srv/www", false},
      {"/srv/www/a", "/srv/www/b/x", false},
      {"/", "/anything", true},
      {"/", "/", true},
      {"/srv", "/srv/www/a", true},
      {"", "/x", false},
  }));
  CAPTURE(c.outer, c.inner);
  CHECK(tenant::path_within(c.outer, c.inner) == c.within);
}
