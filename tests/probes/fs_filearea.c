/* fs_filearea: areas that are single files (DESIGN: "paths (files or
 * trees)"), read_only and read_write, reached directly and through a
 * symlink in the tenant's tree; their siblings stay denied. */
#include <dirent.h>

#include "fs_probe.h"

int main(int argc, char **argv) {
  fp_init(argc, argv);
  char *ro = strdup(P(ROOT, "outside/other.txt"));
  char *rw = strdup(P(ROOT, "www/site-ab/file.txt"));
  char buf[PATH_MAX];
  struct stat st;
  int fd;
  FILE *f;

  EXPECT_OK("read read_only file area", fp_reads(ro, "OUTSIDE"));
  EXPECT_OK("stat read_only file area", stat(ro, &st) == 0 && st.st_size == 7);
  EXPECT_OK("fopen r read_only file area", (f = fopen(ro, "r")) != NULL);
  if (f) fclose(f);
  EXPECT_ERRNO("write read_only file area", EACCES, open(ro, O_WRONLY) < 0);
  EXPECT_ERRNO("O_DIRECTORY on a file area", ENOTDIR, open(ro, O_RDONLY | O_DIRECTORY) < 0);
  EXPECT_ERRNO("sibling of the file area", EACCES, open(P(ROOT, "outside/x"), O_RDONLY) < 0);
  EXPECT_ERRNO("the file area's folder", EACCES, opendir(P(ROOT, "outside")) == NULL);
  EXPECT_ERRNO("below the file area", ENOTDIR, open(P(ROOT, "outside/other.txt/x"), O_RDONLY) < 0);
  EXPECT_OK("realpath of the file area", realpath(ro, buf) && strcmp(buf, ro) == 0);

  EXPECT_OK("append to read_write file area", (fd = open(rw, O_WRONLY | O_APPEND)) >= 0 && write(fd, "+", 1) == 1);
  if (fd >= 0) close(fd);
  EXPECT_OK("read it back", fp_reads(rw, "AB-DATA+"));
  EXPECT_OK("chmod read_write file area", chmod(rw, 0640) == 0);
  EXPECT_OK("truncate read_write file area", truncate(rw, 2) == 0 && fp_reads(rw, "AB"));
  EXPECT_ERRNO("create a sibling of the read_write file", EACCES, open(P(ROOT, "www/site-ab/new"), O_WRONLY | O_CREAT, 0644) < 0);

  EXPECT_OK("symlink in own tree to the read_only file area", symlink(ro, "l_ro") == 0);
  EXPECT_OK("read through it", fp_reads("l_ro", "OUTSIDE"));
  EXPECT_ERRNO("write through it", EACCES, open("l_ro", O_WRONLY) < 0);
  return PROBE_END();
}
