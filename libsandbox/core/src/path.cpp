// Lexical normalisation. Runs on the hot path of every path-taking libc call
// (and in signal handlers, after vfork), so it writes into the caller's
// buffer and never allocates or calls into libc.
#include "tenant/path.hpp"

namespace tenant {
namespace {

// Appends the components of `s` to out[0..*len), resolving "." and ".."
// lexically. `out` always holds an absolute path ("/" at least). Returns
// false when a component does not fit (the NUL included).
bool append_components(std::string_view s, char* out, std::size_t cap, std::size_t* len) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == '/') ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != '/') ++j;
    const std::string_view comp = s.substr(i, j - i);
    i = j;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") {
      // Never above "/": the kernel treats "/.." as "/".
      std::size_t l = *len;
      while (l > 1 && out[l - 1] != '/') --l;
      *len = l > 1 ? l - 1 : 1;
      continue;
    }
    const std::size_t sep = *len > 1 ? 1 : 0;
    // Strictly less: one byte must stay free for the terminating NUL.
    if (*len + sep + comp.size() >= cap) return false;
    if (sep != 0) out[(*len)++] = '/';
    for (const char c : comp) out[(*len)++] = c;
  }
  return true;
}

bool ends_as_directory(std::string_view p) noexcept {
  if (p.back() == '/') return true;
  const std::size_t slash = p.rfind('/');
  const std::string_view last = slash == std::string_view::npos ? p : p.substr(slash + 1);
  return last == "." || last == "..";
}

}  // namespace

bool normalize_path(std::string_view base, std::string_view path, char* out, std::size_t cap,
                    NormalizedPath* result) noexcept {
  if (out == nullptr || cap < 2 || path.empty()) return false;
  // The kernel refuses a path argument of PATH_MAX bytes or more
  // (ENAMETOOLONG) before resolving anything; do the same, so that a long
  // "a/../a/../" chain can never normalise into an accepted short path that
  // the real call would have refused (THREATS 7).
  if (path.size() >= kMaxPath) return false;
  // A C caller cannot pass an embedded NUL; one here means the view was
  // built wrongly, and the kernel would see a different (shorter) path.
  for (const char c : path)
    if (c == '\0') return false;
  std::size_t len = 1;
  out[0] = '/';
  if (path.front() != '/') {
    if (base.empty() || base.front() != '/') return false;
    for (const char c : base)
      if (c == '\0') return false;
    if (!append_components(base, out, cap, &len)) return false;
  }
  if (!append_components(path, out, cap, &len)) return false;
  out[len] = '\0';
  if (result != nullptr) {
    result->len = len;
    result->trailing_slash = ends_as_directory(path);
  }
  return true;
}

bool path_within(std::string_view outer, std::string_view inner) noexcept {
  if (outer.empty() || inner.empty()) return false;
  if (outer == "/") return inner.front() == '/';
  if (inner.size() < outer.size() || inner.compare(0, outer.size(), outer) != 0) return false;
  // Component boundary: "/srv/www/ab" is not within "/srv/www/a".
  return inner.size() == outer.size() || inner[outer.size()] == '/';
}

}  // namespace tenant
