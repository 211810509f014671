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

#include "http_core.h"
#include "http_log.h"
#include "http_request.h"

#include <apr_lib.h>
#include <apr_strings.h>

APLOG_USE_MODULE(tenant_tag);

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

/* ---- TenantPHPAdminValue NAME VALUE (mass virtual hosting) --------------
 *
 * One mass-vhost server (VirtualDocumentRoot or TenantMap dbm:) has no
 * per-site configuration to hold each site's session.save_path,
 * upload_tmp_dir, sys_temp_dir, error_log or open_basedir. These lines give
 * every tenant request its own, with {tenant} expanded, applied exactly as
 * php_admin_value: the module builds mod_php's own per-directory
 * configuration for the request by calling mod_php's php_admin_value
 * directive handler (found in mod_php's command table, as Apache itself
 * would call it) on a fresh mod_php config object, and merges it over the
 * request's with mod_php's own merge function -- so what mod_php applies
 * before the script runs includes them at PHP_INI_SYSTEM, above any
 * php_value a tenant's .htaccess sets. No PHP headers, no knowledge of
 * mod_php's structures: only Apache's module API. Runs in fixups, after
 * the directory walk and .htaccess merging, for subrequests and internal
 * redirects as well (each has its own per_dir_config). */

static module *tt_php_module;           /* mod_php, found by its directive */
static const command_rec *tt_php_admin; /* its php_admin_value */

/* Names that cannot work per request, or that this product decides. */
static const struct {
    const char *name;
    const char *why;
} tt_php_refused[] = {
    {"extension", "extensions are loaded at PHP start-up only (php.ini)"},
    {"zend_extension", "extensions are loaded at PHP start-up only (php.ini)"},
    {"disable_functions", "read at PHP start-up only (php.ini); per request it would do nothing"},
    {"disable_classes", "read at PHP start-up only (php.ini); per request it would do nothing"},
    {"ffi.enable", "native code for tenant requests is TenantNativeCode's decision"},
    {"opcache.validate_permission", "forced on for every tenant request by mod_tenant_tag"},
    {"opcache.validate_root", "forced on for every tenant request by mod_tenant_tag"},
    {"opcache.restrict_api", "forced for every tenant request by mod_tenant_tag"},
    {NULL, NULL}};

const char *tt_php_check_setting(cmd_parms *cmd, const char *name, const char *value)
{
    const char *d = cmd->cmd->name, *p;
    module *mod = ap_top_module;
    const command_rec *admin;
    int i;
    if (!*name)
        return apr_psprintf(cmd->pool, "%s: empty setting name", d);
    for (p = name; *p; ++p)
        if (!apr_isalnum(*p) && *p != '_' && *p != '.')
            return apr_psprintf(cmd->pool, "%s: '%s' is not a PHP setting name (letters, digits, "
                                "'_' and '.')", d, ap_escape_logitem(cmd->pool, name));
    for (i = 0; tt_php_refused[i].name; ++i)
        if (!strcasecmp(name, tt_php_refused[i].name))
            return apr_psprintf(cmd->pool, "%s: %s cannot be set this way: %s", d, name,
                                tt_php_refused[i].why);
    for (p = value; *p; ++p)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return apr_psprintf(cmd->pool, "%s %s: the value has a control character", d, name);
    if (strlen(value) > 2048)
        return apr_psprintf(cmd->pool, "%s %s: the value is longer than 2048 bytes", d, name);
    admin = ap_find_command_in_modules("php_admin_value", &mod);
    if (!admin || !mod || !mod->create_dir_config || !mod->merge_dir_config)
        return apr_psprintf(cmd->pool, "%s needs mod_php: load it first (LoadModule php_module "
                            ".../libphp8.2.so, or a2enmod php8.2)", d);
    tt_php_module = mod;
    tt_php_admin = admin;
    return NULL;
}

/* value with every {tenant} replaced by the id (validated [A-Za-z0-9._-]). */
static const char *tt_php_expand(apr_pool_t *p, const char *value, const char *tenant)
{
    const char *at = strstr(value, "{tenant}");
    const char *out = "";
    if (!at) return value;
    while (at) {
        out = apr_pstrcat(p, out, apr_pstrmemdup(p, value, (apr_size_t)(at - value)), tenant, NULL);
        value = at + sizeof("{tenant}") - 1;
        at = strstr(value, "{tenant}");
    }
    return apr_pstrcat(p, out, value, NULL);
}

/* What the product decides for every tenant request, applied the same way
 * (docs/threat-model.md 19, 24, 27): opcache never serves a tenant a script
 * it could not open itself (validate_permission: opcache checks the
 * requesting request may read the file before it hands out the cached
 * copy), opcache's status API answers no tenant script (restrict_api: only
 * scripts under a path no tenant has may call opcache_get_status,
 * opcache_is_script_cached, opcache_reset, ...), and FFI is off unless
 * TenantNativeCode Allow. */
