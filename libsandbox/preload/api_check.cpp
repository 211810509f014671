// Every declaration in tenant_sandbox.h has exactly the signature the one
// API table (sandbox_api.def) gives it: the table drives the export list and
// the module's resolver, so a header that drifted from it would compile and
// then call through a wrong type.
#include <type_traits>

#include "tenant_sandbox.h"

#define SB_API(ret, name, params) \
  static_assert(std::is_same_v<decltype(&::name), ret(*) params>, #name ": tenant_sandbox.h and sandbox_api.def differ");
#include "sandbox_api.def"
#undef SB_API
