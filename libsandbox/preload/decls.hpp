// System headers for every type in interpose.def, plus declarations of the
// interposed names glibc's headers do not declare in our build: the
// fortified entry points (declared only under _FORTIFY_SOURCE, which the
// preload library is built without so that its own calls are not redirected)
// and the pre-2.33 __xstat family (removed from the headers in glibc 2.33,
// still exported for old binaries).
#pragma once
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <fts.h>
#include <ftw.h>
#include <glob.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/ptrace.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>
// glibc 2.36's <sys/pidfd.h> lacks __BEGIN_DECLS: give its functions C linkage.
extern "C" {
#include <sys/pidfd.h>
}

#include <cstdint>

extern "C" {
int __open_2(const char*, int) noexcept;
int __open64_2(const char*, int) noexcept;
int __openat_2(int, const char*, int) noexcept;
int __openat64_2(int, const char*, int) noexcept;
ssize_t __readlink_chk(const char*, char*, size_t, size_t) noexcept;
ssize_t __readlinkat_chk(int, const char*, char*, size_t, size_t) noexcept;
char* __realpath_chk(const char*, char*, size_t) noexcept;
int __xstat(int, const char*, struct stat*) noexcept;
int __xstat64(int, const char*, struct stat64*) noexcept;
int __lxstat(int, const char*, struct stat*) noexcept;
int __lxstat64(int, const char*, struct stat64*) noexcept;
int __fxstatat(int, int, const char*, struct stat*, int) noexcept;
int __fxstatat64(int, int, const char*, struct stat64*, int) noexcept;
int __xmknod(int, const char*, mode_t, dev_t*) noexcept;
int __xmknodat(int, int, const char*, mode_t, dev_t*) noexcept;
}
