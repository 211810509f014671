// Directories: opendir, scandir, glob, ftw/nftw, fts.
//
// glibc's own directory walkers open, list and stat through hidden
// internals (__opendir, __getdents64, __lstat64), which no open/stat
// wrapper sees (THREATS 1; PHP's glob() and glob:// reach glob() only).
// So: opendir is a checked open + fdopendir; scandir is reimplemented over
// it; glob keeps glibc's pattern engine but gets our checked directory
// functions through GLOB_ALTDIRFUNC; ftw/nftw are reimplemented over the
// checked opendir/stat/lstat/chdir (every directory of the walk is decided
// and opened beneath an allowed root, so a symlink or a directory swapped
// for one mid-walk cannot lead outside); fts keeps glibc's walker with its
// roots checked and a physical walk forced (see fts_open below).
#include <dirent.h>
#include <fts.h>
#include <ftw.h>
#include <glob.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "fdtable.hpp"
#include "fs_resolve.hpp"

// GCC pairs closedir() with its own declaration of opendir()'s allocator
// and mistakes our opendir/fdopendir definitions in this file for others.
#pragma GCC diagnostic ignored "-Wmismatched-dealloc"

namespace {

using sb::ActiveTenant;

DIR* checked_opendir_at(ActiveTenant& t, const char* op, int dirfd, const char* path) noexcept {
  const int saved = errno;
  const int fd = sb::fs::checked_open(t, op, dirfd, path, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  DIR* d = SB_REAL(fdopendir)(fd);
  if (d == nullptr) {
    sb::ErrnoKeeper keep;
    SB_REAL(close)(fd);
    return nullptr;
  }
  errno = saved;
  return d;
}

// ---- scandir ----------------------------------------------------------------
template <class Ent>
int cmp_trampoline(const void* a, const void* b, void* arg) {
  auto fn = *static_cast<int (**)(const Ent**, const Ent**)>(arg);
  return fn(const_cast<const Ent**>(static_cast<const Ent* const*>(a)),
            const_cast<const Ent**>(static_cast<const Ent* const*>(b)));
}

template <class Ent>
int scan_dir(DIR* d, Ent*** out, int (*sel)(const Ent*), int (*cmp)(const Ent**, const Ent**),
             Ent* (*rd)(DIR*)) noexcept {
  const int saved = errno;
  Ent** list = nullptr;
  std::size_t n = 0;
  std::size_t cap = 0;
  bool failed = false;
  while (true) {
    errno = 0;
    Ent* e = rd(d);
    if (e == nullptr) {
      if (errno != 0) failed = true;
      break;
    }
    if (sel != nullptr && sel(e) == 0) continue;
    if (n == cap) {
      cap = cap == 0 ? 16 : cap * 2;
      auto** grown = static_cast<Ent**>(std::realloc(list, cap * sizeof(Ent*)));
      if (grown == nullptr) {
        failed = true;
        break;
      }
      list = grown;
    }
    const std::size_t sz = offsetof(Ent, d_name) + std::strlen(e->d_name) + 1;
    auto* copy = static_cast<Ent*>(std::malloc(sz < sizeof(Ent) ? sizeof(Ent) : sz));
    if (copy == nullptr) {
      failed = true;
      break;
    }
    std::memcpy(copy, e, sz);
    list[n++] = copy;
  }
  if (failed) {
    const int err = errno != 0 ? errno : ENOMEM;
    for (std::size_t i = 0; i < n; ++i) std::free(list[i]);
    std::free(list);
    ::closedir(d);
    errno = err;
    return -1;
  }
  ::closedir(d);
  if (cmp != nullptr && n > 1) ::qsort_r(list, n, sizeof(Ent*), cmp_trampoline<Ent>, &cmp);
  *out = list;
  errno = saved;
  return static_cast<int>(n);
}

// ---- glob -------------------------------------------------------------------
void* glob_opendir(const char* path) { return ::opendir(path); }
struct dirent* glob_readdir(void* d) { return ::readdir(static_cast<DIR*>(d)); }
struct dirent64* glob_readdir64(void* d) { return ::readdir64(static_cast<DIR*>(d)); }
void glob_closedir(void* d) { ::closedir(static_cast<DIR*>(d)); }
int glob_stat(const char* p, struct stat* st) { return ::stat(p, st); }
int glob_lstat(const char* p, struct stat* st) { return ::lstat(p, st); }
int glob_stat64(const char* p, struct stat64* st) { return ::stat64(p, st); }
int glob_lstat64(const char* p, struct stat64* st) { return ::lstat64(p, st); }

// ---- ftw / nftw ---------------------------------------------------------------
template <class St>
struct Walker {
  int (*nfn)(const char*, const St*, int, struct FTW*) = nullptr;
  int (*fn)(const char*, const St*, int) = nullptr;
  int flags = 0;
  dev_t dev = 0;
  char* buf = nullptr;  // the current path
  std::size_t cap = 0;
  bool skip_siblings = false;

  static int do_stat(const char* p, St* st, bool phys) {
    if constexpr (sizeof(St) == sizeof(struct stat) && std::is_same_v<St, struct stat>)
      return phys ? ::lstat(p, st) : ::stat(p, st);
    else
      return phys ? ::lstat64(p, st) : ::stat64(p, st);
  }

  bool ensure(std::size_t need) {
    if (need <= cap) return true;
    std::size_t ncap = cap == 0 ? 1024 : cap;
    while (ncap < need) ncap *= 2;
    auto* nb = static_cast<char*>(std::realloc(buf, ncap));
    if (nb == nullptr) return false;
    buf = nb;
    cap = ncap;
    return true;
  }

  int call(const St* st, int type, int base, int level) {
    if (nfn != nullptr) {
      struct FTW f {};
      f.base = base;
      f.level = level;
      return nfn(buf, st, type, &f);
    }
    return fn(buf, st, type);
  }

  // Maps the callback's answer: nonzero stops the walk (returned as is);
  // with FTW_ACTIONRETVAL the FTW_* actions apply. 1: stop; 2: skip subtree.
  int verdict(int r, bool* skip_subtree) {
    if ((flags & FTW_ACTIONRETVAL) == 0) return r;
    if (r == FTW_SKIP_SUBTREE) {
      *skip_subtree = true;
      return 0;
    }
    if (r == FTW_SKIP_SIBLINGS) {
      skip_siblings = true;
      return 0;
    }
    return r == FTW_STOP ? FTW_STOP : 0;
  }

  // buf holds the path (length len); base is where its last component starts.
  int entry(std::size_t len, int base, int level) {
    const bool phys = (flags & FTW_PHYS) != 0;
    St st{};
    int type;
    if (do_stat(buf, &st, phys) != 0) {
      if (level == 0) return -1;  // the root: errno from the checked stat
      St lst{};
      if (!phys && errno == ENOENT && do_stat(buf, &lst, true) == 0 && S_ISLNK(lst.st_mode)) {
        st = lst;
        type = FTW_SLN;
      } else {
        type = FTW_NS;
      }
      bool ignored = false;
      return verdict(call(&st, type, base, level), &ignored);
    }
    if ((flags & FTW_MOUNT) != 0 && level > 0 && st.st_dev != dev) return 0;
    if (level == 0) dev = st.st_dev;
    if (S_ISLNK(st.st_mode)) {
      bool ignored = false;
      return verdict(call(&st, FTW_SL, base, level), &ignored);
    }
    if (!S_ISDIR(st.st_mode)) {
      bool ignored = false;
      return verdict(call(&st, FTW_F, base, level), &ignored);
    }
    DIR* d = ::opendir(buf);  // the checked opendir: Read on this directory
    if (d == nullptr) {
      bool ignored = false;
      return verdict(call(&st, FTW_DNR, base, level), &ignored);
    }
    bool skip_subtree = false;
    if ((flags & FTW_DEPTH) == 0) {
      const int r = verdict(call(&st, FTW_D, base, level), &skip_subtree);
      if (r != 0 || skip_subtree) {
        ::closedir(d);
        skip_siblings = false;
        return r;
      }
    }
    // Read the names first, then close: the walk never holds more than one
    // directory open per level of recursion only briefly.
    char** names = nullptr;
    std::size_t n = 0;
    std::size_t ncap = 0;
    while (struct dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      if (n == ncap) {
        ncap = ncap == 0 ? 16 : ncap * 2;
        auto** g = static_cast<char**>(std::realloc(names, ncap * sizeof(char*)));
        if (g == nullptr) break;
        names = g;
      }
      names[n] = ::strdup(e->d_name);
      if (names[n] != nullptr) ++n;
    }
    ::closedir(d);
    int rc = 0;
    const bool chdir_mode = (flags & FTW_CHDIR) != 0;
    if (chdir_mode && ::chdir(buf) != 0) rc = -1;
    for (std::size_t i = 0; i < n && rc == 0 && !skip_siblings; ++i) {
      const std::size_t nl = std::strlen(names[i]);
      if (!ensure(len + 1 + nl + 1)) {
        rc = -1;
        errno = ENOMEM;
        break;
      }
      std::size_t pos = len;
      if (len == 0 || buf[len - 1] != '/') buf[pos++] = '/';
      std::memcpy(buf + pos, names[i], nl + 1);
      rc = entry(pos + nl, static_cast<int>(pos), level + 1);
      buf[len] = '\0';
    }
    skip_siblings = false;
    for (std::size_t i = 0; i < n; ++i) std::free(names[i]);
    std::free(names);
    if (chdir_mode && rc == 0) {
      // back to the directory holding this one
      char saved = buf[base];
      buf[base] = '\0';
      if (::chdir(base > 0 ? buf : ".") != 0) rc = -1;
      buf[base] = saved;
    }
    if (rc == 0 && (flags & FTW_DEPTH) != 0) {
      bool ignored = false;
      rc = verdict(call(&st, FTW_DP, base, level), &ignored);
    }
    return rc;
  }

  int run(const char* root) {
    if (root == nullptr || root[0] == '\0') {
      errno = ENOENT;
      return -1;
    }
    const std::size_t len = std::strlen(root);
    if (!ensure(len + 1)) {
      errno = ENOMEM;
      return -1;
    }
    std::memcpy(buf, root, len + 1);
    // base: start of the last component (trailing slashes kept, as glibc)
    std::size_t end = len;
    while (end > 1 && buf[end - 1] == '/') --end;
    std::size_t base = end;
    while (base > 0 && buf[base - 1] != '/') --base;
    char cwd[sb::fs::kBuf];
    const bool chdir_mode = (flags & FTW_CHDIR) != 0;
    if (chdir_mode) {
      if (::getcwd(cwd, sizeof cwd) == nullptr) return -1;
      if (base > 0) {
        char saved = buf[base];
        buf[base] = '\0';
        const int r = ::chdir(buf);
        buf[base] = saved;
        if (r != 0) return -1;
      }
    }
    int rc = entry(len, static_cast<int>(base), 0);
    if (chdir_mode) {
      sb::ErrnoKeeper keep;
      (void)::chdir(cwd);
    }
    if ((flags & FTW_ACTIONRETVAL) != 0 && rc == FTW_STOP) return FTW_STOP;
    return rc;
  }

  ~Walker() { std::free(buf); }
};

template <class St>
int walk_nftw(const char* root, int (*nfn)(const char*, const St*, int, struct FTW*),
              int (*fn)(const char*, const St*, int), int flags) noexcept {
  try {
    Walker<St> w;
    w.nfn = nfn;
    w.fn = fn;
    w.flags = flags;
    return w.run(root);
  } catch (...) {
    errno = EACCES;
    return -1;
  }
}

// ---- fts ------------------------------------------------------------------
// fts keeps glibc's walker (its FTSENT bookkeeping is large): every root
// must be readable by the tenant, and the walk is forced physical (no
// FTS_LOGICAL, no FTS_COMFOLLOW), so it never follows a symlink out of the
// checked tree; symlinks are reported as FTS_SL. FTS_NOCHDIR is cleared as
// well: with it, glibc opens each directory by its path string, and a
// directory swapped for a symlink between fts's lstat and that opendir
// would be listed; in chdir mode fts_safe_changedir() compares dev/ino with
// the lstat result and refuses to descend into the swapped object. The cost:
// the cwd changes during the walk (fts_close restores it), as for any fts
// caller that does not ask for NOCHDIR.
bool fts_roots_ok(ActiveTenant& t, const char* op, char* const* argv) noexcept {
  if (argv == nullptr) return true;
  for (char* const* p = argv; *p != nullptr; ++p) {
    sb::fs::Request rq;
    rq.need = tenant::Need::Read;
    rq.how = sb::fs::How::NoFollow;
    sb::fs::Target tg;
    const int r = sb::fs::resolve(t, op, AT_FDCWD, *p, rq, tg);
    if (r == sb::fs::kUnconfined) continue;
    if (r == -EACCES) {
      errno = EACCES;
      return false;
    }
    // a missing root is fts's own FTS_NS to report
  }
  return true;
}

int fts_force_physical(int options) noexcept {
  return (options & ~(FTS_LOGICAL | FTS_COMFOLLOW | FTS_NOCHDIR)) | FTS_PHYSICAL;
}

}  // namespace

extern "C" {

DIR* opendir(const char* path) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(opendir)(path);
  return checked_opendir_at(*t, "opendir", AT_FDCWD, path);
}

// The descriptor was checked when it was opened (or belongs to the
// process from before the tenant); listing it needs nothing more.
DIR* fdopendir(int fd) noexcept { return SB_REAL(fdopendir)(fd); }

int scandir(const char* path, struct dirent*** out, int (*sel)(const struct dirent*),
            int (*cmp)(const struct dirent**, const struct dirent**)) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(scandir)(path, out, sel, cmp);
  DIR* d = checked_opendir_at(*t, "scandir", AT_FDCWD, path);
  if (d == nullptr) return -1;
  return scan_dir<struct dirent>(d, out, sel, cmp, ::readdir);
}

