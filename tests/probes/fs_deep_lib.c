/* fs_deep_lib: a stand-in for a PHP extension. Loaded with RTLD_DEEPBIND,
 * its open() would bind to libc ahead of the preloaded libsandbox unless
 * the dlopen wrapper clears the flag. */
#include <fcntl.h>
#include <unistd.h>

int fs_deep_read(const char *path, char *buf, int cap) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  int n = (int)read(fd, buf, (size_t)(cap - 1));
  close(fd);
  if (n < 0) n = 0;
  buf[n] = '\0';
  return n;
}
