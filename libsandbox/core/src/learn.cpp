// `tenant-sandbox learn` (learn.hpp has the rules). Runs on the operator's
// side, never in a worker: allocation and exceptions are fine here, the
// CLI catches at its boundary.
#include "tenant/learn.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "tenant/address.hpp"
#include "tenant/context.hpp"
#include "tenant/path.hpp"
#include "tenant/wire.hpp"

namespace tenant::learn {
namespace {

using ojson = nlohmann::ordered_json;

// ---- paths ------------------------------------------------------------------

std::string parent_of(const std::string& p) {
  const std::size_t slash = p.rfind('/');
  if (slash == 0 || slash == std::string::npos) return "/";
  return p.substr(0, slash);
}

int depth(const std::string& p) {
  if (p == "/") return 0;
  return static_cast<int>(std::count(p.begin(), p.end(), '/'));
}

bool within(const std::string& outer, const std::string& inner) { return path_within(outer, inner); }

bool normalise(const std::string& in, std::string& out) {
  if (in.empty() || in[0] != '/') return false;
  char buf[kMaxPath];
  NormalizedPath np;
  if (!normalize_path("/", in, buf, sizeof buf, &np)) return false;
  out.assign(buf, np.len);
  return true;
}

// Places every tenant writes to: anything in them may be another tenant's.
const char* const kSharedWritable[] = {"/tmp",      "/var/tmp",   "/dev/shm",  "/run",     "/var/run",
                                       "/var/lock", "/var/crash", "/var/mail", "/var/spool"};
// Never writable for a tenant: the system's own software and configuration.
const char* const kSystemTrees[] = {"/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
                                    "/boot", "/proc", "/sys", "/dev"};
// Too broad to hand out whole, for reading or writing: suggest the file.
const char* const kBroad[] = {"/usr/share", "/usr/lib", "/usr/local", "/usr/bin", "/usr/sbin", "/var/lib",
                              "/var/www", "/var/log", "/var/cache", "/srv", "/home", "/opt", "/etc/ssl"};

bool in_list(const std::string& p, const char* const* list, std::size_t n, bool inside) {
  for (std::size_t i = 0; i < n; ++i)
    if (inside ? within(list[i], p) : p == list[i]) return true;
  return false;
}
template <std::size_t N>
bool in_list(const std::string& p, const char* const (&list)[N], bool inside) {
  return in_list(p, list, N, inside);
}

bool too_broad(const std::string& dir) {
  if (depth(dir) <= 1) return true;                             // "/", "/etc", "/var", ...
  if (in_list(dir, kBroad, false)) return true;                 // "/usr/share", ...
  if (depth(dir) == 2 && within("/home", dir)) return true;     // someone's home
  return false;
}

std::string key_name(RuleKey k) { return rule_key_name(k); }

// ---- JSON -------------------------------------------------------------------

Result<ojson> parse_doc(std::string_view text) {
  try {
    return ojson::parse(text);
  } catch (const std::exception& e) {
    return Error{"", std::string("invalid JSON: ") + e.what()};
  }
}

}  // namespace

// ---- parse_line ---------------------------------------------------------------

LineKind parse_line(std::string_view line, LogLine& out, std::string& problem) {
  wire::ParsedDenial d;
  const wire::LineKind k = wire::parse_denial(line, d, problem);
  out = LogLine{d.audit, std::move(d.tenant), std::move(d.op), std::move(d.need), std::move(d.target),
                std::move(d.err), std::move(d.rule), std::move(d.request)};
  switch (k) {
    case wire::LineKind::Entry: return LineKind::Entry;
    case wire::LineKind::Summary: return LineKind::Summary;
    case wire::LineKind::Malformed: return LineKind::Malformed;
    case wire::LineKind::Other: break;
  }
  return LineKind::Other;
}

// ---- host -----------------------------------------------------------------------

HostProbe real_host() {
  HostProbe h;
  h.is_directory = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  };
  h.world_writable = [](const std::string& p) {
    std::string q = p;
    for (;;) {
      struct stat st {};
      if (::stat(q.c_str(), &st) == 0) return S_ISDIR(st.st_mode) && (st.st_mode & S_IWOTH) != 0;
      if (q == "/") return false;
      q = parent_of(q);
    }
  };
  return h;
}

