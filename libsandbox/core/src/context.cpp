// TenantContext: a tenant's rules made ready for the hot path. Everything
// that allocates (template expansion, normalisation, sorting) happens in
// create(); the decide_* functions only scan precomputed vectors.
#include "tenant/context.hpp"

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>

#include "tenant/doors.hpp"
#include "tenant/path.hpp"
#include "tenant/tenant_id.hpp"

namespace tenant {

const char* need_name(Need n) noexcept {
  switch (n) {
    case Need::Stat: return "stat";
    case Need::Read: return "read";
    case Need::Write: return "write";
    case Need::Exec: return "exec";
    case Need::Connect: return "connect";
    case Need::Send: return "send";
    case Need::Bind: return "bind";
  }
  return "unknown";
}

namespace {

constexpr std::string_view kTemplate = "{tenant}";

std::string expand(std::string_view s, std::string_view id) {
  std::string out;
  out.reserve(s.size() + id.size());
  std::size_t pos = 0;
  for (std::size_t i = s.find(kTemplate); i != std::string_view::npos; i = s.find(kTemplate, pos)) {
    out.append(s.substr(pos, i - pos));
    out.append(id);
    pos = i + kTemplate.size();
  }
  out.append(s.substr(pos));
  return out;
}

// Expands and normalises one path in place; `where` names it in errors.
bool prepare_path(std::string* p, std::string_view id, const std::string& where, Error* err) {
  std::string e = expand(*p, id);
  if (e.empty() || e.front() != '/') {
    *err = Error{where, "not an absolute path after expanding {tenant}: \"" + e + "\""};
    return false;
  }
  char buf[kMaxPath];
  NormalizedPath np;
  if (!normalize_path("/", e, buf, sizeof buf, &np)) {
    *err = Error{where, "longer than " + std::to_string(kMaxPath - 1) + " bytes after expanding {tenant}"};
    return false;
  }
  p->assign(buf, np.len);
  return true;
}

// What access level a need requires of a path area.
Access required(Need need) noexcept {
  switch (need) {
    case Need::Stat: return Access::Stat;
    case Need::Read:
    case Need::Exec: return Access::Read;  // exec maps the file: it must be readable
    case Need::Write:
    case Need::Connect:  // a unix socket: connect needs write permission on it
    case Need::Send:
    case Need::Bind: return Access::Write;  // bind creates the socket file
  }
  return Access::Write;
}

const char* access_name(Access a) noexcept {
  switch (a) {
    case Access::None: return "nothing";
    case Access::Stat: return "stat";
    case Access::Read: return "read";
    case Access::Write: return "read and write";
  }
  return "nothing";
}

}  // namespace

Result<std::unique_ptr<TenantContext>> TenantContext::create(const RuleSet& rules, std::string_view id) {
  if (const char* problem = tenant_id_problem(id); problem[0] != '\0') {
    return Error{"tenant", std::string("invalid tenant id: ") + problem};
  }
  std::unique_ptr<TenantContext> ctx(new TenantContext());
  ctx->id_ = std::string(id);
  ctx->rules_ = rules;
  RuleSet& r = ctx->rules_;
  Error err;
  if (!prepare_path(&r.root, id, "root", &err)) return err;
  auto list = [&](std::vector<std::string>& v, RuleKey key, bool abstract_ok) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (abstract_ok && !v[i].empty() && v[i].front() == '@') {
        v[i] = expand(v[i], id);
        continue;
      }
      if (!prepare_path(&v[i], id, std::string(rule_key_name(key)) + "/" + std::to_string(i), &err)) return false;
    }
    return true;
  };
  if (!list(r.read_write, RuleKey::ReadWrite, false) || !list(r.read_only, RuleKey::ReadOnly, false) ||
      !list(r.unix_sockets, RuleKey::UnixSockets, true) || !list(r.exec, RuleKey::Exec, false)) {
    return err;
  }
  auto& areas = ctx->areas_;
  areas.push_back(Area{r.root, Access::Write, RuleKey::Root, -1});
  for (std::size_t i = 0; i < r.read_write.size(); ++i)
    areas.push_back(Area{r.read_write[i], Access::Write, RuleKey::ReadWrite, static_cast<int>(i)});
  for (std::size_t i = 0; i < r.read_only.size(); ++i)
    areas.push_back(Area{r.read_only[i], Access::Read, RuleKey::ReadOnly, static_cast<int>(i)});
  // Most specific first, so the first area containing a path is the one
  // that decides: a read_only tree inside the writable root stays read-only.
  std::stable_sort(areas.begin(), areas.end(), [](const Area& a, const Area& b) {
    if (a.path.size() != b.path.size()) return a.path.size() > b.path.size();
    return a.access < b.access;
  });
  return ctx;
}

