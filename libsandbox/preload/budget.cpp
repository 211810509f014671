// The connection budget's shared map (budget.hpp says what is counted).
#include "budget.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "net_diag.hpp"
#include "tenant/budget_map.hpp"
#include "tenant/state_file.hpp"
#include "proc_common.hpp"

namespace sb::budget {
namespace {

// The map's layout is tenant_state's (tenant/budget_map.hpp), shared with
// the readers (status page, `tenant-sandbox status`); its logic is here.
using namespace tenant::state::budget_layout;
constexpr std::uint32_t kProbeLimit = 512;
constexpr std::uint64_t kTomb = ~0ull;              // a freed object slot (probe on)
constexpr std::uint64_t kClaiming = ~0ull - 1;      // an object slot being filled in
// A reconcile dumps every socket of the host: at most one per tenant per
// 50 ms, however hard a tenant at its cap hammers connect().
constexpr std::int64_t kReconcileEveryMs = 50;
// A socket registered just before its connect() is still unhashed (TCP_CLOSE)
// and absent from inet_diag's dump: while its connect() is in flight
// (pending) a reconcile must not take it for dead. A process killed inside
// connect() leaves its object pending: after 30 s it is judged like any other.
constexpr std::int64_t kPendingMs = 30000;

static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::int64_t>::is_always_lock_free,
              "the map is shared between processes: its atomics must be address-free (lock-free)");

std::atomic<Map*> g_map{nullptr};
std::atomic<std::int64_t> g_last_open_attempt_ms{-1000000};

// The tenant slot of the thread's last tenant (initial-exec TLS: no
// allocation on first use).
thread_local std::uint64_t t_cached_serial __attribute__((tls_model("initial-exec"))) = 0;
thread_local std::uint32_t t_cached_slot __attribute__((tls_model("initial-exec"))) = 0;

std::int64_t now_ms() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);  // system-wide: comparable between processes
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void log_line(const char* what, const char* detail) noexcept {
  char line[600];
  const int n = std::snprintf(line, sizeof line, "tenant-sandbox: connection budget: %s%s%s\n", what,
                              detail != nullptr ? ": " : "", detail != nullptr ? detail : "");
  if (n > 0) (void)!::write(2, line, static_cast<std::size_t>(n < 599 ? n : 599));
}

Map* open_map() noexcept {
  InternalScope internal;
  ErrnoKeeper keep;
  const char* dir = proc::state_dir();
  // The safe open (folder/file owner and mode checks, O_NOFOLLOW) is
  // tenant_state's, shared with every other STATE_DIR table; it must call
  // the real functions, never our own wrappers.
  const tenant::state::SysCalls sys{SB_REAL(mkdir), SB_REAL(open), SB_REAL(openat), SB_REAL(close), ::read};
  char err[512];
  Map* m = static_cast<Map*>(
      tenant::state::map_state_file(dir, "budget", sizeof(Map), tenant::state::OpenMode::ReadWrite, sys, err, sizeof err));
  if (m == nullptr) {
    log_line("no map (connections of capped tenants fail with EACCES)", err);
    return nullptr;
  }
  // A fresh file is all zeroes, which is a valid empty map; stamp it so that
  // a file of another layout is recognised instead of misread.
  if (m->magic == 0) {
    m->version = kVersion;
    m->tenant_slots = kTenantSlots;
    m->object_slots = kObjectSlots;
    m->magic = kMagic;
  }
  if (m->magic != kMagic || m->version != kVersion || m->tenant_slots != kTenantSlots ||
      m->object_slots != kObjectSlots) {
    ::munmap(m, sizeof(Map));
    log_line("STATE_DIR/budget has an unknown layout, refusing it", dir);
    return nullptr;
  }
  return m;
}

// The map, opened on first need. A failure is retried at most once a second
// (the folder may appear later), and means "fail closed" meanwhile.
Map* map() noexcept {
  Map* m = g_map.load(std::memory_order_acquire);
  if (m != nullptr) return m;
  const std::int64_t now = now_ms();
  std::int64_t last = g_last_open_attempt_ms.load(std::memory_order_relaxed);
  if (now - last < 1000 || !g_last_open_attempt_ms.compare_exchange_strong(last, now)) return nullptr;
  m = open_map();
  if (m == nullptr) return nullptr;
  Map* expected = nullptr;
  if (!g_map.compare_exchange_strong(expected, m, std::memory_order_acq_rel)) {
    ::munmap(m, sizeof(Map));  // another thread won
    return expected;
  }
  net::prepare_diag();
  return m;
}

