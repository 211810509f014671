// Denial counters for the status page and `tenant-sandbox status`: every
// denial (audit ones too) is counted in STATE_DIR/denials, shared by every
// process (tenant/denials.hpp has the table; this file only maps it and
// feeds it from sb::refuse).
//
// The map is opened by the root Apache parent at load (open_early, called
// beside the connection budget's) and inherited by every worker across
// fork, after they drop privileges. A process that did not inherit it (a
// tenant's exec'd child, `tenant-sandbox run`) makes one attempt at its
// first denial; if that fails its denials are not counted (they are still
// logged), and the call is never slowed further.
#include <time.h>

#include <atomic>
#include <cstdint>

#include "internal.hpp"
#include "proc_common.hpp"
#include "tenant/denials.hpp"
#include "tenant/state_file.hpp"

namespace sb {
namespace {

static_assert(static_cast<std::size_t>(tenant::Need::Bind) + 1 == tenant::state::kDenialKinds,
              "the denial table has one column per tenant::Need");

std::atomic<void*> g_denials{nullptr};
std::atomic<bool> g_tried{false};  // one open attempt per process

// The row of the thread's last denied tenant (initial-exec TLS: no
// allocation on first use). ActiveTenant::serial is unique per process, and
// the mapping never changes once set, so a cached row stays right.
thread_local std::uint64_t t_row_serial __attribute__((tls_model("initial-exec"))) = 0;
thread_local std::int32_t t_row __attribute__((tls_model("initial-exec"))) = -1;

void* open_map() noexcept {
  InternalScope internal;
  ErrnoKeeper keep;
  const tenant::state::SysCalls sys{SB_REAL(mkdir), SB_REAL(open), SB_REAL(openat), SB_REAL(close), ::read};
  char err[512];
  const std::size_t size = tenant::state::denial_map_size();
  void* base = tenant::state::map_state_file(proc::state_dir(), "denials", size, tenant::state::OpenMode::ReadWrite,
                                             sys, err, sizeof err);
  if (base == nullptr) return nullptr;
  if (!tenant::state::denial_map_attach(base, size)) {
    tenant::state::unmap_state_file(base, size);
    return nullptr;
  }
  void* expected = nullptr;
  if (!g_denials.compare_exchange_strong(expected, base, std::memory_order_acq_rel)) {
    tenant::state::unmap_state_file(base, size);  // another thread won
    return expected;
  }
  return base;
}

void* map() noexcept {
  void* m = g_denials.load(std::memory_order_acquire);
  if (m != nullptr || g_tried.exchange(true, std::memory_order_acq_rel)) return m;
  return open_map();
}

}  // namespace

void* status_map() noexcept { return map(); }

void status_open_early() noexcept {
  if (g_denials.load(std::memory_order_acquire) == nullptr) {
    g_tried.store(true, std::memory_order_release);
    (void)open_map();
  }
}

void note_denial(const ActiveTenant& t, tenant::Need need, bool audit, const char* op, std::string_view target,
                 int err) noexcept {
  void* base = map();
  if (base == nullptr || !t.ctx) return;
  if (t_row_serial != t.serial) {
    t_row_serial = t.serial;
    t_row = -1;
  }
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &ts);  // vDSO read, no system call
  tenant::state::record_denial(base, &t_row, t.ctx->id(), static_cast<std::size_t>(need), audit,
                               op != nullptr ? std::string_view(op) : std::string_view(), target, err, ts.tv_sec);
}

}  // namespace sb
