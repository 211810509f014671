// Fuzz target: normalize_path and path_within. Input: base and path split at
// the first NUL-free '\n' (no newline: path only, base "/"), first byte picks
// the output capacity. Checks the documented shape of the output and that
// normalising is idempotent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "tenant/path.hpp"

namespace {
void check_shape(std::string_view out) {
  if (out.empty() || out.front() != '/') std::abort();
  if (out.size() > 1 && out.back() == '/') std::abort();
  if (out.find("//") != std::string_view::npos) std::abort();
  for (std::size_t i = 0; i < out.size();) {
    const std::size_t j = out.find('/', i + 1);
    const std::string_view comp = out.substr(i + 1, (j == std::string_view::npos ? out.size() : j) - i - 1);
    if (comp == "." || comp == "..") std::abort();
    if (j == std::string_view::npos) break;
    i = j;
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t cap = data[0] < 128 ? tenant::kMaxPath : 1 + data[0] % 64;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string_view base = "/";
  std::string_view path = in;
  if (const std::size_t nl = in.find('\n'); nl != std::string_view::npos) {
    base = in.substr(0, nl);
    path = in.substr(nl + 1);
  }
  static char out[tenant::kMaxPath + 64];
  std::memset(out, 0x5a, sizeof out);
  tenant::NormalizedPath np;
  if (!tenant::normalize_path(base, path, out, cap, &np)) return 0;
  if (np.len >= cap || out[np.len] != '\0') std::abort();
  if (out[cap] != 0x5a && cap < sizeof out) std::abort();  // never wrote past cap
  const std::string_view result(out, np.len);
  check_shape(result);
  if (!tenant::path_within("/", result) || !tenant::path_within(result, result)) std::abort();
  static char again[tenant::kMaxPath];
  tenant::NormalizedPath np2;
  if (!tenant::normalize_path("/", result, again, sizeof again, &np2)) std::abort();
  if (std::string_view(again, np2.len) != result) std::abort();
  // A path is within its parent, and the parent is not within it.
  if (const std::size_t slash = result.rfind('/'); slash != 0 && slash != std::string_view::npos) {
    const std::string_view parent = result.substr(0, slash);
    if (!tenant::path_within(parent, result) || tenant::path_within(result, parent)) std::abort();
  }
  return 0;
}
