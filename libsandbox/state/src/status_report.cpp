// Status rows from the STATE_DIR tables and their formats
// (tenant/status_report.hpp says what and why).
#include "tenant/status_report.hpp"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <tuple>
#include <unordered_map>

#include "tenant/budget_map.hpp"
#include "tenant/requests.hpp"
#include "tenant/state_file.hpp"

namespace tenant::state {

// ---- rows -------------------------------------------------------------------

std::uint64_t StatusRow::denied_total() const noexcept {
  std::uint64_t n = 0;
  for (auto v : denied) n += v;
  return n;
}

std::uint64_t StatusRow::audited_total() const noexcept {
  std::uint64_t n = 0;
  for (auto v : audited) n += v;
  return n;
}

void StatusRow::add(const StatusRow& o) {
  tenants += o.tenants;
  in_progress += o.in_progress;
  admitted += o.admitted;
  refused += o.refused;
  connections += o.connections;
  for (std::size_t k = 0; k < kDenialKinds; ++k) {
    denied[k] += o.denied[k];
    audited[k] += o.audited[k];
  }
  if (o.last.when > last.when) last = o.last;
}

namespace {

std::int64_t now_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec;
}

// Most active first: busy now, then trouble (denials, refusals), then
// traffic; ties by id so the order is stable between scrapes.
auto activity_key(const StatusRow& r) {
  return std::make_tuple(r.in_progress + r.connections, r.denied_total() + r.audited_total() + r.refused, r.admitted);
}

bool more_active(const StatusRow& a, const StatusRow& b) {
  const auto ka = activity_key(a), kb = activity_key(b);
  if (ka != kb) return ka > kb;
  return a.tenant < b.tenant;
}

// Maps a table read-only for the duration of one collect.
struct Mapped {
  void* base = nullptr;
  std::size_t size = 0;
  ~Mapped() { unmap_state_file(base, size); }
};

const void* map_ro(const std::string& dir, const char* name, std::size_t size, Mapped& hold,
                   std::vector<std::string>& problems) {
  char err[512];
  hold.size = size;
  hold.base = map_state_file(dir.c_str(), name, size, OpenMode::ReadOnly, libc_calls(), err, sizeof err);
  if (hold.base == nullptr) problems.emplace_back(err);
  return hold.base;
}

}  // namespace

