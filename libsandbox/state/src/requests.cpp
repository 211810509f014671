// The requests-in-progress table (requests.hpp says what and why).
#include "tenant/requests.hpp"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace tenant::state {

namespace {
constexpr std::uint64_t kMagic = 0x7473726571756573ull;  // "tsreques"
constexpr std::uint32_t kVersion = 3;  // 2: the directory of listed rows; 3: dense rows behind a hash index
constexpr std::uint32_t kProbeLimit = 4096;
constexpr std::uint32_t kSlotProbeLimit = 4096;
// At most one reclaim scan (1.5 MB of slots, /proc reads for the tenant's
// own) per tenant per 100 ms, however hard a flood hammers a tenant at its
// cap; a worker killed mid-request is forgiven within that.
constexpr std::int64_t kReclaimEveryMs = 100;
constexpr std::int64_t kLogEveryMs = 1000;

// Tenant row key: 0 free; else the id's hash with the top bit set, bit 0
// clear while the claimer writes the id, set when the id is readable.
constexpr std::uint64_t kReady = 1;
// In-flight slot owner word: pid << 32 | state.
constexpr std::uint64_t kClaimed = 1;    // taken, not (yet) counted
constexpr std::uint64_t kCounted = 2;    // counted in its tenant's in_progress
constexpr std::uint64_t kReleasing = 3;  // its count is being returned
}  // namespace

struct TenantRow {
  std::atomic<std::uint64_t> key;
  std::atomic<std::uint32_t> in_progress;
  std::uint32_t pad;
  std::atomic<std::uint64_t> admitted;
  std::atomic<std::uint64_t> refused;
  std::atomic<std::int64_t> last_reclaim_ms;
  std::atomic<std::int64_t> last_log_ms;
  char id[72];  // up to 64 bytes + NUL
};

struct FlightSlot {
  std::atomic<std::uint64_t> owner;       // 0 free, else pid << 32 | state
  std::atomic<std::uint32_t> tenant;      // tenant row + 1
  std::atomic<std::int32_t> tid;          // diagnostics
  std::atomic<std::uint64_t> start_time;  // of pid, clock ticks after boot; 0 unknown
};

struct RequestTable::Layout {
  std::uint64_t magic;
  std::uint32_t version, tenant_rows, flight_slots, row_size;
  std::int64_t created_unix;
  std::atomic<std::uint32_t> listed;  // rows handed out (dense, in claim order)
  std::uint32_t pad;
  std::uint64_t reserved[11];
  // Rows are handed out densely, in claim order (0, 1, 2, ...), and found
  // through `index`, an open-addressing table of row + 1 (0 empty, kPending
  // while a claimer writes the row). Rows placed by hash cost one 4 KB page
  // of shared memory per tenant ever seen (25 MB at 10,000 sites, measured
  // by the density benchmark); dense rows cost 128 bytes each, the index
  // 1 MB at most. A reader (status) walks rows [0, listed).
  TenantRow rows[kTenantRows];
  FlightSlot slots[kFlightSlots];
  std::atomic<std::uint32_t> index[kTenantRows];
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::int64_t>::is_always_lock_free &&
                  std::atomic<std::uint32_t>::is_always_lock_free,
              "the table is shared between processes: its atomics must be address-free (lock-free)");

namespace {

using Layout = RequestTable::Layout;

std::int64_t now_ms() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);  // system-wide: comparable between processes
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::uint64_t hash_id(std::string_view id) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  for (const char c : id) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  h ^= h >> 29;
  return (h | (1ull << 63)) & ~kReady;
}

std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

bool id_equals(const TenantRow& r, std::string_view id) noexcept {
  return id.size() < sizeof r.id && std::memcmp(r.id, id.data(), id.size()) == 0 && r.id[id.size()] == '\0';
}

