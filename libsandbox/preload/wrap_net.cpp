// Network wrappers: which sockets a tenant may create, where it may connect
// or send, what it may bind (THREATS 12, 13, 15), and the connection budget
// at connect time (THREATS 14).
//
// Every wrapper checks the address it is handed, not the socket's history:
// connect(AF_UNSPEC) dissolves an association and the next connect is
// simply checked again; sendto/sendmsg/sendmmsg carry an address per call
// (per message) and each is checked like a connect (THREATS 13).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "budget.hpp"
#include "fdtable.hpp"
#include "internal.hpp"
#include "net_common.hpp"
#include "tenant/address.hpp"
#include "tenant/path.hpp"

using sb::ActiveTenant;
using tenant::Need;

namespace sb::net {

std::size_t put_uint(char* out, std::size_t cap, std::uint64_t v) noexcept {
  char tmp[24];
  std::size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  std::size_t w = 0;
  while (n > 0 && w + 1 < cap) out[w++] = tmp[--n];
  if (cap > 0) out[w] = '\0';
  return w;
}

int begin_connection(ActiveTenant& t, const char* op, int fd, const char* target, Ticket& tk) noexcept {
  if (!budget::limited(t) || fds::counted_ino(fd) != 0) return 0;
  ErrnoKeeper keep;
  int type = 0, domain = 0;
  socklen_t sl = sizeof type;
  // Not a socket, or not a stream: nothing to count (the kernel will say
  // ENOTSOCK/EBADF itself). UDP and unix datagram "connections" only set a
  // default destination and hold nothing open on the other side.
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl) != 0 || type != SOCK_STREAM) return 0;
  sl = sizeof domain;
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &sl) != 0) return 0;
  if (domain != AF_INET && domain != AF_INET6 && domain != AF_UNIX) return 0;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return 0;
  const auto ino = static_cast<std::uint64_t>(st.st_ino);
  const int rc = budget::reserve(t, ino);
  if (rc == 0) {
    tk = Ticket{ino, true};
    return 0;
  }
  char rule[64];
  if (rc == EDQUOT) {
    std::memcpy(rule, "max_connections ", 16);
    put_uint(rule + 16, sizeof rule - 16, t.ctx->max_connections());
  } else {
    std::snprintf(rule, sizeof rule, "connection budget unavailable (fail closed)");
  }
  if (refuse(t, op, Need::Connect, target, rc, rule)) return rc;
  budget::force_register(t, ino);  // audit mode: connect, and keep the count honest
  tk = Ticket{ino, true};
  return 0;
}

void end_connection(int fd, Ticket& tk, bool connected) noexcept {
  if (!tk.registered) return;
  if (connected) {
    fds::set_counted(fd, tk.ino);
    budget::settle(tk.ino);
  } else
    budget::drop_ref(tk.ino);
  tk.registered = false;
}

}  // namespace sb::net

namespace {

bool family_allowed(int domain) noexcept { return domain == AF_INET || domain == AF_INET6 || domain == AF_UNIX; }

// "127.0.0.1:80" / "[::1]:80" from the canonical form (what the rules match).
void format_address(const tenant::CanonicalAddress& a, char* out, std::size_t cap) noexcept {
  char host[INET6_ADDRSTRLEN] = "?";
  if (a.is_v4())
    ::inet_ntop(AF_INET, a.bytes.data() + 12, host, sizeof host);
  else
    ::inet_ntop(AF_INET6, a.bytes.data(), host, sizeof host);
  std::snprintf(out, cap, a.is_v4() ? "%s:%u" : "[%s]:%u", host, static_cast<unsigned>(a.port));
}

void format_rule(const tenant::Decision& d, const char* otherwise, char* out, std::size_t cap) noexcept {
  if (d.key == tenant::RuleKey::None) {
    std::snprintf(out, cap, "%s", otherwise);
  } else if (d.index >= 0) {
    std::snprintf(out, cap, "%s[%d]", tenant::rule_key_name(d.key), d.index);
  } else {
    std::snprintf(out, cap, "%s", tenant::rule_key_name(d.key));
  }
}

void format_family(int family, char* out, std::size_t cap) noexcept {
  std::snprintf(out, cap, "family=%d", family);
}

// The destination a call will actually use: the caller's address, or a
// rewritten unix address that pins the checked socket (see check_unix).
struct Dest {
  const sockaddr* sa = nullptr;
  socklen_t len = 0;
  sockaddr_un un{};
  int anchor = -1;  // O_PATH fd of the checked socket (or its folder, for bind)
  char target[160] = "";
  Dest() = default;
  Dest(const Dest&) = delete;
  Dest& operator=(const Dest&) = delete;
  ~Dest() {
    if (anchor >= 0) {
      sb::InternalScope internal;
      sb::ErrnoKeeper keep;
      sb::fds::unmark_internal(anchor);
      SB_REAL(close)(anchor);
    }
  }
  void use_un(std::size_t path_len) noexcept {
    sa = reinterpret_cast<const sockaddr*>(&un);
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_len + 1);
  }
};

