// StatusReport: what the status page (SetHandler tenant-status) and
// `tenant-sandbox status` show, built in one place from the STATE_DIR
// tables -- requests in progress (requests), connections held (budget),
// denials by kind and the last denial (denials), and what the Apache parent
// recorded about the policy and the kernel layers -- and the formatters for
// both: JSON (the same document for `?json` and `status --json`), the
// Prometheus text exposition format 0.0.4, HTML, and plain text.
//
// Bounded for 100,000 tenants: collecting is linear in the tenants seen;
// every formatter shows at most `top` tenants (most active first), then one
// "other" aggregate for the rest, then the totals over everybody.
//
// Tenant ids and denial targets come from hostile input (a target is a path
// or address a tenant chose): every formatter escapes them for its format.
// Reader side only (allocates): the module and the CLI, never libsandbox.so.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tenant/denials.hpp"

namespace tenant::state {

inline constexpr std::uint32_t kNoLimit = 0xffffffffu;  // tenant::kUnlimited
inline constexpr std::size_t kDefaultTop = 100;
inline constexpr std::size_t kMaxTop = 10000;

struct StatusRow {
  std::string tenant;                // "" in aggregates
  std::uint64_t tenants = 1;         // how many tenants this row sums (aggregates)
  std::uint64_t in_progress = 0;     // requests in progress now
  std::uint64_t admitted = 0;        // requests admitted since the table was created
  std::uint64_t refused = 0;         // requests refused over max_requests
  std::uint64_t connections = 0;     // counted connections held now
  std::uint32_t max_connections = kNoLimit;
  std::uint32_t max_requests = kNoLimit;
  std::uint64_t denied[kDenialKinds] = {};
  std::uint64_t audited[kDenialKinds] = {};
  LastDenial last;                   // last.when == 0: none
  std::uint64_t denied_total() const noexcept;
  std::uint64_t audited_total() const noexcept;
  void add(const StatusRow& o);      // counts summed, the later last denial kept
};

struct StatusReport {
  std::string state_dir;
  std::int64_t generated = 0;              // unix seconds
  bool have_server = false;
  ServerInfo server;
  std::vector<StatusRow> rows;             // every tenant seen; the first `sorted` most active first
  std::size_t sorted = 0;
  StatusRow unlisted;                      // denials of tenants that found no row in the denial table
  StatusRow totals;                        // everybody (tenants = rows.size())
  std::uint32_t denial_rows_used = 0, denial_rows_capacity = 0;
  std::vector<std::string> problems;       // a table that could not be read: the message names the path
};

struct Limits {
  std::uint32_t max_connections = kNoLimit;
  std::uint32_t max_requests = kNoLimit;
};

struct StatusSources {
  std::string state_dir;
  // Mappings the caller holds already (the module maps them in the parent);
  // nullptr: the file is mapped read-only from state_dir for this call.
  const void* denials = nullptr;
  const void* budget = nullptr;
  // The policy's caps of a tenant (may be empty: caps unknown).
  std::function<Limits(std::string_view tenant)> limits;
};

// Reads every table. A missing or unreadable table is a problem, not a
// failure: the rest is still reported. `top`: how many rows must come first
// in activity order (0: all).
StatusReport collect_status(const StatusSources& src, std::size_t top);

// The top rows and an aggregate of the rest (plus `unlisted`).
struct TopView {
  std::vector<const StatusRow*> top;
  StatusRow other;
};
TopView top_view(const StatusReport& r, std::size_t top);

// Options shared by the formatters.
struct FormatOptions {
  std::size_t top = kDefaultTop;  // 0: all (the CLI's default)
  std::string tenant;             // non-empty: only this tenant's row (JSON, text)
};

std::string format_json(const StatusReport& r, const FormatOptions& o);
std::string format_prometheus(const StatusReport& r, const FormatOptions& o);
std::string format_html(const StatusReport& r, const FormatOptions& o);
std::string format_text(const StatusReport& r, const FormatOptions& o);

// Helpers (exposed for the tests).
std::string json_escape(std::string_view s);          // contents of a JSON string: always valid UTF-8/ASCII
std::string html_escape(std::string_view s);          // text and attribute safe; non-ASCII bytes as \xNN
std::string prometheus_label_escape(std::string_view s);  // \\ \" \n, non-printable as \xNN
const char* errno_name(int err) noexcept;             // "EACCES"; "E?" when unknown
std::string utc_time(std::int64_t unix_seconds);      // "2026-11-23T05:10:00Z"; "-" for 0

}  // namespace tenant::state
