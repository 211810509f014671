// What libsandbox knows about each descriptor of the process: who opened it
// (so a tenant cannot dup Apache's listening sockets or log descriptors,
// THREATS 18), whether it is one of libsandbox's own (area roots, the
// budget map: tenant code cannot close or replace them), and whether it holds
// a counted connection of the budget (THREATS 14).
// Lock-free fixed arrays indexed by fd; nothing allocates.
#pragma once
#include "runtime.hpp"

namespace sb::fds {

// A wrapper created `fd` (file, directory, socket) while `t` was set.
void note_opened(int fd, const ActiveTenant* t) noexcept;
// libsandbox's own descriptor: protected from close/dup2/close_range.
void mark_internal(int fd) noexcept;
void unmark_internal(int fd) noexcept;
bool is_internal(int fd) noexcept;

}  // namespace sb::fds
