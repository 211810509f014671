// Reader of the connection budget's map (layout in tenant/budget_map.hpp).
#include "tenant/budget_map.hpp"

#include <cstring>

namespace tenant::state {

bool snapshot_connections(const void* base, std::size_t len, std::vector<TenantConnections>& out) {
  using namespace budget_layout;
  out.clear();
  if (base == nullptr || len < sizeof(Map)) return false;
  const auto* m = static_cast<const Map*>(base);
  if (m->magic == 0) return true;  // created, nothing counted yet
  if (m->magic != kMagic || m->version != kVersion || m->tenant_slots != kTenantSlots ||
      m->object_slots != kObjectSlots)
    return false;
  for (std::uint32_t k = 0; k < kTenantSlots; ++k) {
    const TenantSlot& s = m->tenants[k];
    if (s.state.load(std::memory_order_acquire) != 2) continue;
    TenantConnections c;
    c.tenant.assign(s.id, ::strnlen(s.id, sizeof s.id));
    const std::int32_t live = s.live.load(std::memory_order_relaxed);
    c.live = live > 0 ? live : 0;
    if (!c.tenant.empty()) out.push_back(std::move(c));
  }
  return true;
}

}  // namespace tenant::state
