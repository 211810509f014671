// The subcommands of tenant-sandbox; main.cpp dispatches on argv[1]. Each
// command's Command (options.hpp) is its usage, its help and its parser.
#pragma once
#include "options.hpp"

namespace cli {
// argv[0] is the subcommand name; returns the process exit status.
int cmd_check(int argc, char** argv);
int cmd_explain(int argc, char** argv);
int cmd_run(int argc, char** argv);  // run.cpp: never returns on success (exec)
int cmd_learn(int argc, char** argv);
int cmd_status(int argc, char** argv);
int cmd_tenant(int argc, char** argv);  // tenant.cpp: add, remove, list

extern const Command kCheck, kExplain, kRun, kLearn, kStatus, kTenantAdd, kTenantRemove, kTenantList;
}  // namespace cli
