/* proc_control -- the C API as the module uses it (MODE preload: this
 * program is the claimant), its errnos, the claimant check against code in
 * another shared object (THREATS 21), per-thread tenants inherited by
 * pthread_create (THREATS 17) and a forked child locked to its tenant.
 * argv[3] is the path of proc_ffi_lib.so. */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"
#include "proc_util.h"
#include "tenant_sandbox.h"

typedef int (*api_set)(const char *);
static api_set p_set, p_clear;
static int (*p_claim)(void);
static const char *(*p_cur)(void);
static int (*p_load)(const char *, char *, size_t);
static char a_file[4096], b_secret[4096];

static char *const *child_env;
static void exec_cat_a(void *arg) {
  char *argv[] = {"cat", arg, NULL};
  execve("/bin/cat", argv, child_env);
}

static int can_open(const char *p) {
  int fd = open(p, O_RDONLY);
  if (fd >= 0) close(fd);
  return fd >= 0;
}

struct thread_result {
  int opened_a, errno_b;
  char tenant[80];
};

static void *thread_main(void *arg) {
  struct thread_result *r = arg;
  r->opened_a = can_open(a_file);
  errno = 0;
  r->errno_b = can_open(b_secret) ? 0 : errno;
  const char *t = p_cur();
  snprintf(r->tenant, sizeof r->tenant, "%s", t ? t : "(none)");
  return NULL;
}

