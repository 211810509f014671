/*
 * mod_tenant_tag configuration: directives (DESIGN.md "Apache directives"),
 * per-server create / merge / defaults.
 *
 * Every setter validates its argument and names the directive in its error
 * (allocated from cmd->pool), so `apache2ctl configtest` points at the line.
 */
#include "mod_tenant_tag.h"
#include "tt_api.h"

#include "http_log.h"

#include <apr_lib.h>
#include <apr_strings.h>

APLOG_USE_MODULE(tenant_tag);

/* The one defaults table: what a server gets for a directive nobody set. */
static const struct {
    int sandbox;
    int required;
    int kernel_confine;
    int over_limit_status;
    int native_code;
} tt_defaults = {
    /* Off until the operator says On: loading the module (a2enmod) must not
     * turn every existing vhost into a 403. */
    TT_SANDBOX_OFF,
    1,   /* TenantRequired On: no tenant resolved is a 403, never "unconfined" */
    1,   /* TenantKernelConfine On */
    508, /* TenantOverLimitStatus */
    /* TenantNativeCode Refuse: a shared address space cannot hold native
     * code in (docs/threat-model.md 27), so FFI is off for tenant requests
     * unless the operator says otherwise. */
    TT_NATIVE_REFUSE,
};

/* Handlers that show the whole server (every tenant's requests, URLs,
 * denials): never run inside a tenant's request, whatever Require says --
 * a tenant's .htaccess can name them with SetHandler (FileInfo). */
/* Handlers whose requests run tenant code: they alone go to the kernel
 * layer's confined thread. Apache's own handlers (default-handler serving
 * static files, redirects, 304s, mod_dir, mod_autoindex, the status pages)
 * run on the worker thread, where libsandbox still confines every file
 * they open -- a symlink in A's tree to B's file served as static is
 * refused there (docs/threat-model.md 8). mod_php's names as Debian's
 * php8.2.conf and the usual AddHandler lines spell them. */
static const char *const tt_default_confined_handlers[] = {
    "application/x-httpd-php", "application/x-httpd-php-source", "php-script", "php8-script",
    "cgi-script", "lua-script", "server-parsed", "text/x-server-parsed-html", "perl-script",
    "modperl", "fcgid-script", NULL};

static const char *const tt_default_operator_handlers[] = {
    "server-status", "server-info", "tenant-status", "balancer-manager", "ldap-status", NULL};

tt_server_conf *tt_conf(server_rec *s)
{
    return ap_get_module_config(s->module_config, &tenant_tag_module);
}

void *tt_create_server_config(apr_pool_t *p, server_rec *s)
{
    tt_server_conf *c = apr_pcalloc(p, sizeof(*c));
    (void)s;
    c->sandbox = TT_UNSET;
    c->required = TT_UNSET;
    c->kernel_confine = TT_UNSET;
    c->over_limit_status = TT_UNSET;
    c->native_code = TT_UNSET;
    /* pointers: NULL = unset (apr_pcalloc) */
    return c;
}

#define TT_MERGE_INT(f)  m->f = (add->f != TT_UNSET) ? add->f : base->f
#define TT_MERGE_PTR(f)  m->f = (add->f != NULL) ? add->f : base->f

void *tt_merge_server_config(apr_pool_t *p, void *basev, void *addv)
{
    const tt_server_conf *base = basev, *add = addv;
    tt_server_conf *m = apr_pcalloc(p, sizeof(*m));
    TT_MERGE_INT(sandbox);
    TT_MERGE_INT(required);
    TT_MERGE_INT(kernel_confine);
    TT_MERGE_INT(over_limit_status);
    TT_MERGE_INT(native_code);
    TT_MERGE_PTR(trusted_listeners);
    TT_MERGE_PTR(header_tenants);
    TT_MERGE_PTR(operator_handlers);
    TT_MERGE_PTR(confined_handlers);
    /* The doors are the server's: only the main server's lists count. */
    m->closed_doors = base->closed_doors;
    m->open_doors = base->open_doors;
    /* TenantPolicy is server-wide: a vhost can never set its own. */
    m->policy = base->policy;
    /* TenantId is per vhost and only allowed inside <VirtualHost>, so the
     * base (main server) never has one: no tenant leaks into other vhosts. */
    m->tenant_id = add->tenant_id;
    TT_MERGE_PTR(map);
    TT_MERGE_PTR(header);
    /* As mod_remoteip: a vhost's own proxy list replaces the server's. */
    TT_MERGE_PTR(trusted);
    /* TenantPHPAdminValue adds up: the server's lines, then the vhost's
     * (applied in that order, so a vhost's line for the same NAME wins). */
    if (base->php_admin && add->php_admin)
        m->php_admin = apr_array_append(p, base->php_admin, add->php_admin);
    else
        TT_MERGE_PTR(php_admin);
    return m;
}