// Points `d` at "/proc/self/fd/N[/leaf]": the kernel then reaches the
// object the anchor holds, whatever a symlink planted since says (THREATS
// 8, 15). ENAMETOOLONG when it does not fit sun_path's 108 bytes.
int pin_unix(Dest& d, int anchor, const char* leaf) noexcept {
  d.anchor = anchor;
  sb::fds::mark_internal(anchor);  // tenant threads cannot close or dup2 over it meanwhile
  char path[sizeof d.un.sun_path + 32];
  const int n = leaf != nullptr ? std::snprintf(path, sizeof path, "/proc/self/fd/%d/%s", anchor, leaf)
                                : std::snprintf(path, sizeof path, "/proc/self/fd/%d", anchor);
  if (n < 0 || static_cast<std::size_t>(n) >= sizeof d.un.sun_path) return ENAMETOOLONG;
  d.un.sun_family = AF_UNIX;
  std::memcpy(d.un.sun_path, path, static_cast<std::size_t>(n) + 1);
  d.use_un(static_cast<std::size_t>(n));
  return 0;
}

// AF_UNIX destination of connect/sendto/sendmsg. Abstract names have no
// path and no permissions at all: only those listed as "@name" in
// unix_sockets. Pathname sockets: listed ones are reached by their listed
// path; ones allowed because they lie in a Write area are reached through
// an anchor resolved beneath that area, so a symlink in the tenant's tree
// pointing at another tenant's socket is refused (THREATS 15).
int check_unix(ActiveTenant& t, const char* op, Need need, const sockaddr* sa, socklen_t len, Dest& d) noexcept {
  constexpr std::size_t off = offsetof(sockaddr_un, sun_path);
  if (len <= off) return 0;  // unnamed: autobind / kernel's EINVAL
  if (len > sizeof(sockaddr_un)) return EINVAL;
  const auto* un = reinterpret_cast<const sockaddr_un*>(sa);
  const std::size_t plen = len - off;
  if (un->sun_path[0] == '\0') {
    char name[sizeof un->sun_path + 1];
    name[0] = '@';
    std::memcpy(name + 1, un->sun_path + 1, plen - 1);
    const std::string_view at_name(name, plen);
    const tenant::Decision dec = t.ctx->decide_unix_socket(at_name);
    if (dec.allowed) return 0;
    char rule[96];
    format_rule(dec, "abstract socket not listed in unix_sockets", rule, sizeof rule);
    return sb::refuse(t, op, need, at_name, EACCES, rule) ? EACCES : 0;
  }
  char raw[sizeof un->sun_path + 1];
  const std::size_t n = ::strnlen(un->sun_path, plen);
  std::memcpy(raw, un->sun_path, n);
  raw[n] = '\0';
  char abs[tenant::kMaxPath];
  if (const int rc = sb::fs::absolute_path(AT_FDCWD, raw, abs, sizeof abs); rc < 0) return -rc;
  const tenant::Decision dec = t.ctx->decide_unix_socket(abs);
  if (!dec.allowed) {
    char rule[96];
    format_rule(dec, "no rule: not in unix_sockets nor under a writable path", rule, sizeof rule);
    return sb::refuse(t, op, need, abs, EACCES, rule) ? EACCES : 0;
  }
  if (dec.key == tenant::RuleKey::UnixSockets) {
    // The operator listed this path: connect to it as normalised.
    const std::size_t alen = std::strlen(abs);
    if (alen >= sizeof d.un.sun_path) return 0;  // keep the caller's spelling
    d.un.sun_family = AF_UNIX;
    std::memcpy(d.un.sun_path, abs, alen + 1);
    d.use_un(alen);
    return 0;
  }
  const int a = sb::fs::anchor(t, op, abs, Need::Write, true);
  if (a < 0) return -a;
  return pin_unix(d, a, nullptr);
}

