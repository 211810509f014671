/* net_run: the probe is site-a from its first instruction (tenant-sandbox
 * run, default policy: max_connections 4). Unix stream connections count
 * like TCP ones; the budget lives in the fixture's state folder; families
 * are refused; what the process opened it may dup. Without the wrappers the
 * 5th connection and the netlink socket succeed. */
#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "probe.h"
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct sockaddr_un g_addr;
static socklen_t g_len;

static int conn(void) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (connect(fd, (struct sockaddr *)&g_addr, g_len) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -e;
  }
  return fd;
}

int main(int argc, char **argv) {
  const char *root = argv[1];
  (void)argc;
  memset(&g_addr, 0, sizeof g_addr);
  g_addr.sun_family = AF_UNIX;
  snprintf(g_addr.sun_path, sizeof g_addr.sun_path, "tmp/run.sock"); /* cwd is site-a */
  g_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(g_addr.sun_path) + 1);

  EXPECT_ERRNO("socket(AF_NETLINK)", EACCES, socket(AF_NETLINK, SOCK_RAW, 0) < 0);
  int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_OK("bind own unix socket", bind(l, (struct sockaddr *)&g_addr, g_len) == 0);
  EXPECT_OK("listen on it", listen(l, 64) == 0);
  int c[4];
  for (int i = 0; i < 4; ++i) c[i] = conn();
  EXPECT_OK("4 unix stream connections", c[0] >= 0 && c[1] >= 0 && c[2] >= 0 && c[3] >= 0);
  EXPECT_ERRNO("5th: over max_connections", EDQUOT, conn() < 0);
  int a = accept(l, NULL, NULL);
  EXPECT_OK("accepting is not counted", a >= 0 && close(a) == 0);
  struct stat st;
  EXPECT_ERRNO("the budget map is not the tenant's to see", EACCES, stat(P(root, "state/budget"), &st) < 0);
  int d = dup(c[0]);
  EXPECT_OK("dup own connection", d >= 0);
  close(c[0]);
  EXPECT_ERRNO("the dup keeps it counted", EDQUOT, conn() < 0);
  pid_t pid = fork();
  if (pid == 0) _exit(0); /* no destructors: the _exit wrapper gives the child's references back */
  waitpid(pid, NULL, 0);
  close(d);
  EXPECT_OK("closing the dup frees it (a forked child's _exit gave its references back)", (c[0] = conn()) >= 0);
  EXPECT_ERRNO("and the cap holds", EDQUOT, conn() < 0);
  return PROBE_END();
}