HostProbe no_host() {
  HostProbe h;
  h.is_directory = [](const std::string&) { return false; };
  h.world_writable = [](const std::string&) { return false; };
  return h;
}

// ---- Learner ----------------------------------------------------------------------

Learner::Learner(std::shared_ptr<const Policy> policy, HostProbe host)
    : policy_(std::move(policy)), host_(std::move(host)) {
  const std::string_view tr = policy_->tenant_root();
  const std::size_t brace = tr.find("{tenant}");
  if (brace != std::string_view::npos) template_prefix_ = std::string(tr.substr(0, brace));
  policy_->for_each_tenant([&](std::string_view id, const RuleSet&) {
    auto ctx = TenantContext::create(*policy_, id);
    if (!ctx) return;
    const RuleSet& r = ctx.value()->rules();
    others_.push_back({std::string(id), r.root, "root"});
    // A root below /home/NAME (/home/c/public_html): the rest of that home
    // is the tenant's too (its dotfiles, its mail, its backups).
    if (r.root.rfind("/home/", 0) == 0 && depth(r.root) > 2)
      others_.push_back({std::string(id), r.root.substr(0, r.root.find('/', 6)), "home"});
    if (r.own(RuleKey::ReadWrite))
      for (const std::string& p : r.read_write) others_.push_back({std::string(id), p, "read_write"});
  });
}

void Learner::add(const LogLine& line, const std::string& where) {
  ++entries_;
  auto& seen = by_tenant_[line.tenant];
  for (Seen& s : seen) {
    if (s.line.op == line.op && s.line.need == line.need && s.line.target == line.target &&
        s.line.rule == line.rule && s.line.err == line.err) {
      if (s.where.size() < 3) s.where.push_back(where);
      return;
    }
  }
  seen.push_back(Seen{line, {where}});
}

std::string refusal_reason(const Learner& l, std::string_view tenant, RuleKey key, const std::string& path) {
  const bool write = key == RuleKey::ReadWrite;
  // Another tenant's area, by the template ...
  if (!l.template_prefix_.empty()) {
    const std::string& pre = l.template_prefix_;
    const std::string base = pre.size() > 1 && pre.back() == '/' ? pre.substr(0, pre.size() - 1) : pre;
    if (pre.back() == '/' && path.compare(0, pre.size(), pre) == 0) {
      const std::string rest = path.substr(pre.size());
      const std::string other = rest.substr(0, rest.find('/'));
      if (other != tenant)
        return "inside tenant \"" + other + "\"'s root (tenant_root " + std::string(l.policy_->tenant_root()) + ")";
    } else if (within(path, base)) {
      return "contains every tenant's root (tenant_root " + std::string(l.policy_->tenant_root()) + ")";
    }
  }
  // ... and by what the policy lists for each other tenant.
  for (const auto& o : l.others_) {
    if (o.tenant == tenant) continue;
    if (within(o.path, path)) return "inside tenant \"" + o.tenant + "\"'s " + o.what + " (" + o.path + ")";
    if (within(path, o.path)) return "contains tenant \"" + o.tenant + "\"'s " + o.what + " (" + o.path + ")";
  }
  // A socket lives where its server puts it (/run/mysqld/...): only other
  // tenants' areas matter for unix_sockets.
  if (key == RuleKey::UnixSockets) return "";
  if (in_list(path, kSharedWritable, true))
    return "a place every tenant writes to: anything there may be another tenant's";
  if (l.host_.world_writable && l.host_.world_writable(path))
    return "in a world-writable directory on this host: shared by every tenant";
  if (write) {
    if (depth(path) <= 1) return "a top-level system directory is never a tenant's to write";
    if (in_list(path, kSystemTrees, true)) return "system files are never a tenant's to write";
  }
  return "";
}

