// Which sockets are still alive, asked of the kernel (NETLINK_SOCK_DIAG).
// The connection budget counts socket objects by inode; a process killed
// with SIGKILL (or one that exec'd a program without libsandbox) never
// returns its references, so when a tenant reaches its cap the budget
// reconciles against this list (THREATS 14: a killed worker).
#pragma once
#include <cstdint>

namespace sb::net {

// Calls fn(inode, ctx) for every TCP (IPv4 and IPv6) and unix socket of the
// network namespace that is still referenced by an open file (inode != 0:
// a closed TCP socket lingering in FIN_WAIT/TIME_WAIT has inode 0).
// Returns 0, or -errno when the kernel could not be asked (then nothing can
// be concluded). No allocation; runs its own I/O through the real functions.
int for_each_live_socket(void (*fn)(std::uint64_t inode, void* ctx), void* ctx) noexcept;

// Opens this process's sock_diag socket now, while socket(AF_NETLINK) is
// still permitted: request threads confined with seccomp (TenantKernelConfine)
// may not create netlink sockets, but may use one that exists. Called when
// the budget map is opened and in every forked child (a dump in progress is
// per socket, so processes must not share one). Kept as an internal fd.
void prepare_diag() noexcept;

}  // namespace sb::net