int scandir64(const char* path, struct dirent64*** out, int (*sel)(const struct dirent64*),
              int (*cmp)(const struct dirent64**, const struct dirent64**)) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(scandir64)(path, out, sel, cmp);
  DIR* d = checked_opendir_at(*t, "scandir64", AT_FDCWD, path);
  if (d == nullptr) return -1;
  return scan_dir<struct dirent64>(d, out, sel, cmp, ::readdir64);
}

int scandirat(int dirfd, const char* path, struct dirent*** out, int (*sel)(const struct dirent*),
              int (*cmp)(const struct dirent**, const struct dirent**)) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(scandirat)(dirfd, path, out, sel, cmp);
  DIR* d = checked_opendir_at(*t, "scandirat", dirfd, path);
  if (d == nullptr) return -1;
  return scan_dir<struct dirent>(d, out, sel, cmp, ::readdir);
}

int scandirat64(int dirfd, const char* path, struct dirent64*** out, int (*sel)(const struct dirent64*),
                int (*cmp)(const struct dirent64**, const struct dirent64**)) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(scandirat64)(dirfd, path, out, sel, cmp);
  DIR* d = checked_opendir_at(*t, "scandirat64", dirfd, path);
  if (d == nullptr) return -1;
  return scan_dir<struct dirent64>(d, out, sel, cmp, ::readdir64);
}

