/* proc_exec -- the exec family, posix_spawn, system and popen of a tenant
 * (THREATS 5, 6). Runs as site-a via `tenant-sandbox run`; /bin/cat, /bin/sh
 * and a static test program are on site-a's exec list, /bin/ls is not.
 *
 * Each check fails without the wrapper it exercises: a child started with
 * an empty environment, a cleared LD_PRELOAD or a forged tenant would run
 * unconfined and read site-b's secret; the static program and a memfd would
 * run; an unlisted program would run; a spawn file action would hand cat
 * site-b's secret on stdin. */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"
#include "proc_util.h"

extern char **environ;
static const char *root;
static char out[8192];

struct execargs {
  const char *path;
  char *const *argv;
  char *const *envp;
  int how; /* 0 execve, 1 execv, 2 execvp, 3 execl, 4 fexecve(fd), 5 execveat(fd, "", AT_EMPTY_PATH) */
  int fd;
};

static void do_exec(void *p) {
  struct execargs *a = p;
  switch (a->how) {
    case 0: execve(a->path, a->argv, a->envp); break;
    case 1: execv(a->path, a->argv); break;
    case 2: execvp(a->path, a->argv); break;
    case 3: execl(a->path, a->argv[0], a->argv[1], (char *)NULL); break;
    case 4: fexecve(a->fd, a->argv, a->envp); break;
    case 5: execveat(a->fd, "", a->argv, a->envp, AT_EMPTY_PATH); break;
  }
}

static int run(const char *path, int how, char *const *argv, char *const *envp) {
  struct execargs a = {path, argv, envp, how, -1};
  return proc_run(do_exec, &a, out, sizeof out);
}

static int run_fd(int fd, int how, char *const *argv) {
  char *envp[] = {NULL};
  struct execargs a = {"", argv, envp, how, fd};
  return proc_run(do_exec, &a, out, sizeof out);
}

static int memfd_with(const char *src) {
  int m = memfd_create("payload", 0);
  int s = open(src, O_RDONLY);
  if (m < 0 || s < 0) return -1;
  char buf[65536];
  ssize_t n;
  while ((n = read(s, buf, sizeof buf)) > 0)
    if (write(m, buf, (size_t)n) != n) return -1;
  close(s);
  return m;
}

static int spawn_cat(const char *stdin_path, int use_p) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  int o[2];
  if (pipe(o) != 0) return -1000;
  posix_spawn_file_actions_addopen(&fa, 0, stdin_path, O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, o[1], 1);
  char *argv[] = {"cat", NULL};
  pid_t pid;
  int rc = use_p ? posix_spawnp(&pid, "cat", &fa, NULL, argv, environ)
                 : posix_spawn(&pid, "/bin/cat", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(o[1]);
  size_t n = 0;
  ssize_t r;
  while (rc == 0 && n + 1 < sizeof out && (r = read(o[0], out + n, sizeof out - 1 - n)) > 0) n += (size_t)r;
  out[n] = '\0';
  close(o[0]);
  if (rc != 0) return -rc;
  int st;
  waitpid(pid, &st, 0);
  return st;
}

