// The server's own doors (THREATS 24): the addresses where this server
// accepts connections -- Apache's listeners, and what the operator adds
// (a front proxy's listener on this host, its unix socket). Tenant code
// that connects to one of them talks to the server it runs in: it can send
// a trusted proxy's tenant header, or fetch status pages that show every
// tenant's requests. So a connect or send to a door is refused whatever
// the tenant's ip_allow or unix_sockets say, unless the operator opened
// that door by name (a local API on a port of its own).
//
// Set once per process before tenant code runs: in the Apache parent by the
// module (sandbox_server_start), in a process a tenant started from its
// environment (wire::kEnvDoors). Readers on the connect path take one
// atomic load; a replaced set is leaked, not freed under a reader.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tenant/address.hpp"
#include "tenant/result.hpp"

namespace tenant {

struct ServerDoor {
  enum class Kind : std::uint8_t { Ip, AnyLocal, Unix };
  Kind kind = Kind::Ip;
  CanonicalAddress addr;  // Ip: the address (canonical) and port; AnyLocal: the port
  std::string path;       // Unix: the socket's path
  std::string name;       // an open door's name ("" for closed doors)
};

// "127.0.0.1:8080", "[::1]:8080", "*:8080" (every address of this host, as a
// listener on 0.0.0.0 or :: is), "/run/apache2/proxy.sock".
Result<ServerDoor> parse_door(std::string_view text);
// The same text back ("*:8080", "[::1]:80", "/path").
std::string to_string(const ServerDoor& d);

// `local` are the addresses of this host's interfaces (AnyLocal doors match
// them besides loopback).
void set_server_doors(std::vector<ServerDoor> closed, std::vector<ServerDoor> open,
                      std::vector<CanonicalAddress> local);

// The closed door a connect to `a` (or to the unix socket `path`) would
// reach and no open door covers, or nullptr. Allocates nothing.
const ServerDoor* closed_door(const CanonicalAddress& a) noexcept;
const ServerDoor* closed_door(std::string_view unix_path) noexcept;

// Every door as one line for a child's environment, and back:
// "c *:8080\nc /run/x.sock\no api 127.0.0.1:8081\nl 192.0.2.5".
std::string doors_to_text();
void doors_from_text(std::string_view text) noexcept;

}  // namespace tenant
