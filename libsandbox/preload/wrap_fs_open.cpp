// open family, stdio opens, file handles.
//
// Every name has its own wrapper because glibc's callers reach them by
// different symbols: Debian's libphp imports __open_2 (fortified build),
// -D_FILE_OFFSET_BITS=64 builds import only open64/fopen64, and fopen /
// freopen open through glibc's internal __openat_nocancel, which no open()
// wrapper sees (THREATS 1-2). All of them go through sb::fs::checked_open:
// decide on the path, open beneath the allowed root (fs_resolve.hpp).
#include <cerrno>
#include <cstdarg>
#include <cstring>

#include "fdtable.hpp"
#include "fs_resolve.hpp"

namespace {

using sb::ActiveTenant;

mode_t va_mode(int flags, va_list ap) noexcept {
  if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) return static_cast<mode_t>(va_arg(ap, unsigned));
  return 0;
}

// fopen's mode string as glibc parses it (libio/fileops.c): r w a, then up
// to six of + x e m c, ',' starts ccs= and ends the flags.
bool parse_fopen_mode(const char* mode, int* flags) noexcept {
  if (mode == nullptr) return false;
  int acc = 0;
  int extra = 0;
  switch (mode[0]) {
    case 'r':
      acc = O_RDONLY;
      break;
    case 'w':
      acc = O_WRONLY;
      extra = O_CREAT | O_TRUNC;
      break;
    case 'a':
      acc = O_WRONLY;
      extra = O_CREAT | O_APPEND;
      break;
    default:
      return false;
  }
  for (int i = 1; i < 7 && mode[i] != '\0'; ++i) {
    if (mode[i] == ',') break;
    switch (mode[i]) {
      case '+':
        acc = O_RDWR;
        break;
      case 'x':
        extra |= O_EXCL;
        break;
      case 'e':
        extra |= O_CLOEXEC;
        break;
      default:
        break;
    }
  }
  *flags = acc | extra;
  return true;
}

// The checked open behind a stdio stream: what fopen's mode string asked
// for, created 0666 (less the umask) as glibc's fopen does.
int resolve_stdio(ActiveTenant& t, const char* op, const char* path, int flags, sb::fs::Target& tg) {
  sb::fs::Request rq;
  rq.need = sb::fs::open_need(flags);
  rq.how = sb::fs::How::Open;
  rq.oflags = flags;
  rq.mode = 0666;
  return sb::fs::resolve(t, op, AT_FDCWD, path, rq, tg);
}

FILE* checked_fopen(ActiveTenant& t, const char* op, const char* path, const char* mode) noexcept {
  int flags = 0;
  if (!parse_fopen_mode(mode, &flags)) {
    errno = EINVAL;
    return nullptr;
  }
  const int saved = errno;
  try {
    sb::fs::Target tg;
    const int r = resolve_stdio(t, op, path, flags, tg);
    if (r == sb::fs::kUnconfined) {
      errno = saved;
      return SB_REAL(fopen)(path, mode);
    }
    if (r < 0) {
      errno = -r;
      return nullptr;
    }
    FILE* f = ::fdopen(tg.fd, mode);
    if (f == nullptr) return nullptr;  // tg closes the fd
    const int fd = tg.take();
    sb::fds::note_opened(fd, &t);
    errno = saved;
    return f;
  } catch (...) {
    errno = EACCES;
    return nullptr;
  }
}

// freopen(path, mode, stream): open the checked fd, then let glibc reopen
// the stream on "/proc/self/fd/N" (glibc keeps the stream's old fd number,
// so freopen(.., stdout) still writes to fd 1), and close N. A NULL path
// ("reopen the same file with another mode") is glibc's own
// /proc/self/fd/<fileno> open: it could turn a read-only stream into a
// writable one, so it is checked like any other path, through the magic link.
FILE* checked_freopen(ActiveTenant& t, const char* op, const char* path, const char* mode, FILE* stream,
                      FILE* (*real)(const char*, const char*, FILE*)) noexcept {
  char self[32];
  if (path == nullptr) {
    if (stream == nullptr) {
      errno = EINVAL;
      return nullptr;
    }
    const int sfd = ::fileno(stream);
    if (sfd < 0) {
      errno = EBADF;
      return nullptr;
    }
    sb::fs::fd_path(sfd, self);
    path = self;
  }
  int flags = 0;
  if (!parse_fopen_mode(mode, &flags)) {
    errno = EINVAL;
    return nullptr;
  }
  const int saved = errno;
  try {
    sb::fs::Target tg;
    const int r = resolve_stdio(t, op, path, flags | O_CLOEXEC, tg);
    if (r == sb::fs::kUnconfined) {
      errno = saved;
      return real(path, mode, stream);
    }
    if (r < 0) {
      errno = -r;
      return nullptr;
    }
    // 'x' must not reach the reopen: the file exists now (we created it).
    char m2[16];
    std::size_t j = 0;
    for (std::size_t i = 0; mode[i] != '\0' && j + 1 < sizeof m2; ++i)
      if (mode[i] != 'x') m2[j++] = mode[i];
    m2[j] = '\0';
    char via[32];
    sb::fs::fd_path(tg.fd, via);
    FILE* f;
    {
      sb::InternalScope internal;
      f = real(via, m2, stream);
    }
    if (f == nullptr) return nullptr;
    sb::fds::note_opened(::fileno(f), &t);
    errno = saved;
    return f;
  } catch (...) {
    errno = EACCES;
    return nullptr;
  }
}

}  // namespace