Result<std::unique_ptr<TenantContext>> TenantContext::create(const Policy& policy, std::string_view id) {
  if (const char* problem = tenant_id_problem(id); problem[0] != '\0') {
    return Error{"tenant", std::string("invalid tenant id: ") + problem};
  }
  const RuleSet* rules = policy.find(id);
  if (rules == nullptr) {
    return Error{"tenant", "tenant \"" + std::string(id) + "\" is not listed in the policy and unknown_tenants is \"deny\""};
  }
  return create(*rules, id);
}

std::unique_ptr<TenantContext> TenantContext::deny_all() {
  std::unique_ptr<TenantContext> ctx(new TenantContext());
  // Not a valid tenant id on purpose: it can never collide with a real one.
  ctx->id_ = "(unknown-thread)";
  ctx->rules_.mode = Mode::Enforce;
  ctx->rules_.max_connections = 0;
  ctx->rules_.max_requests = 0;
  // An empty ip_allow would admit every address; ::/0 denies them all.
  ctx->rules_.ip_deny.push_back(Cidr{});
  return ctx;
}

namespace {
// Replaced a handful of times per process life (start, graceful restart);
// readers on the hot path load it without a lock, so an old list is leaked
// rather than freed under a reader (as libsandbox's policy holder is).
struct AccessFileNames {
  std::vector<std::string> names;
};
std::atomic<const AccessFileNames*> g_access_files{nullptr};
}  // namespace

void set_access_file_names(std::string_view names) {
  auto* list = new AccessFileNames;
  std::size_t pos = 0;
  while (pos < names.size()) {
    const std::size_t end = names.find_first_of(" \t", pos);
    const std::string_view name = names.substr(pos, end == std::string_view::npos ? names.size() - pos : end - pos);
    pos = end == std::string_view::npos ? names.size() : end + 1;
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos) continue;
    list->names.emplace_back(name);
  }
  g_access_files.store(list, std::memory_order_release);
}

bool is_access_file_name(std::string_view name) noexcept {
  const AccessFileNames* list = g_access_files.load(std::memory_order_acquire);
  if (list == nullptr) return name == ".htaccess";  // Apache's default AccessFileName
  for (const std::string& n : list->names)
    if (n == name) return true;
  return false;
}

namespace {
std::atomic<int> g_own_pid{0};

// /proc/net..., /proc/PID/... of another process, /proc/PID/net...
bool proc_guarded(std::string_view path) noexcept {
  if (path.size() < 6 || path.compare(0, 6, "/proc/") != 0) return false;
  std::string_view rest = path.substr(6);
  const std::size_t slash = rest.find('/');
  const std::string_view first = rest.substr(0, slash);
  if (first == "net") return true;
  if (first.empty() || first.find_first_not_of("0123456789") != std::string_view::npos) return false;
  int pid = 0;
  for (char c : first) {
    if (pid > 100000000) return true;
    pid = pid * 10 + (c - '0');
  }
  if (pid != g_own_pid.load(std::memory_order_relaxed)) return true;
  if (slash == std::string_view::npos) return false;
  const std::string_view sub = rest.substr(slash + 1);
  return sub == "net" || (sub.size() > 4 && sub.compare(0, 4, "net/") == 0);
}
}  // namespace

void set_own_pid(int pid) noexcept { g_own_pid.store(pid, std::memory_order_relaxed); }