std::uint64_t hash_id(const char* id) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  for (; *id != '\0'; ++id) {
    h ^= static_cast<unsigned char>(*id);
    h *= 1099511628211ull;
  }
  return h;
}

std::uint64_t hash_ino(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

// The tenant slot of `id`, claimed when new. -1: table full (fail closed).
int find_tenant(Map& m, const char* id, bool claim) noexcept {
  const std::uint64_t h = hash_id(id);
  for (std::uint32_t i = 0; i < kProbeLimit; ++i) {
    const std::uint32_t k = static_cast<std::uint32_t>(h + i) & (kTenantSlots - 1);
    TenantSlot& s = m.tenants[k];
    for (int spin = 0;; ++spin) {
      std::uint32_t st = s.state.load(std::memory_order_acquire);
      if (st == 2) {
        if (std::strncmp(s.id, id, sizeof s.id) == 0) return static_cast<int>(k);
        break;
      }
      if (st == 0) {
        if (!claim) return -1;
        if (s.state.compare_exchange_strong(st, 1, std::memory_order_acq_rel)) {
          std::snprintf(s.id, sizeof s.id, "%s", id);
          s.state.store(2, std::memory_order_release);
          return static_cast<int>(k);
        }
        continue;  // lost the race: look at the winner's id
      }
      // Another process is writing this slot's id (a few instructions); one
      // killed in between leaves it at 1 forever, so give up and probe on.
      if (spin > 1000) break;
      ::sched_yield();
    }
  }
  return -1;
}

int tenant_slot(Map& m, const ActiveTenant& t) noexcept {
  if (t_cached_serial == t.serial) return static_cast<int>(t_cached_slot);
  const int k = find_tenant(m, t.ctx->id_cstr(), true);
  if (k >= 0) {
    t_cached_serial = t.serial;
    t_cached_slot = static_cast<std::uint32_t>(k);
  }
  return k;
}

int find_object(Map& m, std::uint64_t ino) noexcept {
  const std::uint64_t h = hash_ino(ino);
  for (std::uint32_t i = 0; i < kProbeLimit; ++i) {
    const std::uint32_t k = static_cast<std::uint32_t>(h + i) & (kObjectSlots - 1);
    const std::uint64_t v = m.objects[k].ino.load(std::memory_order_acquire);
    if (v == ino) return static_cast<int>(k);
    if (v == 0) return -1;
  }
  return -1;
}

void tenant_live_sub(Map& m, std::uint32_t tenant_plus_one) noexcept {
  if (tenant_plus_one == 0 || tenant_plus_one > kTenantSlots) return;
  std::atomic<std::int32_t>& live = m.tenants[tenant_plus_one - 1].live;
  std::int32_t cur = live.load(std::memory_order_relaxed);
  while (cur > 0 && !live.compare_exchange_weak(cur, cur - 1, std::memory_order_acq_rel)) {
  }
}

// Frees slot k if it still holds `ino`; the winner of the race uncounts it.
void free_object(Map& m, int k, std::uint64_t ino) noexcept {
  ObjectSlot& o = m.objects[static_cast<std::uint32_t>(k)];
  const std::uint32_t tenant = o.tenant.load(std::memory_order_acquire);
  std::uint64_t expected = ino;
  if (o.ino.compare_exchange_strong(expected, kTomb, std::memory_order_acq_rel)) tenant_live_sub(m, tenant);
}

bool insert_object(Map& m, std::uint64_t ino, std::uint32_t slot) noexcept {
  // A leftover entry with the same inode is a socket that died without
  // returning its references (SIGKILL) and whose inode number the kernel
  // has since reused: it stops counting now.
  if (const int old = find_object(m, ino); old >= 0) free_object(m, old, ino);
  const std::uint64_t h = hash_ino(ino);
  for (std::uint32_t i = 0; i < kProbeLimit; ++i) {
    ObjectSlot& o = m.objects[static_cast<std::uint32_t>(h + i) & (kObjectSlots - 1)];
    std::uint64_t v = o.ino.load(std::memory_order_acquire);
    if (v != 0 && v != kTomb) continue;
    if (!o.ino.compare_exchange_strong(v, kClaiming, std::memory_order_acq_rel)) continue;
    o.tenant.store(slot + 1, std::memory_order_relaxed);
    o.refs.store(1, std::memory_order_relaxed);
    o.handover.store(0, std::memory_order_relaxed);
    o.pending.store(1, std::memory_order_relaxed);
    o.born_ms.store(now_ms(), std::memory_order_relaxed);
    o.ino.store(ino, std::memory_order_release);
    return true;
  }
  return false;
}

struct Candidate {
  std::uint64_t ino;
  int slot;
  bool alive;
};
struct Candidates {
  Candidate* items;
  std::size_t n;
};

void mark_alive(std::uint64_t ino, void* ctx) noexcept {
  auto* c = static_cast<Candidates*>(ctx);
  Candidate* end = c->items + c->n;
  Candidate* it = std::lower_bound(c->items, end, ino, [](const Candidate& a, std::uint64_t v) { return a.ino < v; });
  for (; it != end && it->ino == ino; ++it) it->alive = true;
}

// Drops the tenant's objects the kernel no longer knows as open. False when
// it did not run (rate limit, or the kernel could not be asked).
bool reconcile(Map& m, std::uint32_t slot) noexcept {
  TenantSlot& s = m.tenants[slot];
  const std::int64_t now = now_ms();
  std::int64_t last = s.last_reconcile_ms.load(std::memory_order_relaxed);
  if (now - last < kReconcileEveryMs) return false;
  if (!s.last_reconcile_ms.compare_exchange_strong(last, now, std::memory_order_acq_rel)) return false;

  constexpr std::size_t kMaxCandidates = 1024;
  Candidate items[kMaxCandidates];
  Candidates c{items, 0};
  for (std::uint32_t k = 0; k < kObjectSlots && c.n < kMaxCandidates; ++k) {
    ObjectSlot& o = m.objects[k];
    const std::uint64_t ino = o.ino.load(std::memory_order_acquire);
    if (ino == 0 || ino == kTomb || ino == kClaiming) continue;
    if (o.tenant.load(std::memory_order_relaxed) != slot + 1) continue;
    if (o.pending.load(std::memory_order_acquire) != 0 && now - o.born_ms.load(std::memory_order_relaxed) < kPendingMs)
      continue;
    items[c.n++] = Candidate{ino, static_cast<int>(k), false};
  }
  if (c.n == 0) return true;
  std::sort(items, items + c.n, [](const Candidate& a, const Candidate& b) { return a.ino < b.ino; });
  if (net::for_each_live_socket(mark_alive, &c) != 0) return false;
  for (std::size_t i = 0; i < c.n; ++i)
    if (!items[i].alive) free_object(m, items[i].slot, items[i].ino);
  return true;
}

bool try_take(std::atomic<std::int32_t>& live, std::int32_t cap) noexcept {
  std::int32_t cur = live.load(std::memory_order_relaxed);
  while (cur < cap)
    if (live.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel)) return true;
  return false;
}

}  // namespace