// Checks the destination of connect/sendto/sendmsg. 0: go on with d.sa /
// d.len (the caller's address, or a pinned rewrite); else the errno to
// fail with (EACCES after refuse() logged it; EINVAL for a malformed inet
// address, as the kernel would).
int check_destination(ActiveTenant& t, const char* op, Need need, const sockaddr* sa, socklen_t len, bool send,
                      Dest& d) noexcept {
  d.sa = sa;
  d.len = len;
  if (sa == nullptr || len < sizeof(sa_family_t)) return 0;  // no address: the kernel decides (EFAULT/EINVAL/connected)
  int family = sa->sa_family;
  sockaddr_in as_v4{};
  if (family == AF_UNSPEC) {
    // connect(AF_UNSPEC) dissolves the association: nothing is reached.
    if (!send) return 0;
    // But an IPv4 UDP sendto with an AF_UNSPEC address sends to sin_addr
    // (udp_sendmsg accepts AF_UNSPEC as AF_INET): check it as one.
    if (len < sizeof(sockaddr_in)) return 0;
    std::memcpy(&as_v4, sa, sizeof as_v4);
    as_v4.sin_family = AF_INET;
    sa = reinterpret_cast<const sockaddr*>(&as_v4);
    len = sizeof as_v4;
    family = AF_INET;
  }
  if (family == AF_INET || family == AF_INET6) {
    const std::optional<tenant::CanonicalAddress> a = tenant::canonicalize(sa, len);
    if (!a) return EINVAL;  // short sockaddr: never read past len
    format_address(*a, d.target, sizeof d.target);
    const tenant::Decision dec = t.ctx->decide_address(*a);
    if (dec.allowed) return 0;
    char rule[96];
    format_rule(dec, "not in ip_allow", rule, sizeof rule);
    return sb::refuse(t, op, need, d.target, EACCES, rule) ? EACCES : 0;
  }
  if (family == AF_UNIX) {
    const int rc = check_unix(t, op, need, sa, len, d);
    std::snprintf(d.target, sizeof d.target, "unix socket");
    return rc;
  }
  // Netlink, packet, vsock... sockets a tenant cannot create; one inherited
  // or created by libc internals still may not be aimed anywhere.
  char what[32];
  format_family(family, what, sizeof what);
  return sb::refuse(t, op, need, what, EACCES, "only AF_INET, AF_INET6 and AF_UNIX") ? EACCES : 0;
}

// SCM_RIGHTS passes descriptors to another process: the same as dup for
// what a tenant may hand on (THREATS 18).
int check_passed_fds(ActiveTenant& t, const char* op, const msghdr* msg) noexcept {
  if (msg == nullptr || msg->msg_control == nullptr || msg->msg_controllen < sizeof(cmsghdr)) return 0;
  for (const cmsghdr* c = CMSG_FIRSTHDR(msg); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(msg), const_cast<cmsghdr*>(c))) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
    const std::size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const auto* data = reinterpret_cast<const unsigned char*>(CMSG_DATA(c));
    for (std::size_t i = 0; i < n; ++i) {
      int fd;
      std::memcpy(&fd, data + i * sizeof(int), sizeof fd);
      if (sb::fds::owned_by(fd, t)) continue;
      char what[48];
      std::snprintf(what, sizeof what, "fd:%d", fd);
      if (sb::refuse(t, op, Need::Send, what, EACCES, "SCM_RIGHTS of a descriptor this tenant did not open"))
        return EACCES;
    }
  }
  return 0;
}

}  // namespace

// ---- socket creation --------------------------------------------------------

extern "C" int socket(int domain, int type, int protocol) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) {
    const int fd = SB_REAL(socket)(domain, type, protocol);
    if (fd >= 0) sb::fds::note_socket(fd, nullptr);
    return fd;
  }
  try {
    // AF_NETLINK (routing, audit, sock_diag of every socket of the host),
    // AF_PACKET, AF_ALG, AF_VSOCK, ... are no business of a web request.
    if (!family_allowed(domain)) {
      char what[32];
      format_family(domain, what, sizeof what);
      if (sb::refuse(*t, "socket", Need::Connect, what, EACCES, "only AF_INET, AF_INET6 and AF_UNIX"))
        return sb::fail(EACCES);
    }
    const int fd = SB_REAL(socket)(domain, type, protocol);
    if (fd >= 0) sb::fds::note_socket(fd, t);
    return fd;
  } catch (...) {
    return sb::fail(EACCES);
  }
}

