// Denial counters for `tenant-sandbox status`. Per process for now: a later
// step moves them into the shared state folder so the CLI can sum them over
// all workers. Relaxed atomics: counters, not synchronisation.
#include <array>
#include <atomic>
#include <cstdint>

#include "internal.hpp"
#include "proc_status.hpp"

namespace sb {
namespace {
constexpr std::size_t kNeeds = static_cast<std::size_t>(tenant::Need::Bind) + 1;
std::array<std::atomic<std::uint64_t>, kNeeds> g_denied{};
std::array<std::atomic<std::uint64_t>, kNeeds> g_audited{};
}  // namespace

void note_denial(const ActiveTenant&, tenant::Need need, bool audit) noexcept {
  const auto i = static_cast<std::size_t>(need);
  if (i >= kNeeds) return;
  (audit ? g_audited : g_denied)[i].fetch_add(1, std::memory_order_relaxed);
}

namespace proc {
std::uint64_t denials(tenant::Need need, bool audit) noexcept {
  const auto i = static_cast<std::size_t>(need);
  if (i >= kNeeds) return 0;
  return (audit ? g_audited : g_denied)[i].load(std::memory_order_relaxed);
}
}  // namespace proc
}  // namespace sb
