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
// A descriptor libsandbox keeps open (an area root, the sock_diag socket)
// moved out of the way, to the upper quarter of RLIMIT_NOFILE, and marked
// internal: programs pick low numbers themselves (a shell's `exec 3<>...`
// first saves whatever fd 3 is, and may not dup one of ours), so ours must
// not sit there. Returns the descriptor to use (the original when it could
// not be moved); the caller's fd is closed when it was.
int keep_internal(int fd) noexcept;
void unmark_internal(int fd) noexcept;
bool is_internal(int fd) noexcept;

}  // namespace sb::fds

// ---- per-fd entries (net part) ----------------------------------------------
// One 64-bit word per descriptor below kMaxFd: flag bits and the serial of
// the ActiveTenant that opened it (0: opened with no tenant set). An entry
// of 0 means "nothing known": never noted, or closed since. Descriptors at
// or above kMaxFd are not tracked (a tenant may not dup them: fail closed).
namespace sb::fds {
inline constexpr int kMaxFd = 1 << 16;
inline constexpr std::uint64_t kInternal = 1;  // libsandbox's own
inline constexpr std::uint64_t kCounted = 2;   // holds a reference of the connection budget
inline constexpr std::uint64_t kKnown = 4;     // noted by a wrapper (owner below is meaningful)
inline constexpr std::uint64_t kSocket = 8;    // created by socket/socketpair/accept (or a dup of one)
inline constexpr unsigned kOwnerShift = 8;

std::uint64_t entry(int fd) noexcept;                 // 0 for untracked descriptors
std::uint64_t take(int fd) noexcept;                  // entry, and forget it (the fd is being closed)
void set_entry(int fd, std::uint64_t value) noexcept;  // also raises the high-water mark
inline std::uint64_t owner_serial(std::uint64_t e) noexcept { return e >> kOwnerShift; }
inline std::uint64_t make_entry(const ActiveTenant* t, std::uint64_t flags) noexcept {
  return kKnown | flags | ((t != nullptr ? t->serial : 0) << kOwnerShift);
}
// A socket created (socket, socketpair, accept) while `t` was set.
void note_socket(int fd, const ActiveTenant* t) noexcept;
// Connection-budget membership: the socket's inode while it is counted.
void set_counted(int fd, std::uint64_t ino) noexcept;
std::uint64_t counted_ino(int fd) noexcept;  // 0 when not counted
void clear_counted(int fd) noexcept;
// The inode last stored by set_counted, whatever the flags say now (for a
// caller that took() the entry before closing).
std::uint64_t stored_ino(int fd) noexcept;
// One more than the highest descriptor ever noted: scans stop there.
int high_water() noexcept;
// Bound of the fds that can hold a socket a tenant opened: 0 when no such
// socket is open in this process (the usual case at the end of a request).
int tenant_socket_high_water() noexcept;
// May tenant `t` treat `fd` as its own (dup it, hand it to a child)? 0..2
// (stdio, which every CGI-style redirection dups), or opened while `t` was set.
bool owned_by(int fd, const ActiveTenant& t) noexcept;
}  // namespace sb::fds