// A caller that brought its own directory functions (GLOB_ALTDIRFUNC) keeps
// them: they are its code, whose libc calls pass our wrappers anyway.
int glob(const char* pattern, int flags, int (*errfunc)(const char*, int), glob_t* pglob) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr || (flags & GLOB_ALTDIRFUNC) != 0 || pglob == nullptr)
    return SB_REAL(glob)(pattern, flags, errfunc, pglob);
  pglob->gl_opendir = glob_opendir;
  pglob->gl_readdir = glob_readdir;
  pglob->gl_closedir = glob_closedir;
  pglob->gl_stat = glob_stat;
  pglob->gl_lstat = glob_lstat;
  return SB_REAL(glob)(pattern, flags | GLOB_ALTDIRFUNC, errfunc, pglob);
}

int glob64(const char* pattern, int flags, int (*errfunc)(const char*, int), glob64_t* pglob) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr || (flags & GLOB_ALTDIRFUNC) != 0 || pglob == nullptr)
    return SB_REAL(glob64)(pattern, flags, errfunc, pglob);
  pglob->gl_opendir = glob_opendir;
  pglob->gl_readdir = glob_readdir64;
  pglob->gl_closedir = glob_closedir;
  pglob->gl_stat = glob_stat64;
  pglob->gl_lstat = glob_lstat64;
  return SB_REAL(glob64)(pattern, flags | GLOB_ALTDIRFUNC, errfunc, pglob);
}