extern "C" {

int open(const char* path, int flags, ...) noexcept {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = va_mode(flags, ap);
  va_end(ap);
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(open)(path, flags, mode);
  return sb::fs::checked_open(*t, "open", AT_FDCWD, path, flags, mode);
}

int open64(const char* path, int flags, ...) noexcept {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = va_mode(flags, ap);
  va_end(ap);
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(open64)(path, flags, mode);
  return sb::fs::checked_open(*t, "open64", AT_FDCWD, path, flags | O_LARGEFILE, mode);
}

// The fortified entry points abort on O_CREAT without a mode; the real one
// does that, so such calls go straight to it.
int __open_2(const char* path, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr || (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) return SB_REAL(__open_2)(path, flags);
  return sb::fs::checked_open(*t, "__open_2", AT_FDCWD, path, flags, 0);
}

int __open64_2(const char* path, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr || (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) return SB_REAL(__open64_2)(path, flags);
  return sb::fs::checked_open(*t, "__open64_2", AT_FDCWD, path, flags | O_LARGEFILE, 0);
}

int openat(int dirfd, const char* path, int flags, ...) noexcept {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = va_mode(flags, ap);
  va_end(ap);
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(openat)(dirfd, path, flags, mode);
  return sb::fs::checked_open(*t, "openat", dirfd, path, flags, mode);
}

int openat64(int dirfd, const char* path, int flags, ...) noexcept {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = va_mode(flags, ap);
  va_end(ap);
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(openat64)(dirfd, path, flags, mode);
  return sb::fs::checked_open(*t, "openat64", dirfd, path, flags | O_LARGEFILE, mode);
}

int __openat_2(int dirfd, const char* path, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr || (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE)
    return SB_REAL(__openat_2)(dirfd, path, flags);
  return sb::fs::checked_open(*t, "__openat_2", dirfd, path, flags, 0);
}

int __openat64_2(int dirfd, const char* path, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr || (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE)
    return SB_REAL(__openat64_2)(dirfd, path, flags);
  return sb::fs::checked_open(*t, "__openat64_2", dirfd, path, flags | O_LARGEFILE, 0);
}

int creat(const char* path, mode_t mode) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(creat)(path, mode);
  return sb::fs::checked_open(*t, "creat", AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int creat64(const char* path, mode_t mode) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(creat64)(path, mode);
  return sb::fs::checked_open(*t, "creat64", AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC | O_LARGEFILE, mode);
}

FILE* fopen(const char* path, const char* mode) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(fopen)(path, mode);
  return checked_fopen(*t, "fopen", path, mode);
}

FILE* fopen64(const char* path, const char* mode) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(fopen64)(path, mode);
  return checked_fopen(*t, "fopen64", path, mode);
}

FILE* freopen(const char* path, const char* mode, FILE* stream) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(freopen)(path, mode, stream);
  return checked_freopen(*t, "freopen", path, mode, stream, SB_REAL(freopen));
}

FILE* freopen64(const char* path, const char* mode, FILE* stream) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(freopen64)(path, mode, stream);
  return checked_freopen(*t, "freopen64", path, mode, stream, SB_REAL(freopen64));
}

// A file handle names an object without a path; decoding one needs
// CAP_DAC_READ_SEARCH and bypasses every path rule, so tenants get none.
// Encoding one only reveals identity: Stat, on the verified object.
int name_to_handle_at(int dirfd, const char* path, struct file_handle* handle, int* mount_id, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(name_to_handle_at)(dirfd, path, handle, mount_id, flags);
  if ((flags & AT_EMPTY_PATH) != 0 && sb::fs::is_empty_path(path))
    return SB_REAL(name_to_handle_at)(dirfd, path, handle, mount_id, flags);
  sb::fs::Request rq;
  rq.need = tenant::Need::Stat;
  rq.how = (flags & AT_SYMLINK_FOLLOW) != 0 ? sb::fs::How::Follow : sb::fs::How::NoFollow;
  return sb::fs::with_target<int>(
      *t, "name_to_handle_at", dirfd, path, rq,
      [&](sb::fs::Target& tg) {
        if (tg.ancestor) return SB_REAL(name_to_handle_at)(AT_FDCWD, tg.path, handle, mount_id, flags);
        return SB_REAL(name_to_handle_at)(tg.fd, "", handle, mount_id, (flags & ~AT_SYMLINK_FOLLOW) | AT_EMPTY_PATH);
      },
      [&] { return SB_REAL(name_to_handle_at)(dirfd, path, handle, mount_id, flags); });
}

int open_by_handle_at(int mount_fd, struct file_handle* handle, int flags) noexcept {
  ActiveTenant* t = sb::current();
  if (t == nullptr) return SB_REAL(open_by_handle_at)(mount_fd, handle, flags);
  if (!sb::refuse(*t, "open_by_handle_at", sb::fs::open_need(flags), "(file handle)", EACCES,
                  "file handles bypass every path rule"))
    return SB_REAL(open_by_handle_at)(mount_fd, handle, flags);
  return sb::fail(EACCES);
}

}  // extern "C"