std::vector<TenantReport> Learner::finish() const {
  std::vector<TenantReport> out;
  for (const auto& [tenant, seen] : by_tenant_) {
    TenantReport rep;
    rep.tenant = tenant;
    auto ctx_r = TenantContext::create(*policy_, tenant);
    if (!ctx_r) {
      rep.notes.push_back("tenant \"" + tenant + "\" is not admitted by the policy: " +
                          std::to_string(seen.size()) + " logged operation(s) skipped");
      out.push_back(std::move(rep));
      continue;
    }
    const TenantContext& ctx = *ctx_r.value();
    std::map<std::pair<RuleKey, std::string>, Addition> cand;
    std::vector<std::pair<RuleKey, std::string>> order;
    const LogLine* cur = nullptr;  // the line being learned from
    auto suggest = [&](RuleKey k, const std::string& v, const std::string& ev) {
      auto key = std::make_pair(k, v);
      auto it = cand.find(key);
      if (it == cand.end()) {
        order.push_back(key);
        it = cand.emplace(key, Addition{k, v, {}, {}}).first;
      }
      if (it->second.evidence.size() < 5) it->second.evidence.push_back(ev);
      it->second.checks.emplace_back(cur->need, cur->target);
    };
    auto refuse = [&](const std::string& what, const std::string& ev, const std::string& why) {
      for (const Refusal& r : rep.refused)
        if (r.suggestion == what && r.why == why) return;
      rep.refused.push_back({what, ev, why});
    };
    // Path candidates first, then their one-level collapse, then the checks.
    struct PathCand {
      RuleKey key;
      std::string dir, target, ev;
      const LogLine* line;
    };
    std::vector<PathCand> paths;
    struct StatCand {
      std::string target, ev;
      const LogLine* line;
    };
    std::vector<StatCand> stat_only;
    for (const Seen& s : seen) {
      const LogLine& l = s.line;
      cur = &l;
      std::string ev = "op=" + l.op + " need=" + l.need + " " + l.target + " (" + s.where.front() +
                       (s.where.size() > 1 ? ", ..." : "") + ")";
      if (l.err == "EDQUOT") {
        rep.notes.push_back("max_connections reached: " + ev + " -- raise max_connections if this is normal load");
        continue;
      }
      if (l.need == "bind") {
        rep.notes.push_back("not learnable (tenants bind only port 0 and their own socket paths): " + ev);
        continue;
      }
      if (l.need == "connect" || l.need == "send") {
        const std::string& t = l.target;
        if (!t.empty() && (t[0] == '/' || t[0] == '@')) {
          std::string p = t;
          if (t[0] == '/' && !normalise(t, p)) {
            rep.notes.push_back("not a usable socket path: " + ev);
            continue;
          }
          if (t[0] == '/') {
            if (std::string why = refusal_reason(*this, tenant, RuleKey::UnixSockets, p); !why.empty()) {
              refuse("unix_sockets " + p, ev, why);
              continue;
            }
          }
          if (ctx.decide_unix_socket(p).allowed) {
            rep.notes.push_back("already allowed by the current policy: " + ev);
            continue;
          }
          suggest(RuleKey::UnixSockets, p, ev);
          continue;
        }
        // "1.2.3.4:80" or "[::1]:80"
        std::string host;
        if (!t.empty() && t[0] == '[') {
          const std::size_t close = t.find(']');
          if (close == std::string::npos) {
            rep.notes.push_back("not an address: " + ev);
            continue;
          }
          host = t.substr(1, close - 1);
        } else {
          host = t.substr(0, t.rfind(':'));
        }
        const auto addr = parse_address(host);
        if (!addr) {
          rep.notes.push_back("not learnable (no address or socket path): " + ev);
          continue;
        }
        const Decision d = ctx.decide_address(*addr);
        const std::string cidr = to_string(*addr) + (addr->is_v4() ? "/32" : "/128");
        if (d.key == RuleKey::IpDeny) {
          refuse("ip_allow " + cidr, ev,
                 "denied by ip_deny[" + std::to_string(d.index) + "] (" + ctx.describe(d, Need::Connect) +
                     "): deny wins over ip_allow, learn never overrides ip_deny");
          continue;
        }
        if (d.allowed) {
          rep.notes.push_back("already allowed by the current policy: " + ev);
          continue;
        }
        suggest(RuleKey::IpAllow, cidr, ev);
        continue;
      }
      // Paths: stat/read/write/exec.
      std::string p;
      if (!normalise(l.target, p)) {
        rep.notes.push_back("not learnable (not an absolute path): " + ev);
        continue;
      }
      if (l.need == "exec") {
        if (ctx.decide_exec(p).allowed) {
          // Refused for another reason (no libsandbox in it, no path...).
          rep.notes.push_back("on the exec list already, refused for: " + l.rule + ": " + ev);
          continue;
        }
        if (std::string why = refusal_reason(*this, tenant, RuleKey::ReadOnly, p); !why.empty()) {
          refuse("exec " + p, ev, why);
          continue;
        }
        if (ctx.decide_path(p, Need::Write).allowed) {
          refuse("exec " + p, ev, "the tenant can write this program: it could replace it with its own");
          continue;
        }
        suggest(RuleKey::Exec, p, ev);
        continue;
      }
      const bool write = l.need == "write";
      const Need need = write ? Need::Write : (l.need == "stat" ? Need::Stat : Need::Read);
      if (ctx.decide_path(p, need).allowed) {
        rep.notes.push_back("already allowed by the current policy: " + ev);
        continue;
      }
      // The directory to suggest: the target when it is one, else its parent.
      const bool is_dir = host_.is_directory && host_.is_directory(p);
      std::string dir = is_dir ? p : parent_of(p);
      if (too_broad(dir)) {
        if (is_dir && need != Need::Write) {
          // PHP's realpath walk stats /opt, /var, /var/cache on the way to a
          // file: never hand out a whole broad directory for that. Once
          // something below it is allowed, the engine grants stat on it
          // anyway (directories above an allowed path).
          stat_only.push_back({p, ev, &l});
          continue;
        }
        dir = p;
      }
      if (need == Need::Stat) {
        stat_only.push_back({p, ev, &l});  // decided below, after the other paths
        continue;
      }
      // The directory is already one of the tenant's areas (read_only
      // conf/ and a write into it): on equal paths the more restrictive rule
      // wins, so only the file itself can be granted.
      for (const Area& a : ctx.areas())
        if (a.path == dir) dir = p;
      paths.push_back({write ? RuleKey::ReadWrite : RuleKey::ReadOnly, dir, p, ev, &l});
    }
    // A stat of a path at or above another suggested path needs nothing of
    // its own (stat is granted on the directories above an allowed path);
    // any other stat becomes a read_only suggestion like a read.
    for (const StatCand& sc : stat_only) {
      const std::string& target = sc.target;
      const std::string& ev = sc.ev;
      bool covered = false;
      for (const PathCand& c : paths)
        if (within(target, c.dir)) covered = true;
      if (covered) continue;
      const bool is_dir = host_.is_directory && host_.is_directory(target);
      std::string dir = is_dir ? target : parent_of(target);
      if (too_broad(dir)) {
        if (is_dir) {
          rep.notes.push_back("not suggested (too broad to allow whole; allow what below it is needed): " + ev);
          continue;
        }
        dir = target;
      }
      for (const Area& a : ctx.areas())
        if (a.path == dir) dir = target;
      paths.push_back({RuleKey::ReadOnly, dir, target, ev, sc.line});
    }
    // Collapse: three or more directories of one kind under one parent at
    // depth >= 3 that is not too broad become that parent.
    for (RuleKey k : {RuleKey::ReadOnly, RuleKey::ReadWrite}) {
      std::map<std::string, std::set<std::string>> children;
      for (const PathCand& c : paths)
        if (c.key == k && c.dir != "/") children[parent_of(c.dir)].insert(c.dir);
      for (const auto& [parent, kids] : children) {
        if (kids.size() < 3 || depth(parent) < 3 || too_broad(parent)) continue;
        if (!refusal_reason(*this, tenant, k, parent).empty()) continue;
        for (PathCand& c : paths)
          if (c.key == k && kids.count(c.dir) != 0) c.dir = parent;
      }
    }
    for (const PathCand& c : paths) {
      cur = c.line;
      std::string why = refusal_reason(*this, tenant, c.key, c.dir);
      std::string dir = c.dir;
      if (!why.empty() && dir != c.target) {
        // The directory is refused; the file alone may still be fine
        // (a shared directory's reason applies to its files too).
        std::string file_why = refusal_reason(*this, tenant, c.key, c.target);
        if (file_why.empty()) {
          dir = c.target;
          why.clear();
        }
      }
      if (!why.empty()) {
        refuse(key_name(c.key) + " " + dir, c.ev, why);
        continue;
      }
      suggest(c.key, dir, c.ev);
    }
    // Drop what another suggestion of the same or a stronger path key covers.
    for (const auto& key : order) {
      bool covered = false;
      if (key.first == RuleKey::ReadOnly || key.first == RuleKey::ReadWrite) {
        for (const auto& other : order) {
          if (other == key) continue;
          const bool stronger = other.first == RuleKey::ReadWrite || other.first == key.first;
          if ((other.first == RuleKey::ReadOnly || other.first == RuleKey::ReadWrite) && stronger &&
              within(other.second, key.second) && !(other.second == key.second && other.first == key.first))
            covered = true;
        }
      }
      if (!covered) rep.additions.push_back(cand[key]);
    }
    out.push_back(std::move(rep));
  }
  return out;
}