int main(int argc, char **argv) {
  const char *root = argv[1], *policy = argv[2];
  if (argc < 4) return 2;
  snprintf(a_file, sizeof a_file, "%s/www/site-a/file.txt", root);
  snprintf(b_secret, sizeof b_secret, "%s/www/site-b/secret.txt", root);
  p_set = (api_set)dlsym(RTLD_DEFAULT, "sandbox_set_tenant");
  p_clear = (api_set)dlsym(RTLD_DEFAULT, "sandbox_clear_tenant");
  p_claim = (int (*)(void))dlsym(RTLD_DEFAULT, "sandbox_claim_control");
  p_cur = (const char *(*)(void))dlsym(RTLD_DEFAULT, "sandbox_current_tenant");
  p_load = (int (*)(const char *, char *, size_t))dlsym(RTLD_DEFAULT, "sandbox_load_policy");
  if (!p_set || !p_clear || !p_claim || !p_cur || !p_load) {
    puts("not ok - libsandbox C API not found (not preloaded?)");
    return 1;
  }
  void *lib = dlopen(argv[3], RTLD_NOW);
  int (*ffi_set)(const char *) = lib ? (int (*)(const char *))dlsym(lib, "ffi_set_tenant") : NULL;
  int (*ffi_clear)(const char *) = lib ? (int (*)(const char *))dlsym(lib, "ffi_clear_tenant") : NULL;
  int (*ffi_claim)(void) = lib ? (int (*)(void))dlsym(lib, "ffi_claim") : NULL;
  int (*ffi_load)(const char *) = lib ? (int (*)(const char *))dlsym(lib, "ffi_load_policy") : NULL;
  EXPECT_OK("load the FFI stand-in library", ffi_set && ffi_clear && ffi_claim && ffi_load);
  if (!(ffi_set && ffi_clear && ffi_claim && ffi_load)) return PROBE_END();

  EXPECT_OK("set before claim -> -EPERM", p_set("site-a") == -EPERM);
  EXPECT_OK("claim", p_claim() == 0);
  EXPECT_OK("claim again from the claimant -> 0", p_claim() == 0);
  EXPECT_OK("claim from another object -> -EPERM", ffi_claim() == -EPERM);
  EXPECT_OK("set with no policy loaded -> -ENOENT", p_set("site-a") == -ENOENT);
  char err[512] = "";
  EXPECT_OK("load a missing policy fails", p_load("/nonexistent/policy.json", err, sizeof err) < 0);
  EXPECT_OK("... with a message naming it", strstr(err, "/nonexistent/policy.json") != NULL);
  EXPECT_OK("load_policy from another object -> -EPERM", ffi_load(policy) == -EPERM);
  EXPECT_OK("load the policy", p_load(policy, err, sizeof err) == 0);
  EXPECT_OK("a failed reload is reported", p_load("/nonexistent/policy.json", err, sizeof err) < 0);

  EXPECT_OK("set invalid id '../x' -> -EINVAL", p_set("../x") == -EINVAL);
  EXPECT_OK("set empty id -> -EINVAL", p_set("") == -EINVAL);
  EXPECT_OK("set NULL -> -EINVAL", p_set(NULL) == -EINVAL);
  EXPECT_OK("set unknown tenant -> -ENOENT", p_set("site-zz") == -ENOENT);
  EXPECT_OK("nothing set yet", p_cur() == NULL);
  EXPECT_OK("set site-a (the old policy stayed after the failed reload)", p_set("site-a") == 0);
  EXPECT_OK("current is site-a", p_cur() && strcmp(p_cur(), "site-a") == 0);
  EXPECT_OK("set site-b while site-a is set -> -EBUSY", p_set("site-b") == -EBUSY);
  EXPECT_OK("site-a reads its file", can_open(a_file));
  EXPECT_ERRNO("site-a cannot read site-b", EACCES, !can_open(b_secret));

  /* Tenant code in another object tries to drop or switch the tenant. */
  EXPECT_OK("FFI clear(NULL) -> -EPERM", ffi_clear(NULL) == -EPERM);
  EXPECT_OK("FFI clear(site-a) -> -EPERM", ffi_clear("site-a") == -EPERM);
  EXPECT_OK("FFI set(site-b) -> -EPERM", ffi_set("site-b") == -EPERM);
  EXPECT_OK("FFI load_policy -> -EPERM", ffi_load(policy) == -EPERM);
  EXPECT_OK("still site-a after FFI attempts", p_cur() && strcmp(p_cur(), "site-a") == 0);
  EXPECT_ERRNO("still confined after FFI attempts", EACCES, !can_open(b_secret));

  EXPECT_OK("clear with the wrong id -> -EINVAL", p_clear("site-b") == -EINVAL);
  EXPECT_OK("clear with an invalid id -> -EINVAL", p_clear("../x") == -EINVAL);
  EXPECT_OK("still site-a after wrong clear", p_cur() && strcmp(p_cur(), "site-a") == 0);

  /* A thread started while site-a is set is site-a. */
  struct thread_result r = {0, 0, ""};
  pthread_t th;
  EXPECT_OK("pthread_create", pthread_create(&th, NULL, thread_main, &r) == 0);
  pthread_join(th, NULL);
  EXPECT_OK("thread inherits site-a", strcmp(r.tenant, "site-a") == 0);
  EXPECT_OK("thread reads site-a's file", r.opened_a);
  EXPECT_OK("thread cannot read site-b (EACCES)", r.errno_b == EACCES);

  /* A forked child is locked to site-a: even the claimant cannot clear. */
  pid_t pid = fork();
  if (pid == 0) {
    int ok = p_clear(NULL) == -EPERM && p_cur() && strcmp(p_cur(), "site-a") == 0 && !can_open(b_secret);
    _exit(ok ? 0 : 1);
  }
  int st = -1;
  waitpid(pid, &st, 0);
  EXPECT_OK("forked child is locked to site-a", WIFEXITED(st) && WEXITSTATUS(st) == 0);

  EXPECT_OK("clear(site-a)", p_clear("site-a") == 0);
  EXPECT_OK("nothing set after clear", p_cur() == NULL);
  EXPECT_OK("clear(NULL) with nothing set -> 0", p_clear(NULL) == 0);
  EXPECT_OK("clear(site-a) with nothing set -> -EINVAL", p_clear("site-a") == -EINVAL);
  EXPECT_OK("main thread (System) unconfined again", can_open(b_secret));

  /* A thread started with no tenant is System: unconfined, no tenant. */
  memset(&r, 0, sizeof r);
  pthread_create(&th, NULL, thread_main, &r);
  pthread_join(th, NULL);
  EXPECT_OK("thread started without a tenant has none", strcmp(r.tenant, "(none)") == 0 && r.errno_b == 0);

  EXPECT_OK("set site-b", p_set("site-b") == 0);
  EXPECT_ERRNO("site-b cannot read site-a", EACCES, !can_open(a_file));
  EXPECT_OK("clear(NULL)", p_clear(NULL) == 0);

  /* A process started with a tenant but a missing or broken policy gets no
   * rights at all (control_init fails closed), never "no tenant". */
  char preload[4200], out[256];
  snprintf(preload, sizeof preload, "LD_PRELOAD=%s", getenv("PROBE_LIBSANDBOX") ? getenv("PROBE_LIBSANDBOX") : "");
  char *plain_env[] = {preload, NULL};
  char *no_json[] = {preload, "TENANT_SANDBOX_TENANT=site-a", NULL};
  char *bad_json[] = {preload, "TENANT_SANDBOX_TENANT=site-a", "TENANT_SANDBOX_POLICY_JSON={\"version\":", NULL};
  char *bad_id[] = {preload, "TENANT_SANDBOX_TENANT=../site-a", "TENANT_SANDBOX_POLICY_JSON={}", NULL};
  child_env = plain_env;
  int cst = proc_run(exec_cat_a, a_file, out, sizeof out);
  EXPECT_OK("child without tenant variables reads the file", EXITED_OK(cst) && strcmp(out, "A-DATA") == 0);
  child_env = no_json;
  cst = proc_run(exec_cat_a, a_file, out, sizeof out);
  EXPECT_OK("child with a tenant but no policy JSON gets no rights", EXITED_FAIL(cst) && out[0] == '\0');
  child_env = bad_json;
  cst = proc_run(exec_cat_a, a_file, out, sizeof out);
  EXPECT_OK("child with a broken policy JSON gets no rights", EXITED_FAIL(cst) && out[0] == '\0');
  child_env = bad_id;
  cst = proc_run(exec_cat_a, a_file, out, sizeof out);
  EXPECT_OK("child with an invalid tenant id gets no rights", EXITED_FAIL(cst) && out[0] == '\0');
  return PROBE_END();
}
