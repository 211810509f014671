// The descriptor table: one atomic word per fd (fdtable.hpp), plus the inode
// of each counted connection. Fixed arrays in .bss: the pages of a process
// that never opens fd 40000 are never touched, so the 1 MiB costs nothing,
// and every access is one relaxed load or exchange -- close() of an
// untracked descriptor pays a single load.
#include "fdtable.hpp"

#include <fcntl.h>
#include <sys/resource.h>

#include <array>
#include <atomic>

namespace sb::fds {
namespace {

std::array<std::atomic<std::uint64_t>, kMaxFd> g_entry{};
std::array<std::atomic<std::uint64_t>, kMaxFd> g_ino{};
std::atomic<int> g_high_water{0};
// Sockets a tenant opened that are still open, and the highest fd one ever
// had. Clearing a tenant (every request) scans only up to that mark, and
// not at all when there are none: the general high-water mark can sit near
// the fd limit (the kernel layer parks its ruleset fds there), and a 20,000
// entry scan twice per request was a measured cost of the request path.
std::atomic<int> g_tenant_sockets{0};
std::atomic<int> g_tenant_socket_high_water{0};

bool is_tenant_socket(std::uint64_t e) noexcept {
  return (e & kSocket) != 0 && (e & kInternal) == 0 && owner_serial(e) != 0;
}

bool tracked(int fd) noexcept { return fd >= 0 && fd < kMaxFd; }

void raise_mark(std::atomic<int>& mark, int fd) noexcept {
  int hw = mark.load(std::memory_order_relaxed);
  while (fd + 1 > hw && !mark.compare_exchange_weak(hw, fd + 1, std::memory_order_relaxed)) {
  }
}

void raise_high_water(int fd) noexcept { raise_mark(g_high_water, fd); }

// Every change of an entry goes through here, so the tenant-socket count
// stays exact: `old` is what the slot held, `now` what it holds.
void account(int fd, std::uint64_t old, std::uint64_t now) noexcept {
  const bool was = is_tenant_socket(old), is = is_tenant_socket(now);
  if (is && !was) {
    g_tenant_sockets.fetch_add(1, std::memory_order_relaxed);
    raise_mark(g_tenant_socket_high_water, fd);
  } else if (was && !is) {
    g_tenant_sockets.fetch_sub(1, std::memory_order_relaxed);
  }
}

std::size_t idx(int fd) noexcept { return static_cast<std::size_t>(fd); }

}  // namespace

std::uint64_t entry(int fd) noexcept {
  return tracked(fd) ? g_entry[idx(fd)].load(std::memory_order_acquire) : 0;
}

std::uint64_t take(int fd) noexcept {
  if (!tracked(fd)) return 0;
  // Cheap read first: the common close() of an untracked fd must not dirty
  // a cache line shared with its neighbours.
  if (g_entry[idx(fd)].load(std::memory_order_relaxed) == 0) return 0;
  const std::uint64_t old = g_entry[idx(fd)].exchange(0, std::memory_order_acq_rel);
  account(fd, old, 0);
  return old;
}

void set_entry(int fd, std::uint64_t value) noexcept {
  if (!tracked(fd)) return;
  account(fd, g_entry[idx(fd)].exchange(value, std::memory_order_acq_rel), value);
  if (value != 0) raise_high_water(fd);
}

void note_opened(int fd, const ActiveTenant* t) noexcept { set_entry(fd, make_entry(t, 0)); }

void note_socket(int fd, const ActiveTenant* t) noexcept { set_entry(fd, make_entry(t, kSocket)); }

void mark_internal(int fd) noexcept {
  if (!tracked(fd)) return;
  // Overwrite: whatever a previous descriptor of that number left is stale.
  account(fd, g_entry[idx(fd)].exchange(kInternal | kKnown, std::memory_order_acq_rel), kInternal | kKnown);
  raise_high_water(fd);
}

void unmark_internal(int fd) noexcept {
  if (tracked(fd)) account(fd, g_entry[idx(fd)].exchange(0, std::memory_order_acq_rel), 0);
}

bool is_internal(int fd) noexcept { return (entry(fd) & kInternal) != 0; }

int keep_internal(int fd) noexcept {
  if (fd < 0) return fd;
  ErrnoKeeper keep;
  rlimit lim{};
  int floor = 768;
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
    floor = static_cast<int>(lim.rlim_cur - lim.rlim_cur / 4);
  if (floor > kMaxFd - 1024) floor = kMaxFd - 1024;
  if (fd < floor) {
    const int high = SB_REAL(fcntl)(fd, F_DUPFD_CLOEXEC, floor);
    if (high >= 0) {
      SB_REAL(close)(fd);
      fd = high;
    }
  }
  mark_internal(fd);
  return fd;
}

void set_counted(int fd, std::uint64_t ino) noexcept {
  if (!tracked(fd)) return;
  g_ino[idx(fd)].store(ino, std::memory_order_relaxed);
  g_entry[idx(fd)].fetch_or(kCounted, std::memory_order_acq_rel);
  raise_high_water(fd);
}

std::uint64_t counted_ino(int fd) noexcept {
  if (!tracked(fd) || (g_entry[idx(fd)].load(std::memory_order_acquire) & kCounted) == 0) return 0;
  return g_ino[idx(fd)].load(std::memory_order_relaxed);
}

std::uint64_t stored_ino(int fd) noexcept {
  return tracked(fd) ? g_ino[idx(fd)].load(std::memory_order_relaxed) : 0;
}

void clear_counted(int fd) noexcept {
  if (tracked(fd)) g_entry[idx(fd)].fetch_and(~kCounted, std::memory_order_acq_rel);
}

int high_water() noexcept { return g_high_water.load(std::memory_order_acquire); }

int tenant_socket_high_water() noexcept {
  return g_tenant_sockets.load(std::memory_order_acquire) == 0
             ? 0
             : g_tenant_socket_high_water.load(std::memory_order_acquire);
}

bool owned_by(int fd, const ActiveTenant& t) noexcept {
  if (fd >= 0 && fd <= 2) return true;
  const std::uint64_t e = entry(fd);
  return (e & kKnown) != 0 && (e & kInternal) == 0 && owner_serial(e) == t.serial;
}

}  // namespace sb::fds
