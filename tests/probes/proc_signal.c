/* proc_signal -- what a tenant process may do to other processes, raw
 * syscall(), and the control channel of a locked process (THREATS 4, 20, 21).
 * Runs as site-a via `tenant-sandbox run`.
 *
 * Only signal 0 (an existence check) is ever aimed at other processes, so a
 * missing wrapper shows up as a success instead of hurting the test runner.
 * ptrace and process_vm_readv target the probe's own forked child, which the
 * kernel would allow (same uid, descendant): only the wrapper refuses. */
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/ptrace.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

static volatile int marker = 4242;

int main(int argc, char **argv) {
  (void)argc;
  const char *root = argv[1];
  char a_file[4096], b_secret[4096];
  snprintf(a_file, sizeof a_file, "%s/www/site-a/file.txt", root);
  snprintf(b_secret, sizeof b_secret, "%s/www/site-b/secret.txt", root);
  const pid_t parent = getppid();

  /* ---- signals ---- */
  EXPECT_OK("kill(own pid, 0)", kill(getpid(), 0) == 0);
  EXPECT_ERRNO("kill(getppid(), 0)", EACCES, kill(parent, 0) < 0);
  EXPECT_ERRNO("kill(-1, 0): every process of this uid", EACCES, kill(-1, 0) < 0);
  EXPECT_ERRNO("kill(0, 0): own process group", EACCES, kill(0, 0) < 0);
  EXPECT_ERRNO("kill(-pgrp, 0)", EACCES, kill(-getpgrp(), 0) < 0);
  EXPECT_ERRNO("killpg(getpgrp(), 0)", EACCES, killpg(getpgrp(), 0) < 0);
  union sigval v = {0};
  EXPECT_ERRNO("sigqueue(getppid(), 0)", EACCES, sigqueue(parent, 0, v) < 0);
  EXPECT_ERRNO("tgkill(getppid(), getppid(), 0)", EACCES, tgkill(parent, parent, 0) < 0);
  EXPECT_OK("tgkill(own pid, own tid, 0)", tgkill(getpid(), gettid(), 0) == 0);

  /* A child the tenant started may be signalled and is not traceable. */
  pid_t child = fork();
  if (child == 0) {
    for (;;) pause();
  }
  EXPECT_OK("fork a child", child > 0);
  EXPECT_OK("kill(own child, 0)", kill(child, 0) == 0);
  EXPECT_ERRNO("ptrace(PTRACE_ATTACH, own child)", EACCES, ptrace(PTRACE_ATTACH, child, NULL, NULL) < 0);
  int got = 0;
  struct iovec local = {&got, sizeof got}, remote = {(void *)&marker, sizeof marker};
  EXPECT_ERRNO("process_vm_readv(own child)", EACCES, process_vm_readv(child, &local, 1, &remote, 1, 0) < 0);
  EXPECT_ERRNO("syscall(SYS_ptrace, PTRACE_ATTACH)", EACCES, syscall(SYS_ptrace, PTRACE_ATTACH, child, 0, 0) < 0);
  EXPECT_ERRNO("syscall(SYS_process_vm_readv)", EACCES,
               syscall(SYS_process_vm_readv, child, &local, 1, &remote, 1, 0) < 0);
  ptrace(PTRACE_DETACH, child, NULL, NULL); /* only matters without the wrapper */

  /* pidfds: signal and steal descriptors without kill() or ptrace(). */
  int own = pidfd_open(child, 0);
  EXPECT_OK("pidfd_open(own child)", own >= 0);
  EXPECT_OK("pidfd_send_signal(own child, 0)", own >= 0 && pidfd_send_signal(own, 0, NULL, 0) == 0);
  EXPECT_ERRNO("pidfd_getfd(own child, 1)", EACCES, pidfd_getfd(own, 1, 0) < 0);
  EXPECT_ERRNO("syscall(SYS_pidfd_getfd)", EACCES, syscall(SYS_pidfd_getfd, own, 1, 0) < 0);
  if (own >= 0) close(own);
  EXPECT_ERRNO("pidfd_open(getppid())", EACCES, pidfd_open(parent, 0) < 0);
  EXPECT_OK("kill(own child, SIGKILL)", kill(child, SIGKILL) == 0);
  waitpid(child, NULL, 0);

  /* ---- raw syscall() ---- */
  EXPECT_ERRNO("syscall(SYS_kill, getppid(), 0)", EACCES, syscall(SYS_kill, parent, 0) < 0);
  EXPECT_ERRNO("syscall(SYS_kill, -1, 0)", EACCES, syscall(SYS_kill, -1, 0) < 0);
  EXPECT_OK("syscall(SYS_tkill, own tid, 0)", syscall(SYS_tkill, gettid(), 0) == 0);
  EXPECT_ERRNO("syscall(SYS_tkill, parent, 0)", EACCES, syscall(SYS_tkill, parent, 0) < 0);
  EXPECT_OK("syscall(SYS_getpid) passes through", syscall(SYS_getpid) == getpid());
  long fd = syscall(SYS_openat, AT_FDCWD, a_file, O_RDONLY);
  EXPECT_OK("syscall(SYS_openat) own file", fd >= 0);
  if (fd >= 0) close((int)fd);
  EXPECT_ERRNO("syscall(SYS_openat) site-b secret", EACCES, syscall(SYS_openat, AT_FDCWD, b_secret, O_RDONLY) < 0);
  EXPECT_ERRNO("syscall(SYS_open) site-b secret", EACCES, syscall(SYS_open, b_secret, O_RDONLY) < 0);
  struct open_how how = {.flags = O_RDONLY};
  EXPECT_ERRNO("syscall(SYS_openat2) site-b secret", EACCES,
               syscall(SYS_openat2, AT_FDCWD, b_secret, &how, sizeof how) < 0);
  fd = syscall(SYS_openat2, AT_FDCWD, a_file, &how, sizeof how);
  EXPECT_OK("syscall(SYS_openat2) own file", fd >= 0);
  if (fd >= 0) close((int)fd);
  char buf[64];
  EXPECT_ERRNO("syscall(SYS_readlink) in site-b", EACCES, syscall(SYS_readlink, b_secret, buf, sizeof buf) < 0);
  EXPECT_ERRNO("syscall(SYS_unlink) site-b secret", EACCES, syscall(SYS_unlink, b_secret) < 0);
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  EXPECT_ERRNO("syscall(SYS_io_uring_setup)", EACCES, syscall(SYS_io_uring_setup, 4, &p) < 0);
  EXPECT_ERRNO("syscall(SYS_io_uring_enter)", EACCES, syscall(SYS_io_uring_enter, 0, 0, 0, 0, NULL, 0) < 0);
  EXPECT_ERRNO("syscall(SYS_pidfd_open, getppid())", EACCES, syscall(SYS_pidfd_open, parent, 0) < 0);

  /* ---- System V IPC: shared by every process of the uid ---- */
  int id;
  EXPECT_ERRNO("shmget(IPC_PRIVATE)", EACCES, (id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600)) < 0);
  if (id >= 0) shmctl(id, IPC_RMID, NULL); /* only without the wrapper */
  EXPECT_ERRNO("syscall(SYS_shmget)", EACCES, (id = (int)syscall(SYS_shmget, IPC_PRIVATE, 4096, IPC_CREAT | 0600)) < 0);
  if (id >= 0) shmctl(id, IPC_RMID, NULL);
  EXPECT_ERRNO("shmat(0)", EACCES, shmat(0, NULL, SHM_RDONLY) == (void *)-1);
  EXPECT_ERRNO("shmctl(0, IPC_STAT)", EACCES, shmctl(0, IPC_STAT, &(struct shmid_ds){0}) < 0);
  EXPECT_ERRNO("msgget(IPC_PRIVATE)", EACCES, (id = msgget(IPC_PRIVATE, IPC_CREAT | 0600)) < 0);
  if (id >= 0) msgctl(id, IPC_RMID, NULL);
  EXPECT_ERRNO("semget(IPC_PRIVATE)", EACCES, (id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600)) < 0);
  if (id >= 0) semctl(id, 0, IPC_RMID);
  EXPECT_ERRNO("semctl(0, IPC_RMID)", EACCES, semctl(0, 0, IPC_RMID) < 0);

  /* ---- control channel of a locked process ---- */
  int (*set)(const char *) = (int (*)(const char *))dlsym(RTLD_DEFAULT, "sandbox_set_tenant");
  int (*clear)(const char *) = (int (*)(const char *))dlsym(RTLD_DEFAULT, "sandbox_clear_tenant");
  int (*claim)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "sandbox_claim_control");
  const char *(*cur)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "sandbox_current_tenant");
  int (*load)(const char *, char *, size_t) =
      (int (*)(const char *, char *, size_t))dlsym(RTLD_DEFAULT, "sandbox_load_policy");
  EXPECT_OK("C API present", set && clear && claim && cur && load);
  if (set && clear && claim && cur && load) {
    EXPECT_OK("current tenant is site-a", cur() && strcmp(cur(), "site-a") == 0);
    EXPECT_OK("claim in a locked process -> -EPERM", claim() == -EPERM);
    EXPECT_OK("clear(NULL) in a locked process -> -EPERM", clear(NULL) == -EPERM);
    EXPECT_OK("clear(site-a) in a locked process -> -EPERM", clear("site-a") == -EPERM);
    EXPECT_OK("set(site-b) in a locked process -> -EPERM", set("site-b") == -EPERM);
    char err[256];
    EXPECT_OK("load_policy in a locked process -> -EPERM", load(argv[2], err, sizeof err) == -EPERM);
    EXPECT_OK("still site-a", cur() && strcmp(cur(), "site-a") == 0);
    EXPECT_ERRNO("still confined after the attempts", EACCES, open(b_secret, O_RDONLY) < 0);
  }
  return PROBE_END();
}
