/* fs_nested: a read_only tree inside the tenant's writable root
 * (site-a/sub). Writes into it fail, also through symlinks that live in
 * the writable part and point into it (the kernel would follow them
 * beneath the outer root; the engine resolves them and re-decides). */
#include "fs_probe.h"

int main(int argc, char **argv) {
  fp_init(argc, argv);
  int fd;
  EXPECT_OK("read nested read_only file", fp_reads("sub/inner.txt", "A-INNER"));
  EXPECT_ERRNO("write nested read_only file", EACCES, open("sub/inner.txt", O_WRONLY) < 0);
  EXPECT_ERRNO("create in nested read_only dir", EACCES, open("sub/new", O_WRONLY | O_CREAT, 0644) < 0);
  EXPECT_OK("symlink l -> sub/inner.txt (in the writable part)", symlink("sub/inner.txt", "l") == 0);
  EXPECT_OK("symlink sd -> sub", symlink("sub", "sd") == 0);
  EXPECT_OK("read through l", fp_reads("l", "A-INNER"));
  EXPECT_ERRNO("write through l", EACCES, open("l", O_WRONLY | O_TRUNC) < 0);
  EXPECT_ERRNO("fopen a through l", EACCES, fopen("l", "a") == NULL);
  EXPECT_ERRNO("write through dir link sd/inner.txt", EACCES, open("sd/inner.txt", O_WRONLY) < 0);
  EXPECT_ERRNO("create through dir link sd/new", EACCES, open("sd/new", O_WRONLY | O_CREAT, 0644) < 0);
  EXPECT_ERRNO("chmod through l", EACCES, chmod("l", 0777) < 0);
  EXPECT_ERRNO("truncate through l", EACCES, truncate("l", 0) < 0);
  EXPECT_ERRNO("unlink via sd/inner.txt", EACCES, unlink("sd/inner.txt") < 0);
  EXPECT_ERRNO("hard link of the read_only file", EACCES, link("sub/inner.txt", "h") < 0);
  EXPECT_OK("own writable file through a link still writable", symlink("file.txt", "lf") == 0 &&
                                                                  (fd = open("lf", O_WRONLY | O_APPEND)) >= 0);
  EXPECT_OK("nested file intact", fp_reads("sub/inner.txt", "A-INNER"));
  return PROBE_END();
}