int main(int argc, char **argv) {
  (void)argc;
  root = argv[1];
  setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1);
  char a_file[4096], b_secret[4096], statprog[4096];
  snprintf(a_file, sizeof a_file, "%s/www/site-a/file.txt", root);
  snprintf(b_secret, sizeof b_secret, "%s/www/site-b/secret.txt", root);
  snprintf(statprog, sizeof statprog, "%s/../../proc_static_hello", root);
  char *cat_a[] = {"cat", a_file, NULL};
  char *cat_b[] = {"cat", b_secret, NULL};
  char *empty_env[] = {NULL};
  int st;

  /* A listed program runs, and its child is still site-a. */
  st = run("/bin/cat", 0, cat_a, environ);
  EXPECT_OK("execve listed /bin/cat on own file", EXITED_OK(st) && strcmp(out, "A-DATA") == 0);
  st = run("/bin/cat", 0, cat_b, environ);
  EXPECT_OK("child cat cannot read site-b", EXITED_FAIL(st) && strstr(out, "B-SECRET") == NULL);

  /* proc_open(..., env: []): no LD_PRELOAD, no tenant in the environment. */
  st = run("/bin/cat", 0, cat_b, empty_env);
  EXPECT_OK("execve with envp {NULL}: child still confined", EXITED_FAIL(st) && strstr(out, "B-SECRET") == NULL);
  st = run("/bin/cat", 0, cat_a, empty_env);
  EXPECT_OK("execve with envp {NULL}: child still works", EXITED_OK(st) && strcmp(out, "A-DATA") == 0);

  /* putenv before exec: clear the preload, forge another tenant. */
  char forged[8192];
  snprintf(forged, sizeof forged,
           "TENANT_SANDBOX_POLICY_JSON={\"version\":1,\"tenant_root\":\"%s/www/{tenant}\",\"unknown_tenants\":\"defaults\",\"defaults\":{\"read_write\":[\"/\"]},\"tenants\":{}}",
           root);
  putenv(forged);
  putenv("TENANT_SANDBOX_TENANT=site-b");
  putenv("LD_PRELOAD=");
  putenv("LD_AUDIT=/nonexistent/audit.so");
  st = run("/bin/cat", 1, cat_b, NULL);
  EXPECT_OK("putenv LD_PRELOAD= / forged tenant before execv: still confined",
            EXITED_FAIL(st) && strstr(out, "B-SECRET") == NULL);
  st = run("/bin/cat", 3, cat_a, NULL);
  EXPECT_OK("execl after putenv: child runs as site-a", EXITED_OK(st) && strcmp(out, "A-DATA") == 0);

  /* Not on the exec list. */
  char *ls[] = {"ls", "/", NULL};
  EXPECT_OK("execve unlisted /bin/ls -> EACCES", run("/bin/ls", 0, ls, environ) == -EACCES);
  EXPECT_OK("execvp unlisted ls -> EACCES", run("ls", 2, ls, environ) == -EACCES);
  st = run("cat", 2, cat_a, environ);
  EXPECT_OK("execvp cat finds listed /bin/cat along PATH", EXITED_OK(st) && strcmp(out, "A-DATA") == 0);
  char *rel[] = {"cat", "file.txt", NULL};
  EXPECT_OK("execve relative ../../../bin/ls -> EACCES", run("../../../../../../../../bin/ls", 0, rel, environ) == -EACCES);

  /* Programs that would ignore LD_PRELOAD. */
  char *stat_b[] = {"static", b_secret, NULL};
  st = run(statprog, 0, stat_b, environ);
  EXPECT_OK("static binary (listed) refused with EACCES", st == -EACCES && strstr(out, "B-SECRET") == NULL);

  /* A listed program inside the tenant's own tree, rewritten to name a
   * loader of its own (same length, so only the string changes). */
  char tool[4096];
  snprintf(tool, sizeof tool, "%s/www/site-a/tool", root);
  int tm = memfd_with("/bin/cat"), tfd = open(tool, O_WRONLY | O_CREAT | O_TRUNC, 0755);
  static char img[1 << 20];
  ssize_t len = tm >= 0 ? pread(tm, img, sizeof img, 0) : -1;
  char *hit = len > 0 ? memmem(img, (size_t)len, "/lib64/ld-linux-x86-64.so.2", 27) : NULL;
  if (hit) memcpy(hit, "/tmp/xx/ld-linux-x86-64.so", 27);
  EXPECT_OK("write a cat copy with a foreign PT_INTERP into site-a",
            hit && tfd >= 0 && write(tfd, img, (size_t)len) == len && close(tfd) == 0);
  char *tool_a[] = {"tool", a_file, NULL};
  EXPECT_OK("listed program with a foreign ELF interpreter -> EACCES", run(tool, 0, tool_a, environ) == -EACCES);
  if (tm >= 0) close(tm);

  int m = memfd_with("/bin/cat");
  char *cat_dn[] = {"cat", b_secret, NULL};
  EXPECT_OK("memfd_create copy of cat", m >= 0);
  EXPECT_OK("fexecve(memfd) -> EACCES", run_fd(m, 4, cat_dn) == -EACCES);
  EXPECT_OK("execveat(memfd, \"\", AT_EMPTY_PATH) -> EACCES", run_fd(m, 5, cat_dn) == -EACCES);
  char via[64];
  snprintf(via, sizeof via, "/proc/self/fd/%d", m);
  EXPECT_OK("execve(/proc/self/fd/N) -> EACCES", run(via, 0, cat_dn, empty_env) == -EACCES);
  snprintf(via, sizeof via, "/dev/fd/%d", m);
  EXPECT_OK("execve(/dev/fd/N) -> EACCES", run(via, 0, cat_dn, empty_env) == -EACCES);

  /* system / popen run /bin/sh -c through the checked spawn. */
  char cmd[8400];
  snprintf(cmd, sizeof cmd, "cat %s", a_file);
  st = system(cmd);
  EXPECT_OK("system(cat own file) exits 0", EXITED_OK(st));
  snprintf(cmd, sizeof cmd, "exec cat %s", b_secret);
  st = system(cmd);
  EXPECT_OK("system(cat site-b secret) fails in the confined shell", st != -1 && WIFEXITED(st) && WEXITSTATUS(st) != 0);
  snprintf(cmd, sizeof cmd, "env -i /bin/cat %s", b_secret);
  st = system(cmd);
  EXPECT_OK("system(env -i cat secret): env not listed", st != -1 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0));
  snprintf(cmd, sizeof cmd, "cat %s", a_file);
  FILE *f = popen(cmd, "r");
  size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
  out[n] = '\0';
  EXPECT_OK("popen(cat own file) reads A-DATA", f != NULL && strcmp(out, "A-DATA") == 0);
  st = f ? pclose(f) : -1;
  EXPECT_OK("pclose returns cat's status 0", EXITED_OK(st));
  snprintf(cmd, sizeof cmd, "cat %s", b_secret);
  f = popen(cmd, "r");
  n = f ? fread(out, 1, sizeof out - 1, f) : 0;
  out[n] = '\0';
  st = f ? pclose(f) : -1;
  EXPECT_OK("popen(cat site-b secret) reads nothing, status != 0", f != NULL && n == 0 && EXITED_FAIL(st));

  /* posix_spawn file actions run inside glibc before exec. */
  st = spawn_cat(a_file, 0);
  EXPECT_OK("posix_spawn cat < own file (addopen)", EXITED_OK(st) && strcmp(out, "A-DATA") == 0);
  st = spawn_cat(b_secret, 0);
  EXPECT_OK("posix_spawn addopen of site-b secret -> EACCES", st == -EACCES && strstr(out, "B-SECRET") == NULL);
  /* THREATS 8: a symlink in site-a's own tree pointing at site-b's secret;
   * the string is inside site-a, the object is not. */
  char link_path[4096];
  snprintf(link_path, sizeof link_path, "%s/www/site-a/tmp/spawn-link", root);
  EXPECT_OK("plant a symlink to site-b's secret in site-a", symlink(b_secret, link_path) == 0);
  st = spawn_cat(link_path, 0);
  EXPECT_OK("posix_spawn addopen through the planted symlink fails",
            st == -EACCES && strstr(out, "B-SECRET") == NULL);
  st = spawn_cat(b_secret, 1);
  EXPECT_OK("posix_spawnp addopen of site-b secret -> EACCES", st == -EACCES && strstr(out, "B-SECRET") == NULL);
  pid_t pid;
  EXPECT_OK("posix_spawn unlisted /bin/ls -> EACCES", posix_spawn(&pid, "/bin/ls", NULL, NULL, ls, environ) == EACCES);
  EXPECT_OK("posix_spawn static binary -> EACCES", posix_spawn(&pid, statprog, NULL, NULL, stat_b, environ) == EACCES);
  return PROBE_END();
}
