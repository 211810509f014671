// Canonical addresses (THREATS 12). A tenant must not reach 127.0.0.1 by
// spelling it ::ffff:127.0.0.1, 64:ff9b::7f00:1, 2002:7f00:1::, ::127.0.0.1
// or 0.0.0.0: every spelling that names an IPv4 host is folded into that
// host before any rule is matched, and rules are folded the same way.
//
// Decisions documented here (address.hpp states the contract):
// - IPv4-compatible ::a.b.c.d (deprecated, RFC 4291) is folded to a.b.c.d
//   for every value except :: and ::1. Linux no longer routes them as IPv4,
//   but a SIT tunnel can, and folding can only make a rule match more.
// - :: becomes ::1 and 0.0.0.0/8 becomes 127.0.0.1: connect() to either
//   reaches a listener on this host.
// - A CIDR lying wholly inside 0.0.0.0/8 becomes 127.0.0.1/32 and ::/128
//   becomes ::1/128, so a rule written for the alias still matches the
//   canonical address the alias turns into.
// - A CIDR that merely *contains* an embedding (2000::/3 contains
//   2002::/16) keeps its IPv6 meaning: the embedded addresses are IPv4
//   addresses and are governed by the IPv4 ranges of the policy.
// - ::/96 .. ::/127 contain :: and ::1 as well as IPv4-compatible addresses
//   and cannot be represented as one range after folding; they are kept as
//   IPv6 ranges (they still match ::1).
#include "tenant/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstddef>
#include <cstring>

