// sock_diag dumps: inet_diag (TCP over IPv4 and IPv6) and unix_diag. Both
// are available to unprivileged users (ss(8) uses them) since Linux 3.3.
#include "net_diag.hpp"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "fdtable.hpp"
#include "runtime.hpp"

namespace sb::net {
namespace {

// The NLMSG_* macros are C casts (-Wold-style-cast); the same arithmetic:
constexpr std::size_t kAlign = 4;
constexpr std::size_t align4(std::size_t n) noexcept { return (n + kAlign - 1) & ~(kAlign - 1); }
constexpr std::size_t kHdr = align4(sizeof(nlmsghdr));

// One dump request; reads every reply until NLMSG_DONE.
template <class Req>
int dump(int nl, const Req& body, bool inet, void (*fn)(std::uint64_t, void*), void* ctx) noexcept {
  // A dump a failed call left half read on the shared socket is skipped by
  // its sequence number.
  static std::atomic<std::uint32_t> next_seq{1};
  const std::uint32_t seq = next_seq.fetch_add(1, std::memory_order_relaxed);
  struct {
    nlmsghdr nh;
    Req body;
  } req{};
  req.nh.nlmsg_len = sizeof req;
  req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.nh.nlmsg_seq = seq;
  req.body = body;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (SB_REAL(sendto)(nl, &req, sizeof req, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return -errno;
  alignas(nlmsghdr) char buf[32768];
  for (;;) {
    const ssize_t n = ::recv(nl, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) return -EIO;
    const auto len = static_cast<std::size_t>(n);
    for (std::size_t off = 0; off + sizeof(nlmsghdr) <= len;) {
      const auto* h = reinterpret_cast<const nlmsghdr*>(buf + off);
      if (h->nlmsg_len < sizeof(nlmsghdr) || off + h->nlmsg_len > len) break;
      off += align4(h->nlmsg_len);
      const char* data = reinterpret_cast<const char*>(h) + kHdr;
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_DONE) return 0;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto* err = reinterpret_cast<const nlmsgerr*>(data);
        return err->error != 0 ? err->error : -EIO;
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      std::uint64_t ino = 0;
      if (inet) {
        if (h->nlmsg_len < kHdr + sizeof(inet_diag_msg)) continue;
        ino = reinterpret_cast<const inet_diag_msg*>(data)->idiag_inode;
      } else {
        if (h->nlmsg_len < kHdr + sizeof(unix_diag_msg)) continue;
        ino = reinterpret_cast<const unix_diag_msg*>(data)->udiag_ino;
      }
      if (ino != 0) fn(ino, ctx);
    }
  }
}

}  // namespace

namespace {
std::atomic<int> g_diag_fd{-1};
std::atomic<pid_t> g_diag_pid{0};
std::atomic<bool> g_diag_busy{false};  // one dump at a time on the shared socket

int open_diag() noexcept { return SB_REAL(socket)(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG); }

int dump_all(int nl, void (*fn)(std::uint64_t, void*), void* ctx) noexcept {
  int rc = 0;
  for (const std::uint8_t family : {std::uint8_t{AF_INET}, std::uint8_t{AF_INET6}}) {
    inet_diag_req_v2 r{};
    r.sdiag_family = family;
    r.sdiag_protocol = IPPROTO_TCP;
    r.idiag_states = ~0u;  // every state: a SYN_SENT connect is as alive as an ESTABLISHED one
    if (rc == 0) rc = dump(nl, r, true, fn, ctx);
  }
  if (rc == 0) {
    unix_diag_req r{};
    r.sdiag_family = AF_UNIX;
    r.udiag_states = ~0u;
    rc = dump(nl, r, false, fn, ctx);
  }
  return rc;
}
}  // namespace

void prepare_diag() noexcept {
  InternalScope internal;
  ErrnoKeeper keep;
  const pid_t me = ::getpid();
  if (g_diag_pid.load(std::memory_order_acquire) == me && g_diag_fd.load(std::memory_order_acquire) >= 0) return;
  const int old = g_diag_fd.exchange(-1, std::memory_order_acq_rel);
  if (old >= 0) {  // the parent's: ours is a copy, closing it leaves the parent's alone
    fds::unmark_internal(old);
    SB_REAL(close)(old);
  }
  const int fd = fds::keep_internal(open_diag());
  if (fd < 0) return;
  g_diag_pid.store(me, std::memory_order_release);
  g_diag_fd.store(fd, std::memory_order_release);
}

int for_each_live_socket(void (*fn)(std::uint64_t, void*), void* ctx) noexcept {
  InternalScope internal;
  ErrnoKeeper keep;
  const int shared = g_diag_pid.load(std::memory_order_acquire) == ::getpid() ? g_diag_fd.load(std::memory_order_acquire) : -1;
  if (shared >= 0 && !g_diag_busy.exchange(true, std::memory_order_acq_rel)) {
    const int rc = dump_all(shared, fn, ctx);
    g_diag_busy.store(false, std::memory_order_release);
    return rc;
  }
  // No socket of our own yet (or it is busy): a temporary one, where
  // seccomp permits creating it.
  const int nl = open_diag();
  if (nl < 0) return -errno;
  const int rc = dump_all(nl, fn, ctx);
  SB_REAL(close)(nl);
  return rc;
}

}  // namespace sb::net
