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
// A policy folder gets one diff per file that changes (_main.json for the
// tenants it lists, ID.json for the others); --write is for single files.
//
// Logs are read in blocks, never whole: error logs of gigabytes are what
// learn is for after a long audit period.
//
// Exit: 0 suggestions printed (or none), 1 an input could not be read (a
// log line that looks like a denial but is malformed, an unreadable file,
// an invalid policy: each named file:line), 2 usage.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.hpp"
#include "policy_files.hpp"
#include "tenant/learn.hpp"
#include "tenant/policy.hpp"

namespace cli {

const Command kLearn{
    "learn",
    "--policy POLICY [--write FILE] LOG... [--progress[=MB]]",
    "the smallest policy additions that would have allowed the denials in error logs",
    {{"policy", "POLICY", "the policy in force (a file or a folder)"},
     {"write", "FILE", "also write the complete new policy to FILE, validated first as `check` would (single file)"},
     {"progress", "MB", "progress on stderr every MB mebibytes read (default 16); without it only on a terminal",
      /*optional_value=*/true}},
    "  Reads libsandbox's deny and audit lines from LOG files (Apache error logs;\n"
    "  other lines are ignored; - reads standard input) and prints, per tenant, the\n"
    "  smallest additions to POLICY that would have allowed them: a unified diff of\n"
    "  the policy (of each file that changes, for a policy folder), with what was\n"
    "  refused and why as # comments.\n"
    "  Never suggested: another tenant's root or paths, shared writable places\n"
    "  (/tmp, /run, ...), system directories for writing, addresses in ip_deny.\n"
    "  exit: 0 suggestions (or none), 1 unreadable input (file:line), 2 usage\n",
};

namespace {

int usage(const std::string& why) { return usage_error(kLearn, why); }

// Progress on stderr for long runs: on a terminal (one line, rewritten in
// place), or with --progress (a line every interval and one per log, for a
// log file); never unasked into a pipe or a file (cron mail, CI logs).
class Progress {
 public:
  Progress(bool asked, std::uint64_t every) : tty_(::isatty(STDERR_FILENO) == 1), on_(asked || tty_), every_(every) {}
  void start(const std::string& name) {
    name_ = name == "-" ? "standard input" : name;
    next_ = every_;
  }
  void update(std::uint64_t bytes, std::size_t lines, std::size_t entries) {
    if (!on_ || bytes < next_) return;
    while (next_ <= bytes) next_ += every_;
    print(bytes, lines, entries, "");
  }
  void done(std::uint64_t bytes, std::size_t lines, std::size_t entries) {
    if (on_) print(bytes, lines, entries, "done, ");
    if (on_ && tty_) std::fputc('\n', stderr);
  }

