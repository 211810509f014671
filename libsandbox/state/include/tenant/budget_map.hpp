// The layout of STATE_DIR/budget, the connection budget's shared map
// (libsandbox/preload/budget.hpp says what is counted). Here so that the
// writer (libsandbox.so) and the readers (status page, CLI) share one
// definition; the map's logic stays in budget.cpp.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tenant::state::budget_layout {

inline constexpr std::uint64_t kMagic = 0x7473627564676574ull;  // "tsbudget"
inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::uint32_t kTenantSlots = 16384;  // powers of two
inline constexpr std::uint32_t kObjectSlots = 65536;

struct TenantSlot {
  std::atomic<std::uint32_t> state;  // 0 free, 1 being claimed, 2 ready
  std::atomic<std::int32_t> live;    // counted objects of this tenant
  std::atomic<std::int64_t> last_reconcile_ms;
  char id[72];                       // up to 64 bytes + NUL
};

struct ObjectSlot {
  std::atomic<std::uint64_t> ino;      // 0 free, kTomb freed, kClaiming, else the inode
  std::atomic<std::uint32_t> tenant;   // tenant slot index + 1
  std::atomic<std::int32_t> refs;      // descriptors referring to it, over all processes
  std::atomic<std::int32_t> handover;  // references handed to an exec'd image, not yet adopted
  std::atomic<std::int32_t> pending;   // 1 while the registering connect() runs
  std::atomic<std::int64_t> born_ms;
};

struct Map {
  std::uint64_t magic;
  std::uint32_t version, tenant_slots, object_slots, reserved[9];
  TenantSlot tenants[kTenantSlots];
  ObjectSlot objects[kObjectSlots];
};

}  // namespace tenant::state::budget_layout

namespace tenant::state {

struct TenantConnections {
  std::string tenant;
  std::int32_t live = 0;  // connections held now, over all processes
};

// Reader of a mapped STATE_DIR/budget (read-only is enough). False: not a
// budget map of this layout. Only tenants that ever held a counted
// connection have a slot (a tenant without max_connections is not counted).
bool snapshot_connections(const void* base, std::size_t len, std::vector<TenantConnections>& out);

}  // namespace tenant::state
