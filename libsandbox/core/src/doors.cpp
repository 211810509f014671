// The server's own doors (doors.hpp).
#include "tenant/doors.hpp"

#include <atomic>
#include <charconv>
#include <cstdlib>

namespace tenant {
namespace {

struct DoorSet {
  std::vector<ServerDoor> closed, open;
  std::vector<CanonicalAddress> local;
};
std::atomic<const DoorSet*> g_doors{nullptr};

bool loopback(const CanonicalAddress& a) noexcept {
  static const std::uint8_t v6_loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  if (a.is_v4()) return a.bytes[12] == 127;  // 127.0.0.0/8 (0.0.0.0/8 is canonical 127.0.0.1)
  for (int i = 0; i < 16; ++i)
    if (a.bytes[static_cast<std::size_t>(i)] != v6_loop[i]) return false;
  return true;
}

bool same_host_address(const CanonicalAddress& x, const CanonicalAddress& y) noexcept { return x.bytes == y.bytes; }

bool matches(const ServerDoor& d, const CanonicalAddress& a, const DoorSet& set) noexcept {
  switch (d.kind) {
    case ServerDoor::Kind::Ip:
      return d.addr.port == a.port && same_host_address(d.addr, a);
    case ServerDoor::Kind::AnyLocal:
      if (d.addr.port != a.port) return false;
      if (loopback(a)) return true;
      for (const CanonicalAddress& l : set.local)
        if (same_host_address(l, a)) return true;
      return false;
    case ServerDoor::Kind::Unix:
      return false;
  }
  return false;
}

// A door on a loopback address is reached through every loopback address
// and 0.0.0.0 (both are this host); an Ip door on 127.0.0.1 is also hit via
// 127.0.0.2 only if something listens there -- it does not, so exact match.
}  // namespace

Result<ServerDoor> parse_door(std::string_view text) {
  ServerDoor d;
  if (text.empty()) return Error{"", "empty door; expected ADDR:PORT, [V6]:PORT, *:PORT or /path/of.sock"};
  if (text.front() == '/') {
    if (text.size() > 107) return Error{"", "unix socket path longer than 107 bytes: " + std::string(text)};
    d.kind = ServerDoor::Kind::Unix;
    d.path = std::string(text);
    return d;
  }
  std::string_view host, port;
  if (text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return Error{"", "bad door \"" + std::string(text) + "\"; expected [V6]:PORT"};
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon)
      return Error{"", "bad door \"" + std::string(text) + "\"; expected ADDR:PORT, [V6]:PORT or *:PORT"};
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned p = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535)
    return Error{"", "bad port in door \"" + std::string(text) + "\"; expected 1..65535"};
  if (host == "*") {
    d.kind = ServerDoor::Kind::AnyLocal;
  } else {
    auto a = parse_address(host);
    if (!a) return Error{"", "bad address in door \"" + std::string(text) + "\""};
    d.addr = *a;
    // A listener on 0.0.0.0 or :: takes every address of the host.
    static const std::uint8_t zero[16] = {};
    bool any6 = true;
    for (int i = 0; i < 16; ++i) any6 = any6 && a->bytes[static_cast<std::size_t>(i)] == zero[i];
    if (host == "0.0.0.0" || host == "::" || any6) d.kind = ServerDoor::Kind::AnyLocal;
  }
  d.addr.port = static_cast<std::uint16_t>(p);
  return d;
}

std::string to_string(const ServerDoor& d) {
  switch (d.kind) {
    case ServerDoor::Kind::Unix: return d.path;
    case ServerDoor::Kind::AnyLocal: return "*:" + std::to_string(d.addr.port);
    case ServerDoor::Kind::Ip:
      return d.addr.is_v4() ? to_string(d.addr) + ":" + std::to_string(d.addr.port)
                            : "[" + to_string(d.addr) + "]:" + std::to_string(d.addr.port);
  }
  return "?";
}

void set_server_doors(std::vector<ServerDoor> closed, std::vector<ServerDoor> open,
                      std::vector<CanonicalAddress> local) {
  auto* set = new DoorSet{std::move(closed), std::move(open), std::move(local)};
  g_doors.store(set, std::memory_order_release);  // the previous set is leaked (doors.hpp)
}

const ServerDoor* closed_door(const CanonicalAddress& a) noexcept {
  const DoorSet* set = g_doors.load(std::memory_order_acquire);
  if (set == nullptr) return nullptr;
  for (const ServerDoor& o : set->open)
    if (matches(o, a, *set)) return nullptr;
  for (const ServerDoor& c : set->closed)
    if (matches(c, a, *set)) return &c;
  return nullptr;
}

const ServerDoor* closed_door(std::string_view unix_path) noexcept {
  const DoorSet* set = g_doors.load(std::memory_order_acquire);
  if (set == nullptr) return nullptr;
  for (const ServerDoor& o : set->open)
    if (o.kind == ServerDoor::Kind::Unix && o.path == unix_path) return nullptr;
  for (const ServerDoor& c : set->closed)
    if (c.kind == ServerDoor::Kind::Unix && c.path == unix_path) return &c;
  return nullptr;
}

std::string doors_to_text() {
  const DoorSet* set = g_doors.load(std::memory_order_acquire);
  std::string out;
  if (set == nullptr) return out;
  for (const ServerDoor& c : set->closed) out += "c " + to_string(c) + "\n";
  for (const ServerDoor& o : set->open) out += "o " + o.name + " " + to_string(o) + "\n";
  for (const CanonicalAddress& l : set->local) out += "l " + to_string(l) + "\n";
  return out;
}

void doors_from_text(std::string_view text) noexcept {
  try {
    std::vector<ServerDoor> closed, open;
    std::vector<CanonicalAddress> local;
    while (!text.empty()) {
      const std::size_t nl = text.find('\n');
      const std::string_view line = text.substr(0, nl);
      text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
      if (line.size() < 3 || line[1] != ' ') continue;
      const std::string_view rest = line.substr(2);
      if (line[0] == 'c') {
        if (auto d = parse_door(rest)) closed.push_back(std::move(d).value());
      } else if (line[0] == 'o') {
        const std::size_t sp = rest.find(' ');
        if (sp == std::string_view::npos) continue;
        if (auto d = parse_door(rest.substr(sp + 1))) {
          ServerDoor door = std::move(d).value();
          door.name = std::string(rest.substr(0, sp));
          open.push_back(std::move(door));
        }
      } else if (line[0] == 'l') {
        if (auto a = parse_address(rest)) local.push_back(*a);
      }
    }
    set_server_doors(std::move(closed), std::move(open), std::move(local));
  } catch (...) {
    // No doors known in this process: its connects are decided by the
    // tenant's rules alone. Only reached out of memory.
  }
}

}  // namespace tenant
