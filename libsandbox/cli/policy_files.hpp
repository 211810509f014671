// The CLI's side of policies on disk: the whole validation `check` does
// (which `tenant add|remove` and `learn --write` also pass before they
// write), located errors, the edit lock and atomic replacement of a file.
#pragma once
#include <sys/stat.h>

#include <memory>
#include <string>

#include "tenant/policy.hpp"

namespace cli {

// What `check` checks beyond loading: every tenant with rules of its own,
// and the defaults with a longest-possible id, expanded as TenantContext
// does when a request is served, so errors only "{tenant}" expansion shows
// (a path too long) are found before the policy reaches Apache. Each error
// is located in the file that holds the value at fault.
tenant::FileErrors check_expanded(const tenant::Policy& policy);

struct Checked {
  std::shared_ptr<const tenant::Policy> policy;  // null when errors is not empty
  tenant::FileErrors errors;
};
// Policy::load and check_expanded: the policy as Apache would accept it.
Checked load_checked(const std::string& path, const tenant::FolderOverlay* overlay = nullptr);
// The same for a single policy document held in memory, which will be
// written to `file` (errors are located there).
Checked parse_checked(const std::string& text, const std::string& file);

void print_errors(const tenant::FileErrors& errors);  // one "file: pointer: what" line each, stderr

bool read_text(const std::string& path, std::string* out, std::string* err);

// An exclusive flock(2) on a folder, held until destruction. `tenant add`
// and `tenant remove` take it on the folder of the policy (the folder
// itself for a folder policy) so that concurrent edits never lose one
// another; a panel that edits files itself can take the same lock with
// flock(1): `flock /etc/tenant-sandbox/policy.d CMD`.
class FolderLock {
 public:
  explicit FolderLock(const std::string& dir);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  bool ok() const noexcept { return fd_ >= 0; }
  const std::string& error() const noexcept { return error_; }

 private:
  int fd_ = -1;
  std::string error_;
};

// Replaces (or creates) `path` with `content` so that a reader -- Apache on
// a graceful restart, another tool -- sees the old file or the new one,
// never a part: a temporary file in the same folder (hidden, so a folder
// policy skips it), given `like`'s owner, group and mode, fsync'd, renamed
// over `path` (over the file a symlink points to), then the folder
// fsync'd. False with *err set; then `path` is untouched.
bool replace_file(const std::string& path, const std::string& content, const struct stat& like, std::string* err);
// unlink + fsync of the folder.
bool remove_file(const std::string& path, std::string* err);

std::string parent_dir(const std::string& path);  // "/etc/x/p.json" -> "/etc/x", "p.json" -> "."
bool is_directory(const std::string& path);

}  // namespace cli
