/* fs_alias (MODE preload): a tenant root configured through a symlink
 * (ROOT/state/alias-a -> ROOT/www/site-a, as /srv/www/x -> /home/x on many
 * hosts). After chdir into it the kernel's cwd is the real path; relative
 * paths, /proc/self/cwd and links written with the real name keep working,
 * and B stays denied. */
#include <dlfcn.h>

#include "fs_probe.h"

typedef int (*claim_fn)(void);
typedef int (*set_fn)(const char *);
typedef int (*load_fn)(const char *, char *, size_t);

int main(int argc, char **argv) {
  fp_init(argc, argv);
  claim_fn claim = (claim_fn)dlsym(RTLD_DEFAULT, "sandbox_claim_control");
  load_fn load = (load_fn)dlsym(RTLD_DEFAULT, "sandbox_load_policy");
  set_fn set = (set_fn)dlsym(RTLD_DEFAULT, "sandbox_set_tenant");
  EXPECT_OK("libsandbox C API present", claim && load && set);
  if (!(claim && load && set)) return PROBE_END();
  char alias[PATH_MAX], err[256];
  snprintf(alias, sizeof alias, "%s/state/alias-a", ROOT);
  EXPECT_OK("create the alias (as the system)", symlink(P(ROOT, "www/site-a"), alias) == 0);
  EXPECT_OK("claim + load", claim() == 0 && load(argv[2], err, sizeof err) == 0);
  EXPECT_OK("become site-a", set("site-a") == 0);

  char p[PATH_MAX + 16];
  snprintf(p, sizeof p, "%s/file.txt", alias);
  EXPECT_OK("read via the configured (alias) name", fp_reads(p, "A-DATA"));
  EXPECT_OK("chdir into the alias/sub", chdir(P(alias, "sub")) == 0);
  EXPECT_OK("relative read after chdir (cwd is the real path)", fp_reads("inner.txt", "A-INNER"));
  EXPECT_OK("relative ../file.txt", fp_reads("../file.txt", "A-DATA"));
  EXPECT_OK("/proc/self/cwd/inner.txt", fp_reads("/proc/self/cwd/inner.txt", "A-INNER"));
  EXPECT_OK("create a file relative to the real cwd", (close(open("new.txt", O_WRONLY | O_CREAT, 0644)), access("new.txt", F_OK) == 0));
  EXPECT_OK("symlink written with the real name", symlink(P(ROOT, "www/site-a/file.txt"), "real") == 0);
  EXPECT_OK("read through it", fp_reads("real", "A-DATA"));
  EXPECT_ERRNO("../../site-b from the real cwd", EACCES, open("../../site-b/secret.txt", RDONLY_) < 0);
  EXPECT_ERRNO("B by absolute path", EACCES, open(P(ROOT, "www/site-b/secret.txt"), RDONLY_) < 0);
  EXPECT_ERRNO("site-ab by absolute path", EACCES, open(P(ROOT, "www/site-ab/file.txt"), RDONLY_) < 0);
  return PROBE_END();
}