void verify(const Policy& learned, std::vector<TenantReport>& reports) {
  for (TenantReport& rep : reports) {
    auto ctx = TenantContext::create(learned, rep.tenant);
    if (!ctx) continue;
    for (const Addition& a : rep.additions) {
      for (const auto& [need, target] : a.checks) {
        bool ok = false;
        if (a.key == RuleKey::IpAllow) {
          std::string host = target[0] == '[' ? target.substr(1, target.find(']') - 1) : target.substr(0, target.rfind(':'));
          if (auto addr = parse_address(host)) ok = ctx.value()->decide_address(*addr).allowed;
        } else if (a.key == RuleKey::UnixSockets) {
          ok = ctx.value()->decide_unix_socket(a.value).allowed;
        } else if (a.key == RuleKey::Exec) {
          ok = ctx.value()->decide_exec(a.value).allowed;
        } else {
          std::string p;
          const Need n = need == "write" ? Need::Write : need == "stat" ? Need::Stat : Need::Read;
          ok = normalise(target, p) && ctx.value()->decide_path(p, n).allowed;
        }
        if (!ok)
          rep.notes.push_back("still denied with the suggested rules (a more specific rule wins): " + need + " " +
                              target);
      }
    }
  }
}

// ---- apply / diff ---------------------------------------------------------------------