 private:
  void print(std::uint64_t bytes, std::size_t lines, std::size_t entries, const char* what) const {
    std::fprintf(stderr, "%stenant-sandbox learn: %s: %s%llu MiB, %zu lines, %zu denial/audit lines%s",
                 tty_ ? "\r\033[K" : "", name_.c_str(), what, static_cast<unsigned long long>(bytes >> 20), lines,
                 entries, tty_ ? "" : "\n");
    std::fflush(stderr);
  }
  bool tty_;
  bool on_;
  std::uint64_t every_;
  std::uint64_t next_ = 0;
  std::string name_;
};

struct Totals {
  std::size_t summaries = 0;
  int errors = 0;
};

// One log, line by line, into the learner. False when it cannot be opened
// or read (named on stderr).
bool read_log(const std::string& log, tenant::learn::Learner& learner, Progress& progress, Totals& totals) {
  const int fd = log == "-" ? STDIN_FILENO : ::open(log.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "%s: cannot open: %s\n", log.c_str(), std::strerror(errno));
    return false;
  }
  progress.start(log);
  const std::size_t entries_before = learner.entries();
  std::uint64_t bytes = 0;
  std::size_t lineno = 0;
  std::string pending;  // the start of a line the last block ended inside
  std::vector<char> block(1 << 20);
  auto handle = [&](std::string_view line) {
    ++lineno;
    tenant::learn::LogLine entry;
    std::string problem;
    switch (tenant::learn::parse_line(line, entry, problem)) {
      case tenant::learn::LineKind::Entry:
        learner.add(entry, log + ":" + std::to_string(lineno));
        break;
      case tenant::learn::LineKind::Summary:
        ++totals.summaries;
        break;
      case tenant::learn::LineKind::Malformed:
        std::fprintf(stderr, "%s:%zu: malformed tenant-sandbox line: %s\n", log.c_str(), lineno, problem.c_str());
        ++totals.errors;
        break;
      case tenant::learn::LineKind::Other:
        break;
    }
  };
  bool ok = true;
  for (;;) {
    const ssize_t n = ::read(fd, block.data(), block.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::fprintf(stderr, "%s: cannot read: %s\n", log.c_str(), std::strerror(errno));
      ok = false;
      break;
    }
    if (n == 0) break;
    bytes += static_cast<std::uint64_t>(n);
    std::string_view data(block.data(), static_cast<std::size_t>(n));
    for (std::size_t nl; (nl = data.find('\n')) != std::string_view::npos; data.remove_prefix(nl + 1)) {
      if (pending.empty()) {
        handle(data.substr(0, nl));
      } else {
        pending.append(data.substr(0, nl));
        handle(pending);
        pending.clear();
      }
    }
    pending.append(data);
    progress.update(bytes, lineno, learner.entries() - entries_before);
  }
  if (ok && !pending.empty()) handle(pending);
  if (fd != STDIN_FILENO) ::close(fd);
  progress.done(bytes, lineno, learner.entries() - entries_before);
  return ok;
}

struct FileChange {
  std::string file;
  std::string before, after;  // pretty-printed; before is "" for a new file
};

// For a policy folder: the new text of every file the additions touch. A
// tenant listed in _main.json is learned there; any other gets (or keeps)
// its own ID.json, learned from a document of the folder's defaults and
// that file's rules alone, so learn::apply's rules are the same in both.
bool folder_changes(const tenant::Policy& policy, const std::string& main_text,
                    const std::vector<tenant::learn::TenantReport>& reports, std::vector<FileChange>* out) {
  using ojson = nlohmann::ordered_json;
  std::vector<tenant::learn::TenantReport> in_main;
  const ojson main_doc = ojson::parse(main_text);
  const ojson defaults = main_doc.contains("defaults") ? main_doc["defaults"] : ojson::object();
  for (const auto& rep : reports) {
    if (rep.additions.empty()) continue;
    const tenant::Policy::Source src = policy.source_of(rep.tenant);
    if (src.file == policy.main_file()) {
      in_main.push_back(rep);
      continue;
    }
    const std::string file = (policy.path().back() == '/' ? policy.path() : policy.path() + "/") + rep.tenant + ".json";
    std::string text;
    std::string err;
    if (src.file.empty()) {
      text = "{}";  // not listed (unknown_tenants "defaults"): a new file
    } else if (!read_text(src.file, &text, &err)) {
      std::fprintf(stderr, "%s\n", err.c_str());
      return false;
    }
    const ojson doc = {{"defaults", defaults}, {"tenants", {{rep.tenant, ojson::parse(text)}}}};
    auto applied = tenant::learn::apply(doc.dump(), {rep});
    auto before = tenant::learn::pretty(text);
    if (!applied || !before) return false;
    const ojson rules = ojson::parse(applied.value())["tenants"][rep.tenant];
    out->push_back({file, src.file.empty() ? "" : before.value(), rules.dump(2) + "\n"});
  }
  if (!in_main.empty()) {
    auto before = tenant::learn::pretty(main_text);
    auto after = tenant::learn::apply(main_text, in_main);
    if (!before || !after) return false;
    out->insert(out->begin(), {policy.main_file(), before.value(), after.value()});
  }
  return true;
}

std::uint64_t progress_every(const Args& args, bool* ok) {
  *ok = true;
  const std::string& v = args.value("progress");
  if (v.empty()) return std::uint64_t{16} << 20;
  char* end = nullptr;
  const unsigned long long mb = std::strtoull(v.c_str(), &end, 10);
  *ok = *end == '\0' && v[0] != '-' && mb > 0 && mb < (1ull << 40);
  return static_cast<std::uint64_t>(mb) << 20;
}

}  // namespace

