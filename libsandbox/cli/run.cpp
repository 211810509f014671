// STUB: replaced by the proc work (`tenant-sandbox run`).
#include <cstdio>

#include "commands.hpp"
namespace cli {
int cmd_run(int, char**) {
  std::fputs("tenant-sandbox run: not built yet\n", stderr);
  return 2;
}
}  // namespace cli
