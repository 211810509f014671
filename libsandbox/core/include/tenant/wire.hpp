// What the processes of this system share by name or by text, defined once:
// the environment variables libsandbox reads and hands to the processes a
// tenant starts, the state folder's default, and the denial line -- written
// by libsandbox (refuse(), in every worker and child) and read back by
// `tenant-sandbox learn`, the tests and operators' tools (fail2ban). The
// writer and the parser live side by side here and a unit test round-trips
// them (tests/unit/test_wire.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tenant::wire {

// ---- environment ----------------------------------------------------------
// Read by libsandbox at load; every name starting kEnvPrefix is dropped from
// a tenant's children's environment and only libsandbox's own are set again.
inline constexpr char kEnvPrefix[] = "TENANT_SANDBOX_";
inline constexpr char kEnvStateDir[] = "TENANT_SANDBOX_STATE_DIR";      // the shared tables' folder
inline constexpr char kEnvTenant[] = "TENANT_SANDBOX_TENANT";           // a process started by a tenant
inline constexpr char kEnvPolicyJson[] = "TENANT_SANDBOX_POLICY_JSON";  // ... and its rules (one tenant)
inline constexpr char kEnvRequestId[] = "TENANT_SANDBOX_REQUEST_ID";    // ... and the request it came from
inline constexpr char kEnvLogBudget[] = "TENANT_SANDBOX_LOG_BUDGET";    // LINES/SECONDS per tenant
inline constexpr char kEnvConfinedThreads[] = "TENANT_SANDBOX_CONFINED_THREADS";  // pooled per worker
inline constexpr char kEnvDoors[] = "TENANT_SANDBOX_DOORS";  // the server's doors (doors.hpp), for children

// The shared tables (docs/design.md "Files and sockets the system itself
// creates"): root and Apache's group, 0750; files 0660.
inline constexpr char kDefaultStateDir[] = "/run/tenant-sandbox";
// kEnvStateDir when set to an absolute path, else kDefaultStateDir.
const char* state_dir_from_env() noexcept;

// ---- the denial line ------------------------------------------------------
//
//   tenant-sandbox: deny tenant=site-a op=open need=read target="/srv/www/site-b/x" errno=EACCES rule="no rule: outside every allowed path" request=Z2x9
//
// "audit" instead of "deny" (with " (audit mode: allowed)" at the end) when
// the call went on. target and rule are quoted: printable ASCII as is, '"'
// and '\' escaped with '\', any other byte as \xNN -- a hostile file name can
// neither forge nor split a line. In a worker the module hands the line to
// Apache's own log (AH10990, ErrorLogFormat, the vhost's ErrorLog), which
// puts its prefix in front; the parser finds the marker anywhere in the
// line. vhost=NAME (the request's server name) comes before request=.
inline constexpr char kMarker[] = "tenant-sandbox: ";

struct Denial {
  bool audit = false;
  std::string_view tenant, op, need, target, err, rule, vhost, request;
};
// The line (no newline) into out[cap], NUL-terminated; returns its length.
// A target too long for the line ends in "..." inside its quotes. Allocates
// nothing: runs in refuse(), on every denied call.
std::size_t format_denial(char* out, std::size_t cap, const Denial& d) noexcept;
// The rate limit's summary: "tenant-sandbox: deny tenant=ID suppressed=N window=Ws".
std::size_t format_suppressed(char* out, std::size_t cap, std::string_view tenant, bool audit, std::uint64_t n,
                              std::uint32_t window_seconds) noexcept;

// Parsed back, unescaped.
struct ParsedDenial {
  bool audit = false;
  std::string tenant, op, need, target, err, rule, request, vhost;
};
enum class LineKind {
  Other,      // not a libsandbox denial line (anything else in an error log)
  Entry,      // a deny or audit line
  Summary,    // a rate limit summary: nothing to learn
  Malformed,  // looks like a denial line but cannot be read (problem says why)
};
LineKind parse_denial(std::string_view line, ParsedDenial& out, std::string& problem);

}  // namespace tenant::wire
