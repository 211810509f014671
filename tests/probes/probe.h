/* probe.h -- the tiny check library of the probe programs.
 *
 *   EXPECT_OK("open own file", (fd = open(p, O_RDONLY)) >= 0);
 *   EXPECT_ERRNO("open other tenant's file", EACCES, open(q, O_RDONLY) < 0);
 *   return PROBE_END();
 *
 * Each check prints "ok - ..." or "not ok - ..." with the errno seen; the
 * last line is "N passed, M failed" and the exit status is 1 on a failure.
 */
#ifndef TS_PROBE_H
#define TS_PROBE_H
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int probe_passed_, probe_failed_;

static inline const char *probe_errname_(int e) {
  const char *n = strerrorname_np(e);
  return n ? n : "0";
}

#define EXPECT_OK(what, cond)                                                         \
  do {                                                                                \
    errno = 0;                                                                        \
    int ok_ = (cond);                                                                 \
    int e_ = errno;                                                                   \
    if (ok_) {                                                                        \
      probe_passed_++;                                                                \
      printf("ok - %s\n", (what));                                                    \
    } else {                                                                          \
      probe_failed_++;                                                                \
      printf("not ok - %s (line %d: errno %s)\n", (what), __LINE__, probe_errname_(e_)); \
    }                                                                                 \
    fflush(stdout);                                                                   \
  } while (0)

/* `failed` must be the call's own failure test (rc < 0, p == NULL). */
#define EXPECT_ERRNO(what, err, failed)                                               \
  do {                                                                                \
    errno = 0;                                                                        \
    int f_ = (failed);                                                                \
    int e_ = errno;                                                                   \
    if (f_ && e_ == (err)) {                                                          \
      probe_passed_++;                                                                \
      printf("ok - %s (%s)\n", (what), probe_errname_(e_));                           \
    } else {                                                                          \
      probe_failed_++;                                                                \
      printf("not ok - %s (line %d: expected %s, %s errno %s)\n", (what), __LINE__,   \
             probe_errname_(err), f_ ? "failed with" : "succeeded,", probe_errname_(e_)); \
    }                                                                                 \
    fflush(stdout);                                                                   \
  } while (0)

#define PROBE_END()                                                                   \
  (printf("%d passed, %d failed\n", probe_passed_, probe_failed_), fflush(stdout),     \
   probe_failed_ ? 1 : 0)

/* Joins ROOT and a relative part into a static buffer ring (4 live at once). */
static inline const char *P(const char *root, const char *rel) {
  static char bufs[4][4096];
  static int i;
  char *b = bufs[i++ & 3];
  snprintf(b, sizeof bufs[0], "%s/%s", root, rel);
  return b;
}
#endif
