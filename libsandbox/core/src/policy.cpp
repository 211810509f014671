// Policy loading and validation (DESIGN.md "Policy file").
//
// Scale is the constraint that shapes this file: a hosting policy can list a
// million tenants. The document is parsed with nlohmann's parser callback and
// every tenant object under "/tenants" is converted the moment it completes
// and then discarded, so no DOM of the tenants ever exists. A tenant with no
// keys of its own becomes one TenantTable entry (id bytes in a shared arena
// plus 12 bytes) pointing at the shared defaults; only tenants with their own
// keys get a RuleSet.
//
// Every error is collected, not just the first, each with the JSON pointer
// of the offending value. nlohmann keeps the last of duplicate object keys
// silently, so duplicates are detected here from the parser's `key` events.
//
// A folder policy is the same model read from many files: _main.json as a
// policy document, then every ID.json as tenant ID's RULES, in sorted order
// so that the result (and the order of errors) never depends on readdir.
#include "tenant/policy.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "tenant/path.hpp"
#include "tenant/tenant_id.hpp"

namespace tenant {

using json = nlohmann::json;

// The largest max_connections / max_requests accepted. Far above any real
// per-tenant cap, far below kUnlimited, so a typo like 10000000000 is caught.
inline constexpr std::uint64_t kMaxLimit = 1000000;
// A broken generated policy can produce an error per tenant; past this many
// the rest are counted, not listed.
inline constexpr std::size_t kMaxErrors = 1000;

const char* rule_key_name(RuleKey k) noexcept {
  switch (k) {
    case RuleKey::None: return "none";
    case RuleKey::Root: return "root";
    case RuleKey::ReadWrite: return "read_write";
    case RuleKey::ReadOnly: return "read_only";
    case RuleKey::MaxConnections: return "max_connections";
    case RuleKey::MaxRequests: return "max_requests";
    case RuleKey::IpAllow: return "ip_allow";
    case RuleKey::IpDeny: return "ip_deny";
    case RuleKey::UnixSockets: return "unix_sockets";
    case RuleKey::Exec: return "exec";
    case RuleKey::Mode: return "mode";
    case RuleKey::Ancestor: return "ancestor";
    case RuleKey::AccessFile: return "access_file";
    case RuleKey::ServerDoor: return "server_door";
    case RuleKey::ProcGuard: return "proc_guard";
  }
  return "unknown";
}

namespace {

constexpr std::uint32_t bit(RuleKey k) noexcept { return 1u << static_cast<unsigned>(k); }

// ---- tenant table -----------------------------------------------------------

// Open addressing with linear probing. Ids live in one arena, each record
// laid out as [len:1][rules:4][id:len]; a slot holds the record's offset and
// 32 bits of its hash, so a probe that meets another id is rejected without
// touching the arena, and a hit costs two cache misses (slot, record). A
// listed tenant costs 5 + len bytes of arena plus 8-16 bytes of slots, and
// no allocation of its own. Records in the arena are in file order.
class TenantTable {
 public:
  static constexpr std::uint32_t kDefaults = 0xffffffffu;
  using Ref = std::uint32_t;  // offset of a record in the arena

  std::size_t size() const noexcept { return count_; }

  // The rules index of `id`'s record, or false when it is not listed.
  bool find(std::string_view id, std::uint32_t* rules) const noexcept {
    Ref r;
    if (!locate(id, hash(id), &r)) return false;
    *rules = rules_of(r);
    return true;
  }

  // Adds `id` (valid, so 1..64 bytes). False when it is already listed.
  bool insert(std::string_view id, Ref* ref) {
    const std::uint64_t h = hash(id);
    Ref existing;
    if (locate(id, h, &existing)) return false;
    if ((count_ + 1) * 2 > slots_.size()) grow();
    if (arena_.size() + 5 + id.size() > std::numeric_limits<std::uint32_t>::max())
      throw std::length_error("tenant id arena exceeds 4 GiB");
    const auto off = static_cast<Ref>(arena_.size());
    arena_.push_back(static_cast<char>(id.size()));
    char rules[4];
    std::memcpy(rules, &kDefaults, 4);
    arena_.append(rules, 4);
    arena_.append(id);
    place(off, h);
    ++count_;
    *ref = off;
    return true;
  }

  void set_rules(Ref r, std::uint32_t rules) noexcept { std::memcpy(&arena_[r + 1], &rules, 4); }

  bool ref_of(std::string_view id, Ref* out) const noexcept { return locate(id, hash(id), out); }
  // Records are appended, so every record inserted later has a larger Ref.
  Ref end() const noexcept { return static_cast<Ref>(arena_.size()); }