static const tt_php_setting tt_php_forced[] = {
    {"opcache.validate_permission", "1"},
    {"opcache.restrict_api", "/nonexistent/tenant-sandbox: no tenant script may use the opcache API"},
};

static int tt_php_fixups(request_rec *r)
{
    tt_server_conf *conf = tt_conf(r->server);
    tt_req_state *st;
    cmd_parms parms;
    ap_conf_vector_t *ours;
    void *php_conf;
    size_t k;
    int i;
    st = tt_request_state(r);
    if (!st || !st->tenant) return DECLINED;  /* TenantRequired Off: no tenant, no {tenant} */
    if (!tt_php_module || !tt_php_admin) {
        if (!conf->php_admin || conf->php_admin->nelts == 0) return DECLINED;  /* no mod_php: nothing to force */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10981)
                      "TenantPHPAdminValue: mod_php is not loaded: 500");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    php_conf = tt_php_module->create_dir_config(r->pool, (char *)"TenantPHPAdminValue");
    memset(&parms, 0, sizeof(parms));
    parms.pool = r->pool;
    parms.temp_pool = r->pool;
    parms.server = r->server;
    parms.cmd = tt_php_admin;
    parms.override = RSRC_CONF | ACCESS_CONF;  /* server config: not an .htaccess line */
    for (k = 0; k < sizeof(tt_php_forced) / sizeof(tt_php_forced[0]); ++k)
        (void)tt_php_admin->AP_TAKE2(&parms, php_conf, tt_php_forced[k].name, tt_php_forced[k].value);
    if (conf->native_code != TT_NATIVE_ALLOW) (void)tt_php_admin->AP_TAKE2(&parms, php_conf, "ffi.enable", "0");
    for (i = 0; conf->php_admin && i < conf->php_admin->nelts; ++i) {
        const tt_php_setting *set = &APR_ARRAY_IDX(conf->php_admin, i, tt_php_setting);
        const char *err = tt_php_admin->AP_TAKE2(&parms, php_conf, set->name,
                                                 tt_php_expand(r->pool, set->value, st->tenant));
        if (err) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10981)
                          "TenantPHPAdminValue %s: mod_php refused it (%s): 500", set->name, err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    ours = ap_create_per_dir_config(r->pool);
    ap_set_module_config(ours, tt_php_module, php_conf);
    r->per_dir_config = ap_merge_per_dir_configs(r->pool, r->per_dir_config, ours);
    return DECLINED;
}

/* Every name must be a setting the running PHP has: a typo would otherwise
 * be ignored by PHP without a word, and a site would quietly share the
 * default folder. PHP registers its settings in its own post_config
 * (APR_HOOK_MIDDLE, real pass only); this runs after it. */
static int tt_php_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    /* The module stays mapped across graceful restarts (tt_pin_module), so
     * this tells the first start (refuse it) from a restart (keep serving).
     * AP_SQ_CONFIG_GEN is already 1 in the first start's real pass. */
    static int started;
    union { void *p; char *(*get)(const char *, size_t, int, _Bool *); } u;
    server_rec *vs;
    int bad = 0, first;
    (void)pconf; (void)plog; (void)ptemp;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) return OK;
    first = !started;
    started = 1;
    if (!tt_php_admin) {  /* no TenantPHPAdminValue line found it: the forced settings need it */
        module *mod = ap_top_module;
        const command_rec *admin = ap_find_command_in_modules("php_admin_value", &mod);
        if (admin && mod && mod->create_dir_config && mod->merge_dir_config) {
            tt_php_module = mod;
            tt_php_admin = admin;
        }
    } else {
        /* A graceful restart reloads mod_php: its command table may have moved. */
        module *mod = ap_top_module;
        const command_rec *admin = ap_find_command_in_modules("php_admin_value", &mod);
        tt_php_module = admin ? mod : NULL;
        tt_php_admin = admin;
    }
    u.p = dlsym(RTLD_DEFAULT, "zend_ini_string_ex");
    if (!u.p) return OK;
    for (vs = s; vs; vs = vs->next) {
        const apr_array_header_t *list = tt_conf(vs)->php_admin;
        int i;
        if (!list) continue;
        for (i = 0; i < list->nelts; ++i) {
            const tt_php_setting *set = &APR_ARRAY_IDX(list, i, tt_php_setting);
            _Bool exists = 0;
            (void)u.get(set->name, strlen(set->name), 0, &exists);
            if (exists) continue;
            ap_log_error(APLOG_MARK, first ? APLOG_EMERG : APLOG_ERR, 0,
                         vs, APLOGNO(10980) "TenantPHPAdminValue %s: PHP has no such setting "
                         "(a typo, or its extension is not loaded)%s", set->name,
                         first ? "" : "; ignored by PHP until fixed");
            bad = 1;
        }
    }
    return bad && first ? HTTP_INTERNAL_SERVER_ERROR : OK;
}

void tt_php_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_fixups(tt_php_fixups, NULL, NULL, APR_HOOK_LAST);
    ap_hook_post_config(tt_php_post_config, NULL, NULL, APR_HOOK_REALLY_LAST);
}
