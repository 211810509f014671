// `tenant-sandbox status` is planned (DESIGN.md) but not built yet. It says
// so and fails, rather than reporting zero requests and connections that
// would look like real figures.
#include <cstdio>

#include "commands.hpp"

namespace cli {
int cmd_status(int, char**) {
  std::fputs("tenant-sandbox status: not implemented yet\n", stderr);
  return 2;
}
}  // namespace cli
