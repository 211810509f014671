// `tenant-sandbox learn` is planned (DESIGN.md) but not built yet. It says so
// and fails, rather than printing an empty "nothing to add" that an operator
// could take for a real answer.
#include <cstdio>

#include "commands.hpp"

namespace cli {
int cmd_learn(int, char**) {
  std::fputs("tenant-sandbox learn: not implemented yet\n", stderr);
  return 2;
}
}  // namespace cli