// The row of `id`, claimed when new and `claim`. -1: not found / table full.
int find_row(Layout& m, std::string_view id, bool claim) noexcept {
  constexpr std::uint32_t kPending = 0xffffffffu;
  if (id.empty() || id.size() >= sizeof(TenantRow::id)) return -1;
  const std::uint64_t h = hash_id(id);
  for (std::uint32_t i = 0; i < kProbeLimit; ++i) {
    const std::uint32_t k = static_cast<std::uint32_t>(mix(h) + i) & (RequestTable::kTenantRows - 1);
    std::atomic<std::uint32_t>& slot = m.index[k];
    for (int spin = 0;; ++spin) {
      std::uint32_t e = slot.load(std::memory_order_acquire);
      if (e == 0) {
        if (!claim) return -1;
        if (!slot.compare_exchange_strong(e, kPending, std::memory_order_acq_rel)) continue;  // look at the winner
        const std::uint32_t n = m.listed.fetch_add(1, std::memory_order_acq_rel);
        if (n >= RequestTable::kTenantRows) return -1;  // rows used up (the entry stays pending: probed past)
        TenantRow& r = m.rows[n];
        std::memcpy(r.id, id.data(), id.size());
        r.id[id.size()] = '\0';
        r.key.store(h | kReady, std::memory_order_release);
        slot.store(n + 1, std::memory_order_release);
        return static_cast<int>(n);
      }
      if (e == kPending) {
        // Being claimed (a few instructions). A claimer killed in between
        // leaves the entry pending forever: probe on after a while.
        if (spin > 10000) break;
        if (spin > 100) ::sched_yield();
        continue;
      }
      if (e > RequestTable::kTenantRows) break;  // not ours to trust: probe on
      const TenantRow& r = m.rows[e - 1];
      if ((r.key.load(std::memory_order_acquire) & ~kReady) == h && id_equals(r, id)) return static_cast<int>(e - 1);
      break;  // another tenant's entry: probe on
    }
  }
  return -1;
}

std::uint32_t owner_pid(std::uint64_t owner) noexcept { return static_cast<std::uint32_t>(owner >> 32); }
std::uint64_t owner_state(std::uint64_t owner) noexcept { return owner & 0xffffffffull; }

// Start time (field 22 of /proc/PID/stat, clock ticks after boot) of `pid`;
// 0 when the process does not exist or is a zombie (killed, not yet reaped:
// it runs nothing, and its parent may be slow to reap it or stopped); ~0
// when it could not be read otherwise.
std::uint64_t read_start_time(const SysCalls& sys, pid_t pid) noexcept {
  char path[48];
  if (pid > 0)
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  else
    std::snprintf(path, sizeof path, "/proc/self/stat");
  const int saved = errno;
  const int fd = sys.open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    errno = saved;
    return e == ENOENT || e == ESRCH ? 0 : ~0ull;
  }
  char buf[1024];
  const ssize_t n = sys.read(fd, buf, sizeof buf - 1);
  sys.close(fd);
  errno = saved;
  if (n <= 0) return 0;  // the process is exiting: its /proc entry is empty
  buf[n] = '\0';
  // comm (field 2) may hold spaces and ')': fields after the LAST ')'.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return ~0ull;
  ++p;
  while (*p == ' ') ++p;
  if (*p == 'Z' || *p == 'X') return 0;  // field 3, the state: zombie or dead
  for (int field = 2; field < 22; ++field) {  // skip to field 22
    while (*p == ' ') ++p;
    if (field == 21) break;
    while (*p != ' ' && *p != '\0') ++p;
    if (*p == '\0') return ~0ull;
  }
  while (*p == ' ') ++p;
  std::uint64_t v = 0;
  for (; *p >= '0' && *p <= '9'; ++p) v = v * 10 + static_cast<std::uint64_t>(*p - '0');
  return v;
}

// False only when the slot's process is known to be gone: no such pid, or
// the pid now belongs to a process started at another time (pid reuse).
bool slot_process_alive(const SysCalls& sys, std::uint32_t pid, std::uint64_t start_time) noexcept {
  if (pid == 0) return true;  // being filled in
  const std::uint64_t now = read_start_time(sys, static_cast<pid_t>(pid));
  if (now == 0) return false;
  if (now == ~0ull) return true;  // cannot tell: never take a live request's count
  return start_time == 0 || now == start_time;
}

void sub_in_progress(Layout& m, std::uint32_t row_plus_one) noexcept {
  if (row_plus_one == 0 || row_plus_one > RequestTable::kTenantRows) return;
  std::atomic<std::uint32_t>& n = m.rows[row_plus_one - 1].in_progress;
  std::uint32_t cur = n.load(std::memory_order_relaxed);
  while (cur > 0 && !n.compare_exchange_weak(cur, cur - 1, std::memory_order_acq_rel)) {
  }
}

