// Temporary files: the mkstemp family, mkdtemp, tmpfile, tempnam.
//
// glibc creates them with its internal __openat_nocancel / __mkdir loop
// (__gen_tempname), which no open() wrapper sees (THREATS 1; PHP's
// tempnam() is mkstemp). So for tenants the loop is ours: random suffix,
// then the checked open(O_CREAT|O_EXCL) or mkdir, which decides Write on the
// directory's area and creates beneath its root.
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "fdtable.hpp"
#include "fs_resolve.hpp"

namespace {

using sb::ActiveTenant;

constexpr int kAttempts = 62 * 62 * 62;  // glibc's ATTEMPTS_MIN

// Fills the six X's at tmpl[pos..pos+6) with random letters and digits.
void fill_random(char* x) noexcept {
  static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  static std::atomic<std::uint64_t> counter{0};
  unsigned char r[6];
  if (::getrandom(r, sizeof r, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof r)) {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    std::uint64_t v = static_cast<std::uint64_t>(ts.tv_nsec) ^ (counter.fetch_add(1) * 0x9e3779b97f4a7c15ull);
    for (unsigned char& c : r) {
      c = static_cast<unsigned char>(v);
      v = (v >> 8) | (v << 56);
    }
  }
  for (int i = 0; i < 6; ++i) x[i] = letters[r[i] % 62];
}

// The position of the XXXXXX, or nullptr (EINVAL) as glibc.
char* find_x(char* tmpl, int suffixlen) noexcept {
  if (tmpl == nullptr || suffixlen < 0) return nullptr;
  const std::size_t len = std::strlen(tmpl);
  const auto sl = static_cast<std::size_t>(suffixlen);
  if (len < 6 + sl) return nullptr;
  char* x = tmpl + len - 6 - sl;
  if (std::strncmp(x, "XXXXXX", 6) != 0) return nullptr;
  return x;
}

int checked_mkstemp(ActiveTenant& t, const char* op, char* tmpl, int suffixlen, int flags) noexcept {
  char* x = find_x(tmpl, suffixlen);
  if (x == nullptr) return sb::fail(EINVAL);
  const int saved = errno;
  for (int i = 0; i < kAttempts; ++i) {
    fill_random(x);
    const int fd = sb::fs::checked_open(t, op, AT_FDCWD, tmpl, (flags & ~O_ACCMODE) | O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
      errno = saved;
      return fd;
    }
    if (errno != EEXIST) {
      std::memcpy(x, "XXXXXX", 6);
      return -1;
    }
  }
  std::memcpy(x, "XXXXXX", 6);
  return sb::fail(EEXIST);
}

// tmpfile: an unnamed file in P_tmpdir ("/tmp"), as glibc: O_TMPFILE, or
// a named one unlinked at once where the file system lacks O_TMPFILE.
FILE* checked_tmpfile(ActiveTenant& t, const char* op) noexcept {
  const int saved = errno;
  int fd = sb::fs::checked_open(t, op, AT_FDCWD, P_tmpdir, O_TMPFILE | O_RDWR, 0600);
  if (fd < 0 && (errno == EISDIR || errno == EOPNOTSUPP)) {
    char name[] = P_tmpdir "/tmpfXXXXXX";
    fd = checked_mkstemp(t, op, name, 0, 0);
    if (fd >= 0) ::unlink(name);
  }
  if (fd < 0) return nullptr;
  FILE* f = ::fdopen(fd, "w+");
  if (f == nullptr) {
    sb::ErrnoKeeper keep;
    SB_REAL(close)(fd);
    return nullptr;
  }
  errno = saved;
  return f;
}

// Read on the directory a temporary name is made in (tempnam only lstat's;
// the caller then opens the name, which its own wrapper checks).
bool dir_readable(ActiveTenant& t, const char* op, const char* dir) noexcept {
  sb::fs::Request rq;
  rq.need = tenant::Need::Read;
  rq.how = sb::fs::How::Follow;
  sb::fs::Target tg;
  const int r = sb::fs::resolve(t, op, AT_FDCWD, dir, rq, tg);
  if (r == -EACCES) {
    errno = EACCES;
    return false;
  }
  return true;  // missing directories are tempnam's own fallback to handle
}

}  // namespace

extern "C" {

int mkstemp(char* tmpl) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(mkstemp)(tmpl);
  return checked_mkstemp(*t, "mkstemp", tmpl, 0, 0);
}

int mkstemp64(char* tmpl) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(mkstemp64)(tmpl);
  return checked_mkstemp(*t, "mkstemp64", tmpl, 0, O_LARGEFILE);
}

int mkostemp(char* tmpl, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(mkostemp)(tmpl, flags);
  return checked_mkstemp(*t, "mkostemp", tmpl, 0, flags);
}

int mkostemp64(char* tmpl, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(mkostemp64)(tmpl, flags);
  return checked_mkstemp(*t, "mkostemp64", tmpl, 0, flags | O_LARGEFILE);
}

int mkstemps(char* tmpl, int suffixlen) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(mkstemps)(tmpl, suffixlen);
  return checked_mkstemp(*t, "mkstemps", tmpl, suffixlen, 0);
}

int mkstemps64(char* tmpl, int suffixlen) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(mkstemps64)(tmpl, suffixlen);
  return checked_mkstemp(*t, "mkstemps64", tmpl, suffixlen, O_LARGEFILE);
}

int mkostemps(char* tmpl, int suffixlen, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(mkostemps)(tmpl, suffixlen, flags);
  return checked_mkstemp(*t, "mkostemps", tmpl, suffixlen, flags);
}

int mkostemps64(char* tmpl, int suffixlen, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(mkostemps64)(tmpl, suffixlen, flags);
  return checked_mkstemp(*t, "mkostemps64", tmpl, suffixlen, flags | O_LARGEFILE);
}

char* mkdtemp(char* tmpl) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(mkdtemp)(tmpl);
  char* x = find_x(tmpl, 0);
  if (x == nullptr) {
    errno = EINVAL;
    return nullptr;
  }
  const int saved = errno;
  for (int i = 0; i < kAttempts; ++i) {
    fill_random(x);
    if (::mkdir(tmpl, 0700) == 0) {  // the checked mkdir (wrap_fs_change.cpp)
      errno = saved;
      return tmpl;
    }
    if (errno != EEXIST) break;
  }
  std::memcpy(x, "XXXXXX", 6);
  return nullptr;
}

FILE* tmpfile(void) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(tmpfile)();
  return checked_tmpfile(*t, "tmpfile");
}

FILE* tmpfile64(void) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(tmpfile64)();
  return checked_tmpfile(*t, "tmpfile64");
}

// tempnam only makes a name (glibc lstat's candidates internally): the
// directory asked for must be readable, and so must the one glibc picked
// (it may fall back to $TMPDIR or P_tmpdir).
char* tempnam(const char* dir, const char* pfx) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(tempnam)(dir, pfx);
  if (dir != nullptr && !dir_readable(*t, "tempnam", dir)) return nullptr;
  char* name = SB_REAL(tempnam)(dir, pfx);
  if (name == nullptr) return nullptr;
  char* slash = std::strrchr(name, '/');
  if (slash != nullptr && slash != name) {
    *slash = '\0';
    const bool ok = dir_readable(*t, "tempnam", name);
    *slash = '/';
    if (!ok) {
      std::free(name);
      return nullptr;
    }
  }
  return name;
}

}  // extern "C"
