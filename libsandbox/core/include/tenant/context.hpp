// TenantContext: one tenant's rules with "{tenant}" expanded, paths
// normalised and ordered for matching. Built once when a tenant is set (and
// in every process a tenant starts); every decision after that is a pure,
// allocation-free function of it, which is what the preload library's hot
// path calls and what the unit tests and `tenant-sandbox explain` exercise.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tenant/address.hpp"
#include "tenant/policy.hpp"
#include "tenant/result.hpp"

namespace tenant {

// What a path grants, weakest first. Stat: the directory lies above an
// allowed path, so it may be stat'ed and searched (Apache's directory walk,
// PHP's realpath cache) but not opened, listed or changed.
enum class Access : std::uint8_t { None = 0, Stat = 1, Read = 2, Write = 3 };

// What a call needs.
enum class Need : std::uint8_t { Stat, Read, Write, Exec, Connect, Send, Bind };
const char* need_name(Need n) noexcept;  // "stat", "read", "write", ...

struct Area {
  std::string path;  // absolute, normalised, expanded
  Access access = Access::None;
  RuleKey key = RuleKey::None;  // Root, ReadWrite or ReadOnly
  int index = -1;               // index within that key's list (-1 for root)
};

struct Decision {
  bool allowed = false;
  RuleKey key = RuleKey::None;  // the rule that decided; None: no rule matched
  int index = -1;               // index in that rule's list, -1 when not a list
  int area = -1;                // for path decisions: index into areas()
  Access granted = Access::None;
};

// Apache's access file names (AccessFileName, ".htaccess" unless told
// otherwise): Apache's directory walk opens NAME in every directory from /
// down to the file it serves where AllowOverride is not None, so also in the
// directories ABOVE a tenant's root (the operator's /srv/www/.htaccess). A
// refusal there (EACCES) makes Apache answer every request of the tenant
// 403/500 (AH00529), although those files belong to the operator and apply to
// the tenant's own site. So, in a directory above an allowed path, a file of
// one of these names may be read (not written, not listed): absent reads as
// absent, present is read as the operator wrote it. Set once per process by
// the module (sandbox_set_access_files), before requests; `names` is
// Apache's list syntax (space-separated). Names with '/' are ignored.
void set_access_file_names(std::string_view names);
bool is_access_file_name(std::string_view name) noexcept;

// This process's pid (libsandbox sets it at load and after fork). Whatever a
// policy lists, /proc/PID of any other process (another tenant's worker, its
// environment and command line) and the kernel's socket tables (/proc/net,
// /proc/PID/net: every tenant's socket paths and connections) are closed to
// tenant code (RuleKey::ProcGuard, docs/threat-model.md 28).
void set_own_pid(int pid) noexcept;

class TenantContext {
 public:
  // Expands `rules` for tenant `id` (which must be valid). Fails when an
  // expanded path is not absolute or too long.
  static Result<std::unique_ptr<TenantContext>> create(const RuleSet& rules, std::string_view id);
  // Looks `id` up in `policy` (-ENOENT semantics: error when not admitted).
  static Result<std::unique_ptr<TenantContext>> create(const Policy& policy, std::string_view id);
  // A context with no rights at all, used for threads whose tenant is not
  // known (fail closed, THREATS 17).
  static std::unique_ptr<TenantContext> deny_all();

  std::string_view id() const noexcept { return id_; }
  const char* id_cstr() const noexcept { return id_.c_str(); }
  Mode mode() const noexcept { return rules_.mode; }
  std::uint32_t max_connections() const noexcept { return rules_.max_connections; }
  std::uint32_t max_requests() const noexcept { return rules_.max_requests; }
  const RuleSet& rules() const noexcept { return rules_; }  // expanded copy
  // Most specific first (longest path; on equal paths the more restrictive).
  const std::vector<Area>& areas() const noexcept { return areas_; }

  // `path` must be absolute and normalised (normalize_path). The most
  // specific area containing it grants its access; a directory above any
  // area grants Stat, and an access file in such a directory Read
  // (RuleKey::AccessFile); anything else grants nothing. Allowed when the
  // grant covers `need` (Stat < Read < Write).
  Decision decide_path(std::string_view path, Need need) const noexcept;
  // Exact match of a normalised absolute path against the `exec` list.
  Decision decide_exec(std::string_view path) const noexcept;
  // ip_deny wins; a non-empty ip_allow admits only its ranges.
  Decision decide_address(const CanonicalAddress& a) const noexcept;
  // A unix socket by path (normalised) or abstract name ("@name"): listed in
  // unix_sockets, or (paths only) inside a Write area of the tenant.
  Decision decide_unix_socket(std::string_view path_or_at_name) const noexcept;

  // "read_only[2] (/usr/share/zoneinfo, from defaults)" or "no rule: outside
  // every allowed path" -- for denial logs and `explain`.
  std::string describe(const Decision& d, Need need) const;

  // A single-tenant policy document carrying exactly these expanded rules.
  // This is how a tenant's rules reach a process it starts: the child's
  // libsandbox loads it from the environment and locks itself to the tenant.
  // force_audit: the copy says "mode": "audit" whatever this tenant's mode
  // (a process started by a request of a `TenantSandbox Audit` vhost stays
  // audit for its whole life).
  std::string to_policy_json(bool force_audit = false) const;

 private:
  TenantContext() = default;
  std::string id_;
  RuleSet rules_;
  std::vector<Area> areas_;
};

}  // namespace tenant
