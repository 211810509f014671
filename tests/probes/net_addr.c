/* net_addr: outbound address rules through every alias and every send path
 * (THREATS 12, 13). Policy: ip_deny 127.0.0.0/9 and ::1. 127.200.0.1 is
 * loopback too and allowed, so every denial below is the rule, not routing.
 * Without the wrappers each denied call succeeds or fails with another
 * errno (ENETUNREACH for NAT64/6to4), never EACCES. */
#include <fcntl.h>
#include <linux/if_ether.h>

#include "net_probe.h"

static int v6(const char *ip, uint16_t port) {
  struct sockaddr_in6 a = np_v6(ip, port);
  return np_try_connect(AF_INET6, &a, sizeof a, NULL);
}
static int v4(const char *ip, uint16_t port) {
  struct sockaddr_in a = np_v4(ip, port);
  return np_try_connect(AF_INET, &a, sizeof a, NULL);
}

int main(int argc, char **argv) {
  (void)argc;
  np_init(argv[2]);
  uint16_t tport, uport;
  int tl = np_listen(SOCK_STREAM, "0.0.0.0", &tport);
  int ul = np_listen(SOCK_DGRAM, "0.0.0.0", &uport);
  fcntl(ul, F_SETFL, O_NONBLOCK);
  np_become("site-a");

  /* connect through every alias of the denied range */
  EXPECT_OK("connect 127.200.0.1 (allowed loopback)", v4("127.200.0.1", tport) == 0);
  EXPECT_OK("connect ::ffff:127.200.0.1 (allowed, mapped)", v6("::ffff:127.200.0.1", tport) == 0);
  EXPECT_ERRNO("connect 127.0.0.1", EACCES, v4("127.0.0.1", tport) < 0);
  EXPECT_ERRNO("connect 127.3.4.5", EACCES, v4("127.3.4.5", tport) < 0);
  EXPECT_ERRNO("connect 0.0.0.0 (reaches 127.0.0.1)", EACCES, v4("0.0.0.0", tport) < 0);
  EXPECT_ERRNO("connect 0.1.2.3 (0/8 is this host)", EACCES, v4("0.1.2.3", tport) < 0);
  EXPECT_ERRNO("connect ::ffff:127.0.0.1", EACCES, v6("::ffff:127.0.0.1", tport) < 0);
  EXPECT_ERRNO("connect ::ffff:0.0.0.0", EACCES, v6("::ffff:0.0.0.0", tport) < 0);
  EXPECT_ERRNO("connect ::127.0.0.1 (compatible)", EACCES, v6("::127.0.0.1", tport) < 0);
  EXPECT_ERRNO("connect ::1", EACCES, v6("::1", tport) < 0);
  EXPECT_ERRNO("connect :: (reaches ::1)", EACCES, v6("::", tport) < 0);
  EXPECT_ERRNO("connect NAT64 64:ff9b::7f00:1", EACCES, v6("64:ff9b::7f00:1", tport) < 0);
  EXPECT_ERRNO("connect 6to4 2002:7f00:1::", EACCES, v6("2002:7f00:1::", tport) < 0);
  {
    struct sockaddr_in a = np_v4("127.200.0.1", tport);
    EXPECT_ERRNO("connect with a short sockaddr_in", EINVAL, np_try_connect(AF_INET, &a, 8, NULL) < 0);
  }

  /* sends that carry their own address */
  int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in ok = np_v4("127.200.0.1", uport), bad = np_v4("127.0.0.1", uport);
  char buf[16];
  EXPECT_OK("sendto allowed UDP", sendto(u, "a", 1, 0, (struct sockaddr *)&ok, sizeof ok) == 1);
  EXPECT_OK("listener got it", recv(ul, buf, sizeof buf, 0) == 1);
  EXPECT_ERRNO("sendto denied UDP", EACCES, sendto(u, "b", 1, 0, (struct sockaddr *)&bad, sizeof bad) < 0);
  {
    struct sockaddr_in unspec = bad;
    unspec.sin_family = AF_UNSPEC; /* udp_sendmsg sends AF_UNSPEC to sin_addr */
    EXPECT_ERRNO("sendto AF_UNSPEC carrying a denied sin_addr", EACCES,
                 sendto(u, "c", 1, 0, (struct sockaddr *)&unspec, sizeof unspec) < 0);
  }
  {
    struct iovec iov = {.iov_base = "d", .iov_len = 1};
    struct msghdr m = {.msg_name = &bad, .msg_namelen = sizeof bad, .msg_iov = &iov, .msg_iovlen = 1};
    EXPECT_ERRNO("sendmsg to a denied address", EACCES, sendmsg(u, &m, 0) < 0);
  }
  {
    struct iovec iov[2] = {{.iov_base = "e", .iov_len = 1}, {.iov_base = "f", .iov_len = 1}};
    struct mmsghdr mm[2];
    memset(mm, 0, sizeof mm);
    mm[0].msg_hdr.msg_name = &ok, mm[0].msg_hdr.msg_namelen = sizeof ok;
    mm[0].msg_hdr.msg_iov = &iov[0], mm[0].msg_hdr.msg_iovlen = 1;
    mm[1].msg_hdr.msg_name = &bad, mm[1].msg_hdr.msg_namelen = sizeof bad;
    mm[1].msg_hdr.msg_iov = &iov[1], mm[1].msg_hdr.msg_iovlen = 1;
    EXPECT_ERRNO("sendmmsg with one denied message", EACCES, sendmmsg(u, mm, 2, 0) < 0);
    usleep(20000);
    EXPECT_ERRNO("... and nothing of it was sent", EAGAIN, recv(ul, buf, sizeof buf, 0) < 0);
    EXPECT_OK("sendmmsg with allowed messages only", sendmmsg(u, mm, 1, 0) == 1);
    EXPECT_OK("listener got it", recv(ul, buf, sizeof buf, 0) == 1);
  }
  {
    int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in tb = np_v4("127.0.0.1", tport);
    EXPECT_ERRNO("sendto MSG_FASTOPEN to a denied address", EACCES,
                 sendto(t, "g", 1, MSG_FASTOPEN, (struct sockaddr *)&tb, sizeof tb) < 0);
    close(t);
  }
  {
    int c = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr un = {.sa_family = AF_UNSPEC};
    EXPECT_OK("UDP connect to an allowed address", connect(c, (struct sockaddr *)&ok, sizeof ok) == 0);
    EXPECT_OK("connect(AF_UNSPEC) dissolves it", connect(c, &un, sizeof un) == 0);
    EXPECT_ERRNO("then connect to a denied address", EACCES, connect(c, (struct sockaddr *)&bad, sizeof bad) < 0);
    close(c);
  }

  /* socket families, servers */
  EXPECT_ERRNO("socket(AF_NETLINK)", EACCES, socket(AF_NETLINK, SOCK_RAW, 0) < 0);
  EXPECT_ERRNO("socket(AF_PACKET)", EACCES, socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL)) < 0);
  EXPECT_ERRNO("socket(AF_VSOCK)", EACCES, socket(40 /* AF_VSOCK */, SOCK_STREAM, 0) < 0);
  EXPECT_ERRNO("socketpair(AF_NETLINK)", EACCES, socketpair(AF_NETLINK, SOCK_RAW, 0, (int[2]){0, 0}) < 0);
  {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in p = np_v4("127.200.0.1", (uint16_t)(tport + 1));
    EXPECT_ERRNO("bind an inet port", EACCES, bind(s, (struct sockaddr *)&p, sizeof p) < 0);
    p.sin_port = 0;
    EXPECT_OK("bind port 0 (client side)", bind(s, (struct sockaddr *)&p, sizeof p) == 0);
    EXPECT_ERRNO("listen on an inet socket", EACCES, listen(s, 4) < 0);
    close(s);
  }
  close(u);
  np_leave();
  close(tl);
  close(ul);
  return PROBE_END();
}
