// ConnectionBudget: max_connections, one count per tenant shared by every
// process (DESIGN.md "max_connections", THREATS 14).
//
// What counts: a socket OBJECT (identified by its inode, fstat st_ino) that
// a tenant connected -- a TCP socket (IPv4 or IPv6) or a unix stream socket,
// through connect() or a TCP Fast Open sendto/sendmsg. Not counted: UDP and
// unix datagram sockets (connect only sets a default address), sockets the
// tenant accepted, socketpairs. The object stays counted as long as any
// descriptor of any process refers to it: dup/fork add a reference,
// close/exit drop one, exec drops the close-on-exec ones, and the counted
// object leaves the budget when its last reference is gone.
//
// Where: a file-backed MAP_SHARED mapping, STATE_DIR/budget (default
// /run/tenant-sandbox/budget; folder 0750, file 0660, opened O_NOFOLLOW; a
// world-writable or foreign-owned folder such as /tmp itself is refused). Two fixed open-addressing tables:
// tenant slots {id, live count} and counted objects {inode, tenant slot,
// refs}. Atomics only: no lock anywhere, so a worker killed in the middle
// cannot wedge the others. A reference a SIGKILLed process never returned is
// corrected by reconcile(): when a tenant hits its cap, objects the kernel no
// longer knows as open (NETLINK_SOCK_DIAG) are dropped.
#pragma once
#include <cstdint>

#include "runtime.hpp"

namespace sb::budget {

// The tenant has a max_connections limit (else nothing is counted).
inline bool limited(const ActiveTenant& t) noexcept {
  return t.ctx->max_connections() != tenant::kUnlimited;
}

// Registers socket object `ino` as one more connection of `t` (refs = 1).
// 0; EDQUOT when the tenant is at its cap even after reconciling; EACCES when
// the budget file cannot be opened or its tables are full (fail closed).
// Logs nothing: the caller refuses through sb::refuse.
int reserve(const ActiveTenant& t, std::uint64_t ino) noexcept;
// The registering connect() returned: the socket is now visible to the
// kernel's socket dumps (until then reconcile leaves it alone).
void settle(std::uint64_t ino) noexcept;
// Same as reserve, ignoring the cap (exec_failed re-registering, audit mode).
void force_register(const ActiveTenant& t, std::uint64_t ino) noexcept;
// One descriptor of a counted object went away; the last one frees it.
void drop_ref(std::uint64_t ino) noexcept;
// One more descriptor of a counted object (dup, fork). False when `ino` is
// not (any longer) counted.
bool add_ref(std::uint64_t ino) noexcept;
// exec: a counted descriptor that survives exec is handed to the new image,
// which adopts it (adopt) without adding a reference. adopt() of an object
// with no pending hand-over adds one instead: the child of posix_spawn,
// system or popen (clone + exec inside glibc, no fork wrapper) holds a new
// reference. False when `ino` is not counted.
bool is_counted(std::uint64_t ino) noexcept;  // registered and not being freed
void hand_over(std::uint64_t ino) noexcept;
void take_back(std::uint64_t ino) noexcept;  // exec failed: the hand-over did not happen
bool adopt(std::uint64_t ino) noexcept;

// Opens the map now (called at load by a root process: the Apache parent,
// whose workers inherit the mapping after they drop privileges).
void open_early() noexcept;
// The map (opened now if it can be), or nullptr: the status page reads it.
const void* map_base() noexcept;
// In a forked child: a sock_diag socket of its own for reconciles.
void after_fork_child() noexcept;

// Live count of tenant `id`, or -1 when unknown (status).
int live_count(const char* id) noexcept;

}  // namespace sb::budget