Decision TenantContext::decide_path(std::string_view path, Need need) const noexcept {
  Decision d;
  if (path.size() > 5 && path[1] == 'p' && proc_guarded(path)) {
    d.key = RuleKey::ProcGuard;
    return d;
  }
  for (std::size_t i = 0; i < areas_.size(); ++i) {
    const Area& a = areas_[i];
    if (path_within(a.path, path)) {
      d.key = a.key;
      d.index = a.index;
      d.area = static_cast<int>(i);
      d.granted = a.access;
      d.allowed = a.access >= required(need);
      return d;
    }
  }
  // Directories above an allowed path: Apache's directory walk and PHP's
  // realpath cache stat every ancestor of the document root.
  for (std::size_t i = 0; i < areas_.size(); ++i) {
    if (path_within(path, areas_[i].path)) {
      d.key = RuleKey::Ancestor;
      d.area = static_cast<int>(i);
      d.granted = Access::Stat;
      d.allowed = need == Need::Stat;
      return d;
    }
  }
  // An access file in such a directory (set_access_file_names). Only paths
  // no rule grants get here, so this costs nothing on allowed calls.
  const std::size_t slash = path.rfind('/');
  if (slash != std::string_view::npos && is_access_file_name(path.substr(slash + 1))) {
    const std::string_view dir = slash == 0 ? std::string_view("/") : path.substr(0, slash);
    for (std::size_t i = 0; i < areas_.size(); ++i) {
      if (path_within(dir, areas_[i].path)) {
        d.key = RuleKey::AccessFile;
        d.area = static_cast<int>(i);
        d.granted = Access::Read;
        d.allowed = need == Need::Stat || need == Need::Read;
        return d;
      }
    }
  }
  return d;
}

Decision TenantContext::decide_exec(std::string_view path) const noexcept {
  Decision d;
  for (std::size_t i = 0; i < rules_.exec.size(); ++i) {
    if (rules_.exec[i] == path) {
      d.allowed = true;
      d.key = RuleKey::Exec;
      d.index = static_cast<int>(i);
      return d;
    }
  }
  return d;
}

Decision TenantContext::decide_address(const CanonicalAddress& a) const noexcept {
  Decision d;
  // The server's own doors first: ip_allow 127.0.0.1 (a local database) must
  // not open Apache's listener on 127.0.0.1 (THREATS 24).
  if (closed_door(a) != nullptr) {
    d.key = RuleKey::ServerDoor;
    return d;
  }
  for (std::size_t i = 0; i < rules_.ip_deny.size(); ++i) {
    if (rules_.ip_deny[i].contains(a)) {
      d.key = RuleKey::IpDeny;
      d.index = static_cast<int>(i);
      return d;
    }
  }
  if (rules_.ip_allow.empty()) {
    d.allowed = true;
    return d;
  }
  d.key = RuleKey::IpAllow;
  for (std::size_t i = 0; i < rules_.ip_allow.size(); ++i) {
    if (rules_.ip_allow[i].contains(a)) {
      d.allowed = true;
      d.index = static_cast<int>(i);
      return d;
    }
  }
  return d;  // key IpAllow, index -1: not in any allowed range
}

Decision TenantContext::decide_unix_socket(std::string_view path_or_at_name) const noexcept {
  Decision d;
  if (closed_door(path_or_at_name) != nullptr) {
    d.key = RuleKey::ServerDoor;
    return d;
  }
  for (std::size_t i = 0; i < rules_.unix_sockets.size(); ++i) {
    if (rules_.unix_sockets[i] == path_or_at_name) {
      d.allowed = true;
      d.key = RuleKey::UnixSockets;
      d.index = static_cast<int>(i);
      return d;
    }
  }
  // An abstract name has no path and no permissions: only the list admits it.
  if (path_or_at_name.empty() || path_or_at_name.front() != '/') return d;
  const Decision p = decide_path(path_or_at_name, Need::Write);
  if (p.allowed) return p;
  return d;
}