  template <class Fn>
  void for_each(Fn&& fn) const {
    for (std::size_t off = 0; off < arena_.size();) {
      const auto len = static_cast<unsigned char>(arena_[off]);
      fn(std::string_view(arena_.data() + off + 5, len), rules_of(static_cast<Ref>(off)));
      off += 5u + len;
    }
  }

 private:
  static std::uint64_t hash(std::string_view s) noexcept {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a, then a murmur finaliser
    for (const char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
  }
  static std::uint64_t slot_value(Ref off, std::uint64_t h) noexcept {
    return (h & 0xffffffff00000000ull) | (static_cast<std::uint64_t>(off) + 1);
  }
  std::uint32_t rules_of(Ref r) const noexcept {
    std::uint32_t v;
    std::memcpy(&v, &arena_[r + 1], 4);
    return v;
  }
  std::string_view id_at(Ref r) const noexcept {
    return {arena_.data() + r + 5, static_cast<unsigned char>(arena_[r])};
  }
  bool locate(std::string_view id, std::uint64_t h, Ref* out) const noexcept {
    if (slots_.empty()) return false;
    const std::uint64_t tag = h & 0xffffffff00000000ull;
    for (std::size_t s = static_cast<std::size_t>(h) & mask_;; s = (s + 1) & mask_) {
      const std::uint64_t v = slots_[s];
      if (v == 0) return false;
      if ((v & 0xffffffff00000000ull) != tag) continue;
      const auto r = static_cast<Ref>((v & 0xffffffffu) - 1);
      if (id_at(r) == id) {
        *out = r;
        return true;
      }
    }
  }
  void place(Ref off, std::uint64_t h) noexcept {
    std::size_t s = static_cast<std::size_t>(h) & mask_;
    while (slots_[s] != 0) s = (s + 1) & mask_;
    slots_[s] = slot_value(off, h);
  }
  void grow() {
    const std::size_t n = slots_.empty() ? 64 : slots_.size() * 2;
    slots_.assign(n, 0);
    mask_ = n - 1;
    for (std::size_t off = 0; off < arena_.size();) {
      const auto r = static_cast<Ref>(off);
      place(r, hash(id_at(r)));
      off += 5u + static_cast<unsigned char>(arena_[off]);
    }
  }

  std::string arena_;
  std::vector<std::uint64_t> slots_;
  std::size_t mask_ = 0;
  std::size_t count_ = 0;
};

// ---- error helpers ----------------------------------------------------------

class ErrorSink {
 public:
  void add(std::string where, std::string what) {
    if (errors_.size() < kMaxErrors) {
      errors_.push_back({std::move(where), std::move(what)});
    } else {
      ++dropped_;
    }
  }
  bool empty() const noexcept { return errors_.empty(); }
  Errors take() {
    if (dropped_ != 0)
      errors_.push_back({"", "... and " + std::to_string(dropped_) + " more errors not listed"});
    return std::move(errors_);
  }