void tt_apply_defaults(tt_server_conf *c)
{
    if (c->sandbox == TT_UNSET) c->sandbox = tt_defaults.sandbox;
    if (c->required == TT_UNSET) c->required = tt_defaults.required;
    if (c->kernel_confine == TT_UNSET) c->kernel_confine = tt_defaults.kernel_confine;
    if (c->over_limit_status == TT_UNSET) c->over_limit_status = tt_defaults.over_limit_status;
    if (c->native_code == TT_UNSET) c->native_code = tt_defaults.native_code;
}

static const char *set_sandbox(cmd_parms *cmd, void *dummy, const char *arg)
{
    tt_server_conf *c = tt_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    (void)dummy;
    if (err) return err;
    if (!strcasecmp(arg, "On")) c->sandbox = TT_SANDBOX_ON;
    else if (!strcasecmp(arg, "Off")) c->sandbox = TT_SANDBOX_OFF;
    else if (!strcasecmp(arg, "Audit")) c->sandbox = TT_SANDBOX_AUDIT;
    else return apr_psprintf(cmd->pool, "%s: expected On, Off or Audit, not '%s'",
                             cmd->cmd->name, arg);
    return NULL;
}

static const char *set_policy(cmd_parms *cmd, void *dummy, const char *arg)
{
    tt_server_conf *c = tt_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    (void)dummy;
    if (err) return err;
    /* The file itself is validated in check_config, not here: a broken
     * policy on graceful restart must not be a config syntax error (that
     * would stop the whole server) but a refused reload. */
    if (arg[0] != '/')
        return apr_psprintf(cmd->pool, "%s: the policy path must be absolute, not '%s'",
                            cmd->cmd->name, arg);
    c->policy = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *set_tenant_id(cmd_parms *cmd, void *dummy, const char *arg)
{
    tt_server_conf *c = tt_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT), *problem;
    (void)dummy;
    if (err) return err;
    if (!cmd->server->is_virtual)
        return apr_psprintf(cmd->pool, "%s is only allowed inside <VirtualHost>: "
                            "in the main server it would tag every vhost", cmd->cmd->name);
    if ((problem = tt_id_problem(arg)) != NULL)
        return apr_psprintf(cmd->pool, "%s: invalid tenant id '%s': %s", cmd->cmd->name,
                            ap_escape_logitem(cmd->pool, arg), problem);
    c->tenant_id = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *set_map(cmd_parms *cmd, void *dummy, const char *arg)
{
    tt_server_conf *c = tt_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    (void)dummy;
    if (err) return err;
    err = tt_map_open(cmd->pool, arg, &c->map);
    if (err) return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    return NULL;
}

/* RFC 7230 token characters: a header name an operator can write. */
static int is_token(const char *s)
{
    if (!*s) return 0;
    for (; *s; ++s)
        if (!apr_isalnum(*s) && !strchr("!#$%&'*+-.^_`|~", *s)) return 0;
    return 1;
}

static const char *set_header(cmd_parms *cmd, void *dummy, const char *arg)
{
    tt_server_conf *c = tt_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    (void)dummy;
    if (err) return err;
    if (!is_token(arg))
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid header name",
                            cmd->cmd->name, arg);
    c->header = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

/* ADDR or ADDR/PREFIX (IPv4 or IPv6), as mod_remoteip's RemoteIPTrustedProxy
 * but never a host name: a trust decision must not depend on DNS. */
static const char *add_trusted_proxy(cmd_parms *cmd, void *dummy, const char *arg)
{
    tt_server_conf *c = tt_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    char *ip, *mask;
    apr_ipsubnet_t *sub = NULL;
    apr_status_t rv;
    (void)dummy;
    if (err) return err;
    ip = apr_pstrdup(cmd->temp_pool, arg);
    mask = strchr(ip, '/');
    if (mask) *mask++ = '\0';
    rv = (*ip && !(mask && !*mask)) ? apr_ipsubnet_create(&sub, ip, mask, cmd->pool) : APR_EBADIP;
    if (rv != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "%s: '%s' is not an IPv4/IPv6 address or "
                            "ADDRESS/PREFIX range", cmd->cmd->name, arg);
    if (!c->trusted) c->trusted = apr_array_make(cmd->pool, 4, sizeof(apr_ipsubnet_t *));
    *(apr_ipsubnet_t **)apr_array_push(c->trusted) = sub;
    return NULL;
}

static const char *set_flag(cmd_parms *cmd, int *field, int on)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    if (err) return err;
    *field = on ? 1 : 0;
    return NULL;
}