int reserve(const ActiveTenant& t, std::uint64_t ino) noexcept {
  Map* m = map();
  if (m == nullptr) return EACCES;
  const int slot = tenant_slot(*m, t);
  if (slot < 0) {
    log_line("tenant table full", t.ctx->id_cstr());
    return EACCES;
  }
  const std::uint32_t cap32 = t.ctx->max_connections();
  const auto cap = static_cast<std::int32_t>(cap32 > 0x7fffffffu ? 0x7fffffffu : cap32);
  TenantSlot& s = m->tenants[static_cast<std::uint32_t>(slot)];
  if (!try_take(s.live, cap)) {
    if (!reconcile(*m, static_cast<std::uint32_t>(slot)) || !try_take(s.live, cap)) return EDQUOT;
  }
  if (!insert_object(*m, ino, static_cast<std::uint32_t>(slot))) {
    tenant_live_sub(*m, static_cast<std::uint32_t>(slot) + 1);
    log_line("object table full", t.ctx->id_cstr());
    return EACCES;
  }
  return 0;
}

void force_register(const ActiveTenant& t, std::uint64_t ino) noexcept {
  Map* m = map();
  if (m == nullptr) return;
  const int slot = tenant_slot(*m, t);
  if (slot < 0) return;
  m->tenants[static_cast<std::uint32_t>(slot)].live.fetch_add(1, std::memory_order_acq_rel);
  if (!insert_object(*m, ino, static_cast<std::uint32_t>(slot)))
    tenant_live_sub(*m, static_cast<std::uint32_t>(slot) + 1);
}

