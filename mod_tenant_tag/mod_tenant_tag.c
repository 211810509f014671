/*
 * mod_tenant_tag: tags every request with its tenant and tells libsandbox
 * (DESIGN.md). Hooks, in the order a request meets them:
 *
 *   check_config      validate TenantPolicy (also under `configtest`)
 *   post_config       load the policy into libsandbox and claim control, in
 *                     the parent, so every forked worker inherits both
 *   post_read_request resolve and set the tenant (APR_HOOK_REALLY_FIRST)
 *   TENANT_TAG_END    clear when the request's EOS leaves its filters, in
 *                     the thread that set the tag
 *   log_transaction   safety nets: log_transaction (REALLY_LAST) and a
 *                     cleanup on r->pool; they only ever clear a tag that
 *                     is still this request's, in this thread
 *
 * Why EOS and not log_transaction (THREATS 23): Apache 2.4 runs
 * log_transaction when the request's EOR bucket is destroyed. With HTTP/1.1
 * pipelining (or a front proxy's upstream keep-alive pool, which sends
 * every Host over the same connections) the core output filter keeps the
 * EOR until it flushes, which can be after the NEXT request on the
 * connection was read -- and tagged as another tenant, or as the same one.
 * A tag that lived until log_transaction was then still set at the next
 * post_read_request, and a late clear could hit the next request's tag.
 * EOS is deterministic: mod_php passes it after php_request_shutdown, so
 * register_shutdown_function callbacks, destructors and output callbacks
 * have all run, still as the tenant; nothing of the request runs as tenant
 * code after it. Each tag carries the serial of the request that set it
 * (tt_tls_owner), so a clear that runs late, or in another thread (event
 * MPM write completion, the kernel layer's confined thread), never touches
 * a tag that is not its own; a tag the request could not clear in its own
 * thread is cleared by that thread before it serves anything else.
 */
#include "mod_tenant_tag.h"
#include "tt_api.h"
#include "tt_limit.h"

#include "ap_listen.h"
#include "ap_mpm.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "unixd.h"
#include "util_filter.h"

#include <apr_strings.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

APLOG_USE_MODULE(tenant_tag);

/* ---- libsandbox ------------------------------------------------------ */

static int tt_claimed;          /* sandbox_claim_control succeeded in this process */
static int tt_policy_refused;   /* check_config refused the new policy (graceful) */
static volatile int tt_logged_missing;  /* 503 "not preloaded" logged in this process */

static int tt_sandbox_used(server_rec *s)
{
    for (; s; s = s->next) {
        int mode = tt_conf(s)->sandbox;
        if (mode == TT_SANDBOX_ON || mode == TT_SANDBOX_AUDIT) return 1;
    }
    return 0;
}

/* ---- start-up -------------------------------------------------------- */

/* libsandbox remembers its claimant by the address range of its code and
 * never forgets it. httpd dlclose()s and re-dlopen()s every module on
 * graceful restart, and the new copy may be mapped elsewhere, after which
 * it could no longer set tenants. Pinning this object with RTLD_NODELETE
 * keeps it at one address for the parent's life: the reload finds it
 * already loaded and gets the same mapping (and tt_claimed stays true). */
static void tt_pin_module(server_rec *s)
{
    Dl_info info;
    void *self;
    if (!dladdr((void *)&tenant_tag_module, &info) || !info.dli_fname) return;
    self = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    if (!self)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(10924)
                     "cannot pin %s in memory (%s): a graceful restart may lose "
                     "control of libsandbox", info.dli_fname, dlerror());
}

/* The first start of this server (not a graceful or full restart). httpd
 * reads its configuration twice at start: generation 0 is the dry run, 1
 * the real one; restarts count on from 2. */
static int tt_first_start(void)
{
    return ap_state_query(AP_SQ_CONFIG_GEN) <= 1;
}

/* `apache2 -k stop` / `-k graceful-stop` read the configuration (and run
 * check_config) in the signalling process before they signal. A broken
 * policy must never keep the operator from stopping the server, so those
 * two skip the policy check; graceful and restart keep it (they are refused
 * on the console, before the running server is touched). */