// Frees slot `s` whose owner word was `owner` (a process that is gone);
// returns its count to its tenant when it was counted. True when this call
// freed it.
bool free_dead_slot(Layout& m, FlightSlot& s, std::uint64_t owner) noexcept {
  const std::uint64_t st = owner_state(owner);
  if (st == kCounted) {
    std::uint64_t expected = owner;
    const std::uint64_t releasing = (owner & ~0xffffffffull) | kReleasing;
    if (!s.owner.compare_exchange_strong(expected, releasing, std::memory_order_acq_rel)) return false;
    sub_in_progress(m, s.tenant.load(std::memory_order_acquire));
    s.owner.store(0, std::memory_order_release);
    return true;
  }
  // Claimed but never counted, or killed while releasing (the decrement is
  // taken to have happened): nothing to return.
  std::uint64_t expected = owner;
  return s.owner.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
}

std::uint32_t reclaim_row(Layout& m, const SysCalls& sys, std::uint32_t row) noexcept {
  std::uint32_t freed = 0;
  for (std::uint32_t k = 0; k < RequestTable::kFlightSlots; ++k) {
    FlightSlot& s = m.slots[k];
    const std::uint64_t owner = s.owner.load(std::memory_order_acquire);
    if (owner == 0) continue;
    const std::uint64_t st = owner_state(owner);
    // A counted slot of this tenant, or any stale claimed/releasing slot
    // (they hold no count but use up slots).
    if (st == kCounted && s.tenant.load(std::memory_order_acquire) != row + 1) continue;
    if (slot_process_alive(sys, owner_pid(owner), s.start_time.load(std::memory_order_acquire))) continue;
    if (free_dead_slot(m, s, owner)) ++freed;
  }
  return freed;
}

// The calling thread's pid and tid without a system call per request:
// getpid/gettid cost ~3.5 us each on a virtualised host (measured here),
// three of them were 95% of an admit+release. Cached per thread and
// refreshed after fork (an atfork handler bumps the generation; the only
// thread of the child is the one that forked).
std::atomic<unsigned> g_fork_generation{1};
thread_local unsigned t_generation = 0;
thread_local pid_t t_pid = 0;
thread_local pid_t t_tid = 0;
std::once_flag g_atfork_once;

void after_fork_in_child() noexcept { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

void current_ids(pid_t& pid, pid_t& tid) noexcept {
  const unsigned gen = g_fork_generation.load(std::memory_order_relaxed);
  if (t_generation != gen) {
    t_pid = ::getpid();
    // gettid(), not syscall(SYS_gettid): libsandbox interposes syscall()
    // and would judge it against the tenant set in this thread.
    t_tid = ::gettid();
    t_generation = gen;
  }
  pid = t_pid;
  tid = t_tid;
}

bool take(std::atomic<std::uint32_t>& n, std::uint32_t cap) noexcept {
  std::uint32_t cur = n.load(std::memory_order_relaxed);
  while (cur < cap)
    if (n.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel)) return true;
  return false;
}

}  // namespace

bool RequestTable::open(const char* dir, const SysCalls& sys, char* err, std::size_t errlen) noexcept {
  close();
  try {
    std::call_once(g_atfork_once, [] { (void)::pthread_atfork(nullptr, nullptr, after_fork_in_child); });
  } catch (...) {
    return false;  // std::system_error: cannot happen with a working libpthread
  }
  sys_ = sys;
  auto* m = static_cast<Layout*>(map_state_file(dir, "requests", sizeof(Layout), OpenMode::ReadWrite, sys, err, errlen));
  if (m == nullptr) return false;
  // A fresh file is all zeroes, a valid empty table: stamp it (every
  // opener writes the same values, so racing openers agree).
  if (m->magic == 0) {
    m->version = kVersion;
    m->tenant_rows = kTenantRows;
    m->flight_slots = kFlightSlots;
    m->row_size = sizeof(TenantRow);
    m->created_unix = static_cast<std::int64_t>(::time(nullptr));
    std::atomic_thread_fence(std::memory_order_release);
    m->magic = kMagic;
  }
  if (m->magic != kMagic || m->version != kVersion || m->tenant_rows != kTenantRows ||
      m->flight_slots != kFlightSlots || m->row_size != sizeof(TenantRow)) {
    unmap_state_file(m, sizeof(Layout));
    if (err != nullptr && errlen > 0)
      std::snprintf(err, errlen, "state file %s/requests: unknown layout (another version?), refusing it", dir);
    return false;
  }
  map_ = m;
  return true;
}