Result<std::string> pretty(std::string_view policy_json) {
  auto doc = parse_doc(policy_json);
  if (!doc) return doc.error();
  return doc.value().dump(2) + "\n";
}

Result<std::string> apply(std::string_view policy_json, const std::vector<TenantReport>& reports) {
  auto parsed = parse_doc(policy_json);
  if (!parsed) return parsed.error();
  ojson doc = std::move(parsed).value();
  if (!doc.is_object()) return Error{"", "the policy is not a JSON object"};
  if (!doc.contains("tenants") || !doc["tenants"].is_object()) doc["tenants"] = ojson::object();
  const ojson defaults = doc.contains("defaults") && doc["defaults"].is_object() ? doc["defaults"] : ojson::object();
  for (const TenantReport& rep : reports) {
    if (rep.additions.empty()) continue;
    ojson& t = doc["tenants"][rep.tenant];
    if (!t.is_object()) t = ojson::object();
    for (const Addition& a : rep.additions) {
      const std::string k = rule_key_name(a.key);
      if (!t.contains(k)) t[k] = defaults.contains(k) ? defaults[k] : ojson::array();
      if (!t[k].is_array()) t[k] = ojson::array();
      bool present = false;
      for (const auto& v : t[k])
        if (v.is_string() && v.get<std::string>() == a.value) present = true;
      if (!present) t[k].push_back(a.value);
    }
  }
  return doc.dump(2) + "\n";
}

