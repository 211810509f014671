/* fs_probe.h -- helpers shared by the fs_* probes (MODE run: the probe runs
 * as tenant site-a from its first instruction, cwd = ROOT/www/site-a).
 *
 * Fixture (run_probe.sh): site-a/{file.txt "A-DATA", sub/inner.txt, tmp/},
 * site-b/{secret.txt "B-SECRET", sub/}, site-ab/file.txt, shared/ro/readme.txt
 * (read_only for everyone), outside/other.txt. */
#ifndef TS_FS_PROBE_H
#define TS_FS_PROBE_H
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe.h"

static const char *ROOT;

/* Non-constant flags, so a fortified build calls __open_2 / __openat_2
 * instead of folding the call into plain open. */
static volatile int RDONLY_ = O_RDONLY;

/* Reads the whole file at fd into buf (NUL-terminated); closes fd. */
static inline int fp_slurp_fd(int fd, char *buf, size_t cap) {
  size_t n = 0;
  ssize_t r;
  if (fd < 0) return -1;
  while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0) n += (size_t)r;
  buf[n] = '\0';
  close(fd);
  return (int)n;
}

/* 1 when `path` opens and holds exactly `want`. */
static inline int fp_reads(const char *path, const char *want) {
  char buf[256];
  int fd = open(path, RDONLY_);
  if (fd < 0) return 0;
  fp_slurp_fd(fd, buf, sizeof buf);
  return strcmp(buf, want) == 0;
}

static inline void fp_init(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: probe ROOT\n");
    exit(2);
  }
  ROOT = argv[1];
  setvbuf(stdout, NULL, _IOLBF, 0);
}

/* The probes also run as plain programs (no sandbox) to show they fail
 * without the wrappers: nothing here checks for libsandbox itself. */
#endif
