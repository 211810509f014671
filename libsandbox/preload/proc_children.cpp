// Which processes a tenant may signal: its own process and the children it
// started (THREATS 20: in prefork every Apache worker runs as the same uid,
// so without this kill(sibling, SIGKILL) or kill(-1, ...) takes down every
// other tenant's requests).
//
// Entries are (pid, tenant id hash): a child that tenant A left running in a
// worker cannot be signalled by tenant B served next by that worker. A
// recorded pid is only honoured while the process is still our child (its
// parent in /proc/PID/stat is us), so a pid reused by an unrelated process
// after the child was reaped is not signallable.
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "proc_common.hpp"

namespace sb::proc {
namespace {

constexpr std::size_t kSlots = 256;
struct ChildSlot {
  std::atomic<std::uint64_t> entry{0};  // pid << 32 | tenant hash (low 32 bits); 0 = empty
};
std::array<ChildSlot, kSlots> g_children;
std::atomic<std::uint32_t> g_next{0};

std::uint32_t tenant_hash(const ActiveTenant& t) noexcept {
  std::uint32_t h = 2166136261u;
  for (char c : t.ctx->id()) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return h;
}

std::uint64_t pack(pid_t pid, std::uint32_t hash) noexcept {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(pid)) << 32) | hash;
}

// The parent pid of `pid` from /proc/PID/stat ("pid (comm) S ppid ..."; comm
// may contain spaces and parentheses, so parse after the last ')').
pid_t parent_of(pid_t pid) noexcept {
  InternalScope internal;
  ErrnoKeeper keep;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  const int fd = SB_REAL(open)(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[512];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  SB_REAL(close)(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr || p[1] != ' ' || p[2] == '\0' || p[3] != ' ') return -1;
  return static_cast<pid_t>(std::strtol(p + 4, nullptr, 10));
}

}  // namespace

void note_child(pid_t pid, const ActiveTenant* t) noexcept {
  if (pid <= 0 || t == nullptr || !t->ctx) return;
  const std::uint64_t e = pack(pid, tenant_hash(*t));
  for (ChildSlot& s : g_children) {
    std::uint64_t expected = 0;
    if (s.entry.compare_exchange_strong(expected, e, std::memory_order_acq_rel)) return;
  }
  // Full: overwrite round-robin (the oldest children lose the right).
  g_children[g_next.fetch_add(1, std::memory_order_relaxed) % kSlots].entry.store(e, std::memory_order_release);
}

void forget_children() noexcept {
  for (ChildSlot& s : g_children) s.entry.store(0, std::memory_order_relaxed);
}

bool may_signal(const ActiveTenant& t, pid_t pid) noexcept {
  if (pid <= 0) return false;
  if (pid == ::getpid()) return true;
  if (!t.ctx) return false;
  const std::uint64_t e = pack(pid, tenant_hash(t));
  for (ChildSlot& s : g_children) {
    if (s.entry.load(std::memory_order_acquire) != e) continue;
    if (parent_of(pid) == ::getpid()) return true;
    std::uint64_t expected = e;  // reaped and gone (or reparented): forget it
    s.entry.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
    return false;
  }
  return false;
}

bool is_own_thread(pid_t tid) noexcept {
  if (tid <= 0) return false;
  InternalScope internal;
  ErrnoKeeper keep;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d", static_cast<int>(tid));
  return SB_REAL(access)(path, F_OK) == 0;
}

}  // namespace sb::proc