std::string TenantContext::describe(const Decision& d, Need need) const {
  auto origin = [&](RuleKey k) { return rules_.own(k) ? "from tenant" : "from defaults"; };
  auto listed = [&](RuleKey k, int index, const std::string& value) {
    return std::string(rule_key_name(k)) + "[" + std::to_string(index) + "] (" + value + ", " + origin(k) + ")";
  };
  switch (d.key) {
    case RuleKey::Root:
    case RuleKey::ReadWrite:
    case RuleKey::ReadOnly: {
      if (d.area < 0 || static_cast<std::size_t>(d.area) >= areas_.size()) return rule_key_name(d.key);
      const Area& a = areas_[static_cast<std::size_t>(d.area)];
      std::string s = d.key == RuleKey::Root ? std::string("root (") + a.path + ", " + origin(RuleKey::Root) + ")"
                                             : listed(d.key, d.index, a.path);
      if (!d.allowed) s += std::string(" grants ") + access_name(a.access) + " only, " + need_name(need) + " denied";
      return s;
    }
    case RuleKey::Ancestor: {
      if (d.area < 0 || static_cast<std::size_t>(d.area) >= areas_.size()) return "ancestor of an allowed path";
      const Area& a = areas_[static_cast<std::size_t>(d.area)];
      std::string s = std::string("ancestor of ") + rule_key_name(a.key) +
                      (a.index >= 0 ? "[" + std::to_string(a.index) + "]" : std::string()) + " (" + a.path + ")";
      if (!d.allowed) s += std::string(": stat only, ") + need_name(need) + " denied";
      return s;
    }
    case RuleKey::ProcGuard:
      return "another process's /proc entry or the kernel's socket tables: closed to tenant code whatever "
             "the policy lists";
    case RuleKey::ServerDoor:
      return "the server's own listener: closed to tenant code whatever ip_allow and unix_sockets say "
             "(TenantOpenDoor NAME ADDR opens one)";
    case RuleKey::AccessFile: {
      std::string s = "access file (AccessFileName) in a directory above an allowed path: read only";
      if (!d.allowed) s += std::string(", ") + need_name(need) + " denied";
      return s;
    }
    case RuleKey::Exec:
      return listed(RuleKey::Exec, d.index, rules_.exec[static_cast<std::size_t>(d.index)]);
    case RuleKey::UnixSockets:
      return listed(RuleKey::UnixSockets, d.index, rules_.unix_sockets[static_cast<std::size_t>(d.index)]);
    case RuleKey::IpDeny:
      return listed(RuleKey::IpDeny, d.index, to_string(rules_.ip_deny[static_cast<std::size_t>(d.index)]));
    case RuleKey::IpAllow:
      if (d.index >= 0) return listed(RuleKey::IpAllow, d.index, to_string(rules_.ip_allow[static_cast<std::size_t>(d.index)]));
      return std::string("ip_allow (") + origin(RuleKey::IpAllow) + "): address in none of its " +
             std::to_string(rules_.ip_allow.size()) + " ranges";
    case RuleKey::None:
    default:
      break;
  }
  switch (need) {
    case Need::Exec: return "no rule: program not listed in exec";
    case Need::Connect:
    case Need::Send:
    case Need::Bind:
      if (d.allowed) return "no rule: address in no ip_deny range and ip_allow is empty";
      return "no rule: socket not listed in unix_sockets and not in a writable path";
    default: return "no rule: outside every allowed path";
  }
}

std::string TenantContext::to_policy_json(bool force_audit) const {
  using json = nlohmann::json;
  const RuleSet& r = rules_;
  json defaults = json::object();
  json mine = json::object();
  // Keys keep their origin (tenant or defaults) so that describe() in the
  // child names rules the same way; root is always the tenant's own since
  // the expanded root no longer contains {tenant}.
  auto put = [&](RuleKey k, json v) { (r.own(k) ? mine : defaults)[rule_key_name(k)] = std::move(v); };
  auto cidrs = [](const std::vector<Cidr>& v) {
    json a = json::array();
    for (const auto& c : v) a.push_back(to_string(c));
    return a;
  };
  // The root: when it came from the defaults and ends in the id, it is
  // written back as the template (tenant_root) so it stays "from defaults";
  // otherwise it becomes the tenant's own.
  std::string tenant_root = "/nonexistent/{tenant}";
  const std::string suffix = "/" + id_;
  if (!r.own(RuleKey::Root) && r.root.size() > suffix.size() &&
      r.root.compare(r.root.size() - suffix.size(), suffix.size(), suffix) == 0) {
    tenant_root = r.root.substr(0, r.root.size() - id_.size()) + "{tenant}";
  } else {
    mine["root"] = r.root;
  }
  put(RuleKey::ReadWrite, r.read_write);
  put(RuleKey::ReadOnly, r.read_only);
  put(RuleKey::UnixSockets, r.unix_sockets);
  put(RuleKey::Exec, r.exec);
  put(RuleKey::IpAllow, cidrs(r.ip_allow));
  put(RuleKey::IpDeny, cidrs(r.ip_deny));
  if (r.max_connections != kUnlimited) put(RuleKey::MaxConnections, r.max_connections);
  if (r.max_requests != kUnlimited) put(RuleKey::MaxRequests, r.max_requests);
  if (force_audit)
    mine["mode"] = "audit";
  else
    put(RuleKey::Mode, r.mode == Mode::Audit ? "audit" : "enforce");
  json doc = json::object();
  doc["version"] = 1;
  doc["tenant_root"] = tenant_root;
  doc["unknown_tenants"] = "deny";
  doc["defaults"] = std::move(defaults);
  doc["tenants"] = json::object({{id_, std::move(mine)}});
  return doc.dump();
}

}  // namespace tenant