extern "C" int socketpair(int domain, int type, int protocol, int sv[2]) noexcept {
  ActiveTenant* t = sb::current();
  try {
    if (t != nullptr && !family_allowed(domain)) {
      char what[32];
      format_family(domain, what, sizeof what);
      if (sb::refuse(*t, "socketpair", Need::Connect, what, EACCES, "only AF_INET, AF_INET6 and AF_UNIX"))
        return sb::fail(EACCES);
    }
    const int rc = SB_REAL(socketpair)(domain, type, protocol, sv);
    if (rc == 0) {
      sb::fds::note_socket(sv[0], t);
      sb::fds::note_socket(sv[1], t);
    }
    return rc;
  } catch (...) {
    return sb::fail(EACCES);
  }
}

// ---- connect and sends --------------------------------------------------------

extern "C" int connect(int fd, const struct sockaddr* addr, socklen_t len) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(connect)(fd, addr, len);
  try {
    const int saved = errno;
    Dest d;
    if (const int e = check_destination(*t, "connect", Need::Connect, addr, len, false, d); e != 0) return sb::fail(e);
    sb::net::Ticket tk;
    if (addr != nullptr && len >= sizeof(sa_family_t) && addr->sa_family != AF_UNSPEC) {
      if (const int e = sb::net::begin_connection(*t, "connect", fd, d.target, tk); e != 0) return sb::fail(e);
    }
    const int rc = SB_REAL(connect)(fd, d.sa, d.len);
    const int err = errno;
    sb::net::end_connection(fd, tk, sb::net::connection_made(rc, err));
    errno = rc == 0 ? saved : err;
    return rc;
  } catch (...) {
    return sb::fail(EACCES);
  }
}

extern "C" ssize_t sendto(int fd, const void* buf, size_t n, int flags, const struct sockaddr* addr,
                          socklen_t len) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr || addr == nullptr) return SB_REAL(sendto)(fd, buf, n, flags, addr, len);
  try {
    const int saved = errno;
    // MSG_FASTOPEN connects a TCP socket and sends in one call: it is a
    // connect for the rules and for the budget (THREATS 13).
    const bool fastopen = (flags & MSG_FASTOPEN) != 0;
    const Need need = fastopen ? Need::Connect : Need::Send;
    Dest d;
    if (const int e = check_destination(*t, "sendto", need, addr, len, !fastopen, d); e != 0) return sb::fail(e);
    sb::net::Ticket tk;
    if (fastopen) {
      if (const int e = sb::net::begin_connection(*t, "sendto", fd, d.target, tk); e != 0) return sb::fail(e);
    }
    const ssize_t rc = SB_REAL(sendto)(fd, buf, n, flags, d.sa, d.len);
    const int err = errno;
    sb::net::end_connection(fd, tk, sb::net::connection_made(rc, err));
    errno = rc >= 0 ? saved : err;
    return rc;
  } catch (...) {
    return sb::fail(EACCES);
  }
}

extern "C" ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr || msg == nullptr) return SB_REAL(sendmsg)(fd, msg, flags);
  try {
    const int saved = errno;
    if (const int e = check_passed_fds(*t, "sendmsg", msg); e != 0) return sb::fail(e);
    const bool fastopen = (flags & MSG_FASTOPEN) != 0;
    Dest d;
    if (msg->msg_name != nullptr) {
      if (const int e = check_destination(*t, "sendmsg", fastopen ? Need::Connect : Need::Send,
                                          static_cast<const sockaddr*>(msg->msg_name), msg->msg_namelen, !fastopen, d);
          e != 0)
        return sb::fail(e);
    }
    sb::net::Ticket tk;
    if (fastopen && msg->msg_name != nullptr) {
      if (const int e = sb::net::begin_connection(*t, "sendmsg", fd, d.target, tk); e != 0) return sb::fail(e);
    }
    msghdr copy = *msg;
    if (msg->msg_name != nullptr) {
      copy.msg_name = const_cast<sockaddr*>(d.sa);
      copy.msg_namelen = d.len;
    }
    const ssize_t rc = SB_REAL(sendmsg)(fd, &copy, flags);
    const int err = errno;
    sb::net::end_connection(fd, tk, sb::net::connection_made(rc, err));
    errno = rc >= 0 ? saved : err;
    return rc;
  } catch (...) {
    return sb::fail(EACCES);
  }
}

