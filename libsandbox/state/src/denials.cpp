// The denial table's layout and its lock-free writer (denials.hpp says what
// is counted and why it is shaped this way).
#include "tenant/denials.hpp"

#include <time.h>

#include <atomic>
#include <cstring>
#include <unordered_map>

namespace tenant::state {
namespace {

constexpr std::uint64_t kMagic = 0x747364656e69616cull;  // "tsdenial"
constexpr std::uint32_t kVersion = 1;
// Rows: one per tenant that was ever denied since the file was created (a
// reboot empties /run). 131072 covers 100,000 tenants; the file is sparse
// (tmpfs holes cost nothing) and rows are appended, so pages of unused rows
// are never touched by writers or readers.
constexpr std::uint32_t kRows = 131072;
constexpr std::uint32_t kIndexSlots = 262144;  // power of two, 2x rows: short probe runs
constexpr std::uint32_t kProbeLimit = 64;
constexpr std::int64_t kStaleWriterSeconds = 2;
constexpr std::size_t kIdMax = 72;  // ids are at most 64 bytes

constexpr const char* kKindNames[kDenialKinds] = {"stat", "read", "write", "exec", "connect", "send", "bind"};

struct alignas(64) Row {
  std::atomic<std::uint32_t> state;  // 0 unused, 1 published, 2 lost a claim race (skip)
  std::uint32_t id_len;
  char id[kIdMax];
  std::atomic<std::uint64_t> denied[kDenialKinds];
  std::atomic<std::uint64_t> audited[kDenialKinds];
  // Last denial, guarded by seq (odd while a writer is inside).
  std::atomic<std::uint64_t> seq;
  std::atomic<std::int64_t> writer_since;  // unix seconds the current writer entered
  std::int64_t when;
  std::int32_t err;
  std::uint8_t kind, audit, truncated, op_len;
  std::uint16_t target_len;
  char op[kDenialOpMax];
  char target[kDenialTargetMax];
};

constexpr std::size_t kPolicyPathMax = 1024;
constexpr std::size_t kKernelMax = 512;

// Written by the Apache parent (post_config), read by the page and the CLI.
struct alignas(64) ServerBlock {
  std::atomic<std::uint64_t> seq;  // odd while written
  std::int64_t policy_loaded, written;
  std::uint64_t policy_tenants;
  std::int32_t pid, policy_ok;
  char policy[kPolicyPathMax];
  char kernel[kKernelMax];
};

struct alignas(64) Header {
  std::uint64_t magic;
  std::uint32_t version, rows, index_slots, target_max;
  std::uint32_t row_size, reserved[9];
  std::atomic<std::uint32_t> next_row;  // rows handed out (may overshoot kRows: clamp)
  Row other;                             // tenants that found no row
  ServerBlock server;
};

struct Map {
  Header h;
  std::atomic<std::uint32_t> index[kIndexSlots];  // row + 1; 0 empty
  Row rows[kRows];
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
              "the table is shared between processes: its atomics must be lock-free (address-free)");
static_assert((kIndexSlots & (kIndexSlots - 1)) == 0, "index size must be a power of two");

std::uint64_t hash_id(std::string_view id) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  for (char c : id) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

bool same_id(const Row& r, std::string_view id) noexcept {
  return r.id_len == id.size() && std::memcmp(r.id, id.data(), id.size()) == 0;
}

// The row of `id`, appended when new; -1 when the table (or its probe run)
// is full.
std::int32_t find_or_claim(Map& m, std::string_view id) noexcept {
  const std::uint64_t h = hash_id(id);
  for (std::uint32_t i = 0; i < kProbeLimit; ++i) {
    std::atomic<std::uint32_t>& slot = m.index[(h + i) & (kIndexSlots - 1)];
    std::uint32_t v = slot.load(std::memory_order_acquire);
    if (v == 0) {
      if (m.h.next_row.load(std::memory_order_relaxed) >= kRows) return -1;
      const std::uint32_t r = m.h.next_row.fetch_add(1, std::memory_order_relaxed);
      if (r >= kRows) return -1;
      Row& row = m.rows[r];
      std::memcpy(row.id, id.data(), id.size());
      row.id_len = static_cast<std::uint32_t>(id.size());
      // The id is in place before the index names the row (release): a
      // writer that finds the row through the index (acquire) sees the id.
      if (slot.compare_exchange_strong(v, r + 1, std::memory_order_acq_rel)) {
        row.state.store(1, std::memory_order_release);
        return static_cast<std::int32_t>(r);
      }
      row.state.store(2, std::memory_order_release);  // lost the slot: v is the winner's row
    }
    // Matched on the id alone, not on state: a winner killed between its
    // CAS and publishing state 1 still owns its slot, and a second row for
    // the same id must never be claimed further down the run.
    if (v >= 1 && v <= kRows && same_id(m.rows[v - 1], id)) return static_cast<std::int32_t>(v - 1);
  }
  return -1;
}

void write_last(Row& row, std::size_t kind, bool audit, std::string_view op, std::string_view target, int err,
                std::int64_t when) noexcept {
  std::uint64_t s = row.seq.load(std::memory_order_acquire);
  if ((s & 1) != 0) {
    // Another writer is inside. Overtake only one that has been there for
    // seconds (killed in the middle); otherwise its update stands for ours.
    if (when - row.writer_since.load(std::memory_order_relaxed) < kStaleWriterSeconds) return;
    if (!row.seq.compare_exchange_strong(s, s + 2, std::memory_order_acq_rel)) return;
    s += 2;
  } else {
    if (!row.seq.compare_exchange_strong(s, s + 1, std::memory_order_acq_rel)) return;
    s += 1;
  }
  row.writer_since.store(when, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  const std::size_t op_len = op.size() < kDenialOpMax ? op.size() : kDenialOpMax;
  const std::size_t t_len = target.size() < kDenialTargetMax ? target.size() : kDenialTargetMax;
  row.when = when;
  row.err = err;
  row.kind = static_cast<std::uint8_t>(kind);
  row.audit = audit ? 1 : 0;
  row.truncated = t_len < target.size() ? 1 : 0;
  row.op_len = static_cast<std::uint8_t>(op_len);
  row.target_len = static_cast<std::uint16_t>(t_len);
  std::memcpy(row.op, op.data(), op_len);
  std::memcpy(row.target, target.data(), t_len);
  std::uint64_t expected = s;
  (void)row.seq.compare_exchange_strong(expected, s + 1, std::memory_order_release);  // fails only if overtaken
}

void read_row(const Row& row, TenantDenials& out) {
  for (std::size_t k = 0; k < kDenialKinds; ++k) {
    out.denied[k] = row.denied[k].load(std::memory_order_relaxed);
    out.audited[k] = row.audited[k].load(std::memory_order_relaxed);
  }
  for (int attempt = 0; attempt < 16; ++attempt) {
    const std::uint64_t s1 = row.seq.load(std::memory_order_acquire);
    if ((s1 & 1) != 0) continue;
    if (s1 == 0) return;  // never written
    LastDenial l;
    l.when = row.when;
    l.err = row.err;
    l.kind = row.kind;
    l.audit = row.audit != 0;
    l.truncated = row.truncated != 0;
    const std::size_t op_len = row.op_len <= kDenialOpMax ? row.op_len : kDenialOpMax;
    const std::size_t t_len = row.target_len <= kDenialTargetMax ? row.target_len : kDenialTargetMax;
    l.op.assign(row.op, op_len);
    l.target.assign(row.target, t_len);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (row.seq.load(std::memory_order_relaxed) == s1) {
      out.last = std::move(l);
      return;
    }
  }
}

bool geometry_ok(const Map& m) noexcept {
  return m.h.magic == kMagic && m.h.version == kVersion && m.h.rows == kRows && m.h.index_slots == kIndexSlots &&
         m.h.target_max == kDenialTargetMax && m.h.row_size == sizeof(Row);
}

}  // namespace

const char* denial_kind_name(std::size_t kind) noexcept { return kind < kDenialKinds ? kKindNames[kind] : "?"; }

std::size_t denial_map_size() noexcept { return sizeof(Map); }

bool denial_map_attach(void* base, std::size_t len) noexcept {
  if (base == nullptr || len < sizeof(Map)) return false;
  auto* m = static_cast<Map*>(base);
  if (m->h.magic == 0) {
    // A fresh file is all zeroes, which is a valid empty table; stamp it so
    // that a file of another layout is recognised instead of misread. Two
    // processes stamping at once write the same values.
    m->h.version = kVersion;
    m->h.rows = kRows;
    m->h.index_slots = kIndexSlots;
    m->h.target_max = static_cast<std::uint32_t>(kDenialTargetMax);
    m->h.row_size = static_cast<std::uint32_t>(sizeof(Row));
    m->h.other.state.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    m->h.magic = kMagic;
  }
  return geometry_ok(*m);
}

bool denial_map_valid(const void* base, std::size_t len) noexcept {
  return base != nullptr && len >= sizeof(Map) && geometry_ok(*static_cast<const Map*>(base));
}

void record_denial(void* base, std::int32_t* row_hint, std::string_view tenant, std::size_t kind, bool audit,
                   std::string_view op, std::string_view target, int err, std::int64_t when) noexcept {
  if (base == nullptr || kind >= kDenialKinds) return;
  auto* m = static_cast<Map*>(base);
  std::int32_t r = row_hint != nullptr ? *row_hint : -1;
  if (r < 0 || static_cast<std::uint32_t>(r) >= kRows) {
    r = (tenant.empty() || tenant.size() >= kIdMax) ? -1 : find_or_claim(*m, tenant);
    // Only a real row is cached: a tenant in "other" looks again next time
    // (bounded: one probe run), which costs nothing while the table is full.
    if (row_hint != nullptr && r >= 0) *row_hint = r;
  }
  Row& row = r >= 0 ? m->rows[r] : m->h.other;
  (audit ? row.audited : row.denied)[kind].fetch_add(1, std::memory_order_relaxed);
  write_last(row, kind, audit, op, target, err, when);
}

std::uint64_t TenantDenials::denied_total() const noexcept {
  std::uint64_t n = 0;
  for (auto v : denied) n += v;
  return n;
}

std::uint64_t TenantDenials::audited_total() const noexcept {
  std::uint64_t n = 0;
  for (auto v : audited) n += v;
  return n;
}

void snapshot_denials(const void* base, DenialSnapshot& out) {
  out = DenialSnapshot{};
  if (!denial_map_valid(base, denial_map_size())) return;
  const auto* m = static_cast<const Map*>(base);
  const std::uint32_t used = m->h.next_row.load(std::memory_order_acquire);
  out.rows_used = used < kRows ? used : kRows;
  out.rows_capacity = kRows;
  out.tenants.reserve(out.rows_used);
  // A row still being claimed (state 0, id written) is shown; one that lost
  // its claim (2) never counted anything. A transient duplicate of an id
  // (caught between another writer's claim and its loss) is merged.
  std::unordered_map<std::string, std::size_t> seen;
  seen.reserve(out.rows_used);
  for (std::uint32_t r = 0; r < out.rows_used; ++r) {
    const Row& row = m->rows[r];
    if (row.state.load(std::memory_order_acquire) == 2) continue;
    TenantDenials d;
    const std::size_t n = row.id_len < kIdMax ? row.id_len : 0;
    d.tenant.assign(row.id, n);
    if (d.tenant.empty()) continue;
    read_row(row, d);
    auto [it, fresh] = seen.emplace(d.tenant, out.tenants.size());
    if (fresh) {
      out.tenants.push_back(std::move(d));
      continue;
    }
    TenantDenials& into = out.tenants[it->second];
    for (std::size_t k = 0; k < kDenialKinds; ++k) {
      into.denied[k] += d.denied[k];
      into.audited[k] += d.audited[k];
    }
    if (d.last.when > into.last.when) into.last = std::move(d.last);
  }
  read_row(m->h.other, out.other);
}

namespace {
void copy_cstr(char* dst, std::size_t cap, const std::string& src) noexcept {
  const std::size_t n = src.size() < cap - 1 ? src.size() : cap - 1;
  std::memcpy(dst, src.data(), n);
  dst[n] = '\0';
}
}  // namespace

void write_server_info(void* base, const ServerInfo& info) noexcept {
  if (!denial_map_valid(base, denial_map_size())) return;
  ServerBlock& b = static_cast<Map*>(base)->h.server;
  // One writer (the Apache parent) at a time; a concurrent second instance
  // on the same folder at worst makes readers retry.
  const std::uint64_t s = b.seq.load(std::memory_order_relaxed) | 1;
  b.seq.store(s, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  b.policy_loaded = info.policy_loaded;
  b.written = info.written;
  b.policy_tenants = info.policy_tenants;
  b.pid = info.pid;
  b.policy_ok = info.policy_ok ? 1 : 0;
  copy_cstr(b.policy, sizeof b.policy, info.policy);
  copy_cstr(b.kernel, sizeof b.kernel, info.kernel);
  b.seq.store(s + 1, std::memory_order_release);
}

bool read_server_info(const void* base, ServerInfo& out) {
  if (!denial_map_valid(base, denial_map_size())) return false;
  const ServerBlock& b = static_cast<const Map*>(base)->h.server;
  for (int attempt = 0; attempt < 16; ++attempt) {
    const std::uint64_t s1 = b.seq.load(std::memory_order_acquire);
    if (s1 == 0) return false;  // no server wrote it yet
    if ((s1 & 1) != 0) continue;
    ServerInfo i;
    i.policy_loaded = b.policy_loaded;
    i.written = b.written;
    i.policy_tenants = b.policy_tenants;
    i.pid = b.pid;
    i.policy_ok = b.policy_ok != 0;
    i.policy.assign(b.policy, ::strnlen(b.policy, sizeof b.policy));
    i.kernel.assign(b.kernel, ::strnlen(b.kernel, sizeof b.kernel));
    std::atomic_thread_fence(std::memory_order_acquire);
    if (b.seq.load(std::memory_order_relaxed) == s1) {
      out = std::move(i);
      return true;
    }
  }
  return false;
}

}  // namespace tenant::state