 private:
  Errors errors_;
  std::size_t dropped_ = 0;
};

// RFC 6901 escaping of one reference token.
std::string pointer_token(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// A JSON pointer built lazily: a chain of stack frames turned into text
// only when an error is reported, so a valid million-tenant policy does not
// pay for a string per value.
struct Loc {
  const Loc* parent = nullptr;
  std::string_view key;  // an object member, or
  std::size_t index = 0;  // an array element when is_index
  bool is_index = false;

  Loc child(std::string_view k) const noexcept { return Loc{this, k, 0, false}; }
  Loc item(std::size_t i) const noexcept { return Loc{this, {}, i, true}; }
  std::string str() const {
    std::string head = parent != nullptr ? parent->str() : std::string();
    if (parent == nullptr && key.empty() && !is_index) return head;  // the document itself
    head += '/';
    head += is_index ? std::to_string(index) : pointer_token(key);
    return head;
  }
};
const Loc kDocument{};

// A string quoted for a message, with control and non-ASCII bytes escaped so
// an error line can never carry a NUL, a newline or a terminal escape.
std::string shown(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  const std::size_t n = s.size() > 100 ? 100 : s.size();
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (n < s.size()) out += "...";
  out += '"';
  return out;
}

std::string got(const json& v) { return std::string(", got ") + v.type_name(); }

// Every "{" must open the one template this format has. An unknown
// "{tenantid}" left unexpanded would silently become a literal directory.
bool check_template(std::string_view s, const Loc& where, ErrorSink& errs) {
  for (std::size_t i = s.find('{'); i != std::string_view::npos; i = s.find('{', i + 1)) {
    if (s.compare(i, 8, "{tenant}") != 0) {
      const std::size_t close = s.find('}', i);
      const std::string_view bad = s.substr(i, close == std::string_view::npos ? 12 : close - i + 1);
      errs.add(where.str(), "unknown template " + shown(bad) + "; only {tenant} is replaced");
      return false;
    }
  }
  return true;
}

// A path string: absolute, no NUL, only the {tenant} template.
bool check_path(const json& v, const Loc& where, ErrorSink& errs, std::string* out, bool allow_abstract = false) {
  if (!v.is_string()) {
    errs.add(where.str(), std::string(allow_abstract ? "expected a string (an absolute socket path or @name)"
                                               : "expected a string (an absolute path)") + got(v));
    return false;
  }
  const auto& s = v.get_ref<const std::string&>();
  if (s.find('\0') != std::string::npos) {
    errs.add(where.str(), "contains a NUL byte " + shown(s));
    return false;
  }
  if (s.empty()) {
    errs.add(where.str(), allow_abstract ? "empty; expected an absolute socket path or @name" : "empty; expected an absolute path");
    return false;
  }
  if (s.size() >= kMaxPath) {
    errs.add(where.str(), "longer than " + std::to_string(kMaxPath - 1) + " bytes");
    return false;
  }
  if (!check_template(s, where, errs)) return false;
  if (allow_abstract && s.front() == '@') {
    if (s.size() == 1) {
      errs.add(where.str(), "empty abstract socket name \"@\"; expected @name");
      return false;
    }
  } else if (s.front() != '/') {
    errs.add(where.str(), "relative path " + shown(s) + "; all paths must be absolute (start with /)");
    return false;
  }
  *out = s;
  return true;
}

void convert_path_list(const json& v, const Loc& where, ErrorSink& errs, std::vector<std::string>* out,
                       bool allow_abstract = false) {
  if (!v.is_array()) {
    errs.add(where.str(), "expected an array of absolute paths" + got(v));
    return;
  }
  out->reserve(v.size());
  std::size_t i = 0;
  for (const auto& item : v) {
    std::string s;
    if (check_path(item, where.item(i), errs, &s, allow_abstract)) out->push_back(std::move(s));
    ++i;
  }
}

void convert_cidr_list(const json& v, const Loc& where, ErrorSink& errs, std::vector<Cidr>* out) {
  if (!v.is_array()) {
    errs.add(where.str(), "expected an array of CIDR strings (\"10.0.0.0/8\", \"2001:db8::/32\")" + got(v));
    return;
  }
  std::size_t i = 0;
  for (const auto& item : v) {
    const Loc w = where.item(i++);
    if (!item.is_string()) {
      errs.add(w.str(), "expected a CIDR string (\"10.0.0.0/8\", \"2001:db8::/32\")" + got(item));
      continue;
    }
    auto c = parse_cidr(item.get_ref<const std::string&>());
    if (c) {
      out->push_back(c.value());
    } else {
      errs.add(w.str(), c.error().what);
    }
  }
}

void convert_limit(const json& v, const Loc& where, ErrorSink& errs, std::uint32_t* out) {
  const std::string expected = "expected a whole number 0.." + std::to_string(kMaxLimit);
  std::uint64_t n = 0;
  if (v.is_number_unsigned()) {
    n = v.get<std::uint64_t>();
  } else if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if (i < 0) {
      errs.add(where.str(), "negative (" + std::to_string(i) + "); " + expected);
      return;
    }
    n = static_cast<std::uint64_t>(i);
  } else {
    errs.add(where.str(), expected + got(v));
    return;
  }
  if (n > kMaxLimit) {
    errs.add(where.str(), std::to_string(n) + " is too large; " + expected);
    return;
  }
  *out = static_cast<std::uint32_t>(n);
}

constexpr const char* kRuleKeys =
    "root, read_write, read_only, max_connections, max_requests, ip_allow, ip_deny, unix_sockets, exec, mode";

// One RULES object into `rs` (own keys only; merging comes later).
void convert_rules(const json& obj, const Loc& where, bool is_defaults, ErrorSink& errs, RuleSet* rs) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    const Loc w = where.child(k);
    RuleKey key = RuleKey::None;
    if (k == "root") {
      key = RuleKey::Root;
      if (check_path(v, w, errs, &rs->root) && is_defaults && rs->root.find("{tenant}") == std::string::npos) {
        errs.add(w.str(), "does not contain {tenant}: every tenant would share this root");
      }
    } else if (k == "read_write") {
      key = RuleKey::ReadWrite;
      convert_path_list(v, w, errs, &rs->read_write);
    } else if (k == "read_only") {
      key = RuleKey::ReadOnly;
      convert_path_list(v, w, errs, &rs->read_only);
    } else if (k == "exec") {
      key = RuleKey::Exec;
      convert_path_list(v, w, errs, &rs->exec);
    } else if (k == "unix_sockets") {
      key = RuleKey::UnixSockets;
      convert_path_list(v, w, errs, &rs->unix_sockets, true);
    } else if (k == "ip_allow") {
      key = RuleKey::IpAllow;
      convert_cidr_list(v, w, errs, &rs->ip_allow);
    } else if (k == "ip_deny") {
      key = RuleKey::IpDeny;
      convert_cidr_list(v, w, errs, &rs->ip_deny);
    } else if (k == "max_connections") {
      key = RuleKey::MaxConnections;
      convert_limit(v, w, errs, &rs->max_connections);
    } else if (k == "max_requests") {
      key = RuleKey::MaxRequests;
      convert_limit(v, w, errs, &rs->max_requests);
    } else if (k == "mode") {
      key = RuleKey::Mode;
      if (v.is_string() && v.get_ref<const std::string&>() == "enforce") {
        rs->mode = Mode::Enforce;
      } else if (v.is_string() && v.get_ref<const std::string&>() == "audit") {
        rs->mode = Mode::Audit;
      } else {
        errs.add(w.str(), "expected \"enforce\" or \"audit\"" + (v.is_string() ? ", got " + shown(v.get_ref<const std::string&>()) : got(v)));
      }
    } else {
      errs.add(w.str(), "unknown key " + shown(k) + "; expected one of " + kRuleKeys);
      continue;
    }
    rs->own_keys |= bit(key);
  }
}

// Lays the defaults under a tenant's own keys.
void merge_defaults(const RuleSet& d, RuleSet* rs) {
  auto take = [&](RuleKey k, auto member) {
    if (!rs->own(k)) rs->*member = d.*member;
  };
  take(RuleKey::Root, &RuleSet::root);
  take(RuleKey::ReadWrite, &RuleSet::read_write);
  take(RuleKey::ReadOnly, &RuleSet::read_only);
  take(RuleKey::UnixSockets, &RuleSet::unix_sockets);
  take(RuleKey::Exec, &RuleSet::exec);
  take(RuleKey::IpAllow, &RuleSet::ip_allow);
  take(RuleKey::IpDeny, &RuleSet::ip_deny);
  take(RuleKey::MaxConnections, &RuleSet::max_connections);
  take(RuleKey::MaxRequests, &RuleSet::max_requests);
  take(RuleKey::Mode, &RuleSet::mode);
}

}  // namespace

