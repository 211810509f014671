// Safe open + map of a STATE_DIR file (state_file.hpp says what is checked
// and why).
#include "tenant/state_file.hpp"

#include <dirent.h>
#include <grp.h>
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>

namespace tenant::state {
namespace {

// Restores errno on every return: libsandbox may open a map in the middle
// of a wrapped call whose caller reads errno afterwards.
struct ErrnoSaver {
  int saved = errno;
  ~ErrnoSaver() { errno = saved; }
};

void say(char* err, std::size_t errlen, const char* dir, const char* name, const char* what, int e) noexcept {
  if (err == nullptr || errlen == 0) return;
  if (e != 0)
    std::snprintf(err, errlen, "state file %s/%s: %s: %s", dir, name, what, std::strerror(e));
  else
    std::snprintf(err, errlen, "state file %s/%s: %s", dir, name, what);
}

bool plain_name(const char* name) noexcept {
  return name != nullptr && name[0] != '\0' && std::strchr(name, '/') == nullptr && std::strcmp(name, ".") != 0 &&
         std::strcmp(name, "..") != 0;
}

constexpr mode_t kFolderMode = 03770;  // setgid + sticky + rwx for root and the group

std::atomic<long> g_state_group{-1};

}  // namespace

gid_t state_group() noexcept {
  const long set = g_state_group.load(std::memory_order_acquire);
  if (set >= 0) return static_cast<gid_t>(set);
  const char* name = std::getenv("TENANT_SANDBOX_STATE_GROUP");
  if (name == nullptr || name[0] == '\0') name = "www-data";
  char* end = nullptr;
  const unsigned long n = std::strtoul(name, &end, 10);
  if (end != name && *end == '\0') return static_cast<gid_t>(n);
  group g{};
  group* found = nullptr;
  char buf[4096];
  if (::getgrnam_r(name, &g, buf, sizeof buf, &found) == 0 && found != nullptr) return found->gr_gid;
  return 0;
}

namespace {

// Root: the folder as every process of the state group can use it.
void repair_folder(int dfd, const struct stat& dst) noexcept {
  const gid_t want = state_group();
  if (dst.st_gid != want && dst.st_gid == 0) (void)!::fchown(dfd, static_cast<uid_t>(-1), want);
  if ((dst.st_mode & 07777) != kFolderMode) (void)!::fchmod(dfd, kFolderMode);
}

}  // namespace

void set_state_group(gid_t gid) noexcept { g_state_group.store(static_cast<long>(gid), std::memory_order_release); }

void repair_state(const char* dir, const SysCalls& sys) noexcept {
  ErrnoSaver keep;
  if (::geteuid() != 0 || dir == nullptr || dir[0] != '/') return;
  if (sys.mkdir(dir, 0770) != 0 && errno != EEXIST) return;
  const int dfd = sys.open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) return;
  struct stat dst {};
  if (::fstat(dfd, &dst) == 0 && (dst.st_mode & S_IWOTH) == 0 && dst.st_uid == 0) {
    repair_folder(dfd, dst);
    (void)::fstat(dfd, &dst);
    // Tables a root process (or an older version) left in another group.
    const int lfd = sys.openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (DIR* d = lfd >= 0 ? ::fdopendir(lfd) : nullptr; d != nullptr) {
      while (const dirent* e = ::readdir(d)) {
        struct stat fst {};
        if (e->d_name[0] == '.' || ::fstatat(dfd, e->d_name, &fst, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISREG(fst.st_mode) && fst.st_gid != dst.st_gid)
          (void)!::fchownat(dfd, e->d_name, static_cast<uid_t>(-1), dst.st_gid, AT_SYMLINK_NOFOLLOW);
      }
      ::closedir(d);
    } else if (lfd >= 0) {
      sys.close(lfd);
    }
  }
  sys.close(dfd);
}

void* map_state_file(const char* dir, const char* name, std::size_t size, OpenMode mode, const SysCalls& sys,
                     char* err, std::size_t errlen) noexcept {
  ErrnoSaver keep;
  if (err != nullptr && errlen > 0) err[0] = '\0';
  const bool rw = mode == OpenMode::ReadWrite;
  if (dir == nullptr || dir[0] != '/') {
    say(err, errlen, dir != nullptr ? dir : "(null)", name != nullptr ? name : "", "the folder must be an absolute path", 0);
    return nullptr;
  }
  if (!plain_name(name) || size == 0) {
    say(err, errlen, dir, name != nullptr ? name : "", "invalid file name or size", 0);
    return nullptr;
  }
  const uid_t me = ::geteuid();
  bool created = false;
  if (rw) {
    if (sys.mkdir(dir, 0770) == 0) {
      created = true;
    } else if (errno != EEXIST) {
      say(err, errlen, dir, name,
          me == 0 ? "cannot create the folder"
                  : "cannot create the folder (create it as root: install -d -o root -g www-data -m 3770 DIR, "
                    "as the package's tmpfiles.d does, or start Apache first)",
          errno);
      return nullptr;
    }
  }
  const int dfd = sys.open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) {
    const int e = errno;
    struct stat ds {};
    char what[256];
    const char* why = e == ELOOP || e == ENOTDIR ? "the folder is a symlink or not a folder" : "cannot open the folder";
    if (e == EACCES && ::stat(dir, &ds) == 0) {
      std::snprintf(what, sizeof what,
                    "cannot open the folder (this process, uid %u, is not in its group %u: add it to that group, or "
                    "run it as Apache's user)",
                    static_cast<unsigned>(me), static_cast<unsigned>(ds.st_gid));
      why = what;
    }
    say(err, errlen, dir, name, why, e);
    return nullptr;
  }
  struct stat dst {};
  // A world-writable folder (/tmp itself) or one owned by somebody else
  // would let another user plant, swap or hard-link the file: refuse it.
  if (::fstat(dfd, &dst) != 0) {
    say(err, errlen, dir, name, "cannot stat the folder", errno);
    sys.close(dfd);
    return nullptr;
  }
  if ((dst.st_mode & S_IWOTH) != 0) {
    char what[96];
    std::snprintf(what, sizeof what, "the folder is world-writable (mode %04o), refusing it",
                  static_cast<unsigned>(dst.st_mode & 07777));
    say(err, errlen, dir, name, what, 0);
    sys.close(dfd);
    return nullptr;
  }
  if (dst.st_uid != 0 && dst.st_uid != me) {
    char what[128];
    std::snprintf(what, sizeof what, "the folder is owned by uid %u (not root, not uid %u), refusing it",
                  static_cast<unsigned>(dst.st_uid), static_cast<unsigned>(me));
    say(err, errlen, dir, name, what, 0);
    sys.close(dfd);
    return nullptr;
  }
  // A folder this process made, or one in a state no worker could use
  // (root:root 0755 from a plain mkdir; the 0750 of older packages), is put
  // right by root. Anybody else can only say what to do.
  if (rw && (created || (me == 0 && ((dst.st_mode & 07777) != kFolderMode || dst.st_gid == 0)))) {
    if (me == 0) {
      repair_folder(dfd, dst);
    } else if (created) {
      (void)!::fchmod(dfd, kFolderMode);  // the creator's group (the group of this process)
    }
    (void)::fstat(dfd, &dst);
  }
  // O_CREAT only when the table is missing: with fs.protected_regular=2 an
  // O_CREAT open of a file another user owns in a group-writable sticky
  // folder is refused, even when the file exists.
  const int flags = (rw ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC;
  int fd = sys.openat(dfd, name, flags, 0);
  if (fd < 0 && errno == ENOENT && rw) fd = sys.openat(dfd, name, flags | O_CREAT | O_EXCL, 0660);
  if (fd < 0 && errno == EEXIST && rw) fd = sys.openat(dfd, name, flags, 0);  // another process won the race
  if (fd < 0) {
    const int e = errno;
    const char* why = "cannot open the file";
    char what[320];
    if (e == ELOOP) {
      why = "the file is a symlink, refusing it";
    } else if (e == EACCES && me != 0) {
      struct stat fst {};
      if (::fstatat(dfd, name, &fst, AT_SYMLINK_NOFOLLOW) == 0) {
        std::snprintf(what, sizeof what,
                      "cannot open the file (owned by %u:%u mode %04o; this process is uid %u: it must be in the "
                      "file's group -- chgrp it to the folder's group %u, which Apache's start does)",
                      static_cast<unsigned>(fst.st_uid), static_cast<unsigned>(fst.st_gid),
                      static_cast<unsigned>(fst.st_mode & 07777), static_cast<unsigned>(me),
                      static_cast<unsigned>(dst.st_gid));
        why = what;
      } else if (rw && (dst.st_mode & S_IWGRP) == 0) {
        std::snprintf(what, sizeof what,
                      "cannot create the file (the folder is mode %04o: processes of its group cannot create "
                      "tables in it; chmod 3770 the folder, as the package's tmpfiles.d does, or start Apache first)",
                      static_cast<unsigned>(dst.st_mode & 07777));
        why = what;
      } else {
        std::snprintf(what, sizeof what,
                      "cannot create or open the file (this process, uid %u, is not in the folder's group %u: "
                      "add it to that group, or run it as Apache's user)",
                      static_cast<unsigned>(me), static_cast<unsigned>(dst.st_gid));
        why = what;
      }
    }
    say(err, errlen, dir, name, why, e);
    sys.close(dfd);
    return nullptr;
  }
  void* base = nullptr;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    say(err, errlen, dir, name, "cannot stat the file", errno);
  } else if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
    say(err, errlen, dir, name, "not a regular file with a single link, refusing it", 0);
  } else if ((st.st_mode & 0007) != 0) {
    char what[96];
    std::snprintf(what, sizeof what, "the file gives access to others (mode %04o, want 0660 or stricter), refusing it",
                  static_cast<unsigned>(st.st_mode & 07777));
    say(err, errlen, dir, name, what, 0);
  } else {
    // The file's owner is not checked: only root, the folder's owner and
    // (operator's choice) its group can create files in it, and a worker's
    // child running as the Apache user may legitimately be the creator.
    // The folder's group, so that every process of it can open the table
    // (root fixes a table an older version or a root process left root:root);
    // and 0660 for one this process created (the umask would leave 0640).
    if (rw && me == 0 && st.st_gid != dst.st_gid) (void)!::fchown(fd, static_cast<uid_t>(-1), dst.st_gid);
    if (rw && st.st_uid == me && (st.st_mode & 0777) != 0660) (void)!::fchmod(fd, 0660);
    const auto want = static_cast<off_t>(size);
    if (st.st_size < want && (!rw || ::ftruncate(fd, want) != 0)) {
      say(err, errlen, dir, name, rw ? "cannot grow the file" : "the file is shorter than its table (another version?)",
          rw ? errno : 0);
    } else {
      void* p = ::mmap(nullptr, size, rw ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
      if (p == MAP_FAILED)
        say(err, errlen, dir, name, "cannot map the file", errno);
      else
        base = p;
    }
  }
  sys.close(fd);
  sys.close(dfd);
  return base;
}

void unmap_state_file(void* base, std::size_t size) noexcept {
  if (base != nullptr) ::munmap(base, size);
}

}  // namespace tenant::state