// Every message carries its own address and each is checked. One denied
// address denies the whole call, before anything is sent: the kernel would
// otherwise send the messages before it and report a short count, which a
// caller cannot tell from congestion, and a denied batch is an attack, not
// traffic worth half-delivering. Messages whose unix address had to be
// pinned (see check_unix) are sent one by one through sendmsg, which is what
// sendmmsg does inside the kernel anyway.
extern "C" int sendmmsg(int fd, struct mmsghdr* vec, unsigned int vlen, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr || vec == nullptr) return SB_REAL(sendmmsg)(fd, vec, vlen, flags);
  try {
    const int saved = errno;
    if (vlen > UIO_MAXIOV) vlen = UIO_MAXIOV;  // the kernel's own clamp
    // MSG_FASTOPEN: the first message connects the TCP socket (THREATS 13).
    const bool fastopen = (flags & MSG_FASTOPEN) != 0;
    bool rewrite = false;
    char first_target[sizeof Dest{}.target] = "";
    for (unsigned int i = 0; i < vlen; ++i) {
      const msghdr& m = vec[i].msg_hdr;
      if (const int e = check_passed_fds(*t, "sendmmsg", &m); e != 0) return sb::fail(e);
      if (m.msg_name == nullptr) continue;
      Dest d;
      if (const int e = check_destination(*t, "sendmmsg", fastopen ? Need::Connect : Need::Send,
                                          static_cast<const sockaddr*>(m.msg_name), m.msg_namelen, !fastopen, d);
          e != 0)
        return sb::fail(e);
      if (d.sa != m.msg_name) rewrite = true;
      if (i == 0) std::memcpy(first_target, d.target, sizeof first_target);
    }
    if (!rewrite) {
      sb::net::Ticket tk;
      if (fastopen && vlen > 0 && vec[0].msg_hdr.msg_name != nullptr) {
        if (const int e = sb::net::begin_connection(*t, "sendmmsg", fd, first_target, tk); e != 0) return sb::fail(e);
      }
      const int rc = SB_REAL(sendmmsg)(fd, vec, vlen, flags);
      const int err = errno;
      sb::net::end_connection(fd, tk, sb::net::connection_made(rc, err));
      errno = rc >= 0 ? saved : err;
      return rc;
    }
    unsigned int sent = 0;
    for (; sent < vlen; ++sent) {
      msghdr copy = vec[sent].msg_hdr;
      Dest d;
      if (copy.msg_name != nullptr) {
        if (const int e = check_destination(*t, "sendmmsg", Need::Send, static_cast<const sockaddr*>(copy.msg_name),
                                            copy.msg_namelen, true, d);
            e != 0) {
          if (sent > 0) break;
          return sb::fail(e);
        }
        copy.msg_name = const_cast<sockaddr*>(d.sa);
        copy.msg_namelen = d.len;
      }
      const ssize_t rc = SB_REAL(sendmsg)(fd, &copy, flags);
      if (rc < 0) {
        if (sent > 0) break;
        return -1;
      }
      vec[sent].msg_len = static_cast<unsigned int>(rc);
    }
    errno = saved;
    return static_cast<int>(sent);
  } catch (...) {
    return sb::fail(EACCES);
  }
}

// ---- servers ----------------------------------------------------------------

