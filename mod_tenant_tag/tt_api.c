/*
 * tt_api.c: the one place the module resolves libsandbox's C API (tt_api.h).
 */
#include "tt_api.h"

#include <dlfcn.h>
#include <string.h>

static tt_api_table tt_table;
static int tt_state;            /* 0: not tried, 1: found, -1: absent */
static char tt_missing[512];

const tt_api_table *tt_api(void)
{
    int state = __atomic_load_n(&tt_state, __ATOMIC_ACQUIRE);
    tt_api_table t;
    size_t used = 0;
    int all = 1;
    if (state > 0) return &tt_table;
    if (state < 0) return NULL;
    memset(&t, 0, sizeof(t));
    /* dlsym returns void *; POSIX specifies the conversion to a function
     * pointer, the memcpy keeps -Wpedantic quiet. */
#define SB_API(ret, name, params)                                              \
    {                                                                          \
        void *p = dlsym(RTLD_DEFAULT, #name);                                  \
        if (p) {                                                               \
            memcpy(&t.name, &p, sizeof(p));                                    \
        } else {                                                               \
            size_t n = strlen(#name);                                          \
            all = 0;                                                           \
            if (used + n + 2 < sizeof(tt_missing)) {                           \
                if (used) tt_missing[used++] = ' ';                            \
                memcpy(tt_missing + used, #name, n + 1);                       \
                used += n;                                                     \
            }                                                                  \
        }                                                                      \
    }
#include "sandbox_api.def"
#undef SB_API
    if (all) tt_table = t;
    /* Resolution is idempotent: two threads racing here store the same. */
    __atomic_store_n(&tt_state, all ? 1 : -1, __ATOMIC_RELEASE);
    return all ? &tt_table : NULL;
}

const char *tt_api_missing(void)
{
    return tt_missing;
}

const char *tt_id_problem(const char *id)
{
    const tt_api_table *api = tt_api();
    return api ? api->sandbox_tenant_id_problem(id) : NULL;
}

const char *tt_door_problem(const char *door)
{
    const tt_api_table *api = tt_api();
    return api ? api->sandbox_door_problem(door) : NULL;
}