static const char *set_required(cmd_parms *cmd, void *dummy, int on)
{
    (void)dummy;
    return set_flag(cmd, &tt_conf(cmd->server)->required, on);
}

static const char *set_kernel_confine(cmd_parms *cmd, void *dummy, int on)
{
    (void)dummy;
    return set_flag(cmd, &tt_conf(cmd->server)->kernel_confine, on);
}

static const char *set_over_limit_status(cmd_parms *cmd, void *dummy, const char *arg)
{
    tt_server_conf *c = tt_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    (void)dummy;
    if (err) return err;
    if (!strcmp(arg, "508")) c->over_limit_status = 508;
    else if (!strcmp(arg, "429")) c->over_limit_status = 429;
    else return apr_psprintf(cmd->pool, "%s: expected 508 or 429, not '%s'",
                             cmd->cmd->name, arg);
    return NULL;
}

static const char *add_php_admin_value(cmd_parms *cmd, void *dummy, const char *name,
                                       const char *value)
{
    tt_server_conf *c = tt_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    tt_php_setting *set;
    (void)dummy;
    if (err) return err;
    if ((err = tt_php_check_setting(cmd, name, value)) != NULL) return err;
    if (!c->php_admin) c->php_admin = apr_array_make(cmd->pool, 4, sizeof(tt_php_setting));
    set = apr_array_push(c->php_admin);
    set->name = apr_pstrdup(cmd->pool, name);
    set->value = apr_pstrdup(cmd->pool, value);
    return NULL;
}

static const char *add_closed_door(cmd_parms *cmd, void *dummy, const char *arg)
{
    tt_server_conf *c = tt_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY), *problem;
    (void)dummy;
    if (err) return err;
    if ((problem = tt_door_problem(arg)) != NULL)
        return apr_psprintf(cmd->pool, "%s: '%s': %s", cmd->cmd->name, arg, problem);
    if (!c->closed_doors) c->closed_doors = apr_array_make(cmd->pool, 4, sizeof(const char *));
    *(const char **)apr_array_push(c->closed_doors) = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *add_open_door(cmd_parms *cmd, void *dummy, const char *name, const char *addr)
{
    tt_server_conf *c = tt_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY), *problem, *p;
    (void)dummy;
    if (err) return err;
    for (p = name; *p; ++p)
        if (!apr_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
            return apr_psprintf(cmd->pool, "%s: the door's name '%s' may hold letters, digits, '-', '_' and '.'",
                                cmd->cmd->name, name);
    if ((problem = tt_door_problem(addr)) != NULL)
        return apr_psprintf(cmd->pool, "%s %s: '%s': %s", cmd->cmd->name, name, addr, problem);
    if (!c->open_doors) c->open_doors = apr_array_make(cmd->pool, 2, sizeof(const char *));
    *(const char **)apr_array_push(c->open_doors) = apr_pstrcat(cmd->pool, name, " ", addr, NULL);
    return NULL;
}