void RequestTable::close() noexcept {
  unmap_state_file(map_, sizeof(Layout));
  map_ = nullptr;
}

bool RequestTable::note_process() noexcept {
  if (sys_.open == nullptr) return false;
  pid_ = ::getpid();
  const std::uint64_t st = read_start_time(sys_, 0);
  start_time_ = st == ~0ull ? 0 : st;
  return start_time_ != 0;
}

Admission RequestTable::admit(std::string_view tenant, std::uint32_t cap, bool enforce) noexcept {
  Admission a;
  if (map_ == nullptr) return a;
  Layout& m = *map_;
  const int found = find_row(m, tenant, true);
  if (found < 0) return a;  // TenantTableFull
  const auto row = static_cast<std::uint32_t>(found);
  TenantRow& r = m.rows[row];

  // The in-flight slot first, with its tenant: a process killed from here on
  // is found by a reclaim through this slot.
  pid_t pid = 0, tid = 0;
  current_ids(pid, tid);
  const std::uint64_t start = pid == pid_ ? start_time_ : 0;  // a fork that did not note_process
  const std::uint64_t mine = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(pid)) << 32);
  int slot = -1;
  const std::uint64_t h = mix(std::uint64_t{static_cast<std::uint32_t>(tid)} * std::uint64_t{0x9e3779b97f4a7c15u});
  for (std::uint32_t i = 0; i < kSlotProbeLimit && slot < 0; ++i) {
    const std::uint32_t k = static_cast<std::uint32_t>(h + i) & (kFlightSlots - 1);
    std::uint64_t expected = 0;
    if (m.slots[k].owner.load(std::memory_order_relaxed) == 0 &&
        m.slots[k].owner.compare_exchange_strong(expected, mine | kClaimed, std::memory_order_acq_rel))
      slot = static_cast<int>(k);
  }
  if (slot < 0) {
    a.verdict = Verdict::SlotTableFull;
    a.refused = r.refused.load(std::memory_order_relaxed);
    return a;
  }
  FlightSlot& s = m.slots[static_cast<std::uint32_t>(slot)];
  s.start_time.store(start, std::memory_order_relaxed);
  s.tid.store(static_cast<std::int32_t>(tid), std::memory_order_relaxed);
  s.tenant.store(row + 1, std::memory_order_release);

  const std::uint32_t limit = enforce ? cap : kNoCap;
  bool got = take(r.in_progress, limit);
  if (!got && enforce) {
    // At the cap: requests of a worker that was killed may still be counted.
    const std::int64_t now = now_ms();
    std::int64_t last = r.last_reclaim_ms.load(std::memory_order_relaxed);
    if (now - last >= kReclaimEveryMs &&
        r.last_reclaim_ms.compare_exchange_strong(last, now, std::memory_order_acq_rel) &&
        reclaim_row(m, sys_, row) > 0)
      got = take(r.in_progress, limit);
  }
  if (!got) {
    s.owner.store(0, std::memory_order_release);
    a.verdict = Verdict::OverLimit;
    a.refused = r.refused.fetch_add(1, std::memory_order_relaxed) + 1;
    a.in_progress = r.in_progress.load(std::memory_order_relaxed);
  } else {
    s.owner.store(mine | kCounted, std::memory_order_release);
    r.admitted.fetch_add(1, std::memory_order_relaxed);
    a.verdict = Verdict::Admitted;
    a.ticket.slot_plus_one = static_cast<std::uint32_t>(slot) + 1;
    a.in_progress = r.in_progress.load(std::memory_order_relaxed);
    a.over_cap = cap != kNoCap && a.in_progress > cap;
    a.refused = r.refused.load(std::memory_order_relaxed);
  }
  if (a.verdict == Verdict::OverLimit || a.over_cap) {
    const std::int64_t now = now_ms();
    std::int64_t last = r.last_log_ms.load(std::memory_order_relaxed);
    a.log_now = (last == 0 || now - last >= kLogEveryMs) &&
                r.last_log_ms.compare_exchange_strong(last, now == 0 ? 1 : now, std::memory_order_acq_rel);
  }
  return a;
}