struct Policy::Impl {
  int version = 1;
  std::string tenant_root;
  UnknownTenants unknown = UnknownTenants::Deny;
  RuleSet defaults;
  std::vector<RuleSet> rules;
  TenantTable table;
  std::string path;  // the file or folder it was loaded from
  bool folder = false;
  TenantTable::Ref main_end = 0;  // folder: records before it are _main.json's tenants
};

struct PolicyBuilder {
  static std::shared_ptr<const Policy> make(std::unique_ptr<Policy::Impl> impl) {
    return std::shared_ptr<const Policy>(new Policy(std::move(impl)));
  }
};

namespace {

// The streaming side: tracks where the parser is, detects duplicate keys,
// and converts each tenant object as soon as it is complete. Without an
// Impl (a RULES document on its own) it only detects duplicate keys.
class Loader {
 public:
  Loader(Policy::Impl* impl, ErrorSink& tenant_errs) : impl_(impl), errs_(tenant_errs) {}

  bool on_event(json::parse_event_t ev, json& parsed) {
    switch (ev) {
      case json::parse_event_t::object_start:
        frames_.emplace_back();
        frames_.back().object = true;
        return true;
      case json::parse_event_t::array_start:
        frames_.emplace_back();
        return true;
      case json::parse_event_t::key:
        return on_key(parsed.get_ref<const std::string&>());
      case json::parse_event_t::value:
        if (in_tenants()) {
          tenant_not_object(parsed);
          return false;
        }
        element_done();
        return true;
      case json::parse_event_t::object_end:
        frames_.pop_back();
        if (in_tenants()) {
          tenant_done(parsed);
          return false;  // converted: drop it from the DOM
        }
        element_done();
        return true;
      case json::parse_event_t::array_end:
        frames_.pop_back();
        if (in_tenants()) {
          tenant_not_object(parsed);
          return false;
        }
        element_done();
        return true;
    }
    return true;
  }

 private:
  struct Frame {
    bool object = false;
    std::string key;        // objects: the key whose value is being parsed
    std::size_t index = 0;  // arrays: the index of the element being parsed
    std::vector<std::string> keys;
    std::unique_ptr<std::unordered_set<std::string>> many_keys;  // past 16 keys
  };

  // The parser is directly inside the top-level "tenants" object.
  bool in_tenants() const noexcept {
    return impl_ != nullptr && frames_.size() == 2 && frames_[0].object && frames_[1].object && frames_[0].key == "tenants";
  }