StatusReport collect_status(const StatusSources& src, std::size_t top) {
  StatusReport r;
  r.state_dir = src.state_dir;
  r.generated = now_seconds();
  r.unlisted.tenants = 0;  // counts only: which tenants they were is unknown
  // Read every table first, then merge by id once (sized up front: with
  // 100,000 tenants, regrowing the containers costs more than the reads).
  std::vector<TenantRequests> reqs;
  {
    std::string err;
    if (!read_requests(src.state_dir, reqs, err)) r.problems.push_back(err);
  }
  std::vector<TenantConnections> conns;
  {
    Mapped hold;
    const std::size_t size = sizeof(budget_layout::Map);
    const void* base = src.budget != nullptr ? src.budget : map_ro(src.state_dir, "budget", size, hold, r.problems);
    if (base != nullptr && !snapshot_connections(base, size, conns))
      r.problems.push_back("state file " + src.state_dir + "/budget: unknown layout (another version?)");
  }
  DenialSnapshot snap;
  {
    Mapped hold;
    const void* base = src.denials != nullptr
                           ? src.denials
                           : map_ro(src.state_dir, "denials", denial_map_size(), hold, r.problems);
    if (base != nullptr) {
      if (denial_map_valid(base, denial_map_size())) {
        snapshot_denials(base, snap);
        r.have_server = read_server_info(base, r.server);
      } else {
        r.problems.push_back("state file " + src.state_dir + "/denials: unknown layout (another version?)");
      }
    }
  }

  const std::size_t most = reqs.size() + conns.size() + snap.tenants.size();
  std::unordered_map<std::string_view, std::size_t> at;
  at.reserve(most);
  r.rows.reserve(most);
  // Keys view the source vectors' strings, which outlive the map.
  auto row_of = [&](const std::string& id) -> StatusRow& {
    auto [it, fresh] = at.emplace(std::string_view(id), r.rows.size());
    if (fresh) {
      r.rows.emplace_back();
      r.rows.back().tenant = id;
    }
    return r.rows[it->second];
  };
  for (const auto& q : reqs) {
    if (q.tenant.empty()) continue;
    StatusRow& row = row_of(q.tenant);
    row.in_progress = q.in_progress;
    row.admitted = q.admitted;
    row.refused = q.refused;
  }
  for (const auto& c : conns) row_of(c.tenant).connections = static_cast<std::uint64_t>(c.live);
  for (auto& d : snap.tenants) {
    StatusRow& row = row_of(d.tenant);
    std::copy(std::begin(d.denied), std::end(d.denied), std::begin(row.denied));
    std::copy(std::begin(d.audited), std::end(d.audited), std::begin(row.audited));
    row.last = std::move(d.last);
  }
  std::copy(std::begin(snap.other.denied), std::end(snap.other.denied), std::begin(r.unlisted.denied));
  std::copy(std::begin(snap.other.audited), std::end(snap.other.audited), std::begin(r.unlisted.audited));
  r.unlisted.last = snap.other.last;
  r.denial_rows_used = snap.rows_used;
  r.denial_rows_capacity = snap.rows_capacity;

  r.totals.tenants = 0;
  for (auto& row : r.rows) {
    if (src.limits) {
      const Limits l = src.limits(row.tenant);
      row.max_connections = l.max_connections;
      row.max_requests = l.max_requests;
    }
    r.totals.add(row);
  }
  r.totals.add(r.unlisted);
  r.totals.max_connections = r.totals.max_requests = kNoLimit;
  r.totals.tenant.clear();

  const std::size_t n = top == 0 || top > r.rows.size() ? r.rows.size() : top;
  std::partial_sort(r.rows.begin(), r.rows.begin() + static_cast<std::ptrdiff_t>(n), r.rows.end(), more_active);
  r.sorted = n;
  return r;
}

TopView top_view(const StatusReport& r, std::size_t top) {
  TopView v;
  const std::size_t n = top == 0 || top > r.rows.size() ? r.rows.size() : top;
  v.other.tenants = 0;
  for (std::size_t i = 0; i < r.rows.size(); ++i) {
    if (i < n && i < r.sorted) v.top.push_back(&r.rows[i]);
    else v.other.add(r.rows[i]);
  }
  v.other.add(r.unlisted);
  return v;
}

// ---- escaping ---------------------------------------------------------------

namespace {
constexpr char kHex[] = "0123456789abcdef";
}

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        // Control characters and every non-ASCII byte (a target is raw
        // bytes, not necessarily UTF-8) as \u00XX: the document stays ASCII
        // and valid whatever a tenant named its files; '<' and '>' too, so
        // the JSON can never be sniffed as markup.
        if (c < 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '&') {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  return out;
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  return out;
}

