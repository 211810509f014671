// `tenant-sandbox explain --policy P --tenant ID (read|write|exec PATH |
// connect HOST:PORT)`: runs exactly the decision the preload library makes
// (TenantContext::decide_*) and prints it with the rule that decided.
// Exit: 0 allow, 1 deny, 2 usage or input error.
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "commands.hpp"
#include "policy_files.hpp"
#include "tenant/address.hpp"
#include "tenant/context.hpp"
#include "tenant/path.hpp"
#include "tenant/policy.hpp"

namespace cli {

const Command kExplain{
    "explain",
    "--policy POLICY --tenant ID (read|write|exec PATH | connect HOST:PORT)",
    "show the decision libsandbox would make, and the rule behind it",
    {{"policy", "POLICY", "the policy file or folder"}, {"tenant", "ID", "the tenant whose rules decide"}},
    "  HOST: IPv4 address, [IPv6 address] or a name (every resolved address is explained);\n"
    "  connect also takes a unix socket: an absolute path or @abstract-name\n"
    "  exit: 0 allow, 1 deny, 2 usage or input error\n",
};

namespace {

int usage(const char* why) { return usage_error(kExplain, why); }

int print_decision(const tenant::TenantContext& ctx, const tenant::Decision& d, tenant::Need need,
                   const std::string& target) {
  std::printf("%s %s %s: %s\n", d.allowed ? "allow" : "deny", tenant::need_name(need), target.c_str(),
              ctx.describe(d, need).c_str());
  return d.allowed ? 0 : 1;
}

int explain_path(const tenant::TenantContext& ctx, const std::string& verb, const std::string& arg) {
  std::string cwd = "/";
  if (arg.empty() || arg.front() != '/') {
    char buf[tenant::kMaxPath];
    if (::getcwd(buf, sizeof buf) == nullptr) {
      std::fprintf(stderr, "tenant-sandbox explain: getcwd: %s\n", std::strerror(errno));
      return 2;
    }
    cwd = buf;
  }
  char norm[tenant::kMaxPath];
  tenant::NormalizedPath np;
  if (!tenant::normalize_path(cwd, arg, norm, sizeof norm, &np)) {
    std::fprintf(stderr, "tenant-sandbox explain: path is empty or too long (ENAMETOOLONG)\n");
    return 2;
  }
  const std::string path(norm, np.len);
  if (verb == "exec") return print_decision(ctx, ctx.decide_exec(path), tenant::Need::Exec, path);
  const tenant::Need need = verb == "write" ? tenant::Need::Write : tenant::Need::Read;
  return print_decision(ctx, ctx.decide_path(path, need), need, path);
}

bool parse_port(const std::string& s, std::uint16_t* port) {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > 65535) return false;
  *port = static_cast<std::uint16_t>(v);
  return true;
}

int explain_connect(const tenant::TenantContext& ctx, const std::string& arg) {
  if (!arg.empty() && (arg.front() == '/' || arg.front() == '@')) {
    std::string target = arg;
    if (arg.front() == '/') {
      char norm[tenant::kMaxPath];
      tenant::NormalizedPath np;
      if (!tenant::normalize_path("/", arg, norm, sizeof norm, &np)) return usage("socket path too long");
      target.assign(norm, np.len);
    }
    return print_decision(ctx, ctx.decide_unix_socket(target), tenant::Need::Connect, "unix:" + target);
  }
  std::string host;
  std::string port_text;
  if (!arg.empty() && arg.front() == '[') {
    const std::size_t close = arg.find(']');
    if (close == std::string::npos || close + 1 >= arg.size() || arg[close + 1] != ':')
      return usage("expected [IPv6]:PORT");
    host = arg.substr(1, close - 1);
    port_text = arg.substr(close + 2);
  } else {
    const std::size_t colon = arg.rfind(':');
    if (colon == std::string::npos) return usage("expected HOST:PORT");
    host = arg.substr(0, colon);
    port_text = arg.substr(colon + 1);
    if (host.find(':') != std::string::npos) return usage("write an IPv6 address as [ADDRESS]:PORT");
  }
  std::uint16_t port = 0;
  if (host.empty()) return usage("empty host");
  if (!parse_port(port_text, &port)) return usage("port must be a number 0..65535");

  std::vector<tenant::CanonicalAddress> addrs;
  if (auto literal = tenant::parse_address(host)) {
    literal->port = port;
    addrs.push_back(*literal);
  } else {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res);
    if (rc != 0) {
      std::fprintf(stderr, "tenant-sandbox explain: cannot resolve \"%s\": %s\n", host.c_str(), ::gai_strerror(rc));
      return 2;
    }
    for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      auto c = tenant::canonicalize(ai->ai_addr, ai->ai_addrlen);
      if (!c) continue;
      bool seen = false;
      for (const auto& a : addrs) seen = seen || a == *c;
      if (!seen) addrs.push_back(*c);
    }
    ::freeaddrinfo(res);
    if (addrs.empty()) {
      std::fprintf(stderr, "tenant-sandbox explain: \"%s\" has no IPv4 or IPv6 address\n", host.c_str());
      return 2;
    }
  }
  int status = 0;
  for (const auto& a : addrs) {
    std::string target = tenant::to_string(a);
    target = (a.is_v4() ? target : "[" + target + "]") + ":" + std::to_string(a.port);
    if (host != tenant::to_string(a)) target += " (" + host + ")";
    if (print_decision(ctx, ctx.decide_address(a), tenant::Need::Connect, target) != 0) status = 1;
  }
  return status;
}

}  // namespace

int cmd_explain(int argc, char** argv) {
  Args args;
  if (const int rc = parse(kExplain, argc, argv, &args); rc >= 0) return rc;
  const std::string& policy_path = args.value("policy");
  const std::string& tenant_id = args.value("tenant");
  const std::vector<std::string>& rest = args.operands;
  if (policy_path.empty()) return usage("--policy is required");
  if (!args.has("tenant")) return usage("--tenant is required");
  if (rest.size() != 2) return usage("expected one of: read PATH, write PATH, exec PATH, connect HOST:PORT");
  const std::string& verb = rest[0];
  if (verb != "read" && verb != "write" && verb != "exec" && verb != "connect")
    return usage(("unknown operation \"" + verb + "\"").c_str());

  auto loaded = tenant::Policy::load(policy_path);
  if (!loaded) {
    print_errors(loaded.error());
    return 2;
  }
  auto ctx = tenant::TenantContext::create(*loaded.value(), tenant_id);
  if (!ctx) {
    std::fprintf(stderr, "tenant-sandbox explain: %s\n", ctx.error().what.c_str());
    return 2;
  }
  if (verb == "connect") return explain_connect(*ctx.value(), rest[1]);
  return explain_path(*ctx.value(), verb, rest[1]);
}

}  // namespace cli
