// `tenant-sandbox learn`: from the deny and audit lines libsandbox wrote
// (runtime.cpp refuse()), the smallest additions to a policy that would have
// allowed what was logged -- and what it refuses to suggest, and why.
//
// The rules (README "learn"):
//  - read/stat of a path  -> read_only;  write -> read_write;  exec -> exec
//    (the exact program); connect/send to an address -> ip_allow /32 or /128;
//    to a unix socket path or @name -> unix_sockets.
//  - Paths collapse to their directory: the target itself when the host says
//    it is a directory, else its parent. A directory that is too broad to
//    hand out whole (/, a top-level directory such as /etc or /usr, /usr/share,
//    /var/lib, someone's /home/NAME) keeps the exact file instead. Three or
//    more suggested directories with one parent at depth >= 3 (e.g.
//    /usr/share/zoneinfo/{Europe,America,Asia}) collapse to that parent once.
//  - Refused, never suggested: anything inside or above another tenant's
//    area (the tenant_root template with another id, another listed tenant's
//    root and own read_write paths); anything in a place every tenant shares
//    for writing (/tmp, /var/tmp, /dev/shm, /run, /var/lock, /var/crash,
//    /var/mail, /var/spool, or a world-writable directory on this host); write
//    access to system directories (/, /etc, /usr, /bin, /lib, /boot, /home,
//    /root, /srv, /opt, /var themselves and /etc, /usr, /bin, /sbin, /lib*,
//    /boot, /proc, /sys, /dev inside); exec of a program the tenant can write;
//    an address its ip_deny denies (deny wins: learn never overrides it).
//  - Every suggestion is checked with the policy engine itself: a logged
//    operation the new rules would still deny is reported as a note.
#pragma once
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tenant/policy.hpp"
#include "tenant/result.hpp"

namespace tenant::learn {

// One deny/audit line, unescaped.
struct LogLine {
  bool audit = false;
  std::string tenant, op, need, target, err, rule, request;
};

enum class LineKind {
  Other,      // not a libsandbox denial line (anything else in an error log)
  Entry,      // a deny or audit line
  Summary,    // the rate limit's "suppressed=N" line: nothing to learn
  Malformed,  // looks like a denial line but cannot be read (problem says why)
};
// Finds "tenant-sandbox: deny|audit tenant=" anywhere in the line, so the
// prefix Apache's ErrorLog (or syslog) puts in front does not matter.
LineKind parse_line(std::string_view line, LogLine& out, std::string& problem);

// What learn may ask the host about a path (injectable for tests).
struct HostProbe {
  std::function<bool(const std::string&)> is_directory;
  // The path, or its nearest existing ancestor, is a world-writable directory.
  std::function<bool(const std::string&)> world_writable;
};
HostProbe real_host();  // stat(2)
HostProbe no_host();    // knows nothing: every path is a file, nothing world-writable

struct Addition {
  RuleKey key = RuleKey::None;  // ReadOnly, ReadWrite, IpAllow, UnixSockets, Exec
  std::string value;
  std::vector<std::string> evidence;  // "op=open need=read /x/y (error.log:12)"
  std::vector<std::pair<std::string, std::string>> checks;  // (need, target) it must allow
};
struct Refusal {
  std::string suggestion;  // "read_write /tmp"
  std::string evidence;
  std::string why;
};
struct TenantReport {
  std::string tenant;
  std::vector<Addition> additions;
  std::vector<Refusal> refused;
  std::vector<std::string> notes;
};

// Why `path` (absolute, normalised) may not be suggested to `tenant` for
// `key` (ReadOnly or ReadWrite), or "" when it may. Exposed for tests.
class Learner;
std::string refusal_reason(const Learner& l, std::string_view tenant, RuleKey key, const std::string& path);

class Learner {
 public:
  Learner(std::shared_ptr<const Policy> policy, HostProbe host);
  // `where` is "file:line" for the evidence.
  void add(const LogLine& line, const std::string& where);
  std::vector<TenantReport> finish() const;
  std::size_t entries() const noexcept { return entries_; }

 private:
  friend std::string refusal_reason(const Learner&, std::string_view, RuleKey, const std::string&);
  struct Seen {
    LogLine line;
    std::vector<std::string> where;
  };
  std::shared_ptr<const Policy> policy_;
  HostProbe host_;
  std::map<std::string, std::vector<Seen>> by_tenant_;  // tenant -> distinct (op, need, target, rule)
  std::size_t entries_ = 0;
  struct OtherArea {
    std::string tenant, path, what;
  };
  std::vector<OtherArea> others_;  // listed tenants' roots and own read_write
  std::string template_prefix_;    // tenant_root up to "{tenant}" ("/srv/www/"), or ""
};

// Decides every logged operation an addition was made for with the policy
// `learned` (apply()'s result, loaded): one still denied -- a more specific
// rule of the tenant wins, e.g. a read_only subtree under a suggested
// read_write directory -- becomes a note of its report.
void verify(const Policy& learned, std::vector<TenantReport>& reports);

// The policy document with the additions applied: a key the tenant did not
// set itself starts from the defaults' value (a tenant's key replaces the
// default's, so the defaults' entries must be carried over), a tenant not
// listed gets an entry. Key order and everything else are kept. The result
// is pretty-printed JSON; error when the document cannot be read.
Result<std::string> apply(std::string_view policy_json, const std::vector<TenantReport>& reports);

// The document as apply() prints it, with nothing added (the diff's left side).
Result<std::string> pretty(std::string_view policy_json);

// A unified diff (3 lines of context) from a to b.
std::string unified_diff(std::string_view a, std::string_view b, std::string_view a_name, std::string_view b_name);

}  // namespace tenant::learn