int cmd_learn(int argc, char** argv) {
  try {
    Args args;
    if (const int rc = parse(kLearn, argc, argv, &args); rc >= 0) return rc;
    const std::string& policy_path = args.value("policy");
    const std::string& write_path = args.value("write");
    const std::vector<std::string>& logs = args.operands;
    if (policy_path.empty()) return usage("--policy POLICY is required");
    if (logs.empty()) return usage("no LOG file given");
    if (args.has("write") && write_path.empty()) return usage("--write needs a FILE");
    bool every_ok = false;
    const std::uint64_t every = progress_every(args, &every_ok);
    if (!every_ok) return usage("--progress wants a number of mebibytes, got \"" + args.value("progress") + "\"");

    auto loaded = tenant::Policy::load(policy_path);
    if (!loaded) {
      print_errors(loaded.error());
      return 1;
    }
    const std::shared_ptr<const tenant::Policy>& policy = loaded.value();
    if (policy->is_folder() && !write_path.empty())
      return usage("--write is for a single-file policy; for a folder, review the diffs and apply each tenant's "
                   "rules with `tenant add --replace`");
    // The text the diff is of: the file, or the folder's _main.json.
    std::string policy_text;
    if (std::string err; !read_text(policy->main_file(), &policy_text, &err)) {
      std::fprintf(stderr, "%s\n", err.c_str());
      return 1;
    }

    tenant::learn::Learner learner(policy, tenant::learn::real_host());
    Progress progress(args.has("progress"), every);
    Totals totals;
    for (const std::string& log : logs)
      if (!read_log(log, learner, progress, totals)) ++totals.errors;

    std::vector<tenant::learn::TenantReport> reports = learner.finish();
    std::vector<FileChange> changes;
    if (policy->is_folder()) {
      if (!folder_changes(*policy, policy_text, reports, &changes)) {
        std::fprintf(stderr, "tenant-sandbox learn: %s: cannot apply the additions\n", policy_path.c_str());
        return 1;
      }
    } else {
      auto before = tenant::learn::pretty(policy_text);
      auto after = tenant::learn::apply(policy_text, reports);
      if (!before || !after) {
        std::fprintf(stderr, "%s: %s\n", policy_path.c_str(), (!before ? before : after).error().str().c_str());
        return 1;
      }
      changes.push_back({policy_path, before.value(), after.value()});
    }
    // Never write (or propose) a policy the engine would refuse. Cannot
    // happen for a valid input policy and absolute paths.
    std::shared_ptr<const tenant::Policy> learned;
    {
      Checked checked;
      if (policy->is_folder()) {
        tenant::FolderOverlay overlay;
        for (const FileChange& c : changes) overlay[c.file.substr(c.file.find_last_of('/') + 1)] = c.after;
        checked = load_checked(policy_path, &overlay);
      } else {
        checked = parse_checked(changes.front().after, policy_path);
      }
      if (!checked.policy) {
        for (const tenant::FileError& e : checked.errors)
          std::fprintf(stderr, "tenant-sandbox learn: the learned policy is invalid: %s\n", e.str().c_str());
        return 1;
      }
      learned = checked.policy;
    }
    tenant::learn::verify(*learned, reports);

    std::printf("# tenant-sandbox learn: %zu denial/audit line(s) read from %zu file(s)\n", learner.entries(),
                logs.size());
    if (totals.summaries != 0)
      std::printf("# %zu rate-limit summary line(s): some lines were not logged, run learn again after the next round\n",
                  totals.summaries);
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
      for (const FileChange& c : changes) {
        const std::string from = c.before.empty() ? "/dev/null" : c.file;
        std::fputs(tenant::learn::unified_diff(c.before, c.after, from, c.file + " (learned)").c_str(), stdout);
      }
    }
    if (!write_path.empty()) {
      if (totals.errors != 0) {
        std::fprintf(stderr, "tenant-sandbox learn: %d input error(s): %s not written\n", totals.errors,
                     write_path.c_str());
        return 1;
      }
      std::FILE* out = std::fopen(write_path.c_str(), "wb");
      const std::string& text = changes.front().after;
      const bool written = out != nullptr && std::fwrite(text.data(), 1, text.size(), out) == text.size();
      if (out == nullptr || std::fclose(out) != 0 || !written) {
        std::fprintf(stderr, "%s: cannot write: %s\n", write_path.c_str(), std::strerror(errno));
        return 1;
      }
      std::printf("# written: %s\n", write_path.c_str());
    }
    return totals.errors == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tenant-sandbox learn: %s\n", e.what());
    return 1;
  }
}
}  // namespace cli