static int tt_stopping(const process_rec *proc)
{
    /* process->argv no longer holds "-k": ap_mpm_rewrite_args consumed it,
     * so read the command line the kernel kept. */
    char buf[4096];
    ssize_t n = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    const char *a, *end, *prev = "";
    (void)proc;
    if (fd >= 0) {
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
    }
    if (n <= 0) return 0;
    buf[n] = '\0';
    end = buf + n;
    for (a = buf; a < end; a += strlen(a) + 1) {
        const char *k = NULL;
        if (!strcmp(prev, "-k")) k = a;
        else if (!strncmp(a, "-k", 2) && a[2]) k = a + 2;
        if (k && (!strcmp(k, "stop") || !strcmp(k, "graceful-stop"))) return 1;
        prev = a;
    }
    return 0;
}

/* libsandbox's denial lines for a request, into Apache's own log for it
 * (sandbox_set_log_sink): ErrorLogFormat, the vhost's ErrorLog, piped
 * loggers and [client ...] apply (libsandbox writes vhost= itself, from
 * sandbox_set_request_context). Deny lines at error, audit lines at warn,
 * so both pass Apache's default LogLevel. */
static void tt_log_sink(void *ctx, int audit, const char *line, size_t len)
{
    ap_log_rerror(APLOG_MARK, audit ? APLOG_WARNING : APLOG_ERR, 0, (request_rec *)ctx, APLOGNO(10990)
                  "%.*s", (int)len, line);
}

/* The server's doors (sandbox_server_config.closed_doors): every Listen
 * address of this server, and TenantClosedDoor's. A listener on 0.0.0.0 or
 * :: is every address of the host ("*:PORT"). */
static const char *const *tt_closed_doors(server_rec *s, apr_pool_t *p)
{
    apr_array_header_t *doors = apr_array_make(p, 8, sizeof(const char *));
    const tt_server_conf *main_conf = tt_conf(s);
    ap_listen_rec *lr;
    int i;
    for (lr = ap_listeners; lr; lr = lr->next) {
        apr_sockaddr_t *sa = lr->bind_addr;
        char *ip = NULL;
        if (!sa) continue;
        apr_sockaddr_ip_get(&ip, sa);
        if (!ip || !strcmp(ip, "0.0.0.0") || !strcmp(ip, "::"))
            *(const char **)apr_array_push(doors) = apr_psprintf(p, "*:%u", (unsigned)sa->port);
        else if (sa->family == APR_INET6)
            *(const char **)apr_array_push(doors) = apr_psprintf(p, "[%s]:%u", ip, (unsigned)sa->port);
        else
            *(const char **)apr_array_push(doors) = apr_psprintf(p, "%s:%u", ip, (unsigned)sa->port);
    }
    if (main_conf->closed_doors)
        for (i = 0; i < main_conf->closed_doors->nelts; ++i)
            *(const char **)apr_array_push(doors) = APR_ARRAY_IDX(main_conf->closed_doors, i, const char *);
    *(const char **)apr_array_push(doors) = NULL;
    return (const char *const *)doors->elts;
}

static const char *const *tt_open_doors(server_rec *s, apr_pool_t *p)
{
    const tt_server_conf *main_conf = tt_conf(s);
    apr_array_header_t *doors = apr_array_make(p, 2, sizeof(const char *));
    int i;
    if (main_conf->open_doors)
        for (i = 0; i < main_conf->open_doors->nelts; ++i)
            *(const char **)apr_array_push(doors) = APR_ARRAY_IDX(main_conf->open_doors, i, const char *);
    *(const char **)apr_array_push(doors) = NULL;
    return (const char *const *)doors->elts;
}

/* Every AccessFileName any server uses (sandbox_server_config.access_files). */
static const char *tt_access_files(server_rec *s, apr_pool_t *p)
{
    const char *names = "";
    server_rec *vs;
    for (vs = s; vs; vs = vs->next) {
        core_server_config *core = ap_get_core_module_config(vs->module_config);
        if (core && core->access_name && !ap_strstr_c(names, core->access_name))
            names = apr_pstrcat(p, names, *names ? " " : "", core->access_name, NULL);
    }
    return *names ? names : ".htaccess";
}

