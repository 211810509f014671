// System V IPC between same-uid processes (THREATS 20). Every worker runs
// as the same uid, so a shared memory segment, message queue or semaphore
// set one tenant creates (PHP's shmop, sysvshm, sysvmsg, sysvsem are on in
// Debian's php8.2-common) is readable and removable by every other tenant,
// by key or by guessing its id -- as are the ones Apache itself uses.
// Tenants therefore get no System V IPC at all: creating or looking up by
// key, attaching, sending, receiving and control (IPC_RMID of Apache's
// accept mutex would stop the server) fail with EACCES, logged.
//
// semop/semtimedop by id stay allowed: APR's process mutexes (SysV
// semaphores on some builds) are taken with semop while a request's tenant
// is set (mod_cache_socache, mod_proxy balancers). A tenant can therefore
// still block on or wake a semaphore whose id it guesses -- a denial of
// service, not a disclosure; the kernel layer (seccomp) can close it.
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>

#include "internal.hpp"

namespace {
// True when the call must fail (enforce mode, after logging).
bool refused(const char* op, long what) noexcept {
  sb::ActiveTenant* t = sb::current();
  if (t == nullptr) return false;
  char text[48];
  std::snprintf(text, sizeof text, "sysv:%ld", what);
  return sb::refuse(*t, op, tenant::Need::Read, text, EACCES,
                    "System V IPC is shared by every process of this uid: never allowed to a tenant");
}
}  // namespace

extern "C" int shmget(key_t key, size_t size, int flags) noexcept {
  if (refused("shmget", key)) return sb::fail(EACCES);
  return SB_REAL(shmget)(key, size, flags);
}

extern "C" void* shmat(int id, const void* addr, int flags) noexcept {
  if (refused("shmat", id)) {
    errno = EACCES;
    return reinterpret_cast<void*>(-1);
  }
  return SB_REAL(shmat)(id, addr, flags);
}

extern "C" int shmctl(int id, int cmd, struct shmid_ds* buf) noexcept {
  if (refused("shmctl", id)) return sb::fail(EACCES);
  return SB_REAL(shmctl)(id, cmd, buf);
}

extern "C" int msgget(key_t key, int flags) noexcept {
  if (refused("msgget", key)) return sb::fail(EACCES);
  return SB_REAL(msgget)(key, flags);
}

extern "C" int msgsnd(int id, const void* msg, size_t size, int flags) noexcept {
  if (refused("msgsnd", id)) return sb::fail(EACCES);
  return SB_REAL(msgsnd)(id, msg, size, flags);
}

extern "C" ssize_t msgrcv(int id, void* msg, size_t size, long type, int flags) noexcept {
  if (refused("msgrcv", id)) return sb::fail(EACCES);
  return SB_REAL(msgrcv)(id, msg, size, type, flags);
}

extern "C" int msgctl(int id, int cmd, struct msqid_ds* buf) noexcept {
  if (refused("msgctl", id)) return sb::fail(EACCES);
  return SB_REAL(msgctl)(id, cmd, buf);
}

extern "C" int semget(key_t key, int nsems, int flags) noexcept {
  if (refused("semget", key)) return sb::fail(EACCES);
  return SB_REAL(semget)(key, nsems, flags);
}

// The fourth argument is a union semun passed by value when the command
// needs it; on x86-64 it is one pointer-sized register either way.
extern "C" int semctl(int id, int num, int cmd, ...) noexcept {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (refused("semctl", id)) return sb::fail(EACCES);
  return SB_REAL(semctl)(id, num, cmd, arg);
}