namespace {
std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> v;
  while (!s.empty()) {
    const std::size_t nl = s.find('\n');
    v.push_back(s.substr(0, nl));
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return v;
}
}  // namespace

std::string unified_diff(std::string_view a_text, std::string_view b_text, std::string_view a_name,
                         std::string_view b_name) {
  const auto a = split_lines(a_text), b = split_lines(b_text);
  // Common prefix/suffix, then an LCS table on the middle: learn's changes
  // are a few insertions, so the middle is small.
  std::size_t pre = 0;
  while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) ++pre;
  std::size_t suf = 0;
  while (suf < a.size() - pre && suf < b.size() - pre && a[a.size() - 1 - suf] == b[b.size() - 1 - suf]) ++suf;
  const std::size_t n = a.size() - pre - suf, m = b.size() - pre - suf;
  // ops: ' ' keep, '-' a only, '+' b only, over the whole files.
  std::vector<std::pair<char, std::string_view>> ops;
  for (std::size_t i = 0; i < pre; ++i) ops.emplace_back(' ', a[i]);
  if (n * m <= 4'000'000) {
    std::vector<std::vector<std::uint32_t>> L(n + 1, std::vector<std::uint32_t>(m + 1, 0));
    for (std::size_t i = n; i-- > 0;)
      for (std::size_t j = m; j-- > 0;)
        L[i][j] = a[pre + i] == b[pre + j] ? L[i + 1][j + 1] + 1 : std::max(L[i + 1][j], L[i][j + 1]);
    std::size_t i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[pre + i] == b[pre + j]) {
        ops.emplace_back(' ', a[pre + i]), ++i, ++j;
      } else if (i < n && (j == m || L[i + 1][j] >= L[i][j + 1])) {
        ops.emplace_back('-', a[pre + i]), ++i;
      } else {
        ops.emplace_back('+', b[pre + j]), ++j;
      }
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) ops.emplace_back('-', a[pre + i]);
    for (std::size_t j = 0; j < m; ++j) ops.emplace_back('+', b[pre + j]);
  }
  for (std::size_t i = a.size() - suf; i < a.size(); ++i) ops.emplace_back(' ', a[i]);

  std::string out;
  if (n == 0 && m == 0) return out;
  out += "--- " + std::string(a_name) + "\n+++ " + std::string(b_name) + "\n";
  constexpr std::size_t ctx = 3;
  std::size_t k = 0;
  while (k < ops.size()) {
    while (k < ops.size() && ops[k].first == ' ') ++k;
    if (k == ops.size()) break;
    std::size_t start = k >= ctx ? k - ctx : 0;
    std::size_t end = k;  // extend while changes are within 2*ctx of each other
    std::size_t last_change = k;
    while (end < ops.size()) {
      if (ops[end].first != ' ') last_change = end;
      else if (end - last_change > 2 * ctx) break;
      ++end;
    }
    end = std::min(ops.size(), last_change + ctx + 1);
    // line numbers
    std::size_t a_line = 1, b_line = 1;
    for (std::size_t q = 0; q < start; ++q) {
      if (ops[q].first != '+') ++a_line;
      if (ops[q].first != '-') ++b_line;
    }
    std::size_t a_cnt = 0, b_cnt = 0;
    for (std::size_t q = start; q < end; ++q) {
      if (ops[q].first != '+') ++a_cnt;
      if (ops[q].first != '-') ++b_cnt;
    }
    out += "@@ -" + std::to_string(a_cnt ? a_line : a_line - 1) + "," + std::to_string(a_cnt) + " +" +
           std::to_string(b_cnt ? b_line : b_line - 1) + "," + std::to_string(b_cnt) + " @@\n";
    for (std::size_t q = start; q < end; ++q) {
      out.push_back(ops[q].first);
      out.append(ops[q].second);
      out.push_back('\n');
    }
    k = end;
  }
  return out;
}

}  // namespace tenant::learn