void RequestTable::release(Ticket& t) noexcept {
  const std::uint32_t k1 = t.slot_plus_one;
  t.slot_plus_one = 0;
  if (map_ == nullptr || k1 == 0 || k1 > kFlightSlots) return;
  Layout& m = *map_;
  FlightSlot& s = m.slots[k1 - 1];
  std::uint64_t owner = s.owner.load(std::memory_order_acquire);
  if (owner_state(owner) != kCounted) return;
  // Only the request's own process may release it; a reclaim that took the
  // slot (it judged this process dead) already returned the count.
  pid_t pid = 0, tid = 0;
  current_ids(pid, tid);
  if (owner_pid(owner) != static_cast<std::uint32_t>(pid)) return;
  const std::uint64_t releasing = (owner & ~0xffffffffull) | kReleasing;
  if (!s.owner.compare_exchange_strong(owner, releasing, std::memory_order_acq_rel)) return;
  sub_in_progress(m, s.tenant.load(std::memory_order_acquire));
  s.owner.store(0, std::memory_order_release);
}

std::uint32_t RequestTable::release_process(pid_t pid) noexcept {
  if (map_ == nullptr || pid <= 0) return 0;
  Layout& m = *map_;
  std::uint32_t freed = 0;
  for (std::uint32_t k = 0; k < kFlightSlots; ++k) {
    FlightSlot& s = m.slots[k];
    const std::uint64_t owner = s.owner.load(std::memory_order_acquire);
    if (owner != 0 && owner_pid(owner) == static_cast<std::uint32_t>(pid) && free_dead_slot(m, s, owner)) ++freed;
  }
  return freed;
}

std::uint32_t RequestTable::reclaim_all_dead() noexcept {
  if (map_ == nullptr) return 0;
  Layout& m = *map_;
  std::uint32_t freed = 0;
  for (std::uint32_t k = 0; k < kFlightSlots; ++k) {
    FlightSlot& s = m.slots[k];
    const std::uint64_t owner = s.owner.load(std::memory_order_acquire);
    if (owner == 0) continue;
    if (slot_process_alive(sys_, owner_pid(owner), s.start_time.load(std::memory_order_acquire))) continue;
    if (free_dead_slot(m, s, owner)) ++freed;
  }
  return freed;
}

std::uint32_t RequestTable::in_progress(std::string_view tenant) const noexcept {
  if (map_ == nullptr) return 0;
  const int k = find_row(*map_, tenant, false);
  return k < 0 ? 0 : map_->rows[static_cast<std::uint32_t>(k)].in_progress.load(std::memory_order_acquire);
}

bool read_requests(const std::string& dir, std::vector<TenantRequests>& out, std::string& err) {
  char msg[512];
  const SysCalls sys = libc_calls();
  auto* m = static_cast<const RequestTable::Layout*>(
      map_state_file(dir.c_str(), "requests", sizeof(RequestTable::Layout), OpenMode::ReadOnly, sys, msg, sizeof msg));
  if (m == nullptr) {
    err = msg;
    return false;
  }
  if (m->magic != kMagic || m->version != kVersion || m->tenant_rows != RequestTable::kTenantRows ||
      m->flight_slots != RequestTable::kFlightSlots || m->row_size != sizeof(TenantRow)) {
    unmap_state_file(const_cast<RequestTable::Layout*>(m), sizeof(RequestTable::Layout));
    err = "state file " + dir + "/requests: unknown layout (another version?)";
    return false;
  }
  try {
    std::uint32_t listed = m->listed.load(std::memory_order_acquire);
    if (listed > RequestTable::kTenantRows) listed = RequestTable::kTenantRows;
    out.reserve(out.size() + listed);
    for (std::uint32_t i = 0; i < listed; ++i) {
      const TenantRow& r = m->rows[i];
      if ((r.key.load(std::memory_order_acquire) & kReady) == 0) continue;  // being written
      TenantRequests t;
      t.tenant.assign(r.id, ::strnlen(r.id, sizeof r.id));
      t.in_progress = r.in_progress.load(std::memory_order_relaxed);
      t.admitted = r.admitted.load(std::memory_order_relaxed);
      t.refused = r.refused.load(std::memory_order_relaxed);
      out.push_back(std::move(t));
    }
  } catch (...) {
    unmap_state_file(const_cast<RequestTable::Layout*>(m), sizeof(RequestTable::Layout));
    throw;
  }
  unmap_state_file(const_cast<RequestTable::Layout*>(m), sizeof(RequestTable::Layout));
  return true;
}

}  // namespace tenant::state
