// The descriptor table: one atomic word per fd (fdtable.hpp), plus the inode
// of each counted connection. Fixed arrays in .bss: the pages of a process
// that never opens fd 40000 are never touched, so the 1 MiB costs nothing,
// and every access is one relaxed load or exchange -- close() of an
// untracked descriptor pays a single load.
#include "fdtable.hpp"

#include <array>
#include <atomic>

namespace sb::fds {
namespace {

std::array<std::atomic<std::uint64_t>, kMaxFd> g_entry{};
std::array<std::atomic<std::uint64_t>, kMaxFd> g_ino{};
std::atomic<int> g_high_water{0};

bool tracked(int fd) noexcept { return fd >= 0 && fd < kMaxFd; }

void raise_high_water(int fd) noexcept {
  int hw = g_high_water.load(std::memory_order_relaxed);
  while (fd + 1 > hw && !g_high_water.compare_exchange_weak(hw, fd + 1, std::memory_order_relaxed)) {
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
  return g_entry[idx(fd)].exchange(0, std::memory_order_acq_rel);
}

void set_entry(int fd, std::uint64_t value) noexcept {
  if (!tracked(fd)) return;
  g_entry[idx(fd)].store(value, std::memory_order_release);
  if (value != 0) raise_high_water(fd);
}

void note_opened(int fd, const ActiveTenant* t) noexcept { set_entry(fd, make_entry(t, 0)); }

void note_socket(int fd, const ActiveTenant* t) noexcept { set_entry(fd, make_entry(t, kSocket)); }

void mark_internal(int fd) noexcept {
  if (!tracked(fd)) return;
  // Overwrite: whatever a previous descriptor of that number left is stale.
  g_entry[idx(fd)].store(kInternal | kKnown, std::memory_order_release);
  raise_high_water(fd);
}

void unmark_internal(int fd) noexcept {
  if (tracked(fd)) g_entry[idx(fd)].store(0, std::memory_order_release);
}

bool is_internal(int fd) noexcept { return (entry(fd) & kInternal) != 0; }

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

bool owned_by(int fd, const ActiveTenant& t) noexcept {
  if (fd >= 0 && fd <= 2) return true;
  const std::uint64_t e = entry(fd);
  return (e & kKnown) != 0 && (e & kInternal) == 0 && owner_serial(e) == t.serial;
}

}  // namespace sb::fds