int ftw(const char* root, __ftw_func_t fn, int nopenfd) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(ftw)(root, fn, nopenfd);
  return walk_nftw<struct stat>(root, nullptr, fn, 0);
}

int ftw64(const char* root, __ftw64_func_t fn, int nopenfd) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(ftw64)(root, fn, nopenfd);
  return walk_nftw<struct stat64>(root, nullptr, fn, 0);
}

int nftw(const char* root, __nftw_func_t fn, int nopenfd, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(nftw)(root, fn, nopenfd, flags);
  return walk_nftw<struct stat>(root, fn, nullptr, flags);
}

int nftw64(const char* root, __nftw64_func_t fn, int nopenfd, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(nftw64)(root, fn, nopenfd, flags);
  return walk_nftw<struct stat64>(root, fn, nullptr, flags);
}

FTS* fts_open(char* const* argv, int options, int (*cmp)(const FTSENT**, const FTSENT**)) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(fts_open)(argv, options, cmp);
  if (!fts_roots_ok(*t, "fts_open", argv)) return nullptr;
  return SB_REAL(fts_open)(argv, fts_force_physical(options), cmp);
}

FTS64* fts64_open(char* const* argv, int options, int (*cmp)(const FTSENT64**, const FTSENT64**)) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(fts64_open)(argv, options, cmp);
  if (!fts_roots_ok(*t, "fts64_open", argv)) return nullptr;
  return SB_REAL(fts64_open)(argv, fts_force_physical(options), cmp);
}

}  // extern "C"
