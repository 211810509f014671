// STUB: replaced by the network / descriptor work.
#include "fdtable.hpp"
#include "internal.hpp"
namespace sb::fds {
void note_opened(int, const ActiveTenant*) noexcept {}
void mark_internal(int) noexcept {}
void unmark_internal(int) noexcept {}
bool is_internal(int) noexcept { return false; }
}  // namespace sb::fds
namespace sb::net {
void before_fork() noexcept {}
void after_fork(bool) noexcept {}
void before_exec() noexcept {}
void exec_failed() noexcept {}
void on_tenant_cleared(ActiveTenant&) noexcept {}
}  // namespace sb::net
