/* Benchmark 3, TenantMap dbm: the host -> tenant lookup mod_tenant_tag
 * makes per request (tt_map.c: apr_dbm_open once per worker, read-only,
 * APR's default DBM type -- Berkeley DB hash on Debian, what httxt2dbm
 * writes -- then apr_dbm_fetch of the lowercase host).
 *   bench_dbm DBM HOSTS SAMPLES
 * Keys are www.site-NNNNNNN.example (as scripts/bench.sh writes them).
 * Prints JSON: open time, fetch p50/p99 (ns), and the process's private
 * memory (smaps_rollup Private_*) before the open, after it and after the
 * lookups: what each worker pays for the map. */
#include <apr_dbm.h>
#include <apr_general.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long private_kb(void) {
  FILE *f = fopen("/proc/self/smaps_rollup", "r");
  char line[256];
  long v = 0;
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "Private_Clean:", 14) || !strncmp(line, "Private_Dirty:", 14)) v += atol(line + 14);
  fclose(f);
  return v;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: bench_dbm DBM HOSTS SAMPLES\n");
    return 2;
  }
  long hosts = atol(argv[2]), samples = atol(argv[3]);
  apr_pool_t *p;
  apr_dbm_t *db;
  apr_initialize();
  apr_pool_create(&p, NULL);
  long priv0 = private_kb();
  double t0 = now_ns();
  if (apr_dbm_open(&db, argv[1], APR_DBM_READONLY, APR_OS_DEFAULT, p) != APR_SUCCESS) {
    fprintf(stderr, "bench_dbm: cannot open %s\n", argv[1]);
    return 1;
  }
  double open_ns = now_ns() - t0;
  long priv1 = private_kb();
  double *ns = malloc(sizeof(double) * (size_t)samples);
  unsigned long long x = 88172645463325252ULL;
  long miss = 0;
  char key[64];
  for (long i = 0; i < samples; ++i) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    int n = snprintf(key, sizeof key, "www.site-%07llu.example", x % (unsigned long long)hosts);
    apr_datum_t k = {key, (apr_size_t)n}, v = {0};
    double s = now_ns();
    if (apr_dbm_fetch(db, k, &v) != APR_SUCCESS || !v.dptr) ++miss;
    ns[i] = now_ns() - s;
  }
  long priv2 = private_kb();
  qsort(ns, (size_t)samples, sizeof(double), cmp);
  printf("{\"hosts\": %ld, \"open_us\": %.0f, \"samples\": %ld, \"misses\": %ld, \"fetch_ns\": {\"p50\": %.0f, "
         "\"p90\": %.0f, \"p99\": %.0f}, \"private_kb\": {\"before_open\": %ld, \"after_open\": %ld, "
         "\"after_lookups\": %ld}}\n",
         hosts, open_ns / 1e3, samples, miss, ns[samples / 2], ns[samples * 9 / 10], ns[samples * 99 / 100], priv0,
         priv1, priv2);
  apr_dbm_close(db);
  return miss == 0 ? 0 : 1;
}
