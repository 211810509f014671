// `tenant-sandbox learn --policy POLICY [--write FILE] LOG...`: reads the
// deny and audit lines libsandbox wrote into error logs and prints, per
// tenant, the smallest policy additions that would have allowed them, as a
// unified diff of the policy (reviewable, `patch`-able against the
// normalised file), with what it refused to suggest and why as # comments.
// The logic (and its rules) is tenant_core's (tenant/learn.hpp).
//
// --write FILE is our addition to DESIGN.md's `learn --policy POLICY LOG...`:
// it writes the complete new policy, which the engine has loaded (the same
// check as `tenant-sandbox check`) before anything is written.
//
// Exit: 0 suggestions printed (or none), 1 an input could not be read (a
// log line that looks like a denial but is malformed, an unreadable file,
// an invalid policy: each named file:line), 2 usage.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "tenant/learn.hpp"
#include "tenant/policy.hpp"

namespace cli {
namespace {

constexpr const char kUsage[] =
    "usage: tenant-sandbox learn --policy POLICY [--write FILE] LOG...\n"
    "  Reads libsandbox's deny and audit lines from LOG files (Apache error logs;\n"
    "  other lines are ignored; - reads standard input) and prints, per tenant, the\n"
    "  smallest additions to POLICY that would have allowed them: a unified diff of\n"
    "  the policy, with what was refused and why as # comments.\n"
    "  --write FILE  also write the complete new policy to FILE (our addition to the\n"
    "                documented interface; it is validated first, as `check` would)\n"
    "  Never suggested: another tenant's root or paths, shared writable places\n"
    "  (/tmp, /run, ...), system directories for writing, addresses in ip_deny.\n"
    "  exit: 0 suggestions (or none), 1 unreadable input (file:line), 2 usage\n";

int usage(const char* why) {
  if (why != nullptr) std::fprintf(stderr, "tenant-sandbox learn: %s\n", why);
  std::fputs(kUsage, stderr);
  return 2;
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

}  // namespace

int cmd_learn(int argc, char** argv) {
  try {
    std::string policy_path, write_path;
    std::vector<std::string> logs;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--policy" || a == "--write") {
        if (i + 1 >= argc) return usage((a + " needs a value").c_str());
        (a == "--policy" ? policy_path : write_path) = argv[++i];
      } else if (a == "--help" || a == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (a.size() > 1 && a[0] == '-') {
        return usage(("unknown option " + a).c_str());
      } else {
        logs.push_back(a);
      }
    }
    if (policy_path.empty()) return usage("--policy POLICY is required");
    if (logs.empty()) return usage("no LOG file given");

    int errors = 0;
    std::string policy_text;
    if (!read_file(policy_path, policy_text)) {
      std::fprintf(stderr, "%s: cannot open: %s\n", policy_path.c_str(), std::strerror(errno));
      return 1;
    }
    auto policy = tenant::Policy::parse(policy_text);
    if (!policy) {
      for (const tenant::Error& e : policy.error()) std::fprintf(stderr, "%s: %s\n", policy_path.c_str(), e.str().c_str());
      return 1;
    }
    tenant::learn::Learner learner(policy.value(), tenant::learn::real_host());
    std::size_t summaries = 0;
    for (const std::string& log : logs) {
      std::string text;
      if (log == "-") {
        std::ostringstream ss;
        ss << std::cin.rdbuf();
        text = ss.str();
      } else if (!read_file(log, text)) {
        std::fprintf(stderr, "%s: cannot open: %s\n", log.c_str(), std::strerror(errno));
        ++errors;
        continue;
      }
      std::size_t lineno = 0, start = 0;
      while (start < text.size()) {
        std::size_t nl = text.find('\n', start);
        if (nl == std::string::npos) nl = text.size();
        const std::string_view line(text.data() + start, nl - start);
        start = nl + 1;
        ++lineno;
        tenant::learn::LogLine entry;
        std::string problem;
        switch (tenant::learn::parse_line(line, entry, problem)) {
          case tenant::learn::LineKind::Entry:
            learner.add(entry, log + ":" + std::to_string(lineno));
            break;
          case tenant::learn::LineKind::Summary:
            ++summaries;
            break;
          case tenant::learn::LineKind::Malformed:
            std::fprintf(stderr, "%s:%zu: malformed tenant-sandbox line: %s\n", log.c_str(), lineno, problem.c_str());
            ++errors;
            break;
          case tenant::learn::LineKind::Other:
            break;
        }
      }
    }

    std::vector<tenant::learn::TenantReport> reports = learner.finish();
    auto before = tenant::learn::pretty(policy_text);
    auto after = tenant::learn::apply(policy_text, reports);
    if (!before || !after) {
      std::fprintf(stderr, "%s: %s\n", policy_path.c_str(), (!before ? before : after).error().str().c_str());
      return 1;
    }
    auto learned = tenant::Policy::parse(after.value());
    if (!learned) {
      // Cannot happen for a valid input policy and absolute paths; never
      // write (or propose) a policy the engine would refuse.
      for (const tenant::Error& e : learned.error())
        std::fprintf(stderr, "tenant-sandbox learn: the learned policy is invalid: %s\n", e.str().c_str());
      return 1;
    }
    tenant::learn::verify(*learned.value(), reports);

    std::printf("# tenant-sandbox learn: %zu denial/audit line(s) read from %zu file(s)\n", learner.entries(),
                logs.size());
    if (summaries != 0)
      std::printf("# %zu rate-limit summary line(s): some lines were not logged, run learn again after the next round\n",
                  summaries);
    std::size_t total = 0;
    for (const auto& rep : reports) {
      std::printf("# tenant %s: %zu addition(s), %zu refused\n", rep.tenant.c_str(), rep.additions.size(),
                  rep.refused.size());
      for (const auto& a : rep.additions) {
        std::printf("#   + %s %s  <- %s\n", tenant::rule_key_name(a.key), a.value.c_str(), a.evidence.front().c_str());
        for (std::size_t i = 1; i < a.evidence.size(); ++i) std::printf("#       %s\n", a.evidence[i].c_str());
      }
      for (const auto& r : rep.refused)
        std::printf("#   refused: %s  <- %s\n#       why: %s\n", r.suggestion.c_str(), r.evidence.c_str(), r.why.c_str());
      for (const auto& n : rep.notes) std::printf("#   note: %s\n", n.c_str());
      total += rep.additions.size();
    }
    if (total == 0) {
      std::printf("# nothing to add\n");
    } else {
      std::fputs(tenant::learn::unified_diff(before.value(), after.value(), policy_path, policy_path + " (learned)").c_str(),
                 stdout);
    }
    if (!write_path.empty()) {
      if (errors != 0) {
        std::fprintf(stderr, "tenant-sandbox learn: %d input error(s): %s not written\n", errors, write_path.c_str());
        return 1;
      }
      std::ofstream out(write_path, std::ios::binary | std::ios::trunc);
      out << after.value();
      out.close();
      if (!out) {
        std::fprintf(stderr, "%s: cannot write: %s\n", write_path.c_str(), std::strerror(errno));
        return 1;
      }
      std::printf("# written: %s\n", write_path.c_str());
    }
    return errors == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tenant-sandbox learn: %s\n", e.what());
    return 1;
  }
}
}  // namespace cli
