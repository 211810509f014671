/*
 * tt_api: the module's one way to reach libsandbox -- a table of function
 * pointers generated from libsandbox's API table (sandbox_api.def), filled
 * with dlsym(RTLD_DEFAULT) once per process. The module never links
 * libsandbox: when it is not preloaded the module still loads, and answers
 * tenant requests 503 (DESIGN: fail closed), instead of failing to load.
 */
#ifndef TT_API_H
#define TT_API_H

#include "tenant_sandbox.h"

typedef struct {
#define SB_API(ret, name, params) ret(*name) params;
#include "sandbox_api.def"
#undef SB_API
} tt_api_table;

/* The table, resolved on first use (all of it or nothing: a libsandbox that
 * lacks a function is treated as absent), or NULL when libsandbox is not
 * preloaded. Call first from a thread without a tenant (start-up hooks):
 * dlsym opens nothing, but the first call is the one that resolves. */
const tt_api_table *tt_api(void);

/* What is wrong with a tenant id (sandbox_tenant_id_problem), or NULL when
 * it is valid -- or when libsandbox is not preloaded and cannot say (the
 * request path refuses then anyway: 503). One definition of "valid": the
 * module never has its own. */
const char *tt_id_problem(const char *id);

/* NULL when a door parses (sandbox_door_problem), else what is expected;
 * NULL too when libsandbox is not preloaded (checked again at start). */
const char *tt_door_problem(const char *door);

/* The names tt_api() did not find ("" when none), for the start-up log. */
const char *tt_api_missing(void);

#endif
