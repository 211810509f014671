/* net_probe.h -- shared helpers of the net_* probes (MODE preload).
 *
 * The probe is the claimant: it finds the C API with dlsym (so a probe run
 * without libsandbox preloaded fails at once), builds its listeners as the
 * System (no tenant), then loads the fixture policy and becomes a tenant. */
#ifndef TS_NET_PROBE_H
#define TS_NET_PROBE_H
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "probe.h"

typedef int (*np_claim_fn)(void);
typedef int (*np_set_fn)(const char *);
typedef int (*np_load_fn)(const char *, char *, size_t);

static np_set_fn np_set_tenant_, np_clear_tenant_;

/* Claims control and loads the policy; exits 1 when libsandbox is absent. */
static inline void np_init(const char *policy) {
  np_claim_fn claim = (np_claim_fn)dlsym(RTLD_DEFAULT, "sandbox_claim_control");
  np_load_fn load = (np_load_fn)dlsym(RTLD_DEFAULT, "sandbox_load_policy");
  np_set_tenant_ = (np_set_fn)dlsym(RTLD_DEFAULT, "sandbox_set_tenant");
  np_clear_tenant_ = (np_set_fn)dlsym(RTLD_DEFAULT, "sandbox_clear_tenant");
  if (!claim || !load || !np_set_tenant_ || !np_clear_tenant_) {
    printf("not ok - libsandbox C API not found (not preloaded?)\n");
    exit(1);
  }
  char err[512];
  int rc = claim();
  if (rc != 0) { printf("not ok - claim: %d\n", rc); exit(1); }
  rc = load(policy, err, sizeof err);
  if (rc != 0) { printf("not ok - load policy: %d %s\n", rc, err); exit(1); }
}

static inline void np_become(const char *tenant) {
  int rc = np_set_tenant_(tenant);
  if (rc != 0) { printf("not ok - set tenant %s: %d\n", tenant, rc); exit(1); }
}

static inline void np_leave(void) { np_clear_tenant_(NULL); }

static inline struct sockaddr_in np_v4(const char *ip, uint16_t port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

static inline struct sockaddr_in6 np_v6(const char *ip, uint16_t port) {
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof a);
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  return a;
}

/* A listening socket bound to `ip` port 0; returns the fd, port in *port. */
static inline int np_listen(int type, const char *ip, uint16_t *port) {
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = np_v4(ip, 0);
  socklen_t l = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || (type == SOCK_STREAM && listen(fd, 128) != 0) ||
      getsockname(fd, (struct sockaddr *)&a, &l) != 0) {
    printf("not ok - listener setup: %s\n", strerror(errno));
    exit(1);
  }
  *port = ntohs(a.sin_port);
  return fd;
}

/* connect() a new TCP socket to a v4 or v6 sockaddr; returns 0 or -errno,
 * closing the socket either way unless keep is non-null. */
static inline int np_try_connect(int family, const void *sa, socklen_t len, int *keep) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int rc = connect(fd, (const struct sockaddr *)sa, len);
  int e = errno;
  if (rc == 0 && keep) {
    *keep = fd;
    return 0;
  }
  close(fd);
  errno = e;
  return rc == 0 ? 0 : -e;
}
#endif
