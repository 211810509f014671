// Lexical path handling. Pure string work: no system calls. The preload
// library uses it to turn what the caller passed into one absolute,
// normalised path before classifying it; the kernel then opens the object
// beneath the matched allowed root (openat2 RESOLVE_BENEATH), so symlinks are
// decided on what the kernel resolves, not on this string.
#pragma once
#include <cstddef>
#include <string_view>

namespace tenant {

// PATH_MAX on Linux. A path whose normalised form would not fit is refused
// with ENAMETOOLONG, never truncated into something shorter (THREATS 7).
inline constexpr std::size_t kMaxPath = 4096;

struct NormalizedPath {
  std::size_t len = 0;          // bytes written to `out`, excluding the NUL
  bool trailing_slash = false;  // the input ended in "/" (or "/." ...): the
                                // kernel then requires a directory; callers
                                // must keep that meaning
};

// Joins `base` (absolute; used only when `path` is relative) and `path`,
// then removes empty and "." components and resolves ".." lexically (never
// above "/"). Writes a NUL-terminated absolute path without a trailing slash
// (except "/" itself) to out[0..cap). Returns false when the result does not
// fit in `cap` or `path` is empty (the kernel's ENOENT). Allocates nothing,
// safe in signal handlers.
bool normalize_path(std::string_view base, std::string_view path, char* out, std::size_t cap,
                    NormalizedPath* result) noexcept;

// True when `inner` equals `outer` or lies below it on a component boundary:
// "/srv/www/a/x" is within "/srv/www/a", "/srv/www/ab" is not. Both must be
// normalised. "/" contains everything.
bool path_within(std::string_view outer, std::string_view inner) noexcept;

}  // namespace tenant
