/* net_budget: max_connections 4 counted per socket object over every way a
 * descriptor appears or goes away (THREATS 14): dup, dup2, F_DUPFD,
 * fdopen+fclose, close_range, fork, exec with close-on-exec, a child killed
 * with SIGKILL (reconcile), persistent sockets at the end of a request; and
 * the descriptor rules (THREATS 18): no dup of a system descriptor, no
 * close of libsandbox's own. Without the wrappers the 5th connect succeeds
 * and every denial below is missing. */
#include <fcntl.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "net_probe.h"

static struct sockaddr_in g_dst;

/* A new connection kept open: its fd, or -errno. */
static int conn(void) {
  int fd = -1;
  int rc = np_try_connect(AF_INET, &g_dst, sizeof g_dst, &fd);
  return rc == 0 ? fd : rc;
}
/* The 5th connection: must fail with EDQUOT while 4 are held. */
static int over_cap(void) {
  int fd = conn();
  if (fd >= 0) {
    close(fd);
    errno = 0;
    return 0;
  }
  errno = -fd;
  return 1;
}

int main(int argc, char **argv) {
  const char *root = argv[1];
  (void)argc;
  np_init(argv[2]);
  uint16_t port;
  int lst = np_listen(SOCK_STREAM, "127.0.0.1", &port);
  g_dst = np_v4("127.0.0.1", port);
  int sysfd = open(P(root, "outside/other.txt"), O_RDONLY | O_CLOEXEC); /* Apache's log fd, say */
  static char was_open[1024];
  for (int fd = 0; fd < 1024; ++fd) was_open[fd] = fcntl(fd, F_GETFD) >= 0;
  np_become("site-a");

  /* ---- descriptor rules ---- */
  {
    int own = open(P(root, "www/site-a/file.txt"), O_RDONLY | O_CLOEXEC); /* opens site-a's area root */
    EXPECT_OK("open own file", own >= 0);
    int d = dup(own);
    EXPECT_OK("dup own descriptor", d >= 0);
    close(d);
    EXPECT_ERRNO("dup a system descriptor", EACCES, dup(sysfd) < 0);
    EXPECT_ERRNO("dup2 a system descriptor", EACCES, dup2(sysfd, 700) < 0);
    EXPECT_ERRNO("dup3 a system descriptor", EACCES, dup3(sysfd, 701, O_CLOEXEC) < 0);
    EXPECT_ERRNO("fcntl(F_DUPFD) a system descriptor", EACCES, fcntl(sysfd, F_DUPFD, 0) < 0);
    EXPECT_ERRNO("dup2 over a system descriptor", EACCES, dup2(own, sysfd) < 0);
    EXPECT_ERRNO("clear close-on-exec of a system descriptor", EACCES, fcntl(sysfd, F_SETFD, 0) < 0);
    EXPECT_OK("dup2 own descriptor onto stdin", dup2(own, 0) == 0);
    int pp[2];
    EXPECT_OK("pipe", pipe(pp) == 0);
    EXPECT_OK("dup2 own pipe onto stdout's number (proc_open's child)", (d = dup(1)) >= 0 && dup2(pp[1], d) == d);
    close(d), close(pp[0]), close(pp[1]);
    EXPECT_OK("pipe2", pipe2(pp, O_CLOEXEC) == 0);
    EXPECT_OK("F_DUPFD own pipe", (d = fcntl(pp[0], F_DUPFD_CLOEXEC, 20)) >= 20);
    close(d), close(pp[0]), close(pp[1]);
    int internal = -1;
    /* libsandbox keeps its own descriptors in the upper quarter of
     * RLIMIT_NOFILE (below 64512), out of the way of the low numbers programs
     * pick themselves (a shell's exec 3<>...). */
    struct rlimit nl;
    long top = 65536;
    if (getrlimit(RLIMIT_NOFILE, &nl) == 0 && nl.rlim_cur != RLIM_INFINITY && (long)nl.rlim_cur < top) top = (long)nl.rlim_cur;
    for (int fd = 3; fd < top && internal < 0; ++fd)
      if ((fd >= 1024 || !was_open[fd]) && fd != own && fcntl(fd, F_GETFD) >= 0) internal = fd;
    EXPECT_OK("libsandbox holds an area descriptor", internal >= 0);
    EXPECT_OK("... above the numbers programs use", internal >= 64);
    if (internal >= 0) {
      EXPECT_ERRNO("close libsandbox's descriptor", EBADF, close(internal) < 0);
      EXPECT_ERRNO("dup2 over libsandbox's descriptor", EBADF, dup2(own, internal) < 0);
      close_range((unsigned)internal, (unsigned)internal, 0);
      EXPECT_OK("... still open after close_range over it", fcntl(internal, F_GETFD) >= 0);
      EXPECT_OK("own files still open after all that", open(P(root, "www/site-a/file.txt"), O_RDONLY | O_CLOEXEC) >= 0);
    }
    close(own);
  }

  /* ---- the budget ---- */
  int c[4];
  for (int i = 0; i < 4; ++i) c[i] = conn();
  EXPECT_OK("4 connections", c[0] >= 0 && c[1] >= 0 && c[2] >= 0 && c[3] >= 0);
  EXPECT_ERRNO("5th connection", EDQUOT, over_cap());
  {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_ERRNO("5th connection through sendto(MSG_FASTOPEN)", EDQUOT,
                 sendto(s, "x", 1, MSG_FASTOPEN, (struct sockaddr *)&g_dst, sizeof g_dst) < 0);
    struct iovec iov = {.iov_base = "x", .iov_len = 1};
    struct mmsghdr mm;
    memset(&mm, 0, sizeof mm);
    mm.msg_hdr.msg_name = &g_dst, mm.msg_hdr.msg_namelen = sizeof g_dst;
    mm.msg_hdr.msg_iov = &iov, mm.msg_hdr.msg_iovlen = 1;
    EXPECT_ERRNO("5th connection through sendmmsg(MSG_FASTOPEN)", EDQUOT, sendmmsg(s, &mm, 1, MSG_FASTOPEN) < 0);
    struct msghdr m = mm.msg_hdr;
    EXPECT_ERRNO("5th connection through sendmsg(MSG_FASTOPEN)", EDQUOT, sendmsg(s, &m, MSG_FASTOPEN) < 0);
    close(s);
  }
  close(c[3]);
  c[3] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_OK("close frees one (taken by a TCP Fast Open sendto)",
            sendto(c[3], "x", 1, MSG_FASTOPEN, (struct sockaddr *)&g_dst, sizeof g_dst) == 1);
  EXPECT_ERRNO("... which counts", EDQUOT, over_cap());

  int d = dup(c[0]);
  close(c[0]);
  EXPECT_ERRNO("a dup keeps the connection counted", EDQUOT, over_cap());
  close(d);
  EXPECT_OK("closing the dup frees it", (c[0] = conn()) >= 0);

  dup2(c[1], 600);
  close(c[1]);
  EXPECT_ERRNO("a dup2 copy keeps it counted", EDQUOT, over_cap());
  close(600);
  EXPECT_OK("closing the dup2 copy frees it", (c[1] = conn()) >= 0);

  d = fcntl(c[2], F_DUPFD_CLOEXEC, 10);
  close(c[2]);
  EXPECT_ERRNO("an F_DUPFD copy keeps it counted", EDQUOT, over_cap());
  dup2(c[0], d); /* replacing the copy drops its reference */
  EXPECT_OK("dup2 over the last copy frees it", (c[2] = conn()) >= 0);
  close(d);

  /* The same through syscall(): the router must hand it to fcntl's wrapper. */
  d = (int)syscall(SYS_fcntl, c[2], F_DUPFD_CLOEXEC, 10);
  close(c[2]);
  EXPECT_ERRNO("a syscall(SYS_fcntl, F_DUPFD) copy keeps it counted", EDQUOT, over_cap());
  close(d);
  EXPECT_OK("closing that copy frees it", (c[2] = conn()) >= 0);

  FILE *f = fdopen(c[3], "r+");
  EXPECT_OK("fdopen", f != NULL);
  fclose(f); /* closes through glibc's internal close, not close() */
  EXPECT_OK("fclose of an fdopen'ed connection frees it", (c[3] = conn()) >= 0);

  EXPECT_OK("close_range", close_range((unsigned)c[3], (unsigned)c[3], 0) == 0);
  EXPECT_OK("close_range frees it", (c[3] = conn()) >= 0);

  {
    int p[2];
    pipe(p);
    pid_t pid = fork();
    if (pid == 0) {
      char b;
      read(p[0], &b, 1);
      exit(0); /* exit gives the inherited references back */
    }
    close(c[0]);
    EXPECT_ERRNO("a forked child keeps it counted", EDQUOT, over_cap());
    write(p[1], "x", 1);
    waitpid(pid, NULL, 0);
    EXPECT_OK("child exit frees it", (c[0] = conn()) >= 0);
    close(p[0]), close(p[1]);
  }
  {
    pid_t pid = fork();
    if (pid == 0) {
      execl("/usr/bin/sleep", "sleep", "5", (char *)NULL); /* every c[] is close-on-exec */
      _exit(127);
    }
    usleep(300000);
    close(c[1]);
    EXPECT_OK("exec dropped the child's close-on-exec copies", (c[1] = conn()) >= 0);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
  }
  {
    int p[2];
    pipe(p);
    close(c[3]);
    pid_t pid = fork();
    if (pid == 0) {
      int mine = conn(); /* the 4th connection, held by the child */
      write(p[1], mine >= 0 ? "y" : "n", 1);
      pause();
      _exit(0);
    }
    char b = 'n';
    read(p[0], &b, 1);
    EXPECT_OK("child made the 4th connection", b == 'y');
    EXPECT_ERRNO("... so the tenant is at its cap", EDQUOT, over_cap());
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    usleep(100000); /* reconciles run at most every 50 ms per tenant */
    EXPECT_OK("a SIGKILLed child does not leak the budget", (c[3] = conn()) >= 0);
    close(p[0]), close(p[1]);
  }

  /* ---- end of request: persistent sockets die, the budget is returned ---- */
  np_leave();
  {
    int dom = 0;
    socklen_t l = sizeof dom;
    EXPECT_OK("a socket left open is still an open descriptor", fcntl(c[0], F_GETFD) >= 0);
    EXPECT_OK("... but now a dead unix socket", getsockopt(c[0], SOL_SOCKET, SO_DOMAIN, &dom, &l) == 0 && dom == AF_UNIX);
  }
  usleep(100000); /* the SIGKILLed child's inherited references: reconcile again */
  np_become("site-a");
  int n[4];
  for (int i = 0; i < 4; ++i) n[i] = conn();
  EXPECT_OK("the next request has the whole budget", n[0] >= 0 && n[1] >= 0 && n[2] >= 0 && n[3] >= 0);
  if (getenv("NP_DEBUG")) printf("# %d %d %d %d\n", n[0], n[1], n[2], n[3]);
  EXPECT_ERRNO("and its cap", EDQUOT, over_cap());
  np_leave();
  close(lst);
  return PROBE_END();
}