namespace tenant {
namespace {

using Bytes = std::array<std::uint8_t, 16>;

constexpr std::uint8_t kNat64[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
constexpr std::uint8_t kNat64Local[6] = {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01};

bool all_zero(const std::uint8_t* p, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

bool is_mapped(const Bytes& b) noexcept { return all_zero(b.data(), 10) && b[10] == 0xff && b[11] == 0xff; }

Bytes mapped(const std::uint8_t v4[4]) noexcept {
  Bytes b{};
  b[10] = 0xff;
  b[11] = 0xff;
  // 0.0.0.0/8 ("this network"): connect() treats it as the local host.
  if (v4[0] == 0) {
    b[12] = 127;
    b[15] = 1;
  } else {
    std::memcpy(&b[12], v4, 4);
  }
  return b;
}

Bytes loopback6() noexcept {
  Bytes b{};
  b[15] = 1;
  return b;
}

// Where the IPv4 address sits inside an IPv6 embedding, if `b` is in one.
// Returns the byte offset of the 4 address bytes, or -1.
int embedded_v4_offset(const Bytes& b) noexcept {
  if (is_mapped(b)) return 12;
  if (all_zero(b.data(), 12)) {
    // ::/96 compatible, except :: and ::1 which are IPv6's own.
    const bool zero_or_one = all_zero(&b[12], 3) && (b[15] == 0 || b[15] == 1);
    return zero_or_one ? -1 : 12;
  }
  if (std::memcmp(b.data(), kNat64, sizeof kNat64) == 0) return 12;
  if (std::memcmp(b.data(), kNat64Local, sizeof kNat64Local) == 0) return 12;
  if (b[0] == 0x20 && b[1] == 0x02) return 2;
  return -1;
}

void mask(Bytes& b, unsigned prefix) noexcept {
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned bit = i * 8;
    if (bit >= prefix) {
      b[i] = 0;
    } else if (prefix - bit < 8) {
      b[i] = static_cast<std::uint8_t>(b[i] & (0xffu << (8 - (prefix - bit))));
    }
  }
}

bool prefix_equal(const Bytes& a, const Bytes& b, unsigned prefix) noexcept {
  const unsigned full = prefix / 8;
  if (std::memcmp(a.data(), b.data(), full) != 0) return false;
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto m = static_cast<std::uint8_t>(0xffu << (8 - rest));
  return (a[full] & m) == (b[full] & m);
}

// Folds a masked range into the canonical space (see the file comment).
Cidr fold(Bytes base, unsigned prefix) noexcept {
  Cidr c;
  auto v4_range = [&](int off, unsigned v4_prefix) {
    Bytes nb{};
    nb[10] = 0xff;
    nb[11] = 0xff;
    std::memcpy(&nb[12], &base[static_cast<std::size_t>(off)], 4);
    unsigned p = 96 + v4_prefix;
    if (p >= 104 && nb[12] == 0) {  // wholly inside 0.0.0.0/8
      nb[12] = 127;
      nb[13] = nb[14] = 0;
      nb[15] = 1;
      p = 128;
    }
    mask(nb, p);
    c.base = nb;
    c.prefix_len = static_cast<std::uint8_t>(p);
  };
  if (is_mapped(base) && prefix >= 96) {
    v4_range(12, prefix - 96);
    return c;
  }
  if (all_zero(base.data(), 12) && prefix >= 96) {
    if (all_zero(base.data(), 16)) {
      if (prefix == 128) {
        c.base = loopback6();
        c.prefix_len = 128;
        return c;
      }
    } else if (!(prefix == 128 && all_zero(&base[12], 3) && base[15] == 1)) {
      v4_range(12, prefix - 96);
      return c;
    }
  } else if (prefix >= 96 && std::memcmp(base.data(), kNat64, sizeof kNat64) == 0) {
    v4_range(12, prefix - 96);
    return c;
  } else if (prefix >= 48 && std::memcmp(base.data(), kNat64Local, sizeof kNat64Local) == 0) {
    // Bits 48..95 are not part of the address: a range fixing only them
    // names every IPv4 address.
    v4_range(12, prefix >= 96 ? prefix - 96 : 0);
    return c;
  } else if (prefix >= 16 && base[0] == 0x20 && base[1] == 0x02) {
    // Bits 48..127 (subnet, interface) do not change the IPv4 host.
    v4_range(2, prefix >= 48 ? 32 : prefix - 16);
    return c;
  }
  c.base = base;
  c.prefix_len = static_cast<std::uint8_t>(prefix);
  return c;
}

// inet_pton needs a NUL-terminated string; addresses are short.
bool to_cstr(std::string_view text, char (&buf)[64]) noexcept {
  if (text.empty() || text.size() >= sizeof buf) return false;
  for (const char c : text)
    if (c == '\0') return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  return true;
}

}  // namespace

bool CanonicalAddress::is_v4() const noexcept { return is_mapped(bytes); }

CanonicalAddress canonicalize_v4(std::uint32_t addr_network_order, std::uint16_t port) noexcept {
  std::uint8_t v4[4];
  std::memcpy(v4, &addr_network_order, 4);
  CanonicalAddress a;
  a.bytes = mapped(v4);
  a.port = port;
  return a;
}

CanonicalAddress canonicalize_v6(const std::uint8_t bytes[16], std::uint16_t port) noexcept {
  CanonicalAddress a;
  a.port = port;
  std::memcpy(a.bytes.data(), bytes, 16);
  if (all_zero(a.bytes.data(), 16)) {
    a.bytes = loopback6();
    return a;
  }
  const int off = embedded_v4_offset(a.bytes);
  if (off >= 0) a.bytes = mapped(&a.bytes[static_cast<std::size_t>(off)]);
  return a;
}

std::optional<CanonicalAddress> canonicalize(const sockaddr* sa, socklen_t len) noexcept {
  if (sa == nullptr || len < static_cast<socklen_t>(sizeof(sa_family_t))) return std::nullopt;
  sa_family_t family;
  std::memcpy(&family, sa, sizeof family);  // the caller's buffer may be unaligned
  const auto* raw = reinterpret_cast<const unsigned char*>(sa);
  if (family == AF_INET) {
    if (len < static_cast<socklen_t>(sizeof(sockaddr_in))) return std::nullopt;
    sockaddr_in in;
    std::memcpy(&in, raw, sizeof in);
    return canonicalize_v4(in.sin_addr.s_addr, ntohs(in.sin_port));
  }
  if (family == AF_INET6) {
    // The kernel accepts the RFC 2133 length (24 bytes, no sin6_scope_id);
    // read exactly what it reads and nothing beyond `len`.
    constexpr std::size_t kRfc2133Len = offsetof(sockaddr_in6, sin6_addr) + sizeof(in6_addr);
    if (static_cast<std::size_t>(len) < kRfc2133Len) return std::nullopt;
    std::uint16_t port_n;
    std::memcpy(&port_n, raw + offsetof(sockaddr_in6, sin6_port), sizeof port_n);
    std::uint8_t b[16];
    std::memcpy(b, raw + offsetof(sockaddr_in6, sin6_addr), 16);
    return canonicalize_v6(b, ntohs(port_n));
  }
  return std::nullopt;
}

std::optional<CanonicalAddress> parse_address(std::string_view text) noexcept {
  char buf[64];
  if (!to_cstr(text, buf)) return std::nullopt;
  in_addr v4{};
  if (inet_pton(AF_INET, buf, &v4) == 1) return canonicalize_v4(v4.s_addr, 0);
  in6_addr v6{};
  if (inet_pton(AF_INET6, buf, &v6) == 1) return canonicalize_v6(v6.s6_addr, 0);
  return std::nullopt;
}

std::string to_string(const CanonicalAddress& a) {
  char buf[INET6_ADDRSTRLEN];
  if (a.is_v4()) {
    inet_ntop(AF_INET, &a.bytes[12], buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, a.bytes.data(), buf, sizeof buf);
  }
  return buf;
}

bool Cidr::contains(const CanonicalAddress& a) const noexcept {
  return prefix_equal(base, a.bytes, prefix_len > 128 ? 128u : prefix_len);
}

Result<Cidr> parse_cidr(std::string_view text) {
  // Built only on error: a valid policy parses many CIDRs.
  auto shown = [text] { return "\"" + std::string(text.substr(0, 80)) + (text.size() > 80 ? "...\"" : "\""); };
  const char* expected = "expected an IPv4 or IPv6 address with an optional /prefix (10.0.0.0/8, 2001:db8::/32)";
  if (text.empty()) return Error{"", std::string("empty string; ") + expected};
  const std::size_t slash = text.find('/');
  const std::string_view addr = text.substr(0, slash);
  char buf[64];
  Bytes base{};
  bool v4 = false;
  if (to_cstr(addr, buf)) {
    in_addr a4{};
    in6_addr a6{};
    if (inet_pton(AF_INET, buf, &a4) == 1) {
      v4 = true;
      base[10] = base[11] = 0xff;
      std::memcpy(&base[12], &a4, 4);
    } else if (inet_pton(AF_INET6, buf, &a6) == 1) {
      std::memcpy(base.data(), a6.s6_addr, 16);
    } else {
      return Error{"", "not an IP address: " + shown() + "; " + expected};
    }
  } else {
    return Error{"", "not an IP address: " + shown() + "; " + expected};
  }
  const unsigned max = v4 ? 32 : 128;
  unsigned prefix = max;
  if (slash != std::string_view::npos) {
    const std::string_view p = text.substr(slash + 1);
    // Digits only: no sign, no spaces, no "0x", at most 3 of them.
    bool digits = !p.empty() && p.size() <= 3;
    for (const char c : p) digits = digits && c >= '0' && c <= '9';
    if (!digits) {
      return Error{"", "bad prefix length in " + shown() + "; expected a number 0.." + std::to_string(max)};
    }
    prefix = 0;
    for (const char c : p) prefix = prefix * 10 + static_cast<unsigned>(c - '0');
    if (prefix > max) {
      return Error{"", "prefix length " + std::to_string(prefix) + " out of range in " + shown() +
                           "; expected 0.." + std::to_string(max) + (v4 ? " for IPv4" : " for IPv6")};
    }
  }
  if (v4) prefix += 96;
  mask(base, prefix);  // host bits are ignored, as iptables does
  return fold(base, prefix);
}

std::string to_string(const Cidr& c) {
  char buf[INET6_ADDRSTRLEN];
  if (is_mapped(c.base) && c.prefix_len >= 96) {
    inet_ntop(AF_INET, &c.base[12], buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(c.prefix_len - 96);
  }
  inet_ntop(AF_INET6, c.base.data(), buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(c.prefix_len);
}

}  // namespace tenant
