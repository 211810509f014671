// The policy model (DESIGN.md "Policy file") and its loader.
//
// Loading validates everything and reports every error with its JSON
// location; a policy that loads is known good. It is then immutable and
// shared (one copy per Apache parent, copy-on-write in the workers).
//
// Scale: 1,000,000 tenants. Tenants are kept in one open-addressing table
// whose ids live in a single character arena; a tenant listed with no keys of
// its own points at the shared defaults RuleSet and costs no allocation of
// its own. Lookup is O(1) and allocates nothing.
//
// A policy on disk is one JSON file, or a folder (docs/cli.md "Policy
// folder"): FOLDER/_main.json holds the document's top-level keys, and every
// FOLDER/ID.json holds tenant ID's RULES, so a hosting panel adds or removes
// a site by writing or deleting one file and never edits a shared one.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tenant/address.hpp"
#include "tenant/result.hpp"

namespace tenant {

enum class Mode : std::uint8_t { Enforce, Audit };
enum class UnknownTenants : std::uint8_t { Deny, Defaults };

inline constexpr std::uint32_t kUnlimited = 0xffffffffu;

// The keys of RULES; a bit per key in RuleSet::own_keys.
enum class RuleKey : std::uint8_t {
  None = 0,
  Root,
  ReadWrite,
  ReadOnly,
  MaxConnections,
  MaxRequests,
  IpAllow,
  IpDeny,
  UnixSockets,
  Exec,
  Mode,
  Ancestor,  // not a policy key: "a directory above an allowed path"
  AccessFile,  // not a policy key: Apache's access file (.htaccess) in such a directory
  ServerDoor,  // not a policy key: the server's own listener (doors.hpp), closed to tenants
  ProcGuard,   // not a policy key: other processes' /proc entries, /proc/net
};
const char* rule_key_name(RuleKey k) noexcept;  // "read_only", "ip_deny", ...

// One tenant's effective rules: the defaults with the tenant's own keys laid
// over them (a key in a tenant replaces the default's key). Strings may still
// contain "{tenant}"; TenantContext expands them when a tenant is set.
struct RuleSet {
  std::string root;  // always set: tenant's root, else defaults' root, else tenant_root
  std::vector<std::string> read_write, read_only, unix_sockets, exec;
  std::vector<Cidr> ip_allow, ip_deny;
  std::uint32_t max_connections = kUnlimited;
  std::uint32_t max_requests = kUnlimited;
  Mode mode = Mode::Enforce;
  std::uint32_t own_keys = 0;  // bit (1u << RuleKey) set when the tenant itself set that key
  bool own(RuleKey k) const noexcept { return (own_keys >> static_cast<unsigned>(k)) & 1u; }
};

// An error in a policy on disk. A folder policy has many files, so the file
// is part of the location; `pointer` is the JSON pointer inside that file
// ("" for the file as a whole: unreadable, not JSON, a bad file name).
struct FileError {
  std::string file;
  std::string pointer;
  std::string what;
  std::string str() const;  // "file: pointer: what"
};
using FileErrors = std::vector<FileError>;

// Replaces files of a folder policy for one load, so that an edit can be
// checked as a whole before anything is written (`tenant add|remove`):
// file name -> content, std::nullopt as if the file were not there.
using FolderOverlay = std::map<std::string, std::optional<std::string>, std::less<>>;

class Policy {
 public:
  // The folder's file of version, tenant_root, unknown_tenants, defaults (and
  // optionally tenants). Its name cannot be a tenant id ('_' cannot start
  // one), so no id is reserved and no tenant file can replace it.
  static constexpr const char* kFolderMainFile = "_main.json";

  // Parses and validates a policy document. On failure, every error found
  // (not just the first), each with its JSON pointer and what was expected:
  // unknown key, wrong type, relative path, bad CIDR, bad tenant id,
  // duplicate tenant, bad version, "{tenant}" used where it cannot be.
  static Result<std::shared_ptr<const Policy>, Errors> parse(std::string_view json_text);
  // Reads then parses a file, or loads a folder policy when `path` is a
  // folder. A missing or unreadable file is one error naming the path and
  // strerror; nothing is thrown. A single file's errors are located as
  // parse()'s (the caller names the file); a folder's `where` is
  // "FILE: POINTER" (or "FILE"), FILE the full path of the file at fault.
  static Result<std::shared_ptr<const Policy>, Errors> load_file(const std::string& path);
  // The same, with every error's file and pointer apart (check --json), and
  // an overlay for folder policies (ignored for a single file).
  static Result<std::shared_ptr<const Policy>, FileErrors> load(const std::string& path,
                                                                const FolderOverlay* overlay = nullptr);
  // Checks one RULES object on its own (a folder's tenant file, `tenant add
  // --rules`): JSON syntax, duplicate keys, key names and value types, each
  // error located by its pointer inside `json_text`. Empty when valid.
  static Errors check_rules(std::string_view json_text);

  int version() const noexcept;
  std::string_view tenant_root() const noexcept;
  UnknownTenants unknown_tenants() const noexcept;
  const RuleSet& defaults() const noexcept;  // root = defaults.root or tenant_root
  std::size_t tenant_count() const noexcept;   // tenants listed under "tenants"

  // The effective rules of `id`, or nullptr when the policy does not admit
  // it: an invalid id, or an unlisted id under "unknown_tenants": "deny".
  // O(1), allocates nothing, never throws.
  const RuleSet* find(std::string_view id) const noexcept;
  bool lists(std::string_view id) const noexcept;  // listed under "tenants"

  // Every listed tenant, in file order (status, learn, tests); for a folder,
  // _main.json's tenants first, then the tenant files in sorted order.
  void for_each_tenant(const std::function<void(std::string_view id, const RuleSet&)>& fn) const;

  // Where the policy came from: "" for parse(). main_file() holds the
  // top-level keys: the file itself, or FOLDER/_main.json.
  const std::string& path() const noexcept;
  bool is_folder() const noexcept;
  std::string main_file() const;
  // Where a listed tenant's RULES object is written: the file and the
  // pointer inside it ("/tenants/site-a", or "" for a folder's site-a.json).
  // Both empty when `id` is not listed.
  struct Source {
    std::string file;
    std::string pointer;
  };
  Source source_of(std::string_view id) const;

  ~Policy();
  Policy(const Policy&) = delete;
  Policy& operator=(const Policy&) = delete;
  struct Impl;

 private:
  explicit Policy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend struct PolicyBuilder;
};

}  // namespace tenant
