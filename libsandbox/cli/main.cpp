// tenant-sandbox: the operator's command line (DESIGN.md "CLI"). This file
// only dispatches; each subcommand lives in its own file.
#include <cstdio>
#include <cstring>

#include "commands.hpp"

namespace {

constexpr const char kUsage[] =
    "usage: tenant-sandbox COMMAND ...\n"
    "  check   POLICY                                   validate a policy file\n"
    "  explain --policy POLICY --tenant ID (read|write|exec PATH | connect HOST:PORT)\n"
    "                                                   show the decision and the rule behind it\n"
    "  run     --policy POLICY --tenant ID -- COMMAND [ARG...]\n"
    "                                                   run COMMAND confined as tenant ID\n"
    "  learn   --policy POLICY [--write FILE] LOG...    policy additions from deny/audit logs\n"
    "  status  [--json]                                 per-tenant requests, connections, denials\n"
    "  --help | --version\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const char* cmd = argv[1];
  if (std::strcmp(cmd, "--help") == 0 || std::strcmp(cmd, "-h") == 0 || std::strcmp(cmd, "help") == 0) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (std::strcmp(cmd, "--version") == 0) {
    std::printf("tenant-sandbox %s\n", TS_VERSION);
    return 0;
  }
  // Subcommands see argv[0] = their own name.
  if (std::strcmp(cmd, "check") == 0) return cli::cmd_check(argc - 1, argv + 1);
  if (std::strcmp(cmd, "explain") == 0) return cli::cmd_explain(argc - 1, argv + 1);
  if (std::strcmp(cmd, "run") == 0) return cli::cmd_run(argc - 1, argv + 1);
  if (std::strcmp(cmd, "learn") == 0) return cli::cmd_learn(argc - 1, argv + 1);
  if (std::strcmp(cmd, "status") == 0) return cli::cmd_status(argc - 1, argv + 1);
  std::fprintf(stderr, "tenant-sandbox: unknown command \"%s\"\n%s", cmd, kUsage);
  return 2;
}