  std::string pointer(std::size_t depth) const {
    std::string p;
    for (std::size_t i = 0; i < depth && i < frames_.size(); ++i) {
      p += '/';
      p += frames_[i].object ? pointer_token(frames_[i].key) : std::to_string(frames_[i].index);
    }
    return p;
  }

  void element_done() noexcept {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
  }

  bool on_key(const std::string& k) {
    Frame& f = frames_.back();
    f.key = k;
    if (in_tenants()) {
      have_current_ = false;
      const char* problem = tenant_id_problem(k);
      if (problem[0] != '\0') {
        errs_.add(pointer(2), "invalid tenant id " + shown(k) + ": " + problem);
      } else if (impl_->table.insert(k, &current_)) {
        have_current_ = true;
      } else {
        errs_.add(pointer(2), "duplicate tenant " + shown(k) + " (a JSON parser would silently keep only the last)");
      }
      return true;
    }
    bool dup = false;
    if (f.many_keys) {
      dup = !f.many_keys->insert(k).second;
    } else {
      for (const auto& seen : f.keys) dup = dup || seen == k;
      if (!dup) {
        f.keys.push_back(k);
        if (f.keys.size() > 16) {
          f.many_keys = std::make_unique<std::unordered_set<std::string>>(f.keys.begin(), f.keys.end());
          f.keys.clear();
        }
      }
    }
    if (dup) {
      // Reported once; the value that follows is still checked (the last
      // one wins in the DOM, but the policy is refused anyway).
      dup_errors_.add(pointer(frames_.size()), "duplicate key " + shown(k) + " (a JSON parser would silently keep only the last)");
    }
    return true;
  }

  void tenant_not_object(const json& v) {
    errs_.add(pointer(2), "expected an object of rules ({} for the defaults)" + got(v));
  }

  void tenant_done(const json& obj) {
    const bool keep = have_current_;
    have_current_ = false;
    if (obj.empty()) return;  // defaults only: no RuleSet, no allocation
    RuleSet rs;
    const Loc tenants = kDocument.child("tenants");
    convert_rules(obj, tenants.child(frames_[1].key), false, errs_, &rs);
    if (!keep) return;  // invalid or duplicate id: checked, not kept
    impl_->table.set_rules(current_, static_cast<std::uint32_t>(impl_->rules.size()));
    impl_->rules.push_back(std::move(rs));
  }

 public:
  ErrorSink dup_errors_;

 private:
  Policy::Impl* impl_;
  ErrorSink& errs_;
  std::vector<Frame> frames_;
  TenantTable::Ref current_ = 0;
  bool have_current_ = false;
};

void check_top_level(const json& doc, Policy::Impl& impl, ErrorSink& errs) {
  if (!doc.is_object()) {
    errs.add("", std::string("expected a JSON object at the top level, got ") + doc.type_name());
    return;
  }
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string& k = it.key();
    if (k != "version" && k != "tenant_root" && k != "unknown_tenants" && k != "defaults" && k != "tenants") {
      errs.add("/" + pointer_token(k),
               "unknown key " + shown(k) + "; expected one of version, tenant_root, unknown_tenants, defaults, tenants");
    }
  }
  // version
  if (auto it = doc.find("version"); it == doc.end()) {
    errs.add("/version", "missing; expected 1");
  } else if (!it->is_number_integer() || it->get<std::int64_t>() != 1) {
    errs.add("/version", "unsupported version " + it->dump() + "; expected 1");
  }
  // tenant_root
  if (auto it = doc.find("tenant_root"); it == doc.end()) {
    errs.add("/tenant_root", "missing; expected an absolute path template containing {tenant}, e.g. \"/srv/www/{tenant}\"");
  } else if (check_path(*it, kDocument.child("tenant_root"), errs, &impl.tenant_root) &&
             impl.tenant_root.find("{tenant}") == std::string::npos) {
    errs.add("/tenant_root", "does not contain {tenant}: every tenant would share one root");
  }
  // unknown_tenants
  if (auto it = doc.find("unknown_tenants"); it != doc.end()) {
    if (it->is_string() && it->get_ref<const std::string&>() == "deny") {
      impl.unknown = UnknownTenants::Deny;
    } else if (it->is_string() && it->get_ref<const std::string&>() == "defaults") {
      impl.unknown = UnknownTenants::Defaults;
    } else {
      errs.add("/unknown_tenants", "expected \"deny\" or \"defaults\"" +
                                       (it->is_string() ? ", got " + shown(it->get_ref<const std::string&>()) : got(*it)));
    }
  }
  // defaults
  if (auto it = doc.find("defaults"); it != doc.end()) {
    if (it->is_object()) {
      convert_rules(*it, kDocument.child("defaults"), true, errs, &impl.defaults);
      impl.defaults.own_keys = 0;  // own_keys describes tenants; the defaults own nothing
    } else {
      errs.add("/defaults", "expected an object of rules" + got(*it));
    }
  }
  if (auto it = doc.find("tenants"); it != doc.end() && !it->is_object()) {
    errs.add("/tenants", "expected an object mapping tenant ids to rules" + got(*it));
  }
}

