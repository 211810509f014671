// `tenant-sandbox tenant add|remove|list`: the tenants of a policy, for
// hosting panels that provision sites (docs/cli.md).
//
// Every edit is checked as a whole before it is written: the policy as it
// would be afterwards must pass what `check` checks, else nothing is
// written and the errors are shown. Edits hold an flock on the policy's
// folder from reading to renaming, so concurrent panel jobs never lose one
// another's tenants, and replace files atomically (policy_files.hpp), so
// Apache's graceful restart never reads half a file.
//
// Where a tenant lives: in a policy folder, FOLDER/ID.json, unless
// _main.json lists it under "tenants" (a policy moved into a folder as it
// was); in a single file, under "tenants". A policy document (single file
// or _main.json) is rewritten pretty-printed with its key order kept, and
// only when it is valid before the edit too: JSON cannot carry what makes
// some invalid documents invalid (a duplicate key would silently keep its
// last value), so rewriting one would change its meaning unseen.
//
// Exit: 0 done, 1 refused (nothing written; why on stderr), 2 usage.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "commands.hpp"
#include "policy_files.hpp"
#include "tenant/policy.hpp"
#include "tenant/tenant_id.hpp"

namespace cli {

const Command kTenantAdd{
    "tenant add",
    "--policy POLICY ID [--rules JSON | --rules-file FILE] [--replace]",
    "add tenant ID to a policy (a folder gets FOLDER/ID.json); checked as a whole before it is written",
    {{"policy", "POLICY", "the policy file or folder to edit"},
     {"rules", "JSON", "the tenant's RULES object, e.g. '{\"read_only\":[\"/srv/shared\"]}' (default: {}, the defaults)"},
     {"rules-file", "FILE", "read the RULES object from FILE (- for standard input)"},
     {"replace", nullptr, "replace the rules of a tenant already listed (without it, that is refused)"}},
    "  exit: 0 written, 1 refused (nothing written; the errors are shown), 2 usage\n",
};
const Command kTenantRemove{
    "tenant remove",
    "--policy POLICY ID",
    "remove tenant ID from a policy; checked as a whole before it is written",
    {{"policy", "POLICY", "the policy file or folder to edit"}},
    "  exit: 0 removed, 1 refused (not listed, or the policy would be invalid), 2 usage\n",
};
const Command kTenantList{
    "tenant list",
    "--policy POLICY [--json]",
    "the tenants a policy lists, one id a line",
    {{"policy", "POLICY", "the policy file or folder"},
     {"json", nullptr, "a JSON object: each tenant's id, the file (and pointer) of its rules, its own keys"}},
    "  exit: 0 listed, 1 the policy is invalid (errors on stderr), 2 usage\n",
};

namespace {

using ojson = nlohmann::ordered_json;

const Command kTenant{
    "tenant",
    "(add|remove|list) ...",
    "the tenants of a policy, for hosting panels; `tenant-sandbox tenant COMMAND --help` for each",
    {},
};
const Command* const kSubcommands[] = {&kTenantAdd, &kTenantRemove, &kTenantList};

// Where tenant `id` is, or would be, written.
struct Place {
  std::string file;       // the file to write or remove
  bool document = false;  // a policy document ("tenants" inside), else a folder's ID.json
  bool listed = false;
  bool exists = false;    // `file` exists now
  struct stat like {};    // owner and mode for the new file: its own, or _main.json's
  std::string overlay_name;  // folder: the name of `file` in it; "" for a single file
};

std::string folder_file(const std::string& folder, const std::string& name) {
  return (folder.back() == '/' ? folder : folder + "/") + name;
}

bool lists(const std::string& document_text, const std::string& id) {
  try {
    const ojson doc = ojson::parse(document_text);
    return doc.is_object() && doc.contains("tenants") && doc["tenants"].is_object() && doc["tenants"].contains(id);
  } catch (const std::exception&) {
    return false;  // not JSON: the check of the result reports it
  }
}

bool locate(const std::string& policy, const std::string& id, Place* p, std::string* err) {
  if (is_directory(policy)) {
    const std::string main = folder_file(policy, tenant::Policy::kFolderMainFile);
    const std::string own = folder_file(policy, id + ".json");
    if (::stat(main.c_str(), &p->like) != 0) {
      *err = main + ": cannot open: " + std::strerror(errno);
      return false;
    }
    struct stat st {};
    std::string main_text;
    if (::stat(own.c_str(), &st) == 0) {
      *p = Place{own, false, true, true, st, id + ".json"};
    } else if (read_text(main, &main_text, err) && lists(main_text, id)) {
      *p = Place{main, true, true, true, p->like, tenant::Policy::kFolderMainFile};
    } else {
      if (!err->empty()) return false;
      *p = Place{own, false, false, false, p->like, id + ".json"};
    }
    return true;
  }
  std::string text;
  if (::stat(policy.c_str(), &p->like) != 0 || !read_text(policy, &text, err)) {
    if (err->empty()) *err = policy + ": cannot open: " + std::strerror(errno);
    return false;
  }
  *p = Place{policy, true, lists(text, id), true, p->like, ""};
  return true;
}

// The policy with `place`'s file replaced by `content` (nullopt: removed),
// checked as `check` would.
Checked check_edit(const std::string& policy, const Place& place, const std::optional<std::string>& content) {
  if (place.overlay_name.empty()) return parse_checked(*content, policy);
  tenant::FolderOverlay overlay;
  overlay[place.overlay_name] = content;
  return load_checked(policy, &overlay);
}

// A policy document with tenant `id` set to `rules` (nullptr: removed).
bool edit_document(const std::string& file, const std::string& id, const ojson* rules, std::string* out,
                   std::string* err) {
  std::string text;
  if (!read_text(file, &text, err)) return false;
  ojson doc = ojson::parse(text);
  if (!doc.contains("tenants")) doc["tenants"] = ojson::object();
  if (rules != nullptr) {
    doc["tenants"][id] = *rules;
  } else {
    doc["tenants"].erase(id);
  }
  *out = doc.dump(2) + "\n";
  return true;
}

int refuse(const Command& cmd, const std::string& why) {
  std::fprintf(stderr, "tenant-sandbox %s: %s\n", cmd.name, why.c_str());
  return 1;
}

int refuse(const Command& cmd, const tenant::FileErrors& errors, const std::string& why) {
  print_errors(errors);
  return refuse(cmd, why);
}

// The operands and --policy every editing command needs; -1 when fine.
int policy_and_id(const Command& cmd, const Args& args, std::string* id) {
  if (args.value("policy").empty()) return usage_error(cmd, "--policy POLICY is required");
  if (args.operands.size() != 1) return usage_error(cmd, args.operands.empty() ? "no tenant ID given" : "exactly one ID expected");
  *id = args.operands[0];
  if (const char* why = tenant::tenant_id_problem(*id); why[0] != '\0')
    return refuse(cmd, "invalid tenant id \"" + *id + "\": " + why + "; nothing written");
  return -1;
}

// The edit of a policy document, which must be valid before it too.
int document_edit_refused(const Command& cmd, const std::string& policy, const Place& place) {
  const Checked now = load_checked(policy);
  if (now.policy) return -1;
  return refuse(cmd, now.errors,
                place.file + " is not valid now; fix it first (a rewrite could change what it means); nothing written");
}

int add(int argc, char** argv) {
  Args args;
  if (const int rc = parse(kTenantAdd, argc, argv, &args); rc >= 0) return rc;
  std::string id;
  if (const int rc = policy_and_id(kTenantAdd, args, &id); rc >= 0) return rc;
  if (args.has("rules") && args.has("rules-file")) return usage_error(kTenantAdd, "--rules and --rules-file exclude each other");
  const std::string& policy = args.value("policy");

  // The rules on their own first: their errors are located in what the
  // panel sent, not in a file that does not exist yet.
  std::string rules_text = "{}";
  std::string source = "--rules";
  std::string err;
  if (args.has("rules")) {
    rules_text = args.value("rules");
  } else if (args.has("rules-file")) {
    source = args.value("rules-file");
    rules_text.clear();
    if (!read_text(source == "-" ? "/dev/stdin" : source, &rules_text, &err)) return refuse(kTenantAdd, err);
  }
  if (tenant::Errors errs = tenant::Policy::check_rules(rules_text); !errs.empty()) {
    tenant::FileErrors located;
    for (tenant::Error& e : errs) located.push_back({source, std::move(e.where), std::move(e.what)});
    return refuse(kTenantAdd, located, "invalid rules for tenant " + id + "; nothing written");
  }
  const ojson rules = ojson::parse(rules_text);

  FolderLock lock(is_directory(policy) ? policy : parent_dir(policy));
  if (!lock.ok()) return refuse(kTenantAdd, lock.error());
  Place place;
  if (!locate(policy, id, &place, &err)) return refuse(kTenantAdd, err);
  if (place.listed && !args.has("replace"))
    return refuse(kTenantAdd, "tenant " + id + " is already listed in " + place.file +
                                  " (--replace to replace its rules); nothing written");
  std::string content;
  if (place.document) {
    if (const int rc = document_edit_refused(kTenantAdd, policy, place); rc >= 0) return rc;
    if (!edit_document(place.file, id, &rules, &content, &err)) return refuse(kTenantAdd, err);
  } else {
    content = rules.dump(2) + "\n";
  }
  const Checked after = check_edit(policy, place, content);
  if (!after.policy)
    return refuse(kTenantAdd, after.errors, "the policy would be invalid with tenant " + id + "; nothing written");
  if (!replace_file(place.file, content, place.like, &err)) return refuse(kTenantAdd, err + "; nothing written");
  std::printf("%s %s: %s\n", place.listed ? "replaced" : "added", id.c_str(), place.file.c_str());
  return 0;
}

int remove(int argc, char** argv) {
  Args args;
  if (const int rc = parse(kTenantRemove, argc, argv, &args); rc >= 0) return rc;
  std::string id;
  if (const int rc = policy_and_id(kTenantRemove, args, &id); rc >= 0) return rc;
  const std::string& policy = args.value("policy");

  FolderLock lock(is_directory(policy) ? policy : parent_dir(policy));
  if (!lock.ok()) return refuse(kTenantRemove, lock.error());
  Place place;
  std::string err;
  if (!locate(policy, id, &place, &err)) return refuse(kTenantRemove, err);
  if (!place.listed) return refuse(kTenantRemove, "tenant " + id + " is not listed in " + policy);
  std::optional<std::string> content;
  if (place.document) {
    if (const int rc = document_edit_refused(kTenantRemove, policy, place); rc >= 0) return rc;
    std::string text;
    if (!edit_document(place.file, id, nullptr, &text, &err)) return refuse(kTenantRemove, err);
    content = std::move(text);
  }
  const Checked after = check_edit(policy, place, content);
  if (!after.policy)
    return refuse(kTenantRemove, after.errors, "the policy would be invalid without tenant " + id + "; nothing written");
  const bool done = content ? replace_file(place.file, *content, place.like, &err) : remove_file(place.file, &err);
  if (!done) return refuse(kTenantRemove, err);
  std::printf("removed %s: %s\n", id.c_str(), place.file.c_str());
  return 0;
}

int list(int argc, char** argv) {
  Args args;
  if (const int rc = parse(kTenantList, argc, argv, &args); rc >= 0) return rc;
  if (args.value("policy").empty()) return usage_error(kTenantList, "--policy POLICY is required");
  if (!args.operands.empty()) return usage_error(kTenantList, "unexpected argument \"" + args.operands[0] + "\"");
  auto loaded = tenant::Policy::load(args.value("policy"));
  if (!loaded) return refuse(kTenantList, loaded.error(), args.value("policy") + " is invalid");
  const tenant::Policy& p = *loaded.value();
  if (!args.has("json")) {
    p.for_each_tenant([](std::string_view id, const tenant::RuleSet&) {
      std::printf("%.*s\n", static_cast<int>(id.size()), id.data());
    });
    return 0;
  }
  nlohmann::ordered_json out = {{"policy", args.value("policy")}, {"folder", p.is_folder()}, {"tenants", nlohmann::ordered_json::array()}};
  p.for_each_tenant([&](std::string_view id, const tenant::RuleSet& rules) {
    const tenant::Policy::Source src = p.source_of(id);
    nlohmann::ordered_json own = nlohmann::ordered_json::array();
    for (auto k : {tenant::RuleKey::Root, tenant::RuleKey::ReadWrite, tenant::RuleKey::ReadOnly,
                   tenant::RuleKey::MaxConnections, tenant::RuleKey::MaxRequests, tenant::RuleKey::IpAllow,
                   tenant::RuleKey::IpDeny, tenant::RuleKey::UnixSockets, tenant::RuleKey::Exec, tenant::RuleKey::Mode})
      if (rules.own(k)) own.push_back(tenant::rule_key_name(k));
    out["tenants"].push_back({{"id", id}, {"file", src.file}, {"pointer", src.pointer}, {"own_keys", own}});
  });
  std::printf("%s\n", out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
  return 0;
}

}  // namespace

int cmd_tenant(int argc, char** argv) {
  try {
    const std::string_view sub = argc > 1 ? argv[1] : "";
    if (sub == "--help" || sub == "-h" || sub == "help") {
      std::printf("usage: tenant-sandbox %s %s\n  %s\n", kTenant.name, kTenant.synopsis, kTenant.summary);
      print_command_list({std::begin(kSubcommands), std::end(kSubcommands)}, stdout, "tenant ");
      std::puts("options:\n  -h, --help  this help");
      return 0;
    }
    if (sub == "add") return add(argc - 1, argv + 1);
    if (sub == "remove") return remove(argc - 1, argv + 1);
    if (sub == "list") return list(argc - 1, argv + 1);
    std::string why = sub.empty() ? "expected add, remove or list"
                                  : (sub.front() == '-' ? "unknown option " : "unknown command ") + std::string(sub);
    std::fprintf(stderr, "tenant-sandbox tenant: %s\nusage: tenant-sandbox %s %s\n", why.c_str(), kTenant.name,
                 kTenant.synopsis);
    print_command_list({std::begin(kSubcommands), std::end(kSubcommands)}, stderr, "tenant ");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tenant-sandbox tenant: %s; nothing written\n", e.what());
    return 1;
  }
}

}  // namespace cli