void drop_ref(std::uint64_t ino) noexcept {
  Map* m = g_map.load(std::memory_order_acquire);
  if (m == nullptr || ino == 0) return;
  const int k = find_object(*m, ino);
  if (k < 0) return;
  if (m->objects[static_cast<std::uint32_t>(k)].refs.fetch_sub(1, std::memory_order_acq_rel) <= 1)
    free_object(*m, k, ino);
}

bool add_ref(std::uint64_t ino) noexcept {
  Map* m = g_map.load(std::memory_order_acquire);
  if (m == nullptr || ino == 0) return false;
  const int k = find_object(*m, ino);
  if (k < 0) return false;
  std::atomic<std::int32_t>& refs = m->objects[static_cast<std::uint32_t>(k)].refs;
  std::int32_t cur = refs.load(std::memory_order_relaxed);
  while (cur > 0)
    if (refs.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel)) return true;
  return false;  // being freed: its last descriptor is gone
}

void settle(std::uint64_t ino) noexcept {
  Map* m = g_map.load(std::memory_order_acquire);
  if (m == nullptr || ino == 0) return;
  if (const int k = find_object(*m, ino); k >= 0)
    m->objects[static_cast<std::uint32_t>(k)].pending.store(0, std::memory_order_release);
}

bool is_counted(std::uint64_t ino) noexcept {
  Map* m = g_map.load(std::memory_order_acquire);
  if (m == nullptr || ino == 0) return false;
  const int k = find_object(*m, ino);
  return k >= 0 && m->objects[static_cast<std::uint32_t>(k)].refs.load(std::memory_order_acquire) > 0;
}

void hand_over(std::uint64_t ino) noexcept {
  Map* m = g_map.load(std::memory_order_acquire);
  if (m == nullptr || ino == 0) return;
  if (const int k = find_object(*m, ino); k >= 0)
    m->objects[static_cast<std::uint32_t>(k)].handover.fetch_add(1, std::memory_order_acq_rel);
}

void take_back(std::uint64_t ino) noexcept {
  Map* m = g_map.load(std::memory_order_acquire);
  if (m == nullptr || ino == 0) return;
  const int k = find_object(*m, ino);
  if (k < 0) return;
  std::atomic<std::int32_t>& h = m->objects[static_cast<std::uint32_t>(k)].handover;
  std::int32_t cur = h.load(std::memory_order_relaxed);
  while (cur > 0 && !h.compare_exchange_weak(cur, cur - 1, std::memory_order_acq_rel)) {
  }
}

bool adopt(std::uint64_t ino) noexcept {
  Map* m = map();
  if (m == nullptr || ino == 0) return false;
  const int k = find_object(*m, ino);
  if (k < 0) return false;
  std::atomic<std::int32_t>& h = m->objects[static_cast<std::uint32_t>(k)].handover;
  std::int32_t cur = h.load(std::memory_order_relaxed);
  while (cur > 0)
    if (h.compare_exchange_weak(cur, cur - 1, std::memory_order_acq_rel)) return true;
  return add_ref(ino);
}

void open_early() noexcept { (void)map(); }

const void* map_base() noexcept { return map(); }

void after_fork_child() noexcept {
  if (g_map.load(std::memory_order_acquire) != nullptr) net::prepare_diag();
}

int live_count(const char* id) noexcept {
  Map* m = map();
  if (m == nullptr || id == nullptr) return -1;
  const int k = find_tenant(*m, id, false);
  return k < 0 ? 0 : m->tenants[static_cast<std::uint32_t>(k)].live.load(std::memory_order_acquire);
}

}  // namespace sb::budget