std::string parse_error_text(const json::parse_error& e) {
  std::string msg = e.what();
  // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
  if (const std::size_t close = msg.find("] "); msg.rfind("[json.exception.", 0) == 0 && close != std::string::npos)
    msg.erase(0, close + 2);
  return "invalid JSON: " + msg + " (byte " + std::to_string(e.byte) + ")";
}

}  // namespace

namespace {

// One policy document into `impl`, tenants included. A syntax error is
// reported alone (what follows it cannot be located); otherwise every error.
Errors parse_document(std::string_view text, Policy::Impl& impl) {
  ErrorSink tenant_errs;
  Loader loader(&impl, tenant_errs);
  json doc;
  try {
    doc = json::parse(
        text.begin(), text.end(),
        [&loader](int, json::parse_event_t ev, json& parsed) { return loader.on_event(ev, parsed); },
        /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::parse_error& e) {
    return Errors{Error{"", parse_error_text(e)}};
  }
  ErrorSink& errs = loader.dup_errors_;
  check_top_level(doc, impl, errs);
  Errors all = errs.take();
  for (auto& e : tenant_errs.take()) all.push_back(std::move(e));
  return all;
}

// One RULES object as a document of its own (a folder's tenant file).
Errors parse_rules(std::string_view text, RuleSet* rs) {
  ErrorSink unused;
  Loader loader(nullptr, unused);
  json doc;
  try {
    doc = json::parse(
        text.begin(), text.end(),
        [&loader](int, json::parse_event_t ev, json& parsed) { return loader.on_event(ev, parsed); },
        /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::parse_error& e) {
    return Errors{Error{"", parse_error_text(e)}};
  }
  ErrorSink& errs = loader.dup_errors_;
  if (doc.is_object()) {
    convert_rules(doc, kDocument, false, errs, rs);
  } else {
    errs.add("", std::string("expected an object of rules ({} for the defaults), got ") + doc.type_name());
  }
  return errs.take();
}

void finish(Policy::Impl& impl) {
  if (!impl.defaults.own(RuleKey::Root) && impl.defaults.root.empty()) impl.defaults.root = impl.tenant_root;
  for (RuleSet& rs : impl.rules) merge_defaults(impl.defaults, &rs);
}

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads an open file to its end; the error names `path`.
std::optional<Error> read_all(int fd, const std::string& path, std::string* text) {
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) text->reserve(static_cast<std::size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) return std::nullopt;
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error{path, std::string("cannot read: ") + std::strerror(errno)};
    }
    text->append(buf, static_cast<std::size_t>(n));
  }
}

class FileErrorSink {
 public:
  void add(FileError e) {
    if (errors_.size() < kMaxErrors) {
      errors_.push_back(std::move(e));
    } else {
      ++dropped_;
    }
  }
  void add_all(const std::string& file, Errors es) {
    for (Error& e : es) add(FileError{file, std::move(e.where), std::move(e.what)});
  }
  bool empty() const noexcept { return errors_.empty(); }
  FileErrors take() {
    if (dropped_ != 0)
      errors_.push_back({"", "", "... and " + std::to_string(dropped_) + " more errors not listed"});
    return std::move(errors_);
  }

 private:
  FileErrors errors_;
  std::size_t dropped_ = 0;
};

// The names a folder policy is read from: hidden entries skipped (editors'
// and `tenant add`'s temporary files start with '.'), the overlay applied,
// sorted bytewise. False, with the reason in *why, when the folder cannot
// be listed.
bool folder_names(int dirfd, const FolderOverlay* overlay, std::vector<std::string>* names, std::string* why) {
  const int fd = ::dup(dirfd);
  DIR* d = fd >= 0 ? ::fdopendir(fd) : nullptr;
  if (d == nullptr) {
    *why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return false;
  }
  ::rewinddir(d);  // the dup shares its offset with dirfd
  errno = 0;
  while (const dirent* de = ::readdir(d)) {
    const std::string_view name = de->d_name;
    if (name.front() == '.' || (overlay != nullptr && overlay->find(name) != overlay->end())) continue;
    names->emplace_back(name);
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) {
    *why = std::strerror(err);
    return false;
  }
  if (overlay != nullptr)
    for (const auto& [name, content] : *overlay)
      if (content && !name.empty() && name.front() != '.') names->push_back(name);
  std::sort(names->begin(), names->end());
  return true;
}

