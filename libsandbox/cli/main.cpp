// tenant-sandbox: the operator's command line (DESIGN.md "CLI"). This file
// only dispatches; each subcommand lives in its own file.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "commands.hpp"

namespace {

struct Entry {
  const char* name;
  int (*run)(int, char**);
};
constexpr Entry kEntries[] = {
    {"check", cli::cmd_check}, {"explain", cli::cmd_explain}, {"run", cli::cmd_run},
    {"learn", cli::cmd_learn}, {"status", cli::cmd_status},   {"tenant", cli::cmd_tenant},
};

void print_usage(std::FILE* to) {
  std::fputs("usage: tenant-sandbox COMMAND [OPTION]... [ARG]...\n"
             "  check, explain and apply per-tenant sandbox policies; POLICY is a policy file\n"
             "  or a policy folder (docs/cli.md)\n",
             to);
  cli::print_command_list({&cli::kCheck, &cli::kExplain, &cli::kRun, &cli::kLearn, &cli::kStatus, &cli::kTenantAdd,
                           &cli::kTenantRemove, &cli::kTenantList},
                          to);
  std::fputs("options:\n"
             "  -h, --help  this help; `tenant-sandbox COMMAND --help` for a command's own options\n"
             "  --version   print the version\n",
             to);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  const std::string_view cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    // `help COMMAND` is COMMAND --help.
    if (cmd == "help" && argc > 2) {
      for (const Entry& e : kEntries) {
        if (std::strcmp(argv[2], e.name) != 0) continue;
        char help[] = "--help";
        char* sub[] = {argv[2], help, nullptr};
        return e.run(2, sub);
      }
    }
    print_usage(stdout);
    return 0;
  }
  if (cmd == "--version") {
    std::printf("tenant-sandbox %s\n", TS_VERSION);
    return 0;
  }
  // Subcommands see argv[0] = their own name.
  for (const Entry& e : kEntries)
    if (cmd == e.name) return e.run(argc - 1, argv + 1);
  if (cmd.front() == '-') {
    std::fprintf(stderr, "tenant-sandbox: unknown option %s\n", argv[1]);
  } else {
    std::fprintf(stderr, "tenant-sandbox: unknown command \"%s\"\n", argv[1]);
  }
  print_usage(stderr);
  return 2;
}