static int tt_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    tt_server_conf *main_conf = tt_conf(s);
    const tt_api_table *api;
    char err[4096];
    (void)pconf; (void)plog;
    tt_policy_refused = 0;
    if (!tt_sandbox_used(s) || tt_stopping(s->process)) return OK;
    if (!main_conf->policy) {
        if (tt_first_start()) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, APLOGNO(10900)
                         "TenantSandbox is On but no TenantPolicy is set (main server)");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, APLOGNO(10900)
                     "TenantSandbox is On but no TenantPolicy is set: the policy "
                     "already loaded stays in force");
        tt_policy_refused = 1;
        return OK;
    }
    api = tt_api();
    if (!api) {
        /* configtest from a shell without the preload line: nothing here can
         * read the policy. The server itself would answer tenants 503. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(10906)
                     "TenantPolicy %s not checked: libsandbox is not preloaded in this process "
                     "(tenant-sandbox check %s checks it; a server started so answers every "
                     "tenant request 503)", main_conf->policy, main_conf->policy);
        return OK;
    }
    /* The one parse of the policy in this process: libsandbox validates and
     * loads it here, with the console still attached, and keeps the old one
     * when the new one is refused. The real pass after the dry run finds
     * the same unchanged file and does not parse it again. Workers inherit
     * the parent's copy with the fork. */
    if (api->sandbox_load_policy(main_conf->policy, err, sizeof(err)) != 0) {
        if (tt_first_start()) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, APLOGNO(10901)
                         "TenantPolicy %s is invalid: %s", main_conf->policy,
                         ap_escape_logitem(ptemp, err));
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        /* Graceful restart: refusing the whole configuration would stop the
         * server; keeping the old policy keeps every tenant confined. */
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, APLOGNO(10902)
                     "TenantPolicy %s is invalid, new policy refused, the old one "
                     "stays in force: %s", main_conf->policy, ap_escape_logitem(ptemp, err));
        tt_policy_refused = 1;
    } else if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, APLOGNO(10903)
                     "TenantPolicy %s loaded", main_conf->policy);
    }
    return OK;
}

static int tt_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    tt_server_conf *main_conf = tt_conf(s);
    const tt_api_table *api;
    struct sandbox_server_config cfg;
    server_rec *vs;
    int audit = 0, confined = 0, sandboxed = 0, rc;
    char err[1024], support[400];
    (void)pconf; (void)plog;

    for (vs = s; vs; vs = vs->next) {
        tt_server_conf *c = tt_conf(vs);
        tt_apply_defaults(c);
        if (c->sandbox == TT_SANDBOX_OFF) continue;
        ++sandboxed;
        if (c->kernel_confine) ++confined;
        if (c->sandbox == TT_SANDBOX_AUDIT) audit = 1;
    }

    /* httpd reads its configuration twice at start; the first pass is a dry
     * run (as mod_h2 does, act only on the real one). check_config already
     * loaded the policy, with the console still attached. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) return OK;
    if (!sandboxed) return OK;

    api = tt_api();
    if (!api) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(10906)
                     "libsandbox is not preloaded (LD_PRELOAD)%s%s: every tenant request "
                     "will be answered 503", *tt_api_missing() ? "; missing: " : "",
                     tt_api_missing());
        return OK;
    }
    tt_pin_module(s);
    /* Claim in the parent, before any request: the claim is process state
     * inherited by every fork, so workers never run a moment unclaimed.
     * Claimed once per process; httpd unloads and reloads this module on
     * graceful restart (pinned, so at the same address), which resets
     * tt_claimed, and libsandbox is asked again (it accepts the same
     * claimant). */
    if (!tt_claimed) {
        rc = api->sandbox_claim_control();
        if (rc == 0) {
            tt_claimed = 1;
        } else {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, APLOGNO(10907)
                         "sandbox_claim_control failed (%d): tenant requests will be "
                         "answered 503", rc);
            return OK;
        }
    }
    if ((rc = api->sandbox_set_log_sink(tt_log_sink)) != 0)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(10927)
                     "sandbox_set_log_sink failed (%d): denial lines go to the main ErrorLog "
                     "in libsandbox's own form", rc);
    /* The server's facts for libsandbox: the shared tables are opened here,
     * in the root parent, so every worker inherits them. */
    api->sandbox_kernel_support(support, sizeof(support));
    memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    cfg.policy_path = main_conf->policy;
    cfg.policy_ok = !tt_policy_refused;
    cfg.kernel_note = apr_psprintf(ptemp, "%s; TenantKernelConfine On in %d of %d sandboxed server(s)",
                                   support, confined, sandboxed);
    cfg.access_files = tt_access_files(s, ptemp);
    cfg.first_start = tt_first_start();
    cfg.worker_uid = (int)ap_unixd_config.user_id;
    cfg.worker_gid = (int)ap_unixd_config.group_id;
    cfg.closed_doors = tt_closed_doors(s, ptemp);
    cfg.open_doors = tt_open_doors(s, ptemp);
    rc = api->sandbox_server_start(&cfg, err, sizeof(err));
    if (rc == -EACCES) {
        /* A tenant's child could not load libsandbox and would run free:
         * refuse to start (a restart keeps serving: the exec wrappers
         * refuse each such start and say why). */
        ap_log_error(APLOG_MARK, tt_first_start() ? APLOG_EMERG : APLOG_ERR, 0, s, APLOGNO(10928)
                     "%s", err);
        return tt_first_start() ? HTTP_INTERNAL_SERVER_ERROR : OK;
    }
    if (rc == -EINVAL) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, APLOGNO(10929)
                     "libsandbox refused the server's configuration: %s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (rc != 0 || err[0])
        ap_log_error(APLOG_MARK, rc ? APLOG_ERR : APLOG_WARNING, 0, s, APLOGNO(10950)
                     "shared state under STATE_DIR: %s (%d): tenants with max_requests are "
                     "answered 503 while it lasts, the others are served uncounted",
                     rc ? "libsandbox refused the server's start" : err, rc);
    if (confined) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, APLOGNO(10908)
                     "TenantKernelConfine On: workers apply the kernel baseline and run "
                     "tenant handlers on confined threads (Landlock, seccomp)");
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, APLOGNO(10930)
                     "TenantKernelConfine: kernel offers %s", support);
    }
    if (audit)
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, APLOGNO(10909)
                     "TenantSandbox Audit: requests of Audit vhosts are checked as with "
                     "On but only logged (\"audit\" lines), never denied");
    return OK;
}