// A tenant file's name is its id: "site-a.json" -> "site-a". Otherwise the
// reason it is not one.
std::string tenant_file_problem(std::string_view name, std::string_view* id) {
  constexpr std::string_view kExt = ".json";
  if (name.size() <= kExt.size() || name.substr(name.size() - kExt.size()) != kExt)
    return "not a tenant file: expected ID.json, the tenant's id as the file name (files starting with '.' are skipped)";
  *id = name.substr(0, name.size() - kExt.size());
  const char* problem = tenant_id_problem(*id);
  if (problem[0] != '\0') return "not a tenant file: " + shown(*id) + " is not a valid tenant id: " + problem;
  return {};
}

struct Outcome {
  std::shared_ptr<const Policy> policy;
  bool folder = false;
  std::optional<Error> io;  // a single file that could not be read
  Errors parse;             // a single file's errors, as parse() reports them
  FileErrors files;         // a folder's errors
};

void load_folder(int dirfd, const std::string& dir, const FolderOverlay* overlay, Outcome* out) {
  out->folder = true;
  const std::string prefix = dir.back() == '/' ? dir : dir + "/";
  const std::string main_file = prefix + Policy::kFolderMainFile;
  std::vector<std::string> names;
  if (std::string why; !folder_names(dirfd, overlay, &names, &why)) {
    out->files.push_back({dir, "", "cannot read the folder: " + why});
    return;
  }
  // The content of `name`, from the overlay or the folder; false with an
  // error recorded when it cannot be read.
  FileErrorSink errs;
  auto read_entry = [&](const std::string& name, const std::string& file, std::string* text) {
    if (overlay != nullptr) {
      if (auto it = overlay->find(name); it != overlay->end() && it->second) {
        *text = *it->second;
        return true;
      }
    }
    // O_NONBLOCK: a FIFO dropped into the folder must not hang Apache's start.
    FdCloser fd{::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
    struct stat st {};
    if (fd.fd < 0 || ::fstat(fd.fd, &st) != 0) {
      errs.add({file, "", std::string("cannot open: ") + std::strerror(errno)});
      return false;
    }
    if (!S_ISREG(st.st_mode)) {
      errs.add({file, "", "not a regular file"});
      return false;
    }
    if (auto e = read_all(fd.fd, file, text)) {
      errs.add({file, "", e->what});
      return false;
    }
    return true;
  };

  auto impl = std::make_unique<Policy::Impl>();
  impl->path = dir;
  impl->folder = true;
  if (!std::binary_search(names.begin(), names.end(), Policy::kFolderMainFile)) {
    errs.add({main_file, "",
              "missing: a policy folder needs _main.json (version, tenant_root, unknown_tenants, defaults)"});
  } else if (std::string text; read_entry(Policy::kFolderMainFile, main_file, &text)) {
    errs.add_all(main_file, parse_document(text, *impl));
  }
  impl->main_end = impl->table.end();

  for (const std::string& name : names) {
    if (name == Policy::kFolderMainFile) continue;
    const std::string file = prefix + name;
    std::string_view id;
    if (std::string problem = tenant_file_problem(name, &id); !problem.empty()) {
      errs.add({file, "", std::move(problem)});
      continue;
    }
    std::string text;
    if (!read_entry(name, file, &text)) continue;
    RuleSet rs;
    Errors rule_errs = parse_rules(text, &rs);
    const bool valid = rule_errs.empty();
    errs.add_all(file, std::move(rule_errs));
    TenantTable::Ref ref;
    if (!impl->table.insert(id, &ref)) {
      // File names are unique, so the other listing is in _main.json.
      errs.add({file, "", "duplicate tenant " + shown(id) + ": also listed in " + main_file + " at /tenants/" +
                              pointer_token(id)});
      continue;
    }
    if (valid && rs.own_keys != 0) {
      impl->table.set_rules(ref, static_cast<std::uint32_t>(impl->rules.size()));
      impl->rules.push_back(std::move(rs));
    }
  }
  if (!errs.empty()) {
    out->files = errs.take();
    return;
  }
  finish(*impl);
  out->policy = PolicyBuilder::make(std::move(impl));
}

Outcome load_outcome(const std::string& path, const FolderOverlay* overlay) {
  Outcome out;
  try {
    FdCloser fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (fd.fd < 0) {
      out.io = Error{path, std::string("cannot open: ") + std::strerror(errno)};
      return out;
    }
    if (struct stat st {}; ::fstat(fd.fd, &st) == 0 && S_ISDIR(st.st_mode)) {
      load_folder(fd.fd, path, overlay, &out);
      return out;
    }
    std::string text;
    if ((out.io = read_all(fd.fd, path, &text))) return out;
    auto impl = std::make_unique<Policy::Impl>();
    impl->path = path;
    out.parse = parse_document(text, *impl);
    if (!out.parse.empty()) return out;
    finish(*impl);
    out.policy = PolicyBuilder::make(std::move(impl));
  } catch (const std::bad_alloc&) {
    out.policy.reset();
    out.io = Error{path, "out of memory while loading the policy"};
  } catch (const std::exception& e) {
    out.policy.reset();
    out.io = Error{path, std::string("cannot load the policy: ") + e.what()};
  }
  return out;
}

}  // namespace

