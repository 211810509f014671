/* net_unix: unix sockets (THREATS 15, 8). Another tenant's socket by path,
 * by relative path, through a symlink (file or folder) planted in the
 * tenant's own tree; abstract names (no path, no permissions) unless
 * listed; the tenant's own sockets in its writable tree work. Without the
 * wrappers every denied call below succeeds. */
#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>

#include "net_probe.h"

static socklen_t un_addr(struct sockaddr_un *a, const char *path) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  if (path[0] == '@') {
    size_t n = strlen(path + 1);
    memcpy(a->sun_path + 1, path + 1, n);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
  }
  snprintf(a->sun_path, sizeof a->sun_path, "%s", path);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1);
}

static int un_listen(int type, const char *path) {
  struct sockaddr_un a;
  socklen_t l = un_addr(&a, path);
  int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, l) != 0 || (type == SOCK_STREAM && listen(fd, 16) != 0)) {
    printf("not ok - unix listener %s: %s\n", path, strerror(errno));
    exit(1);
  }
  return fd;
}

/* 0 or -1 with errno */
static int un_connect(const char *path) {
  struct sockaddr_un a;
  socklen_t l = un_addr(&a, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int rc = connect(fd, (struct sockaddr *)&a, l);
  int e = errno;
  close(fd);
  errno = e;
  return rc;
}

static int un_sendto(const char *path) {
  struct sockaddr_un a;
  socklen_t l = un_addr(&a, path);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ssize_t rc = sendto(fd, "x", 1, 0, (struct sockaddr *)&a, l);
  int e = errno;
  close(fd);
  errno = e;
  return rc < 0 ? -1 : 0;
}

int main(int argc, char **argv) {
  const char *root = argv[1];
  (void)argc;
  np_init(argv[2]);
  char b_sock[256], b_dgram[256], listed[256], ro_sock[256], denied_abs[64];
  snprintf(b_sock, sizeof b_sock, "%s/www/site-b/b.sock", root);
  snprintf(b_dgram, sizeof b_dgram, "%s/www/site-b/bd.sock", root);
  snprintf(listed, sizeof listed, "%s/outside/listed.sock", root);
  snprintf(ro_sock, sizeof ro_sock, "%s/shared/ro/ro.sock", root);
  snprintf(denied_abs, sizeof denied_abs, "@ts-net-denied-%d", (int)getpid());
  /* as the System: other tenants' and the operator's sockets, planted links */
  int l1 = un_listen(SOCK_STREAM, b_sock), l2 = un_listen(SOCK_DGRAM, b_dgram);
  int l3 = un_listen(SOCK_STREAM, listed), l4 = un_listen(SOCK_STREAM, denied_abs);
  int l5 = un_listen(SOCK_STREAM, ro_sock);
  if (symlink(b_sock, P(root, "www/site-a/link.sock")) != 0 ||
      symlink(P(root, "www/site-b"), P(root, "www/site-a/sub/lnkdir")) != 0) {
    printf("not ok - symlink setup: %s\n", strerror(errno));
    return 1;
  }
  np_become("site-a");

  EXPECT_ERRNO("connect site-b's socket", EACCES, un_connect(b_sock) < 0);
  EXPECT_ERRNO("connect ../site-b/b.sock (relative)", EACCES, un_connect("../site-b/b.sock") < 0);
  EXPECT_ERRNO("connect symlink in site-a -> site-b's socket", EACCES, un_connect(P(root, "www/site-a/link.sock")) < 0);
  EXPECT_ERRNO("connect through a folder symlink in site-a", EACCES,
               un_connect(P(root, "www/site-a/sub/lnkdir/b.sock")) < 0);
  EXPECT_ERRNO("connect a socket under a read_only path", EACCES, un_connect(ro_sock) < 0);
  EXPECT_OK("connect the listed socket", un_connect(listed) == 0);
  EXPECT_ERRNO("connect an unlisted abstract socket", EACCES, un_connect(denied_abs) < 0);
  EXPECT_ERRNO("connect a listed abstract name (nobody listens)", ECONNREFUSED, un_connect("@ts-net-listed") < 0);
  EXPECT_ERRNO("sendto site-b's datagram socket", EACCES, un_sendto(b_dgram) < 0);
  {
    struct sockaddr_un a;
    socklen_t l = un_addr(&a, b_dgram);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct iovec iov = {.iov_base = "y", .iov_len = 1};
    struct msghdr m = {.msg_name = &a, .msg_namelen = l, .msg_iov = &iov, .msg_iovlen = 1};
    EXPECT_ERRNO("sendmsg to site-b's datagram socket", EACCES, sendmsg(fd, &m, 0) < 0);
    close(fd);
  }

  /* the tenant's own sockets */
  {
    int own = un_listen(SOCK_STREAM, P(root, "www/site-a/tmp/own.sock"));
    EXPECT_OK("bind+listen own socket in site-a", own >= 0);
    EXPECT_OK("connect own socket (absolute)", un_connect(P(root, "www/site-a/tmp/own.sock")) == 0);
    EXPECT_OK("connect own socket (relative)", un_connect("tmp/own.sock") == 0);
    struct stat st;
    EXPECT_OK("own socket file exists where asked", stat(P(root, "www/site-a/tmp/own.sock"), &st) == 0 && S_ISSOCK(st.st_mode));
    int d = un_listen(SOCK_DGRAM, "tmp/ownd.sock");
    EXPECT_OK("sendto own datagram socket", un_sendto(P(root, "www/site-a/tmp/ownd.sock")) == 0);
    close(d);
    close(own);
  }
  {
    struct sockaddr_un a;
    socklen_t l = un_addr(&a, P(root, "www/site-b/evil.sock"));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_ERRNO("bind a socket in site-b", EACCES, bind(fd, (struct sockaddr *)&a, l) < 0);
    l = un_addr(&a, P(root, "www/site-a/sub/lnkdir/evil2.sock"));
    EXPECT_ERRNO("bind through a folder symlink into site-b", EACCES, bind(fd, (struct sockaddr *)&a, l) < 0);
    l = un_addr(&a, "@ts-net-unlisted-bind");
    EXPECT_ERRNO("bind an unlisted abstract name", EACCES, bind(fd, (struct sockaddr *)&a, l) < 0);
    a.sun_family = AF_UNIX;
    EXPECT_OK("autobind (no name)", bind(fd, (struct sockaddr *)&a, sizeof(sa_family_t)) == 0);
    close(fd);
  }
  np_leave();
  {
    struct stat st;
    EXPECT_ERRNO("nothing was created in site-b", ENOENT, lstat(P(root, "www/site-b/evil.sock"), &st) < 0);
    EXPECT_ERRNO("... nor behind the folder symlink", ENOENT, lstat(P(root, "www/site-b/evil2.sock"), &st) < 0);
  }
  close(l1), close(l2), close(l3), close(l4), close(l5);
  return PROBE_END();
}