/* ---- per-process log-once state -------------------------------------- */

static apr_thread_mutex_t *tt_peer_lock;
static apr_hash_t *tt_logged_peers;
#define TT_MAX_LOGGED_PEERS 1024

static void tt_child_init(apr_pool_t *pchild, server_rec *s)
{
    tt_map_child_init(pchild, s);
    apr_thread_mutex_create(&tt_peer_lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    tt_logged_peers = apr_hash_make(pchild);
    (void)tt_api();  /* resolved before any request (no tenant set yet) */
}

/* 1 the first time this peer is seen in this process (bounded memory). */
static int tt_first_time_peer(const char *ip)
{
    int first = 0;
    if (!tt_logged_peers) return 1;
    if (tt_peer_lock) apr_thread_mutex_lock(tt_peer_lock);
    if (!apr_hash_get(tt_logged_peers, ip, APR_HASH_KEY_STRING) &&
        apr_hash_count(tt_logged_peers) < TT_MAX_LOGGED_PEERS) {
        apr_pool_t *p = apr_hash_pool_get(tt_logged_peers);
        apr_hash_set(tt_logged_peers, apr_pstrdup(p, ip), APR_HASH_KEY_STRING, "");
        first = 1;
    }
    if (tt_peer_lock) apr_thread_mutex_unlock(tt_peer_lock);
    return first;
}

/* ---- per-request state ----------------------------------------------- */

/* tt_req_state: mod_tenant_tag.h */

/* Subrequests and internal redirects share the state of the request the
 * client sent: they inherit its tenant and can never change it. */
static request_rec *tt_root(request_rec *r)
{
    for (;;) {
        if (r->main) r = r->main;
        else if (r->prev) r = r->prev;
        else return r;
    }
}

tt_req_state *tt_request_state(request_rec *r)
{
    return ap_get_module_config(tt_root(r)->request_config, &tenant_tag_module);
}

static apr_status_t tt_exit_worker(void *data)
{
    server_rec *s = data;
    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, APLOGNO(10918)
                 "worker exits: its tenant tag could not be cleared");
    /* _exit, not exit: no atexit handler or destructor may run more code in
     * a process whose tenant state is unknown. */
    _exit(APEXIT_OK);
    return APR_SUCCESS;
}

/* Never serve another tenant from a thread whose tag is in doubt: close this
 * connection and end the process when the connection is gone. Only reached
 * when libsandbox refuses to clear a tag its claimant set (a broken or
 * replaced libsandbox): nothing a client sends can lead here. */
