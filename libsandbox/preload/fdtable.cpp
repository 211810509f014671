// STUB: replaced by the network / descriptor work.
#include "fdtable.hpp"
namespace sb::fds {
void note_opened(int, const ActiveTenant*) noexcept {}
void mark_internal(int) noexcept {}
void unmark_internal(int) noexcept {}
bool is_internal(int) noexcept { return false; }
}  // namespace sb::fds
