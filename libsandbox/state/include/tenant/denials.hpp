// DenialTable: denial counters shared by every process (STATE_DIR/denials),
// kept by libsandbox's note_denial and read by the status page and
// `tenant-sandbox status`.
//
// Per tenant: how many calls were refused and how many only logged (audit
// mode), by kind (tenant::Need: stat read write exec connect send bind), and
// the last denial (time, operation, kind, target truncated, errno).
//
// The writer is the denial path inside libsandbox.so, so recording allocates
// nothing, takes no lock, calls no interposed libc function (the caller maps
// the file; this file only touches the mapped memory), and does bounded
// work: one hashed probe run of at most kProbeLimit index slots. Tenants
// are appended to a row array and found through an open-addressing index, so
// a reader walks only the rows in use, not the whole table. A full table (or
// a probe run with no free slot) fails soft: the counts go to the "other"
// row, the call itself is never slowed or blocked.
//
// The last denial is a per-row seqlock: a writer that finds another writer
// inside skips its update (both are "the last" to within microseconds); a
// writer killed inside is overtaken after kStaleWriterSeconds.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tenant::state {

// Kinds in tenant::Need order (a unit test checks the names agree).
inline constexpr std::size_t kDenialKinds = 7;
const char* denial_kind_name(std::size_t kind) noexcept;  // "stat", ..., "bind"; "?" out of range

inline constexpr std::size_t kDenialTargetMax = 160;  // bytes kept of a target (the log has it whole)
inline constexpr std::size_t kDenialOpMax = 24;

// Bytes to map for STATE_DIR/denials (fixed layout, file size exactly this).
std::size_t denial_map_size() noexcept;

// On a fresh (all-zero) read-write mapping: stamps the header. On an
// existing one: checks magic, version and geometry. False: another layout
// (do not use the mapping).
bool denial_map_attach(void* base, std::size_t len) noexcept;
// Same check for a read-only mapping (never writes).
bool denial_map_valid(const void* base, std::size_t len) noexcept;

// Hot path (async-signal-safe, no allocation, no lock, no libc but
// clock_gettime). `row_hint`: the caller's cache of the tenant's row (start
// at -1); when it holds a row index the id lookup is skipped, so it must
// only be reused for the same tenant and the same mapping. kind >=
// kDenialKinds is ignored. `when` is unix seconds (CLOCK_REALTIME).
void record_denial(void* base, std::int32_t* row_hint, std::string_view tenant, std::size_t kind, bool audit,
                   std::string_view op, std::string_view target, int err, std::int64_t when) noexcept;

struct LastDenial {
  std::int64_t when = 0;  // unix seconds; 0: none recorded
  std::size_t kind = 0;
  bool audit = false;
  int err = 0;
  std::string op;
  std::string target;     // as recorded (raw bytes, at most kDenialTargetMax): escape before display
  bool truncated = false;
};

struct TenantDenials {
  std::string tenant;  // "" for the "other" row (tenants that did not fit)
  std::uint64_t denied[kDenialKinds] = {};
  std::uint64_t audited[kDenialKinds] = {};
  LastDenial last;
  std::uint64_t denied_total() const noexcept;
  std::uint64_t audited_total() const noexcept;
};

struct DenialSnapshot {
  std::vector<TenantDenials> tenants;  // row order (first denial first)
  TenantDenials other;                 // counts of tenants that did not get a row
  std::uint32_t rows_used = 0;
  std::uint32_t rows_capacity = 0;
};

// What the Apache parent in charge last wrote (post_config): the policy in
// force and the kernel layers. Kept in the same file so that one mapping
// serves the page and the CLI.
struct ServerInfo {
  std::string policy;               // TenantPolicy path
  bool policy_ok = false;           // false: the last load was refused (the older one stays)
  std::int64_t policy_loaded = 0;   // unix seconds the policy in force was loaded
  std::uint64_t policy_tenants = 0; // tenants listed in it
  std::string kernel;               // kernel layers in force (tt_kernel_support)
  std::int64_t written = 0;         // unix seconds of this record
  std::int32_t pid = 0;             // the Apache parent that wrote it
};
void write_server_info(void* base, const ServerInfo& info) noexcept;
bool read_server_info(const void* base, ServerInfo& out);  // false: none written yet

// Reader side (allocates: module, CLI, tests; never libsandbox.so).
// Copies a consistent-per-row view of a valid mapping.
void snapshot_denials(const void* base, DenialSnapshot& out);

}  // namespace tenant::state
