/* proc_noshell -- system() and popen() when /bin/sh is NOT on the tenant's
 * exec list (only /bin/cat is): glibc would run /bin/sh through its internal
 * posix_spawn, past every exec wrapper (THREATS 1, 5). */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

extern char **environ;

int main(void) {
  EXPECT_ERRNO("system(\"true\") without /bin/sh listed", EACCES, system("true") == -1);
  EXPECT_OK("system(NULL) says no shell", system(NULL) == 0);
  EXPECT_ERRNO("popen(\"echo x\") without /bin/sh listed", EACCES, popen("echo x", "r") == NULL);
  char *argv[] = {"sh", "-c", "true", NULL};
  pid_t pid;
  EXPECT_OK("posix_spawn(/bin/sh) -> EACCES", posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) == EACCES);
  EXPECT_OK("posix_spawnp(sh) -> EACCES", posix_spawnp(&pid, "sh", NULL, NULL, argv, environ) == EACCES);
  /* In a child: were the exec to succeed, it would replace the probe. */
  pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", "exit 0", (char *)NULL);
    _exit(errno == EACCES ? 42 : 1);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_OK("execl(/bin/sh) -> EACCES", WIFEXITED(st) && WEXITSTATUS(st) == 42);
  return PROBE_END();
}
