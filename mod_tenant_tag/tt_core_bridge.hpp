// C++ side of tt_core_bridge.cpp for the module's other C++ bridges.
#pragma once
#include <memory>

#include "tenant/policy.hpp"

// The TenantPolicy that tt_core_check_policy last validated (check_config,
// in the parent, every start and graceful restart; a refused new policy
// leaves the previous one), or null. Workers inherit it with the fork.
std::shared_ptr<const tenant::Policy> tt_core_checked_policy() noexcept;
