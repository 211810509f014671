// Safe open + map of a STATE_DIR file (state_file.hpp says what is checked
// and why).
#include "tenant/state_file.hpp"

#include <sys/mman.h>

#include <cerrno>
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

}  // namespace

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
  if (rw && sys.mkdir(dir, 0750) != 0 && errno != EEXIST) {
    say(err, errlen, dir, name, "cannot create the folder", errno);
    return nullptr;
  }
  const int dfd = sys.open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) {
    say(err, errlen, dir, name,
        errno == ELOOP || errno == ENOTDIR ? "the folder is a symlink or not a folder" : "cannot open the folder", errno);
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
  const uid_t me = ::geteuid();
  if (dst.st_uid != 0 && dst.st_uid != me) {
    char what[128];
    std::snprintf(what, sizeof what, "the folder is owned by uid %u (not root, not uid %u), refusing it",
                  static_cast<unsigned>(dst.st_uid), static_cast<unsigned>(me));
    say(err, errlen, dir, name, what, 0);
    sys.close(dfd);
    return nullptr;
  }
  const int flags = (rw ? O_RDWR | O_CREAT : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC;
  const int fd = sys.openat(dfd, name, flags, 0660);
  if (fd < 0) {
    const int e = errno;
    say(err, errlen, dir, name, e == ELOOP ? "the file is a symlink, refusing it" : "cannot open the file", e);
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
    if (rw && st.st_size == 0) {
      // Just created (or never grown). By root (the Apache parent): give it
      // the folder's group so workers running as the Apache user can open
      // it too; the creator's umask (022) would leave 0640, the group must
      // be able to write.
      if (me == 0 && st.st_gid != dst.st_gid) (void)!::fchown(fd, static_cast<uid_t>(-1), dst.st_gid);
      if (st.st_uid == me) (void)!::fchmod(fd, 0660);
    }
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