std::string FileError::str() const {
  std::string s = file;
  if (!pointer.empty()) s += (s.empty() ? "" : ": ") + pointer;
  return s.empty() ? what : s + ": " + what;
}

Result<std::shared_ptr<const Policy>, Errors> Policy::parse(std::string_view json_text) {
  try {
    auto impl = std::make_unique<Impl>();
    Errors errs = parse_document(json_text, *impl);
    if (!errs.empty()) return errs;
    finish(*impl);
    return PolicyBuilder::make(std::move(impl));
  } catch (const std::bad_alloc&) {
    return Errors{Error{"", "out of memory while loading the policy"}};
  } catch (const std::exception& e) {
    return Errors{Error{"", std::string("cannot load the policy: ") + e.what()}};
  } catch (...) {
    return Errors{Error{"", "cannot load the policy: unknown error"}};
  }
}

Result<std::shared_ptr<const Policy>, Errors> Policy::load_file(const std::string& path) {
  try {
    Outcome o = load_outcome(path, nullptr);
    if (o.policy) return o.policy;
    if (o.io) return Errors{std::move(*o.io)};
    if (!o.folder) return std::move(o.parse);
    Errors out;
    for (FileError& e : o.files)
      out.push_back(Error{e.pointer.empty() ? std::move(e.file) : e.file + ": " + e.pointer, std::move(e.what)});
    return out;
  } catch (...) {
    return Errors{Error{path, "out of memory while loading the policy"}};
  }
}

Result<std::shared_ptr<const Policy>, FileErrors> Policy::load(const std::string& path, const FolderOverlay* overlay) {
  try {
    Outcome o = load_outcome(path, overlay);
    if (o.policy) return o.policy;
    if (o.io) return FileErrors{{path, "", std::move(o.io->what)}};
    if (o.folder) return std::move(o.files);
    FileErrors out;
    for (Error& e : o.parse) out.push_back({path, std::move(e.where), std::move(e.what)});
    return out;
  } catch (...) {
    return FileErrors{{path, "", "out of memory while loading the policy"}};
  }
}

Errors Policy::check_rules(std::string_view json_text) {
  try {
    RuleSet rs;
    return parse_rules(json_text, &rs);
  } catch (const std::exception& e) {
    return Errors{Error{"", std::string("cannot check the rules: ") + e.what()}};
  }
}

Policy::Policy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Policy::~Policy() = default;

int Policy::version() const noexcept { return impl_->version; }
std::string_view Policy::tenant_root() const noexcept { return impl_->tenant_root; }
UnknownTenants Policy::unknown_tenants() const noexcept { return impl_->unknown; }
const RuleSet& Policy::defaults() const noexcept { return impl_->defaults; }
std::size_t Policy::tenant_count() const noexcept { return impl_->table.size(); }

const RuleSet* Policy::find(std::string_view id) const noexcept {
  if (!is_valid_tenant_id(id)) return nullptr;
  if (std::uint32_t r; impl_->table.find(id, &r)) {
    return r == TenantTable::kDefaults ? &impl_->defaults : &impl_->rules[r];
  }
  return impl_->unknown == UnknownTenants::Defaults ? &impl_->defaults : nullptr;
}

bool Policy::lists(std::string_view id) const noexcept {
  std::uint32_t r;
  return is_valid_tenant_id(id) && impl_->table.find(id, &r);
}

void Policy::for_each_tenant(const std::function<void(std::string_view id, const RuleSet&)>& fn) const {
  impl_->table.for_each([&](std::string_view id, std::uint32_t r) {
    fn(id, r == TenantTable::kDefaults ? impl_->defaults : impl_->rules[r]);
  });
}

const std::string& Policy::path() const noexcept { return impl_->path; }
bool Policy::is_folder() const noexcept { return impl_->folder; }

std::string Policy::main_file() const {
  if (!impl_->folder) return impl_->path;
  return (impl_->path.back() == '/' ? impl_->path : impl_->path + "/") + kFolderMainFile;
}

Policy::Source Policy::source_of(std::string_view id) const {
  TenantTable::Ref ref;
  if (!is_valid_tenant_id(id) || !impl_->table.ref_of(id, &ref)) return {};
  if (impl_->folder && ref >= impl_->main_end)
    return {(impl_->path.back() == '/' ? impl_->path : impl_->path + "/") + std::string(id) + ".json", ""};
  return {main_file(), "/tenants/" + pointer_token(id)};
}

}  // namespace tenant