// A tenant binds unix sockets only where it may write (the socket file is
// created through an anchor of the folder), abstract names only when
// listed, and inet sockets only to port 0 (the client side of a
// connection: choosing the source address is harmless, owning a port is not).
extern "C" int bind(int fd, const struct sockaddr* addr, socklen_t len) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr || addr == nullptr || len < sizeof(sa_family_t)) return SB_REAL(bind)(fd, addr, len);
  try {
    const int saved = errno;
    Dest d;
    d.sa = addr;
    d.len = len;
    const int family = addr->sa_family;
    if (family == AF_INET || family == AF_INET6) {
      const std::optional<tenant::CanonicalAddress> a = tenant::canonicalize(addr, len);
      if (!a) return sb::fail(EINVAL);
      if (a->port != 0) {
        format_address(*a, d.target, sizeof d.target);
        if (sb::refuse(*t, "bind", Need::Bind, d.target, EACCES, "tenants may bind inet sockets to port 0 only"))
          return sb::fail(EACCES);
      }
    } else if (family == AF_UNIX) {
      constexpr std::size_t off = offsetof(sockaddr_un, sun_path);
      if (len > sizeof(sockaddr_un)) return sb::fail(EINVAL);
      const auto* un = reinterpret_cast<const sockaddr_un*>(addr);
      if (len > off && un->sun_path[0] == '\0') {
        const std::size_t plen = len - off;
        char name[sizeof un->sun_path + 1];
        name[0] = '@';
        std::memcpy(name + 1, un->sun_path + 1, plen - 1);
        const std::string_view at_name(name, plen);
        const tenant::Decision dec = t->ctx->decide_unix_socket(at_name);
        if (!dec.allowed && sb::refuse(*t, "bind", Need::Bind, at_name, EACCES, "abstract socket not listed in unix_sockets"))
          return sb::fail(EACCES);
      } else if (len > off) {
        char raw[sizeof un->sun_path + 1];
        const std::size_t n = ::strnlen(un->sun_path, len - off);
        std::memcpy(raw, un->sun_path, n);
        raw[n] = '\0';
        char abs[tenant::kMaxPath];
        if (const int rc = sb::fs::absolute_path(AT_FDCWD, raw, abs, sizeof abs); rc < 0) return sb::fail(-rc);
        const tenant::Decision dec = t->ctx->decide_path(abs, Need::Write);
        if (!dec.allowed) {
          char rule[96];
          format_rule(dec, "no rule: outside every writable path", rule, sizeof rule);
          if (sb::refuse(*t, "bind", Need::Bind, abs, EACCES, rule)) return sb::fail(EACCES);
        } else {
          // Create the socket file beneath the verified folder: a symlink
          // planted as the folder cannot move it into another tenant's tree.
          char* slash = std::strrchr(abs, '/');
          char leaf[sizeof un->sun_path];
          if (slash == nullptr || slash[1] == '\0' || std::strlen(slash + 1) >= sizeof leaf) return sb::fail(EINVAL);
          std::memcpy(leaf, slash + 1, std::strlen(slash + 1) + 1);
          if (slash == abs)
            slash[1] = '\0';
          else
            *slash = '\0';
          const int a = sb::fs::anchor(*t, "bind", abs, Need::Write, true);
          if (a < 0) return sb::fail(-a);
          if (const int e = pin_unix(d, a, leaf); e != 0) return sb::fail(e);
        }
      }
    } else {
      char what[32];
      format_family(family, what, sizeof what);
      if (sb::refuse(*t, "bind", Need::Bind, what, EACCES, "only AF_INET, AF_INET6 and AF_UNIX"))
        return sb::fail(EACCES);
    }
    const int rc = SB_REAL(bind)(fd, d.sa, d.len);
    if (rc == 0) errno = saved;
    return rc;
  } catch (...) {
    return sb::fail(EACCES);
  }
}

// No servers in a web request: an inet listener would outlive the request
// in a shared worker and answer for every tenant that follows. Unix
// listeners (in the tenant's own writable tree) stay allowed.
extern "C" int listen(int fd, int backlog) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(listen)(fd, backlog);
  try {
    int domain = AF_UNIX;
    socklen_t sl = sizeof domain;
    {
      sb::ErrnoKeeper keep;
      if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &sl) != 0) domain = AF_UNIX;  // the kernel will say why
    }
    if (domain == AF_INET || domain == AF_INET6) {
      char what[32];
      std::snprintf(what, sizeof what, "fd:%d", fd);
      if (sb::refuse(*t, "listen", Need::Bind, what, EACCES, "tenants may not listen on inet sockets"))
        return sb::fail(EACCES);
    }
    return SB_REAL(listen)(fd, backlog);
  } catch (...) {
    return sb::fail(EACCES);
  }
}

// Accepting is not checked (a tenant can only accept on a unix listener it
// bound itself); the new descriptor is noted as the tenant's.
extern "C" int accept(int fd, struct sockaddr* addr, socklen_t* len) noexcept {
  const ActiveTenant* t = sb::current();
  const int nfd = SB_REAL(accept)(fd, addr, len);
  if (nfd >= 0) sb::fds::note_socket(nfd, t);
  return nfd;
}

extern "C" int accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) noexcept {
  const ActiveTenant* t = sb::current();
  const int nfd = SB_REAL(accept4)(fd, addr, len, flags);
  if (nfd >= 0) sb::fds::note_socket(nfd, t);
  return nfd;
}
