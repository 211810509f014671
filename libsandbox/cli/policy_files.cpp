#include "policy_files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tenant/context.hpp"
#include "tenant/tenant_id.hpp"

namespace cli {

tenant::FileErrors check_expanded(const tenant::Policy& policy) {
  tenant::FileErrors errors;
  const std::string main = policy.main_file();
  const tenant::RuleSet& defaults = policy.defaults();
  // `where` of a TenantContext error is "root" or "read_only/2": the value
  // came from the tenant's own key, else from the defaults -- or from
  // tenant_root, which is where an unset root comes from.
  auto inherited = [&](const std::string& where) -> tenant::FileError {
    const bool from_template = where == "root" && !defaults.root.empty() && defaults.root == policy.tenant_root();
    return {main, from_template ? "/tenant_root" : "/defaults/" + where, ""};
  };
  policy.for_each_tenant([&](std::string_view id, const tenant::RuleSet& rules) {
    if (rules.own_keys == 0) return;
    auto ctx = tenant::TenantContext::create(rules, id);
    if (ctx) return;
    const std::string& w = ctx.error().where;
    const std::string key = w.substr(0, w.find('/'));
    bool own = false;
    for (auto k : {tenant::RuleKey::Root, tenant::RuleKey::ReadWrite, tenant::RuleKey::ReadOnly,
                   tenant::RuleKey::UnixSockets, tenant::RuleKey::Exec})
      own = own || (key == tenant::rule_key_name(k) && rules.own(k));
    tenant::FileError e = inherited(w);
    if (own) {
      const tenant::Policy::Source src = policy.source_of(id);
      e.file = src.file;
      e.pointer = src.pointer + "/" + w;
    }
    e.what = ctx.error().what + " (tenant " + std::string(id) + ")";
    errors.push_back(std::move(e));
  });
  // Tenants without rules of their own use the defaults; the longest id is
  // the worst case for path length after expansion.
  const std::string longest(tenant::kMaxTenantIdLen, 'x');
  if (auto ctx = tenant::TenantContext::create(defaults, longest); !ctx) {
    tenant::FileError e = inherited(ctx.error().where);
    e.what = ctx.error().what + " (with a 64-character id)";
    errors.push_back(std::move(e));
  }
  return errors;
}

Checked load_checked(const std::string& path, const tenant::FolderOverlay* overlay) {
  auto loaded = tenant::Policy::load(path, overlay);
  if (!loaded) return {nullptr, loaded.error()};
  tenant::FileErrors errors = check_expanded(*loaded.value());
  if (!errors.empty()) return {nullptr, std::move(errors)};
  return {loaded.value(), {}};
}

Checked parse_checked(const std::string& text, const std::string& file) {
  auto parsed = tenant::Policy::parse(text);
  if (!parsed) {
    tenant::FileErrors errors;
    for (const tenant::Error& e : parsed.error()) errors.push_back({file, e.where, e.what});
    return {nullptr, std::move(errors)};
  }
  // parse() knows no file: errors in it are located in `file`.
  tenant::FileErrors errors = check_expanded(*parsed.value());
  for (tenant::FileError& e : errors) e.file = file;
  if (!errors.empty()) return {nullptr, std::move(errors)};
  return {parsed.value(), {}};
}

void print_errors(const tenant::FileErrors& errors) {
  for (const tenant::FileError& e : errors) std::fprintf(stderr, "%s\n", e.str().c_str());
}

bool read_text(const std::string& path, std::string* out, std::string* err) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      *err = path + ": cannot read: " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    out->append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return true;
}

FolderLock::FolderLock(const std::string& dir) {
  fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0) {
    error_ = dir + ": cannot open the folder to lock it: " + std::strerror(errno);
    return;
  }
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    error_ = dir + ": cannot lock: " + std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    return;
  }
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

std::string parent_dir(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

namespace {

bool sync_dir(const std::string& dir, std::string* err) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    *err = dir + ": cannot sync the folder: " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return false;
  }
  ::close(fd);
  return true;
}

}  // namespace

bool replace_file(const std::string& link_or_path, const std::string& content, const struct stat& like,
                  std::string* err) {
  // A symlinked policy (/etc/tenant-sandbox/policy.json -> the panel's copy)
  // keeps its link: the file it points to is replaced, not the link.
  std::string path = link_or_path;
  struct stat lst {};
  char real[PATH_MAX];
  if (::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode) && ::realpath(path.c_str(), real) != nullptr) path = real;
  const std::string dir = parent_dir(path);
  const std::string base = path.substr(path.find_last_of('/') + 1);
  std::string tmp = dir + "/." + base + ".XXXXXX";
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) {
    *err = dir + ": cannot create a temporary file: " + std::strerror(errno);
    return false;
  }
  auto fail = [&](const std::string& what) {
    *err = what + ": " + std::strerror(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    return false;
  };
  // The owner first: fchown may clear set-id bits of the mode set after it.
  struct stat now {};
  if (::fstat(fd, &now) != 0) return fail(tmp + ": fstat");
  if ((now.st_uid != like.st_uid || now.st_gid != like.st_gid) && ::fchown(fd, like.st_uid, like.st_gid) != 0)
    return fail(tmp + ": cannot give it the owner of " + path);
  if (::fchmod(fd, like.st_mode & 07777) != 0) return fail(tmp + ": cannot give it the mode of " + path);
  for (std::size_t off = 0; off < content.size();) {
    const ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(tmp + ": cannot write");
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail(tmp + ": cannot sync");
  if (::close(fd) != 0) {
    *err = tmp + ": cannot close: " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    *err = path + ": cannot rename the new file into place: " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return sync_dir(dir, err);
}

bool remove_file(const std::string& path, std::string* err) {
  if (::unlink(path.c_str()) != 0) {
    *err = path + ": cannot remove: " + std::strerror(errno);
    return false;
  }
  return sync_dir(parent_dir(path), err);
}

}  // namespace cli