static void tt_poison(conn_rec *c, server_rec *s)
{
    c->keepalive = AP_CONN_CLOSE;
    apr_pool_cleanup_register(c->pool, s, tt_exit_worker, apr_pool_cleanup_null);
}

/* The serial of the request whose tag this thread holds (0: none). Serials
 * are unique per process, so a request can tell its own tag from a later
 * request's of the same tenant on the same thread. */
static __thread apr_uint64_t tt_tls_owner;
static apr_uint64_t tt_serial_counter;

/* Clears this thread's tag. 0, or libsandbox's negative errno. */
static int tt_clear_this_thread(const char *tenant)
{
    const tt_api_table *api = tt_api();
    int rc = api ? api->sandbox_clear_tenant(tenant) : -ENOSYS;
    if (rc == 0) tt_tls_owner = 0;
    return rc;
}

/* The request has ended (EOS, log_transaction, r->pool cleanup): it is no
 * longer counted, and its tag is cleared -- here if this thread holds it.
 * Called again later, or from another thread, it changes nothing. */
static void tt_clear(tt_req_state *st)
{
    int rc;
    if (st) tt_limit_release(&st->limit_ticket);  /* tt_limit.c: no longer counted */
    if (!st || !st->set) return;
    st->set = 0;
    if (tt_tls_owner != st->serial) {
        /* Another thread (a confined handler thread passing EOS, an event
         * MPM thread completing the write): the owner thread clears the tag
         * when it gets control back (tt_settle_request) or before its next
         * request (tt_post_read_request). */
        return;
    }
    rc = tt_clear_this_thread(st->tenant);
    if (rc != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, st->s, APLOGNO(10917)
                     "sandbox_clear_tenant(%s) failed (%d): libsandbox refuses to clear a "
                     "tag this module set; closing the connection, the worker exits",
                     st->tenant, rc);
        tt_poison(st->c, st->s);
    }
}

void tt_settle_request(request_rec *r)
{
    tt_req_state *st = ap_get_module_config(tt_root(r)->request_config, &tenant_tag_module);
    if (!st || st->set || tt_tls_owner != st->serial) return;
    /* The request ended in another thread; this thread still holds its tag. */
    if (tt_clear_this_thread(st->tenant) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_CRIT, 0, r, APLOGNO(10936)
                      "tenant %s: tag of the worker thread could not be cleared after the "
                      "request ended in another thread; the worker exits", st->tenant);
        tt_poison(r->connection, r->server);
    }
}

static apr_status_t tt_clear_cleanup(void *data)
{
    tt_clear(data);
    return APR_SUCCESS;
}

/* The tenant header is believed only from the front proxy's own
 * connections (docs/threat-model.md 22, 24): from a TenantTrustedProxy peer
 * address, and -- when TenantTrustedListener is set -- only on connections
 * to those listeners (a port only the proxy reaches: tenant code cannot,
 * it is one of the server's closed doors). At least one of the two must be
 * configured: nobody is trusted by default. */
static int tt_trusted_peer(const tt_server_conf *conf, conn_rec *c)
{
    int i, peer_ok = 0, listener_ok = 0;
    if (!conf->trusted && !conf->trusted_listeners) return 0;
    if (conf->trusted && c->client_addr) {
        for (i = 0; i < conf->trusted->nelts && !peer_ok; ++i) {
            apr_ipsubnet_t *sub = APR_ARRAY_IDX(conf->trusted, i, apr_ipsubnet_t *);
            if (apr_ipsubnet_test(sub, c->client_addr)) peer_ok = 1;
        }
    }
    if (conf->trusted_listeners && c->local_addr) {
        for (i = 0; i < conf->trusted_listeners->nelts && !listener_ok; ++i) {
            apr_sockaddr_t *l = APR_ARRAY_IDX(conf->trusted_listeners, i, apr_sockaddr_t *);
            if (l->port == c->local_addr->port && apr_sockaddr_equal(l, c->local_addr)) listener_ok = 1;
        }
    }
    return (!conf->trusted || peer_ok) && (!conf->trusted_listeners || listener_ok);
}

