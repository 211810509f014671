/* fs_dlopen (MODE preload): THREATS 3. Like PHP, the probe loads an
 * "extension" with RTLD_DEEPBIND at start-up (no tenant set), then serves
 * site-a; the extension's open() of B's secret must be denied. Also: a
 * tenant may not dlopen a library from its own writable tree, and the
 * loader search (a name without '/') still works. */
#include <dlfcn.h>

#include "fs_probe.h"

typedef int (*claim_fn)(void);
typedef int (*set_fn)(const char *);
typedef int (*load_fn)(const char *, char *, size_t);
typedef int (*deep_fn)(const char *, char *, int);

static int copy_file(const char *from, const char *to) {
  char buf[65536];
  int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
  ssize_t n;
  if (in < 0 || out < 0) return -1;
  while ((n = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, (size_t)n) != n) return -1;
  close(in);
  close(out);
  return 0;
}

int main(int argc, char **argv) {
  fp_init(argc, argv);
  if (argc < 4) {
    fprintf(stderr, "usage: fs_dlopen ROOT POLICY LIB\n");
    return 2;
  }
  const char *policy = argv[2], *lib = argv[3];
  claim_fn claim = (claim_fn)dlsym(RTLD_DEFAULT, "sandbox_claim_control");
  load_fn load = (load_fn)dlsym(RTLD_DEFAULT, "sandbox_load_policy");
  set_fn set = (set_fn)dlsym(RTLD_DEFAULT, "sandbox_set_tenant");
  set_fn clear = (set_fn)dlsym(RTLD_DEFAULT, "sandbox_clear_tenant");
  EXPECT_OK("libsandbox C API present", claim && load && set && clear);
  if (!(claim && load && set && clear)) return PROBE_END();
  char err[512] = "";
  EXPECT_OK("claim control", claim() == 0);
  EXPECT_OK("load policy", load(policy, err, sizeof err) == 0);

  /* start-up, no tenant: load the extension the way PHP does */
  void *h = dlopen(lib, RTLD_NOW | RTLD_DEEPBIND | RTLD_GLOBAL);
  EXPECT_OK("dlopen extension with RTLD_DEEPBIND (no tenant)", h != NULL);
  deep_fn deep = h ? (deep_fn)dlsym(h, "fs_deep_read") : NULL;
  char buf[256];
  const char *Bs = P(ROOT, "www/site-b/secret.txt");
  char *Af = strdup(P(ROOT, "www/site-a/file.txt"));
  char *B = strdup(Bs);

  EXPECT_OK("become site-a", set("site-a") == 0);
  if (deep) {
    EXPECT_OK("extension reads own file", deep(Af, buf, sizeof buf) == 6 && strcmp(buf, "A-DATA") == 0);
    EXPECT_ERRNO("extension (DEEPBIND) open of B secret", EACCES, deep(B, buf, sizeof buf) < 0);
  }
  /* native code from the tenant's writable tree */
  char evil[PATH_MAX];
  snprintf(evil, sizeof evil, "%s/evil.so", P(ROOT, "www/site-a/tmp"));
  clear("site-a");
  int copied = copy_file(lib, evil);
  set("site-a");
  EXPECT_OK("copied a library into site-a/tmp", copied == 0);
  EXPECT_ERRNO("tenant dlopen of a library in its writable tree", EACCES, dlopen(evil, RTLD_NOW) == NULL);
  EXPECT_OK("dlerror() has a message after the refusal", dlerror() != NULL);
  EXPECT_ERRNO("tenant dlopen of B's path", EACCES, dlopen(P(ROOT, "www/site-b/x.so"), RTLD_NOW) == NULL);
  void *m = dlopen("libm.so.6", RTLD_NOW | RTLD_DEEPBIND);
  EXPECT_OK("tenant dlopen by soname (system search path)", m != NULL);
  clear("site-a");
  return PROBE_END();
}
