// Per-process denial counters (status.cpp), kept by sb::note_denial.
#pragma once
#include <cstdint>

#include "tenant/context.hpp"

namespace sb::proc {
// How many calls needing `need` were refused (audit=false) or only logged
// (audit=true) in this process so far.
std::uint64_t denials(tenant::Need need, bool audit) noexcept;
}  // namespace sb::proc
