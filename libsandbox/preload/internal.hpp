// Hooks between the parts of libsandbox (not exported).
#pragma once
#include "runtime.hpp"

namespace sb {

// control.cpp: at load, a process started by a tenant (TENANT_SANDBOX_TENANT
// and TENANT_SANDBOX_POLICY_JSON in its environment) locks itself to it.
void control_init() noexcept;

// status.cpp: per-tenant denial counters for `tenant-sandbox status`.
void note_denial(const ActiveTenant& t, tenant::Need need, bool audit) noexcept;

}  // namespace sb
