// STUB: replaced by the file-system work.
#include <cerrno>

#include "internal.hpp"
namespace sb::fs {
int absolute_path(int, const char*, char*, std::size_t) noexcept { return -ENOSYS; }
int checked_openat2(int, const char*, const void*, std::size_t) noexcept { return fail(ENOSYS); }
int anchor(ActiveTenant&, const char*, const char*, tenant::Need, bool) noexcept { return -ENOSYS; }
}  // namespace sb::fs
