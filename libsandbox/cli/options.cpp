#include "options.hpp"

#include <getopt.h>

#include <algorithm>
#include <cstring>

namespace cli {
namespace {

// getopt_long reports a long option by this value plus its index.
constexpr int kLongBase = 256;

std::string shown_option(const Option& o) {
  std::string s = std::string("--") + o.name;
  if (o.value != nullptr) s += o.optional_value ? std::string("[=") + o.value + "]" : std::string(" ") + o.value;
  return s;
}

// The options whose names start with `typed` ("--p" -> --policy, --progress).
std::vector<std::string> candidates(const Command& cmd, std::string_view typed) {
  std::vector<std::string> out;
  for (const Option& o : cmd.options)
    if (std::string_view(o.name).substr(0, typed.size()) == typed) out.push_back(std::string("--") + o.name);
  return out;
}

}  // namespace

const std::string& Args::value(std::string_view name) const {
  static const std::string kNone;
  const auto it = given_.find(name);
  return it == given_.end() ? kNone : it->second;
}

void print_help(const Command& cmd, std::FILE* to) {
  std::fprintf(to, "usage: tenant-sandbox %s %s\n  %s\n", cmd.name, cmd.synopsis, cmd.summary);
  std::size_t width = std::strlen("-h, --help");
  for (const Option& o : cmd.options) width = std::max(width, shown_option(o).size());
  std::fputs("options:\n", to);
  for (const Option& o : cmd.options)
    std::fprintf(to, "  %-*s  %s\n", static_cast<int>(width), shown_option(o).c_str(), o.help);
  std::fprintf(to, "  %-*s  %s\n", static_cast<int>(width), "-h, --help", "this help");
  if (cmd.details != nullptr) std::fputs(cmd.details, to);
}

void print_command_list(const std::vector<const Command*>& cmds, std::FILE* to, std::string_view strip) {
  std::fputs("commands:\n", to);
  for (const Command* c : cmds) {
    std::string_view name = c->name;
    if (name.substr(0, strip.size()) == strip) name.remove_prefix(strip.size());
    std::fprintf(to, "  %.*s %s\n      %s\n", static_cast<int>(name.size()), name.data(), c->synopsis, c->summary);
  }
}

int usage_error(const Command& cmd, const std::string& why) {
  std::fprintf(stderr, "tenant-sandbox %s: %s\n", cmd.name, why.c_str());
  print_help(cmd, stderr);
  return 2;
}

int parse(const Command& cmd, int argc, char** argv, Args* out) {
  std::vector<option> longopts;
  for (std::size_t i = 0; i < cmd.options.size(); ++i) {
    const Option& o = cmd.options[i];
    const int has_arg = o.value == nullptr ? no_argument : o.optional_value ? optional_argument : required_argument;
    longopts.push_back({o.name, has_arg, nullptr, kLongBase + static_cast<int>(i)});
  }
  longopts.push_back({"help", no_argument, nullptr, 'h'});
  longopts.push_back({nullptr, 0, nullptr, 0});
  // "+": stop at the first operand (run's COMMAND keeps its own options);
  // ":": a missing value is reported as ':' so we can say which option.
  const char* optstring = cmd.stop_at_operand ? "+:h" : ":h";

  opterr = 0;  // our messages, which name the command
  optind = 0;  // 0, not 1: glibc then also resets its state from an earlier parse
  const char* last_value = nullptr;
  for (;;) {
    int index = -1;
    const int c = ::getopt_long(argc, argv, optstring, longopts.data(), &index);
    if (c == -1) break;
    if (c == 'h') {
      print_help(cmd, stdout);
      return 0;
    }
    const std::string arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    if (c == ':') {
      const Option& o = cmd.options[static_cast<std::size_t>(optopt - kLongBase)];
      return usage_error(cmd, "option --" + std::string(o.name) + " needs a value (" + shown_option(o) + ")");
    }
    if (c == '?') {
      if (optopt >= kLongBase) {
        const Option& o = cmd.options[static_cast<std::size_t>(optopt - kLongBase)];
        return usage_error(cmd, "option --" + std::string(o.name) + " takes no value");
      }
      if (optopt != 0) return usage_error(cmd, std::string("unknown option -") + static_cast<char>(optopt));
      const std::string typed = arg.substr(0, arg.find('='));
      const std::vector<std::string> maybe = typed.size() > 2 ? candidates(cmd, typed.substr(2)) : std::vector<std::string>{};
      if (maybe.size() > 1) {
        std::string list;
        for (const std::string& m : maybe) list += (list.empty() ? "" : ", ") + m;
        return usage_error(cmd, "ambiguous option " + typed + " (" + list + ")");
      }
      return usage_error(cmd, "unknown option " + typed);
    }
    const Option& o = cmd.options[static_cast<std::size_t>(c - kLongBase)];
    out->given_[o.name] = optarg != nullptr ? optarg : "";
    last_value = optarg;
  }
  out->double_dash = optind > 1 && optind <= argc && std::strcmp(argv[optind - 1], "--") == 0 &&
                     argv[optind - 1] != last_value;
  for (int i = optind; i < argc; ++i) out->operands.emplace_back(argv[i]);
  return -1;
}

}  // namespace cli
