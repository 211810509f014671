/* fs_shm: POSIX shared memory and named semaphores (THREATS 20). glibc
 * opens /dev/shm/NAME with its internal open, so without the shm_open /
 * sem_open wrappers a tenant reaches every segment on the host. The policy
 * (fs_shm.policy.json) lists one segment of site-a's per build variant (the
 * three variants run in parallel; fs_shm.setup.sh creates it: a file area
 * must exist). A listed semaphore cannot be shown the same way: glibc
 * creates one through a temporary file + link, and a pre-made empty file
 * is not a semaphore. */
#include <semaphore.h>
#include <sys/mman.h>

#include "fs_probe.h"

int main(int argc, char **argv) {
  fp_init(argc, argv);
  const char *variant = strrchr(argv[0], '_');
  char own[64];
  snprintf(own, sizeof own, "/ts-probe-a-%s", variant ? variant + 1 : "plain");
  int fd;

  /* Another tenant's (or anybody's) segment: refused whether it exists or not. */
  EXPECT_ERRNO("shm_open create of an unlisted name", EACCES,
               shm_open("/ts-probe-b-seg", O_RDWR | O_CREAT, 0600) < 0);
  EXPECT_ERRNO("shm_open read of an unlisted name", EACCES, shm_open("/ts-probe-b-seg", O_RDONLY, 0) < 0);
  EXPECT_ERRNO("shm_unlink of an unlisted name", EACCES, shm_unlink("/ts-probe-b-seg") < 0);
  EXPECT_ERRNO("shm_open(\"..\") (glibc 2.36 names /dev with it)", EACCES, shm_open("..", O_RDONLY, 0) < 0);
  EXPECT_ERRNO("sem_open create of an unlisted name", EACCES,
               sem_open("/ts-probe-b-sem", O_CREAT, 0600, 1) == SEM_FAILED);
  EXPECT_ERRNO("sem_open of an unlisted name", EACCES, sem_open("/ts-probe-b-sem", 0) == SEM_FAILED);
  EXPECT_ERRNO("sem_unlink of an unlisted name", EACCES, sem_unlink("/ts-probe-b-sem") < 0);
  /* glibc's own EINVAL for a malformed name is kept. */
  EXPECT_ERRNO("shm_open of a name with a '/'", EINVAL, shm_open("/a/b", O_RDONLY, 0) < 0);

  /* The listed names work end to end. */
  EXPECT_OK("shm_open the listed segment", (fd = shm_open(own, O_RDWR | O_CREAT, 0600)) >= 0);
  EXPECT_OK("size and map it", fd >= 0 && ftruncate(fd, 4096) == 0 &&
                                   mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) != MAP_FAILED);
  if (fd >= 0) close(fd);
  EXPECT_OK("shm_open it again read-only", (fd = shm_open(own, O_RDONLY, 0)) >= 0);
  if (fd >= 0) close(fd);
  /* Unlinking it is removing the area itself: refused like rmdir of a
   * tenant's root (EBUSY), the operator made it. */
  EXPECT_ERRNO("shm_unlink of the listed segment (an area itself)", EBUSY, shm_unlink(own) < 0);
  return PROBE_END();
}
