/*
 * tt_php.c -- what PHP keeps per worker process that would show one tenant
 * another tenant's paths (THREATS 19).
 *
 * PHP's realpath cache (realpath_cache_get(), also used to answer
 * file_exists() and include without a system call) lives as long as the
 * worker and is shared by every request it serves: tenant A's request can
 * list every path tenant B's requests resolved. libsandbox cannot see it
 * (no libc call), so the module empties it before a request of another
 * tenant than the worker thread's previous one. Consecutive requests of the
 * same tenant keep it (it holds only that tenant's paths), so the cache
 * still saves its system calls on a busy site.
 *
 * realpath_cache_clean() is exported by libphp (PHPAPI); it is looked up
 * with dlsym, so the module needs no PHP headers and works without mod_php.
 * In an NTS build (Debian's mod_php, prefork) the cache is process-wide; in
 * ZTS builds it is per thread, which is the thread this runs on.
 */
#include <dlfcn.h>
#include <string.h>

#include "mod_tenant_tag.h"

static void (*tt_realpath_cache_clean)(void);
static int tt_php_resolved;

/* The tenant whose paths the cache may hold ("" = none, or a request
 * without tenant). Per thread: threaded MPMs with a ZTS PHP keep one cache
 * per thread. */
static __thread char tt_php_last[256];

void tt_php_before_tenant(const char *tenant)
{
    union { void *p; void (*fn)(void); } u;
    size_t len = strlen(tenant);
    if (len < sizeof tt_php_last && strcmp(tt_php_last, tenant) == 0) return;
    if (!__atomic_load_n(&tt_php_resolved, __ATOMIC_ACQUIRE)) {
        u.p = dlsym(RTLD_DEFAULT, "realpath_cache_clean");
        tt_realpath_cache_clean = u.fn;
        __atomic_store_n(&tt_php_resolved, 1, __ATOMIC_RELEASE);
    }
    if (tt_realpath_cache_clean) tt_realpath_cache_clean();
    if (len < sizeof tt_php_last) memcpy(tt_php_last, tenant, len + 1);
    else tt_php_last[0] = '\0';  /* too long to remember: clean every time */
}