/* ADDR:PORT or [V6]:PORT of one of this server's own Listen addresses. */
static const char *add_trusted_listener(cmd_parms *cmd, void *dummy, const char *arg)
{
    tt_server_conf *c = tt_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    char *host = NULL, *scope = NULL;
    apr_port_t port = 0;
    apr_sockaddr_t *sa = NULL;
    (void)dummy;
    if (err) return err;
    if (apr_parse_addr_port(&host, &scope, &port, arg, cmd->pool) != APR_SUCCESS || !host || !port ||
        apr_sockaddr_info_get(&sa, host, APR_UNSPEC, port, APR_IPV4_ADDR_OK, cmd->pool) != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "%s: '%s' is not ADDRESS:PORT of a Listen directive", cmd->cmd->name, arg);
    if (!c->trusted_listeners) c->trusted_listeners = apr_array_make(cmd->pool, 2, sizeof(apr_sockaddr_t *));
    *(apr_sockaddr_t **)apr_array_push(c->trusted_listeners) = sa;
    return NULL;
}

static const char *add_header_tenant(cmd_parms *cmd, void *dummy, const char *arg)
{
    tt_server_conf *c = tt_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    size_t n = strlen(arg);
    (void)dummy;
    if (err) return err;
    if (!n || (n > 1 && strchr(arg, '*') != arg + n - 1) || (n == 1 && arg[0] != '*' && tt_id_problem(arg)) ||
        (n > 1 && arg[n - 1] != '*' && tt_id_problem(arg)))
        return apr_psprintf(cmd->pool, "%s: '%s' is neither a tenant id nor a prefix ending in '*'",
                            cmd->cmd->name, arg);
    if (!c->header_tenants) c->header_tenants = apr_array_make(cmd->pool, 4, sizeof(const char *));
    *(const char **)apr_array_push(c->header_tenants) = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *set_native_code(cmd_parms *cmd, void *dummy, const char *arg)
{
    tt_server_conf *c = tt_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    (void)dummy;
    if (err) return err;
    if (!strcasecmp(arg, "Refuse")) c->native_code = TT_NATIVE_REFUSE;
    else if (!strcasecmp(arg, "Allow")) c->native_code = TT_NATIVE_ALLOW;
    else return apr_psprintf(cmd->pool, "%s: expected Refuse or Allow, not '%s'", cmd->cmd->name, arg);
    return NULL;
}

static const char *add_operator_handler(cmd_parms *cmd, void *dummy, const char *arg)
{
    tt_server_conf *c = tt_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    (void)dummy;
    if (err) return err;
    if (!c->operator_handlers) {
        int i;
        c->operator_handlers = apr_array_make(cmd->pool, 8, sizeof(const char *));
        for (i = 0; tt_default_operator_handlers[i]; ++i)
            *(const char **)apr_array_push(c->operator_handlers) = tt_default_operator_handlers[i];
    }
    *(const char **)apr_array_push(c->operator_handlers) = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *add_confined_handler(cmd_parms *cmd, void *dummy, const char *arg)
{
    tt_server_conf *c = tt_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    (void)dummy;
    if (err) return err;
    if (!c->confined_handlers) {
        int i;
        c->confined_handlers = apr_array_make(cmd->pool, 16, sizeof(const char *));
        for (i = 0; tt_default_confined_handlers[i]; ++i)
            *(const char **)apr_array_push(c->confined_handlers) = tt_default_confined_handlers[i];
    }
    *(const char **)apr_array_push(c->confined_handlers) = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

int tt_is_confined_handler(const tt_server_conf *c, const char *handler)
{
    int i;
    if (!handler) return 0;
    if (!c->confined_handlers) {
        for (i = 0; tt_default_confined_handlers[i]; ++i)
            if (!strcasecmp(handler, tt_default_confined_handlers[i])) return 1;
        return 0;
    }
    for (i = 0; i < c->confined_handlers->nelts; ++i)
        if (!strcasecmp(handler, APR_ARRAY_IDX(c->confined_handlers, i, const char *))) return 1;
    return 0;
}

int tt_is_operator_handler(const tt_server_conf *c, const char *handler)
{
    int i;
    if (!handler) return 0;
    if (!c->operator_handlers) {
        for (i = 0; tt_default_operator_handlers[i]; ++i)
            if (!strcasecmp(handler, tt_default_operator_handlers[i])) return 1;
        return 0;
    }
    for (i = 0; i < c->operator_handlers->nelts; ++i)
        if (!strcasecmp(handler, APR_ARRAY_IDX(c->operator_handlers, i, const char *))) return 1;
    return 0;
}

const command_rec tt_directives[] = {
    AP_INIT_TAKE1("TenantSandbox", set_sandbox, NULL, RSRC_CONF,
                  "On | Off | Audit: tag requests with their tenant"),
    AP_INIT_TAKE1("TenantPolicy", set_policy, NULL, RSRC_CONF,
                  "path of the tenant-sandbox policy (JSON), main server only"),
    AP_INIT_TAKE1("TenantId", set_tenant_id, NULL, RSRC_CONF,
                  "the tenant of this virtual host"),
    AP_INIT_TAKE1("TenantMap", set_map, NULL, RSRC_CONF,
                  "txt:/path or dbm:/path mapping Host to tenant"),
    AP_INIT_TAKE1("TenantHeader", set_header, NULL, RSRC_CONF,
                  "request header carrying the tenant, from a trusted proxy only"),
    AP_INIT_ITERATE("TenantTrustedProxy", add_trusted_proxy, NULL, RSRC_CONF,
                    "addresses or CIDR ranges whose TenantHeader is believed"),
    AP_INIT_FLAG("TenantRequired", set_required, NULL, RSRC_CONF,
                 "On: a request without a tenant is refused with 403 (default)"),
    AP_INIT_FLAG("TenantKernelConfine", set_kernel_confine, NULL, RSRC_CONF,
                 "On: confine request threads with Landlock and seccomp (default)"),
    AP_INIT_TAKE1("TenantOverLimitStatus", set_over_limit_status, NULL, RSRC_CONF,
                  "508 or 429: status for a tenant over max_requests"),
    AP_INIT_TAKE2("TenantPHPAdminValue", add_php_admin_value, NULL, RSRC_CONF,
                  "NAME VALUE: a php_admin_value for every tenant request, {tenant} expanded"),
    AP_INIT_ITERATE("TenantClosedDoor", add_closed_door, NULL, RSRC_CONF,
                    "ADDR:PORT | [V6]:PORT | *:PORT | /socket: more of this host's doors closed to tenant code "
                    "(Apache's own Listen addresses always are)"),
    AP_INIT_TAKE2("TenantOpenDoor", add_open_door, NULL, RSRC_CONF,
                  "NAME ADDR: one of the server's doors tenant code may reach after all (a local API)"),
    AP_INIT_ITERATE("TenantTrustedListener", add_trusted_listener, NULL, RSRC_CONF,
                    "ADDR:PORT: the TenantHeader is believed only on connections to these listeners"),
    AP_INIT_ITERATE("TenantHeaderTenants", add_header_tenant, NULL, RSRC_CONF,
                    "ID or PREFIX*: the only tenants a TenantHeader may name in this vhost"),
    AP_INIT_TAKE1("TenantNativeCode", set_native_code, NULL, RSRC_CONF,
                  "Refuse | Allow: FFI and other native code for tenant requests (default Refuse)"),
    AP_INIT_ITERATE("TenantConfinedHandlers", add_confined_handler, NULL, RSRC_CONF,
                    "handlers that run tenant code, on the kernel layer's confined thread (added to the "
                    "PHP, CGI, Lua, SSI and Perl handlers)"),
    AP_INIT_ITERATE("TenantOperatorHandlers", add_operator_handler, NULL, RSRC_CONF,
                    "handlers that never run inside a tenant's request (added to server-status, "
                    "server-info, tenant-status, balancer-manager, ldap-status)"),
    {NULL}
};
