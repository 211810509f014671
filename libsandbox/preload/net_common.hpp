// Shared pieces of the network wrappers (wrap_net.cpp, wrap_net_fd.cpp).
#pragma once
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>

#include "runtime.hpp"

namespace sb::net {

// Writes the decimal form of v (no allocation, async-signal-safe).
std::size_t put_uint(char* out, std::size_t cap, std::uint64_t v) noexcept;

// The counted-connection bookkeeping of one connect-like call.
struct Ticket {
  std::uint64_t ino = 0;
  bool registered = false;
};

// Before a call that makes `fd` a connection (connect, TCP Fast Open): when
// the tenant has a max_connections limit and fd is a not yet counted TCP or
// unix stream socket, registers it. 0 to go on; EDQUOT or EACCES (already
// refused and logged) to fail with. `target` is only used in the log line.
int begin_connection(ActiveTenant& t, const char* op, int fd, const char* target, Ticket& tk) noexcept;
// After it: a call that made (or is making: EINPROGRESS) the connection keeps
// it counted; any other failure gives the reservation back.
void end_connection(int fd, Ticket& tk, bool connected) noexcept;
inline bool connection_made(long rc, int err) noexcept {
  return rc >= 0 || err == EINPROGRESS || err == EINTR || err == EALREADY || err == EISCONN;
}

// A descriptor that stops being this process's (close, dup2 over it,
// exec, exit): forgets it and drops its budget reference.
void forget_fd(int fd) noexcept;

}  // namespace sb::net