std::string prometheus_label_escape(std::string_view s) {
  // The exposition format escapes only \\, \" and \n in label values; any
  // other byte is legal but a raw control or non-UTF-8 byte would break
  // parsers, so those are written as the text \xNN.
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else if (c < 0x20 || c >= 0x7f) {
      out += "\\\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

namespace {
// Text for a terminal: printable ASCII kept, the rest \xNN, quotes escaped.
std::string text_escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}
}  // namespace

const char* errno_name(int err) noexcept {
  if (err == 0) return "0";
  const char* n = ::strerrorname_np(err);
  return n != nullptr ? n : "E?";
}

std::string utc_time(std::int64_t t) {
  if (t <= 0) return "-";
  const time_t tt = static_cast<time_t>(t);
  struct tm tm {};
  char buf[32];
  if (::gmtime_r(&tt, &tm) == nullptr || ::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) return "-";
  return buf;
}

// ---- JSON -------------------------------------------------------------------

namespace {

void json_str(std::string& out, std::string_view s) {
  out += '"';
  out += json_escape(s);
  out += '"';
}

void json_kinds(std::string& out, const std::uint64_t (&v)[kDenialKinds]) {
  out += '{';
  for (std::size_t k = 0; k < kDenialKinds; ++k) {
    if (k) out += ',';
    out += '"';
    out += denial_kind_name(k);
    out += "\":";
    out += std::to_string(v[k]);
  }
  out += '}';
}

void json_limit(std::string& out, std::uint32_t v) {
  if (v == kNoLimit) out += "null";
  else out += std::to_string(v);
}

void json_last(std::string& out, const LastDenial& l) {
  if (l.when == 0) {
    out += "null";
    return;
  }
  out += "{\"time\":";
  out += std::to_string(l.when);
  out += ",\"time_utc\":";
  json_str(out, utc_time(l.when));
  out += ",\"op\":";
  json_str(out, l.op);
  out += ",\"need\":";
  json_str(out, denial_kind_name(l.kind));
  out += ",\"target\":";
  json_str(out, l.target);
  out += ",\"target_truncated\":";
  out += l.truncated ? "true" : "false";
  out += ",\"errno\":";
  json_str(out, errno_name(l.err));
  out += ",\"audit\":";
  out += l.audit ? "true" : "false";
  out += '}';
}

void json_row(std::string& out, const StatusRow& r, bool aggregate) {
  out += '{';
  if (aggregate) {
    out += "\"tenants\":";
    out += std::to_string(r.tenants);
  } else {
    out += "\"tenant\":";
    json_str(out, r.tenant);
  }
  out += ",\"requests_in_progress\":";
  out += std::to_string(r.in_progress);
  out += ",\"requests_admitted\":";
  out += std::to_string(r.admitted);
  out += ",\"requests_refused\":";
  out += std::to_string(r.refused);
  out += ",\"connections\":";
  out += std::to_string(r.connections);
  if (!aggregate) {
    out += ",\"max_connections\":";
    json_limit(out, r.max_connections);
    out += ",\"max_requests\":";
    json_limit(out, r.max_requests);
  }
  out += ",\"denials_total\":";
  out += std::to_string(r.denied_total());
  out += ",\"audit_total\":";
  out += std::to_string(r.audited_total());
  out += ",\"denials\":";
  json_kinds(out, r.denied);
  out += ",\"audit\":";
  json_kinds(out, r.audited);
  out += ",\"last_denial\":";
  json_last(out, r.last);
  out += '}';
}

}  // namespace

std::string format_json(const StatusReport& r, const FormatOptions& o) {
  std::string out;
  out += "{\"generated\":";
  out += std::to_string(r.generated);
  out += ",\"state_dir\":";
  json_str(out, r.state_dir);
  out += ",\"server\":";
  if (r.have_server) {
    out += "{\"policy\":";
    json_str(out, r.server.policy);
    out += ",\"policy_ok\":";
    out += r.server.policy_ok ? "true" : "false";
    out += ",\"policy_loaded\":";
    out += std::to_string(r.server.policy_loaded);
    out += ",\"policy_loaded_utc\":";
    json_str(out, utc_time(r.server.policy_loaded));
    out += ",\"policy_tenants\":";
    out += std::to_string(r.server.policy_tenants);
    out += ",\"kernel\":";
    json_str(out, r.server.kernel);
    out += ",\"pid\":";
    out += std::to_string(r.server.pid);
    out += '}';
  } else {
    out += "null";
  }
  out += ",\"totals\":";
  json_row(out, r.totals, true);
  out += ",\"tenants\":[";
  std::size_t shown = 0;
  StatusRow other;
  if (!o.tenant.empty()) {
    for (const auto& row : r.rows)
      if (row.tenant == o.tenant) {
        json_row(out, row, false);
        shown = 1;
        break;
      }
  } else {
    TopView v = top_view(r, o.top);
    for (const StatusRow* row : v.top) {
      if (shown++) out += ',';
      json_row(out, *row, false);
    }
    other = v.other;
  }
  out += "],\"shown\":";
  out += std::to_string(shown);
  out += ",\"other\":";
  json_row(out, other, true);
  out += ",\"denial_table\":{\"rows_used\":";
  out += std::to_string(r.denial_rows_used);
  out += ",\"rows_capacity\":";
  out += std::to_string(r.denial_rows_capacity);
  out += "},\"problems\":[";
  for (std::size_t i = 0; i < r.problems.size(); ++i) {
    if (i) out += ',';
    json_str(out, r.problems[i]);
  }
  out += "]}\n";
  return out;
}

// ---- Prometheus text exposition format 0.0.4 --------------------------------

namespace {

struct Prom {
  std::string out;
  void family(const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
  }
  void sample(const char* name, std::string_view labels, std::uint64_t v) {
    out += name;
    if (!labels.empty()) {
      out += '{';
      out += labels;
      out += '}';
    }
    out += ' ';
    out += std::to_string(v);
    out += '\n';
  }
};

std::string tenant_label(const StatusRow* row) {
  // "_other": a tenant id can never start with '_' (DESIGN.md), so the
  // aggregate cannot collide with a real tenant.
  return "tenant=\"" + (row != nullptr ? prometheus_label_escape(row->tenant) : std::string("_other")) + "\"";
}

}  // namespace

std::string format_prometheus(const StatusReport& r, const FormatOptions& o) {
  const TopView v = top_view(r, o.top);
  std::vector<std::pair<std::string, const StatusRow*>> rows;
  rows.reserve(v.top.size() + 1);
  for (const StatusRow* row : v.top) rows.emplace_back(tenant_label(row), row);
  rows.emplace_back(tenant_label(nullptr), &v.other);

  Prom p;
  p.family("tenant_sandbox_requests_in_progress", "gauge", "Requests of the tenant in progress now, over all workers.");
  for (const auto& [l, row] : rows) p.sample("tenant_sandbox_requests_in_progress", l, row->in_progress);
  p.family("tenant_sandbox_requests_admitted_total", "counter", "Requests of the tenant admitted (counted) since the table was created.");
  for (const auto& [l, row] : rows) p.sample("tenant_sandbox_requests_admitted_total", l, row->admitted);
  p.family("tenant_sandbox_requests_refused_total", "counter", "Requests of the tenant refused over max_requests.");
  for (const auto& [l, row] : rows) p.sample("tenant_sandbox_requests_refused_total", l, row->refused);
  p.family("tenant_sandbox_connections", "gauge", "Counted network connections the tenant holds now (tenants with max_connections).");
  for (const auto& [l, row] : rows) p.sample("tenant_sandbox_connections", l, row->connections);
  p.family("tenant_sandbox_connections_limit", "gauge", "The tenant's max_connections (tenants that have one).");
  for (const auto& [l, row] : rows)
    if (row != &v.other && row->max_connections != kNoLimit) p.sample("tenant_sandbox_connections_limit", l, row->max_connections);
  p.family("tenant_sandbox_requests_limit", "gauge", "The tenant's max_requests (tenants that have one).");
  for (const auto& [l, row] : rows)
    if (row != &v.other && row->max_requests != kNoLimit) p.sample("tenant_sandbox_requests_limit", l, row->max_requests);
  p.family("tenant_sandbox_denials_total", "counter", "Calls refused by the sandbox, by kind (kinds with none are omitted).");
  for (const auto& [l, row] : rows)
    for (std::size_t k = 0; k < kDenialKinds; ++k)
      if (row->denied[k] != 0)
        p.sample("tenant_sandbox_denials_total", l + ",kind=\"" + denial_kind_name(k) + "\"", row->denied[k]);
  p.family("tenant_sandbox_audit_denials_total", "counter", "Calls that would have been refused, logged only (audit mode), by kind.");
  for (const auto& [l, row] : rows)
    for (std::size_t k = 0; k < kDenialKinds; ++k)
      if (row->audited[k] != 0)
        p.sample("tenant_sandbox_audit_denials_total", l + ",kind=\"" + denial_kind_name(k) + "\"", row->audited[k]);
  p.family("tenant_sandbox_last_denial_timestamp_seconds", "gauge", "Unix time of the tenant's last denial.");
  for (const auto& [l, row] : rows)
    if (row->last.when > 0) p.sample("tenant_sandbox_last_denial_timestamp_seconds", l, static_cast<std::uint64_t>(row->last.when));

  p.family("tenant_sandbox_tenants", "gauge", "Tenants with any state (requests, connections or denials).");
  p.sample("tenant_sandbox_tenants", "", r.rows.size());
  p.family("tenant_sandbox_tenants_shown", "gauge", "Tenants with series of their own in this scrape (top=N); the rest are tenant=\"_other\".");
  p.sample("tenant_sandbox_tenants_shown", "", v.top.size());
  p.family("tenant_sandbox_all_requests_in_progress", "gauge", "Requests in progress now, all tenants.");
  p.sample("tenant_sandbox_all_requests_in_progress", "", r.totals.in_progress);
  p.family("tenant_sandbox_all_requests_admitted_total", "counter", "Requests admitted, all tenants.");
  p.sample("tenant_sandbox_all_requests_admitted_total", "", r.totals.admitted);
  p.family("tenant_sandbox_all_requests_refused_total", "counter", "Requests refused over max_requests, all tenants.");
  p.sample("tenant_sandbox_all_requests_refused_total", "", r.totals.refused);
  p.family("tenant_sandbox_all_connections", "gauge", "Counted connections held now, all tenants.");
  p.sample("tenant_sandbox_all_connections", "", r.totals.connections);
  p.family("tenant_sandbox_all_denials_total", "counter", "Calls refused, all tenants, by kind.");
  for (std::size_t k = 0; k < kDenialKinds; ++k)
    p.sample("tenant_sandbox_all_denials_total", std::string("kind=\"") + denial_kind_name(k) + "\"", r.totals.denied[k]);
  p.family("tenant_sandbox_all_audit_denials_total", "counter", "Calls logged only (audit mode), all tenants, by kind.");
  for (std::size_t k = 0; k < kDenialKinds; ++k)
    p.sample("tenant_sandbox_all_audit_denials_total", std::string("kind=\"") + denial_kind_name(k) + "\"", r.totals.audited[k]);
  p.family("tenant_sandbox_denial_table_rows", "gauge", "Rows of the shared denial table in use (tenants beyond its capacity are counted in _other).");
  p.sample("tenant_sandbox_denial_table_rows", "", r.denial_rows_used);
  p.family("tenant_sandbox_denial_table_capacity", "gauge", "Rows the shared denial table holds.");
  p.sample("tenant_sandbox_denial_table_capacity", "", r.denial_rows_capacity);
  p.family("tenant_sandbox_state_problems", "gauge", "STATE_DIR tables that could not be read for this scrape (see ?json).");
  p.sample("tenant_sandbox_state_problems", "", r.problems.size());
  if (r.have_server) {
    p.family("tenant_sandbox_policy_tenants", "gauge", "Tenants listed in the policy in force.");
    p.sample("tenant_sandbox_policy_tenants", "", r.server.policy_tenants);
    p.family("tenant_sandbox_policy_loaded_timestamp_seconds", "gauge", "Unix time the policy in force was loaded.");
    p.sample("tenant_sandbox_policy_loaded_timestamp_seconds", "", static_cast<std::uint64_t>(r.server.policy_loaded));
    p.family("tenant_sandbox_policy_reload_refused", "gauge", "1 when the last (re)load of the policy was refused and the older one stays in force.");
    p.sample("tenant_sandbox_policy_reload_refused", "", r.server.policy_ok ? 0 : 1);
    p.family("tenant_sandbox_info", "gauge", "The policy file and the kernel layers in force (value always 1).");
    p.sample("tenant_sandbox_info",
             "policy=\"" + prometheus_label_escape(r.server.policy) + "\",kernel=\"" +
                 prometheus_label_escape(r.server.kernel) + "\"",
             1);
  }
  return p.out;
}

// ---- HTML -------------------------------------------------------------------

namespace {

std::string limit_text(std::uint64_t v, std::uint32_t lim) {
  return lim == kNoLimit ? std::to_string(v) : std::to_string(v) + " / " + std::to_string(lim);
}

std::string kinds_text(const std::uint64_t (&v)[kDenialKinds]) {
  std::string s;
  for (std::size_t k = 0; k < kDenialKinds; ++k) {
    if (v[k] == 0) continue;
    if (!s.empty()) s += ' ';
    s += denial_kind_name(k);
    s += '=';
    s += std::to_string(v[k]);
  }
  return s.empty() ? "-" : s;
}

void html_row(std::string& out, const StatusRow& r, const std::string& name, bool aggregate) {
  out += aggregate ? "<tr class=\"agg\"><td class=\"id\">" : "<tr><td class=\"id\">";
  out += html_escape(name);
  out += "</td><td class=\"n\">";
  out += aggregate ? std::to_string(r.in_progress) : html_escape(limit_text(r.in_progress, r.max_requests));
  out += "</td><td class=\"n\">";
  out += std::to_string(r.admitted);
  out += "</td><td class=\"n\">";
  out += std::to_string(r.refused);
  out += "</td><td class=\"n\">";
  out += aggregate ? std::to_string(r.connections) : html_escape(limit_text(r.connections, r.max_connections));
  out += "</td><td class=\"n\">";
  out += std::to_string(r.denied_total());
  out += "</td><td>";
  out += html_escape(kinds_text(r.denied));
  out += "</td><td class=\"n\">";
  out += std::to_string(r.audited_total());
  out += "</td><td class=\"last\">";
  if (r.last.when > 0) {
    out += html_escape(utc_time(r.last.when));
    out += " <b>";
    out += html_escape(r.last.op);
    out += "</b> ";
    out += html_escape(denial_kind_name(r.last.kind));
    out += " <code>";
    out += html_escape(r.last.target);
    if (r.last.truncated) out += "&hellip;";
    out += "</code> ";
    out += html_escape(errno_name(r.last.err));
    if (r.last.audit) out += " (audit)";
  } else {
    out += "-";
  }
  out += "</td></tr>\n";
}

}  // namespace

std::string format_html(const StatusReport& r, const FormatOptions& o) {
  const TopView v = top_view(r, o.top);
  std::string out;
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<title>Tenant sandbox status</title>\n"
      "<style>body{font-family:sans-serif;margin:1.5em;color:#222}"
      "table{border-collapse:collapse;margin:.5em 0 1.5em}"
      "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}"
      "th{background:#eef}td.n{text-align:right;font-variant-numeric:tabular-nums}"
      "td.id{font-family:monospace}td.last code{word-break:break-all}"
      "tr.agg td{background:#f6f6f6;font-style:italic}dt{font-weight:bold;float:left;width:11em}"
      "dd{margin:0 0 .3em 11em}.warn{color:#a00}</style>\n"
      "</head><body>\n<h1>Tenant sandbox status</h1>\n<dl>\n";
  auto item = [&out](const char* k, const std::string& val) {
    out += "<dt>";
    out += k;
    out += "</dt><dd>";
    out += html_escape(val);
    out += "</dd>\n";
  };
  item("Generated", utc_time(r.generated));
  item("State folder", r.state_dir);
  if (r.have_server) {
    item("Policy", r.server.policy + (r.server.policy_ok ? "" : "  (last reload refused: the older policy stays in force)"));
    item("Policy loaded", utc_time(r.server.policy_loaded));
    item("Policy tenants", std::to_string(r.server.policy_tenants));
    item("Kernel layers", r.server.kernel.empty() ? "-" : r.server.kernel);
  } else {
    item("Policy", "(no Apache parent has recorded it in this state folder)");
  }
  item("Tenants seen", std::to_string(r.rows.size()) + " (showing " + std::to_string(v.top.size()) + ", top=" +
                           std::to_string(o.top) + ")");
  out += "</dl>\n";
  for (const auto& p : r.problems) {
    out += "<p class=\"warn\">";
    out += html_escape(p);
    out += "</p>\n";
  }
  out +=
      "<table>\n<tr><th>Tenant</th><th>Requests in progress</th><th>Admitted</th><th>Refused</th>"
      "<th>Connections</th><th>Denials</th><th>By kind</th><th>Audit only</th><th>Last denial</th></tr>\n";
  for (const StatusRow* row : v.top) html_row(out, *row, row->tenant, false);
  html_row(out, v.other, "other (" + std::to_string(v.other.tenants) + " tenants)", true);
  html_row(out, r.totals, "all (" + std::to_string(r.totals.tenants) + " tenants)", true);
  out += "</table>\n<p>Also as <a href=\"?json\">JSON</a> and <a href=\"?prometheus\">Prometheus</a>.</p>\n";
  out += "</body></html>\n";
  return out;
}

// ---- text (the CLI) -----------------------------------------------------------

std::string format_text(const StatusReport& r, const FormatOptions& o) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "state folder %s, %s\n", text_escape(r.state_dir).c_str(), utc_time(r.generated).c_str());
  out += line;
  if (r.have_server) {
    std::snprintf(line, sizeof line, "policy %s (%s, loaded %s, %llu tenants)\nkernel %s\n",
                  text_escape(r.server.policy).c_str(), r.server.policy_ok ? "in force" : "last reload refused",
                  utc_time(r.server.policy_loaded).c_str(), static_cast<unsigned long long>(r.server.policy_tenants),
                  r.server.kernel.empty() ? "-" : text_escape(r.server.kernel).c_str());
    out += line;
  }
  // r.problems: the CLI writes them to stderr itself.
  std::snprintf(line, sizeof line, "%-24s %10s %10s %8s %10s %8s %6s  %s\n", "TENANT", "REQUESTS", "ADMITTED",
                "REFUSED", "CONNS", "DENIALS", "AUDIT", "LAST DENIAL");
  out += line;
  auto emit = [&](const StatusRow& row, const std::string& name, bool aggregate) {
    const std::string reqs = aggregate ? std::to_string(row.in_progress) : limit_text(row.in_progress, row.max_requests);
    const std::string conns = aggregate ? std::to_string(row.connections) : limit_text(row.connections, row.max_connections);
    std::string last = "-";
    if (row.last.when > 0)
      last = utc_time(row.last.when) + " " + text_escape(row.last.op) + " " + denial_kind_name(row.last.kind) + " \"" +
             text_escape(row.last.target) + (row.last.truncated ? "...\"" : "\"") + " " + errno_name(row.last.err) +
             (row.last.audit ? " (audit)" : "");
    std::snprintf(line, sizeof line, "%-24s %10s %10llu %8llu %10s %8llu %6llu  ", text_escape(name).c_str(),
                  reqs.c_str(), static_cast<unsigned long long>(row.admitted),
                  static_cast<unsigned long long>(row.refused), conns.c_str(),
                  static_cast<unsigned long long>(row.denied_total()),
                  static_cast<unsigned long long>(row.audited_total()));
    out += line;
    out += last;
    out += '\n';
  };
  if (!o.tenant.empty()) {
    for (const auto& row : r.rows)
      if (row.tenant == o.tenant) emit(row, row.tenant, false);
    return out;
  }
  const TopView v = top_view(r, o.top);
  for (const StatusRow* row : v.top) emit(*row, row->tenant, false);
  if (v.other.tenants > 0 || v.other.denied_total() + v.other.audited_total() > 0)
    emit(v.other, "(other " + std::to_string(v.other.tenants) + ")", true);
  emit(r.totals, "(all " + std::to_string(r.totals.tenants) + ")", true);
  return out;
}

}  // namespace tenant::state
