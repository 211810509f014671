/*
 * TenantMap: Host -> tenant.
 *   txt:/path  one "host tenant" pair a line; '#' comments and blank lines.
 *              Read whole at config time; every bad line is reported as
 *              path:line so configtest points at it.
 *   dbm:/path  an APR DBM (httxt2dbm -i map.txt -o map) keyed by lowercase
 *              host. Checked at config time, opened lazily per child, so a
 *              million hosts cost one open file per worker, not memory.
 */
#include "mod_tenant_tag.h"
#include "tt_api.h"

#include "http_log.h"

#include <apr_file_io.h>
#include <apr_strings.h>

APLOG_USE_MODULE(tenant_tag);

/* The child's process pool (child_init): dbm handles live as long as the worker. */
static apr_pool_t *tt_pchild;

static const char *read_txt_map(apr_pool_t *p, tt_map *map)
{
    apr_file_t *f;
    char line[1024];
    const char *problem;
    unsigned lineno = 0;
    apr_status_t rv = apr_file_open(&f, map->path, APR_READ | APR_BUFFERED, APR_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        char buf[120];
        return apr_psprintf(p, "cannot open %s: %s", map->path,
                            apr_strerror(rv, buf, sizeof(buf)));
    }
    map->hosts = apr_hash_make(p);
    while (apr_file_gets(line, sizeof(line), f) == APR_SUCCESS) {
        char *host, *tenant, *extra, *state;
        size_t len = strlen(line);
        ++lineno;
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            apr_file_close(f);
            return apr_psprintf(p, "%s:%u: line too long", map->path, lineno);
        }
        if ((extra = strchr(line, '#')) != NULL) *extra = '\0';
        host = apr_strtok(line, " \t\r\n", &state);
        if (!host) continue;
        tenant = apr_strtok(NULL, " \t\r\n", &state);
        extra = apr_strtok(NULL, " \t\r\n", &state);
        if (!tenant || extra) {
            apr_file_close(f);
            return apr_psprintf(p, "%s:%u: expected 'host tenant'", map->path, lineno);
        }
        if ((problem = tt_id_problem(tenant)) != NULL) {
            apr_file_close(f);
            return apr_psprintf(p, "%s:%u: invalid tenant id '%s': %s", map->path, lineno,
                                ap_escape_logitem(p, tenant), problem);
        }
        ap_str_tolower(host);
        if (apr_hash_get(map->hosts, host, APR_HASH_KEY_STRING)) {
            apr_file_close(f);
            return apr_psprintf(p, "%s:%u: host '%s' is listed twice", map->path, lineno,
                                ap_escape_logitem(p, host));
        }
        apr_hash_set(map->hosts, apr_pstrdup(p, host), APR_HASH_KEY_STRING,
                     apr_pstrdup(p, tenant));
    }
    apr_file_close(f);
    return NULL;
}

const char *tt_map_open(apr_pool_t *p, const char *spec, tt_map **out)
{
    tt_map *map = apr_pcalloc(p, sizeof(*map));
    map->spec = apr_pstrdup(p, spec);
    if (!strncmp(spec, "txt:", 4)) map->path = spec + 4;
    else if (!strncmp(spec, "dbm:", 4)) { map->path = spec + 4; map->is_dbm = 1; }
    else return apr_psprintf(p, "expected txt:/path or dbm:/path, not '%s'", spec);
    if (map->path[0] != '/')
        return apr_psprintf(p, "the map path must be absolute, not '%s'", map->path);
    map->path = apr_pstrdup(p, map->path);
    if (map->is_dbm) {
        apr_dbm_t *dbm;
        char buf[120];
        apr_status_t rv = apr_dbm_open(&dbm, map->path, APR_DBM_READONLY, APR_OS_DEFAULT, p);
        if (rv != APR_SUCCESS)
            return apr_psprintf(p, "cannot open DBM %s: %s", map->path,
                                apr_strerror(rv, buf, sizeof(buf)));
        apr_dbm_close(dbm);
    } else {
        const char *err = read_txt_map(p, map);
        if (err) return err;
    }
    *out = map;
    return NULL;
}

/* Child: each dbm map gets its own lock (threaded MPMs share the handle). */
void tt_map_child_init(apr_pool_t *pchild, server_rec *s)
{
    tt_pchild = pchild;
    for (; s; s = s->next) {
        tt_map *map = tt_conf(s)->map;
        if (map && map->is_dbm && !map->lock)
            apr_thread_mutex_create(&map->lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    }
}

const char *tt_map_lookup(tt_map *map, const char *host, request_rec *r)
{
    char *key;
    char *colon;
    const char *tenant = NULL;
    if (!host || !*host) return NULL;
    key = apr_pstrdup(r->pool, host);
    /* r->hostname carries no port, but be exact for "[v6]:port" and "h:port". */
    if (key[0] != '[' && (colon = strchr(key, ':')) != NULL) *colon = '\0';
    ap_str_tolower(key);
    if (!map->is_dbm)
        return apr_hash_get(map->hosts, key, APR_HASH_KEY_STRING);

    if (map->lock) apr_thread_mutex_lock(map->lock);
    if (!map->dbm && !map->dbm_failed) {
        /* One handle per worker for its whole life. */
        apr_status_t rv = apr_dbm_open(&map->dbm, map->path, APR_DBM_READONLY, APR_OS_DEFAULT,
                                       tt_pchild ? tt_pchild : r->server->process->pool);
        if (rv != APR_SUCCESS) {
            map->dbm = NULL;
            map->dbm_failed = 1;
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, APLOGNO(10919)
                          "TenantMap %s: cannot open DBM in this worker", map->spec);
        }
    }
    if (map->dbm) {
        apr_datum_t k, v;
        k.dptr = key;
        k.dsize = strlen(key);
        if (apr_dbm_fetch(map->dbm, k, &v) == APR_SUCCESS && v.dptr) {
            tenant = apr_pstrmemdup(r->pool, v.dptr, v.dsize);
        }
    }
    if (map->lock) apr_thread_mutex_unlock(map->lock);
    if (tenant && tt_id_problem(tenant) != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10920)
                      "TenantMap %s: invalid tenant id stored for host %s", map->spec,
                      ap_escape_logitem(r->pool, key));
        return ""; /* invalid: the caller answers 403, never "no tenant" */
    }
    return tenant;
}