/* TenantHeaderTenants: ids and prefix* patterns; unset: any tenant. */
static int tt_header_may_name(const tt_server_conf *conf, const char *id)
{
    int i;
    if (!conf->header_tenants) return 1;
    for (i = 0; i < conf->header_tenants->nelts; ++i) {
        const char *pat = APR_ARRAY_IDX(conf->header_tenants, i, const char *);
        size_t n = strlen(pat);
        if (n && pat[n - 1] == '*' ? !strncmp(pat, id, n - 1) : !strcmp(pat, id)) return 1;
    }
    return 0;
}

static int tt_post_read_request(request_rec *r)
{
    tt_server_conf *conf = tt_conf(r->server);
    tt_req_state *st;
    const tt_api_table *api;
    const char *id = NULL, *source = NULL, *problem;
    int rc;

    if (r->main || r->prev) {
        st = ap_get_module_config(tt_root(r)->request_config, &tenant_tag_module);
        ap_set_module_config(r->request_config, &tenant_tag_module, st);
        if (st && st->tenant) apr_table_setn(r->subprocess_env, "TENANT_ID", st->tenant);
        return DECLINED;
    }
    if (conf->sandbox == TT_SANDBOX_OFF) return DECLINED;

    if (conf->tenant_id) {
        id = conf->tenant_id;
        source = "TenantId";
    }
    if (!id && conf->map) {
        id = tt_map_lookup(conf->map, r->hostname, r);
        source = "TenantMap";
    }
    if (!id && conf->header) {
        const char *value = apr_table_get(r->headers_in, conf->header);
        if (value && tt_trusted_peer(conf, r->connection)) {
            if (!tt_header_may_name(conf, value)) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10986)
                              "%s names tenant \"%.80s\", which TenantHeaderTenants does not allow "
                              "on this vhost: 403", conf->header, ap_escape_logitem(r->pool, value));
                return HTTP_FORBIDDEN;
            }
            id = value;
            source = conf->header;
        } else if (value) {
            /* A client naming its own tenant (THREATS 22): ignored, and the
             * header removed so nothing downstream mistakes it for the truth. */
            if (tt_first_time_peer(r->connection->client_ip))
                ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, APLOGNO(10914)
                              "%s header from untrusted peer %s ignored (logged once "
                              "per peer)", conf->header, r->connection->client_ip);
            apr_table_unset(r->headers_in, conf->header);
        }
    }
    if (!id) {
        if (!conf->required) return DECLINED;
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10910)
                      "no tenant for host %s (TenantRequired On): 403",
                      r->hostname ? ap_escape_logitem(r->pool, r->hostname) : "(none)");
        return HTTP_FORBIDDEN;
    }
    api = tt_api();
    if (!api) {
        if (!__atomic_exchange_n(&tt_logged_missing, 1, __ATOMIC_RELAXED))
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10913)
                          "libsandbox is not preloaded: tenant requests are answered 503 "
                          "(logged once per process)");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if ((problem = api->sandbox_tenant_id_problem(id)) != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10911)
                      "invalid tenant id from %s: \"%.80s\" (%s): 403", source,
                      ap_escape_logitem(r->pool, id), problem);
        return HTTP_FORBIDDEN;
    }
    if (api->sandbox_current_tenant() != NULL) {
        /* A tag left by an earlier request of this thread whose end was
         * seen elsewhere or not at all (its EOS never passed this thread).
         * Apache runs one request at a time per thread and that request's
         * handler has returned, so none of its code can still need the
         * tag: clear it. Only if libsandbox refuses is the thread in doubt. */
        const char *stale = apr_pstrdup(r->pool, api->sandbox_current_tenant());
        rc = tt_clear_this_thread(NULL);
        if (rc != 0) {
            ap_log_rerror(APLOG_MARK, APLOG_CRIT, 0, r, APLOGNO(10916)
                          "tenant %s is still set in this thread and libsandbox refuses to "
                          "clear it (%d): 500, the worker exits",
                          ap_escape_logitem(r->pool, stale), rc);
            tt_poison(r->connection, r->server);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, APLOGNO(10925)
                      "tag of an earlier request (tenant %s) cleared before this request",
                      ap_escape_logitem(r->pool, stale));
    }
    tt_php_before_tenant(id);
    rc = api->sandbox_set_tenant(id);
    if (rc == -ENOENT || rc == -EINVAL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10912)
                      "tenant %s (from %s) is not admitted by the policy (%d): 403", id,
                      source, rc);
        return HTTP_FORBIDDEN;
    }
    if (rc != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10915)
                      "sandbox_set_tenant(%s) failed (%d): 503", id, rc);
        if (rc == -EBUSY) tt_poison(r->connection, r->server);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    st = apr_pcalloc(r->pool, sizeof(*st));
    st->tenant = apr_pstrdup(r->pool, id);
    st->set = 1;
    st->serial = __atomic_add_fetch(&tt_serial_counter, 1, __ATOMIC_RELAXED);
    tt_tls_owner = st->serial;
    st->c = r->connection;
    st->s = r->server;
    ap_set_module_config(r->request_config, &tenant_tag_module, st);
    (void)api->sandbox_set_request_context(r, r->server->server_hostname);  /* lines into its log */
    tt_audit_request_set(r, st, conf);  /* tt_audit.c: TenantSandbox Audit */
    /* Registered before any handler's cleanup, so it runs after them (LIFO):
     * mod_php's own r->pool cleanup still runs as the tenant. */
    apr_pool_cleanup_register(r->pool, st, tt_clear_cleanup, apr_pool_cleanup_null);
    apr_table_setn(r->subprocess_env, "TENANT_ID", st->tenant);
    /* A protocol-level filter, so it stays for an error response ap_die
     * sends (which resets r->output_filters to the protocol filters) and
     * for internal redirects (which share them). */
    ap_add_output_filter("TENANT_TAG_END", st, r, r->connection);
    if ((rc = tt_limit_admit(r, st->tenant, conf, &st->limit_ticket)) != DECLINED) return rc;  /* tt_limit.c */
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, APLOGNO(10921)
                  "tenant %s set (from %s)", st->tenant, source);
    return DECLINED;
}

