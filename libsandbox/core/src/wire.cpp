// The denial line's writer and parser, and the shared names (wire.hpp).
#include "tenant/wire.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iterator>

#include "tenant/context.hpp"

namespace tenant::wire {

const char* state_dir_from_env() noexcept {
  const char* d = std::getenv(kEnvStateDir);
  return d != nullptr && d[0] == '/' ? d : kDefaultStateDir;
}

namespace {

// ---- writing: fixed buffers, no allocation -----------------------------------

struct Out {
  char* buf;
  std::size_t cap;  // usable bytes, the NUL excluded
  std::size_t pos = 0;
  void put(char c) noexcept {
    if (pos < cap) buf[pos++] = c;
  }
  void add(std::string_view s) noexcept {
    for (char c : s) put(c);
  }
  void number(std::uint64_t n) noexcept {
    char digits[24];
    std::size_t d = 0;
    do {
      digits[d++] = static_cast<char>('0' + n % 10);
      n /= 10;
    } while (n != 0);
    while (d != 0) put(digits[--d]);
  }
  // `s` quoted (see wire.hpp); stops with "..." inside the quotes when fewer
  // than `reserve` bytes would be left for what follows.
  void quoted(std::string_view s, std::size_t reserve) noexcept {
    static const char hex[] = "0123456789abcdef";
    put('"');
    for (char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      if (pos + 8 + reserve >= cap) {
        add("...");
        break;
      }
      if (c == '"' || c == '\\') {
        put('\\');
        put(static_cast<char>(c));
      } else if (c < 0x20 || c >= 0x7f) {
        put('\\');
        put('x');
        put(hex[c >> 4]);
        put(hex[c & 15]);
      } else {
        put(static_cast<char>(c));
      }
    }
    put('"');
  }
  std::size_t done() noexcept {
    buf[pos] = '\0';
    return pos;
  }
};

// ---- reading ---------------------------------------------------------------------

// `"..."` as Out::quoted wrote it: \" \\ and \xNN.
bool read_quoted(std::string_view s, std::size_t& pos, std::string& out) {
  if (pos >= s.size() || s[pos] != '"') return false;
  ++pos;
  out.clear();
  while (pos < s.size()) {
    char c = s[pos++];
    if (c == '"') return true;
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (pos >= s.size()) return false;
    c = s[pos++];
    if (c == 'x') {
      if (pos + 2 > s.size()) return false;
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      const int hi = hex(s[pos]), lo = hex(s[pos + 1]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      pos += 2;
    } else {
      out.push_back(c);
    }
  }
  return false;  // unterminated (a line cut by someone else)
}

// key=value where value runs to the next space.
bool read_word(std::string_view s, std::size_t& pos, std::string_view key, std::string& out) {
  if (s.substr(pos, key.size()) != key) return false;
  pos += key.size();
  const std::size_t end = std::min(s.find(' ', pos), s.size());
  out.assign(s.substr(pos, end - pos));
  pos = end;
  return !out.empty();
}

bool skip_space(std::string_view s, std::size_t& pos) {
  if (pos < s.size() && s[pos] == ' ') {
    ++pos;
    return true;
  }
  return pos >= s.size();
}

bool is_need_name(std::string_view n) noexcept {
  for (Need k : {Need::Stat, Need::Read, Need::Write, Need::Exec, Need::Connect, Need::Send, Need::Bind})
    if (n == need_name(k)) return true;
  return false;
}

}  // namespace

std::size_t format_denial(char* buf, std::size_t cap, const Denial& d) noexcept {
  if (cap == 0) return 0;
  Out o{buf, cap - 1};
  o.add(kMarker);
  o.add(d.audit ? "audit tenant=" : "deny tenant=");
  o.add(d.tenant);
  o.add(" op=");
  o.add(d.op);
  o.add(" need=");
  o.add(d.need);
  o.add(" target=");
  // Room kept for errno, the rule's start, request= and the audit note.
  o.quoted(d.target, 200);
  o.add(" errno=");
  o.add(d.err.empty() ? std::string_view("?") : d.err);
  if (!d.rule.empty()) {
    o.add(" rule=");
    o.quoted(d.rule, 100);
  }
  if (!d.vhost.empty()) {
    o.add(" vhost=");
    o.add(d.vhost);
  }
  if (!d.request.empty()) {
    o.add(" request=");
    o.add(d.request);
  }
  if (d.audit) o.add(" (audit mode: allowed)");
  return o.done();
}

std::size_t format_suppressed(char* buf, std::size_t cap, std::string_view tenant, bool audit, std::uint64_t n,
                              std::uint32_t window_seconds) noexcept {
  if (cap == 0) return 0;
  Out o{buf, cap - 1};
  o.add(kMarker);
  o.add(audit ? "audit tenant=" : "deny tenant=");
  o.add(tenant);
  o.add(" suppressed=");
  o.number(n);
  o.add(" window=");
  o.number(window_seconds);
  o.put('s');
  return o.done();
}

LineKind parse_denial(std::string_view line, ParsedDenial& out, std::string& problem) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  const std::size_t at = line.find(kMarker);
  if (at == std::string_view::npos) return LineKind::Other;
  std::size_t pos = at + std::strlen(kMarker);
  out = ParsedDenial{};
  if (line.substr(pos, 5) == "deny ") {
    pos += 5;
  } else if (line.substr(pos, 6) == "audit ") {
    out.audit = true;
    pos += 6;
  } else {
    return LineKind::Other;  // "fatal: ...", start-up messages
  }
  if (!read_word(line, pos, "tenant=", out.tenant)) return LineKind::Other;
  if (line.substr(pos, 12) == " suppressed=") return LineKind::Summary;
  auto bad = [&](const char* why) {
    problem = why;
    return LineKind::Malformed;
  };
  if (!skip_space(line, pos) || !read_word(line, pos, "op=", out.op)) return bad("no op= after tenant=");
  if (!skip_space(line, pos) || !read_word(line, pos, "need=", out.need)) return bad("no need= after op=");
  if (!is_need_name(out.need)) return bad("need= is not stat|read|write|exec|connect|send|bind");
  if (!skip_space(line, pos) || line.substr(pos, 7) != "target=") return bad("no target= after need=");
  pos += 7;
  if (!read_quoted(line, pos, out.target)) return bad("target is not a complete quoted string (truncated line?)");
  if (!skip_space(line, pos) || !read_word(line, pos, "errno=", out.err)) return bad("no errno= after target=");
  while (pos < line.size()) {
    if (!skip_space(line, pos)) return bad("unexpected text after errno=");
    if (line.substr(pos, 5) == "rule=") {
      pos += 5;
      if (!read_quoted(line, pos, out.rule)) return bad("rule is not a complete quoted string");
    } else if (line.substr(pos, 8) == "request=") {
      read_word(line, pos, "request=", out.request);
    } else if (line.substr(pos, 6) == "vhost=") {
      read_word(line, pos, "vhost=", out.vhost);
    } else if (line.substr(pos, 21) == "(audit mode: allowed)") {
      pos += 21;
    } else {
      return bad("unexpected text after errno=");
    }
  }
  return LineKind::Entry;
}

}  // namespace tenant::wire
