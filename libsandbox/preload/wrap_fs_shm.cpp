// POSIX shared memory and named semaphores (THREATS 20: "SysV/POSIX shared
// memory"; SysV is in wrap_proc_ipc.cpp).
//
// glibc 2.36 turns a name into "/dev/shm/NAME" (sem_open: "/dev/shm/sem.NAME")
// and opens it with its internal __libc_open / link / unlink, which never
// reach our open/unlink wrappers: without these wrappers tenant A could
// shm_open("/cache") a segment tenant B created and read or change it. Each
// wrapper rebuilds glibc's path the way __shm_get_name does and decides on it
// like any other path: a tenant reaches only names its policy lists
// (read_write "/dev/shm/site-a-cache" or the whole "/dev/shm" for a tenant
// trusted with it). Note the name ".." is accepted by glibc 2.36 and names
// "/dev" itself: deciding on the normalised path covers it.
#include <fcntl.h>
#include <limits.h>
#include <semaphore.h>
#include <sys/mman.h>

#include <cstdarg>
#include <cstring>

#include "fs_resolve.hpp"
#include "internal.hpp"
#include "runtime.hpp"

namespace {

// glibc's __shm_get_name: leading slashes dropped; empty, over-long or names
// with another '/' are EINVAL before anything is touched. false for those,
// so the caller lets glibc return its own EINVAL.
bool shm_path(const char* name, bool semaphore, char (&out)[PATH_MAX]) noexcept {
  if (name == nullptr) return false;
  while (*name == '/') ++name;
  const std::size_t len = std::strlen(name);
  if (len == 0 || len + 1 >= NAME_MAX || std::strchr(name, '/') != nullptr) return false;
  const char* prefix = semaphore ? "/dev/shm/sem." : "/dev/shm/";
  const std::size_t plen = std::strlen(prefix);
  std::memcpy(out, prefix, plen);
  std::memcpy(out + plen, name, len + 1);
  return true;
}

}  // namespace

extern "C" {

int shm_open(const char* name, int oflag, mode_t mode) noexcept {
  sb::ActiveTenant* t = sb::current();
  char path[PATH_MAX];
  if (t == nullptr || !shm_path(name, false, path)) return SB_REAL(shm_open)(name, oflag, mode);
  // Exactly glibc's open of the segment, through our checked open().
  return ::open(path, oflag | O_NOFOLLOW | O_CLOEXEC, mode);
}

int shm_unlink(const char* name) noexcept {
  sb::ActiveTenant* t = sb::current();
  char path[PATH_MAX];
  if (t == nullptr || !shm_path(name, false, path)) return SB_REAL(shm_unlink)(name);
  return ::unlink(path);
}

sem_t* sem_open(const char* name, int oflag, ...) noexcept {
  mode_t mode = 0;
  unsigned value = 0;
  if ((oflag & O_CREAT) != 0) {
    va_list ap;
    va_start(ap, oflag);
    mode = static_cast<mode_t>(va_arg(ap, unsigned));
    value = va_arg(ap, unsigned);
    va_end(ap);
  }
  sb::ActiveTenant* t = sb::current();
  char path[PATH_MAX];
  if (t != nullptr && shm_path(name, true, path)) {
    // A semaphore is always opened read-write. glibc creates it as a
    // temporary file in /dev/shm and link()s it to the name (O_NOFOLLOW on
    // the final open; the name has no '/', so no directory of the path is
    // the tenant's to swap): deciding on the final name is deciding on what
    // glibc opens. The temporary file is glibc's own and unlinked at once.
    sb::fs::Request rq;
    rq.need = tenant::Need::Write;
    rq.how = sb::fs::How::Parent;
    sb::fs::Target target;
    const int r = sb::fs::resolve(*t, "sem_open", AT_FDCWD, path, rq, target);
    if (r < 0) {
      errno = -r;
      return SEM_FAILED;
    }
  }
  return SB_REAL(sem_open)(name, oflag, mode, value);
}

int sem_unlink(const char* name) noexcept {
  sb::ActiveTenant* t = sb::current();
  char path[PATH_MAX];
  if (t == nullptr || !shm_path(name, true, path)) return SB_REAL(sem_unlink)(name);
  return ::unlink(path);
}

}  // extern "C"