/* The request's EOS: every content filter (tenant code included) has seen
 * it, and mod_php passes it only after php_request_shutdown. */
static apr_status_t tt_end_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    apr_bucket *b;
    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
        if (APR_BUCKET_IS_EOS(b)) {
            tt_clear(f->ctx);
            ap_remove_output_filter(f);
            break;
        }
    }
    return ap_pass_brigade(f->next, bb);
}

/* The operator's pages never answer inside a tenant's request, whatever
 * Require says: a tenant's .htaccess may name them (SetHandler is FileInfo),
 * and mod_status shows every tenant's requests. Runs before every other
 * handler, the kernel layer's included. */
static int tt_guard_handler(request_rec *r)
{
    tt_req_state *st;
    if (!r->handler || !tt_is_operator_handler(tt_conf(r->server), r->handler)) return DECLINED;
    st = tt_request_state(r);
    if (!st || !st->tenant) return DECLINED;
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10987)
                  "handler %s refused inside a request of tenant %s: it shows the whole server: 403",
                  ap_escape_logitem(r->pool, r->handler), st->tenant);
    return HTTP_FORBIDDEN;
}

static int tt_log_transaction(request_rec *r)
{
    tt_clear(ap_get_module_config(tt_root(r)->request_config, &tenant_tag_module));
    return DECLINED;
}

static void tt_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_check_config(tt_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(tt_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(tt_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(tt_post_read_request, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_handler(tt_guard_handler, NULL, NULL, APR_HOOK_REALLY_FIRST - 1);
    ap_hook_log_transaction(tt_log_transaction, NULL, NULL, APR_HOOK_REALLY_LAST);
    ap_register_output_filter("TENANT_TAG_END", tt_end_filter, NULL, AP_FTYPE_CONNECTION - 1);
    tt_kernel_register_hooks(p);  /* tt_kernel.c */
    tt_audit_register_hooks(p);   /* tt_audit.c */
    tt_status_register_hooks(p);  /* tt_status.c: SetHandler tenant-status */
    tt_limit_register_hooks(p);   /* tt_limit.c */
    tt_php_register_hooks(p);     /* tt_php.c: TenantPHPAdminValue */
}

module AP_MODULE_DECLARE_DATA tenant_tag_module = {
    STANDARD20_MODULE_STUFF,
    NULL,                    /* per-directory config: the tenant is never a directory's */
    NULL,
    tt_create_server_config,
    tt_merge_server_config,
    tt_directives,
    tt_register_hooks,
#if defined(AP_MODULE_FLAG_NONE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
