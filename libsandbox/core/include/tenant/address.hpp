// Network addresses in canonical form (DESIGN.md ip_allow/ip_deny, THREATS 12).
// Every address is held as 16 bytes of IPv6; an IPv4 address is held as
// ::ffff:a.b.c.d. The IPv6 spellings of an IPv4 address -- IPv4-mapped
// (::ffff:0:0/96), IPv4-compatible (::/96 except :: and ::1), NAT64
// (64:ff9b::/96 and the local-use 64:ff9b:1::/48 with the address in the last
// 32 bits) and 6to4 (2002::/16, address in bits 16..47) -- all become that
// IPv4 address, so a rule written for 127.0.0.0/8 also stops
// ::ffff:127.0.0.1. 0.0.0.0/8 becomes 127.0.0.1 and :: becomes ::1, since
// connecting to them reaches this host.
#pragma once
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tenant/result.hpp"

namespace tenant {

struct CanonicalAddress {
  std::array<std::uint8_t, 16> bytes{};  // network order, IPv6 form
  std::uint16_t port = 0;                // host order
  bool is_v4() const noexcept;           // ::ffff:0:0/96
  bool operator==(const CanonicalAddress&) const = default;
};

// From a sockaddr the caller passed to connect/sendto/bind. nullopt when the
// family is not AF_INET/AF_INET6 or `len` is too short for that family (a
// bad sockaddr length must never be read past).
std::optional<CanonicalAddress> canonicalize(const sockaddr* sa, socklen_t len) noexcept;
CanonicalAddress canonicalize_v4(std::uint32_t addr_network_order, std::uint16_t port) noexcept;
CanonicalAddress canonicalize_v6(const std::uint8_t bytes[16], std::uint16_t port) noexcept;

// "1.2.3.4", "::1", "[::1]:80" forms are not accepted here; plain address.
std::optional<CanonicalAddress> parse_address(std::string_view text) noexcept;
std::string to_string(const CanonicalAddress& a);  // "127.0.0.1" or "2001:db8::1"

// A CIDR range in the same IPv6 space: an IPv4 range a.b.c.d/n is held as
// ::ffff:a.b.c.d/(96+n). IPv6 ranges lying wholly inside one of the
// embeddings above are canonicalised to the IPv4 range they name (for
// example 64:ff9b::a00:0/104 is 10.0.0.0/8).
struct Cidr {
  std::array<std::uint8_t, 16> base{};
  std::uint8_t prefix_len = 0;  // 0..128 in IPv6 bits
  bool contains(const CanonicalAddress& a) const noexcept;
  bool operator==(const Cidr&) const = default;
};

// Accepts "a.b.c.d/n", "a.b.c.d" (a /32), IPv6 "x::y/n" and "x::y" (a /128).
// Rejects host bits set beyond the prefix? No: they are masked off, as
// iptables does, but a prefix out of range, junk, or an empty string is an
// error whose text says what was expected.
Result<Cidr> parse_cidr(std::string_view text);
std::string to_string(const Cidr& c);  // canonical text ("10.0.0.0/8", "::1/128")

}  // namespace tenant
