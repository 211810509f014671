// STUB: replaced by the control / exec work (C API, process tenant lock).
#include "internal.hpp"
namespace sb {
void control_init() noexcept {}
void note_denial(const ActiveTenant&, tenant::Need, bool) noexcept {}
}  // namespace sb
