// One option parser for every subcommand: glibc's getopt_long, so that
// --opt=value and --opt value, unambiguous abbreviations and "--" behave the
// same in every command. The help text is printed from the same table the
// parser reads, so the help cannot list an option the parser refuses (or the
// other way round); tests/unit/cli_help_man.py holds the man page and the
// bash completion to that help.
#pragma once
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cli {

struct Option {
  const char* name;   // the long name without "--"
  const char* value;  // its value's placeholder ("POLICY"), nullptr for a flag
  const char* help;
  bool optional_value = false;  // only as --name=VALUE (getopt's rule for optional values)
};

struct Command {
  const char* name;      // "check", "tenant add"
  const char* synopsis;  // what follows the name in the usage line
  const char* summary;   // one line, for the list of commands
  std::vector<Option> options;
  const char* details = nullptr;  // printed after the options
  // `run`: the first operand starts COMMAND, whose own options are not ours.
  bool stop_at_operand = false;
};

class Args {
 public:
  bool has(std::string_view name) const { return given_.find(name) != given_.end(); }
  // The value given (the last one when repeated); "" for a flag or when absent.
  const std::string& value(std::string_view name) const;
  std::vector<std::string> operands;
  bool double_dash = false;  // the operands followed an explicit "--"

 private:
  friend int parse(const Command&, int, char**, Args*);
  std::map<std::string, std::string, std::less<>> given_;
};

// Parses argv (argv[0] is the command's name). Returns -1 when the command
// is to run, else the exit status to return: 0 after --help, 2 after a usage
// error (printed with the usage, naming the option at fault).
int parse(const Command& cmd, int argc, char** argv, Args* out);

// "tenant-sandbox CMD: why" and the command's help on stderr; returns 2.
int usage_error(const Command& cmd, const std::string& why);
void print_help(const Command& cmd, std::FILE* to);
// "commands:" and one entry per command: "  NAME SYNOPSIS" then the summary.
// `strip` is removed from the front of each name ("tenant " in tenant's help).
void print_command_list(const std::vector<const Command*>& cmds, std::FILE* to, std::string_view strip = {});

}  // namespace cli
