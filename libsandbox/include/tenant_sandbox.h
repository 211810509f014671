/*
 * tenant_sandbox.h -- the C API of libsandbox (DESIGN.md "C API").
 *
 * libsandbox is preloaded (LD_PRELOAD) into every Apache process. The module
 * (or the tenant-sandbox CLI) claims control once per process, loads the
 * policy, and sets the tenant of the calling thread for each request; while
 * a tenant is set, every file, network and exec call the thread makes through
 * libc is checked against that tenant's rules.
 *
 * Every function is extern "C", never throws and returns 0 or a negative
 * errno. The module finds them with dlsym(RTLD_DEFAULT, ...) (its one
 * resolver is generated from sandbox_api.def), so it can tell whether
 * libsandbox is preloaded at all (and refuse tenant requests when it is
 * not).
 */
#ifndef TENANT_SANDBOX_H
#define TENANT_SANDBOX_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Called once per process by the module (or the CLI) before any tenant is
 * set. The calling shared object becomes the only one allowed to set or
 * clear tenants; the same calls from anywhere else (PHP FFI, a loaded
 * extension) return -EPERM and change nothing. -EPERM as well when control
 * was already claimed by another object, or in a process a tenant started. */
int sandbox_claim_control(void);

/* Sets the tenant of the calling thread. -EINVAL: invalid id; -ENOENT: the
 * policy does not admit it (or no policy is loaded); -EBUSY: another tenant
 * is still set in this thread; -EPERM: caller is not the claimant. */
int sandbox_set_tenant(const char *tenant_id);

/* Clears the calling thread's tenant. tenant_id NULL: whatever is set.
 * An id that is not the current one: -EINVAL, nothing cleared. */
int sandbox_clear_tenant(const char *tenant_id);

/* The calling thread's tenant, or NULL when none is set. */
const char *sandbox_current_tenant(void);

/* Loads (or replaces) the policy. On failure the old policy stays in force
 * and err receives a NUL-terminated message naming the location of every
 * error (truncated to errlen). Threads keep the rules they were set with
 * until their tenant is cleared. */
int sandbox_load_policy(const char *path, char *err, size_t errlen);

/* ---- extension (not in DESIGN.md's C API) ----------------------------
 * The module's channel for what only it knows about a request: its
 * UNIQUE_ID (mod_unique_id), written into every denial line as request=ID,
 * and the vhost's `TenantSandbox Audit` switch. Applies to the tenant set in
 * the calling thread (and the threads and processes that request starts);
 * sandbox_clear_tenant drops it.
 *
 * request_id: NULL or "" leaves the id as it is; else 1 to 64 printable
 * ASCII characters without space, '"' or '\'.
 * flags: 0 or SANDBOX_REQUEST_AUDIT -- every check of this request only logs
 * ("audit", "(audit mode: allowed)") and allows. Audit is one-way for the
 * request: a later call with flags 0 does not end it.
 * -EPERM: caller is not the claimant, or a process a tenant started;
 * -EINVAL: bad id, unknown flag, or no tenant set in this thread. */
#define SANDBOX_REQUEST_AUDIT 1
int sandbox_set_request_info(const char *request_id, int flags);

/* ---- extensions for the server (mod_tenant_tag) ------------------------
 * libsandbox is the one control plane: the module is C glue over these
 * functions and keeps no rules, tables or threads of its own. Unless said
 * otherwise they are claimant only (-EPERM from anyone else, and in a process
 * a tenant started), never throw, and return 0 or a negative errno. The
 * table of every function is sandbox_api.def. */

/* NULL when `id` is a valid tenant id (1 to 64 of [A-Za-z0-9._-], the first a
 * letter or digit), else a static text saying what is wrong. Any caller. */
const char *sandbox_tenant_id_problem(const char *id);

/* Denial lines through the server's own log. The module registers a sink
 * once, in the parent before any request (inherited by the workers), and
 * hands libsandbox each request's handle (its request_rec) right after
 * setting the tenant: libsandbox then calls sink(request_ctx, audit, line,
 * len) with the line (tenant-sandbox: deny tenant=... op=... target=...
 * errno=... rule=... request=..., no newline) instead of writing it to
 * stderr, so Apache's ErrorLogFormat, the vhost's ErrorLog, piped loggers
 * and the client address apply. Lines of processes a tenant started, and of
 * threads without the handle, still go to stderr, in the form of Apache's
 * default ErrorLogFormat. sandbox_clear_tenant drops the handle. Claimant
 * only. */
typedef void (*sandbox_log_sink)(void *request_ctx, int audit, const char *line, size_t len);
int sandbox_set_log_sink(sandbox_log_sink sink);
/* vhost (may be NULL): the request's server name, written as vhost=NAME in
 * its lines (at most 128 printable characters without space or quotes). */
int sandbox_set_request_context(void *request_ctx, const char *vhost);  /* -EINVAL: no tenant set here */

/* Flags of the calling thread's tenant, or -ENOENT when none is set. Any
 * caller (it only describes the caller's own thread). */
#define SANDBOX_TENANT_AUDIT 1 /* policy "mode": "audit", or SANDBOX_REQUEST_AUDIT */
int sandbox_tenant_flags(void);

/* What the server tells libsandbox about itself: in the Apache parent after
 * the claim and after the policy is loaded, at every start and graceful
 * restart. Opens the shared tables under STATE_DIR (requests in progress,
 * denial counters, connection budget) so that every worker inherits them,
 * records what the status page shows about the server, and passes Apache's
 * access file names. A field added later goes at the end; `size` tells
 * libsandbox which fields the caller knows. -EINVAL: bad size. A table that
 * cannot be opened is not an error of this call: err names it (the caller
 * logs it) and requests of capped tenants are refused later (fail closed). */
struct sandbox_server_config {
    size_t size;              /* sizeof(struct sandbox_server_config) */
    const char *policy_path;  /* TenantPolicy (status page) */
    int policy_ok;            /* 0: the last load of policy_path was refused (the old one is in force) */
    const char *kernel_note;  /* status page: what the kernel layer does here, or NULL */
    /* Apache's access files (AccessFileName values, space-separated; NULL:
     * ".htaccess"). Apache's directory walk opens them in every directory
     * where AllowOverride is not None, also ABOVE a tenant's root (the
     * operator's /srv/www/.htaccess). In a directory above a tenant's allowed
     * paths such a file may be read while the tenant is set -- absent reads
     * as absent (ENOENT), present is read as the operator wrote it -- and is
     * never written, listed or followed as a symlink there. Without this, an
     * AllowOverride above the tenants' folders made Apache answer every
     * tenant request 403/500 (AH00529). */
    const char *access_files;
    int first_start;          /* 1 at the first start: slots of processes that are gone are freed */
    /* Apache's User and Group (-1: unknown). The state folder and tables get
     * this group. And libsandbox.so must be readable by them: a program a
     * tenant starts loads it afresh as that user, and a loader that cannot
     * read it runs the program without it -- sandbox_server_start checks
     * and returns -EACCES (err says why and the fix); the exec wrappers
     * refuse such a start as well. */
    int worker_uid;
    int worker_gid;
    /* The server's own doors (docs/threat-model.md 24): NULL-terminated
     * lists. closed_doors: Apache's listeners and the operator's additions
     * ("127.0.0.1:8080", "[::1]:8080", "*:8080" for a listener on 0.0.0.0 or
     * ::, "/run/proxy.sock"); a tenant's connect or send to one is refused
     * whatever its ip_allow or unix_sockets say. open_doors: "NAME ADDR"
     * entries the operator opened again (a local API). -EINVAL and err
     * naming it for a door that does not parse. */
    const char *const *closed_doors;
    const char *const *open_doors;
};

/* NULL when `door` is a valid door (ADDR:PORT, [V6]:PORT, *:PORT or an
 * absolute unix socket path), else what is expected. Any caller. */
const char *sandbox_door_problem(const char *door);
int sandbox_server_start(const struct sandbox_server_config *cfg, char *err, size_t errlen);

/* In each new worker, before its first request, from a thread with no tenant
 * (child_init): notes the process as the owner of the request slots it will
 * take, and with SANDBOX_WORKER_KERNEL applies the kernel layer's worker
 * baseline (no capabilities, not dumpable, no_new_privs, a process-wide
 * seccomp filter) and starts the confined request threads. report receives
 * what was put in force, or why not. -errno when the kernel part failed:
 * the caller must then refuse tenant requests (fail closed). */
#define SANDBOX_WORKER_KERNEL 1
int sandbox_worker_start(int flags, char *report, size_t reportlen);

/* The Apache parent reaped worker `pid`: the requests it still counted (a
 * SIGKILL mid-request) go back to their tenants' max_requests. Returns how
 * many (>= 0). */
int sandbox_worker_exited(int pid);

/* max_requests for the calling thread's tenant: counts one request in
 * progress, over every worker. -ENOENT: no tenant set. */
#define SANDBOX_ADMITTED 0     /* counted: pass ticket to sandbox_request_done */
#define SANDBOX_OVER_LIMIT 1   /* at its cap: refuse (enforce) */
#define SANDBOX_NOT_COUNTED 2  /* no table or no room: refuse only if capped and enforced */
#define SANDBOX_NO_CAP 0xffffffffu
struct sandbox_admission {
    int verdict;               /* SANDBOX_ADMITTED, SANDBOX_OVER_LIMIT, SANDBOX_NOT_COUNTED */
    unsigned ticket;           /* 0: nothing to release */
    unsigned cap;              /* the tenant's max_requests, or SANDBOX_NO_CAP */
    unsigned in_progress;      /* the tenant's count after this decision */
    unsigned long long refused;/* the tenant's refusals so far */
    int enforce;               /* 0: audit (the policy's mode or the request's) */
    int over_cap;              /* admitted above the cap (audit) */
    int log_now;               /* first over-limit event of the tenant this second */
    char why[256];             /* SANDBOX_NOT_COUNTED: why, naming the table's path */
};
int sandbox_request_admit(struct sandbox_admission *out);
/* The request ended; 0 is ignored, releasing twice is harmless. */
int sandbox_request_done(unsigned ticket);

/* What the running kernel offers ("landlock ABI 7: fs, net(tcp), scopes
 * (signal, abstract-unix); seccomp: yes"). Any caller. */
int sandbox_kernel_support(char *out, size_t outlen);

/* Runs fn(arg) on a thread of this worker confined for the calling thread's
 * tenant -- Landlock from the tenant's paths plus a per-thread seccomp
 * filter, one-way; one such thread per tenant, kept and reused, never
 * shared with another tenant -- and waits for it. For the call the confined
 * thread carries the caller's tenant exactly (request id, audit switch,
 * connection budget). 0 once fn ran, with msg set to the ruleset report the
 * first time this tenant's confinement is built in this process (else "");
 * -errno when no confined thread could run it: fn did not run, msg says
 * why. -ENOENT: no tenant set; -EOPNOTSUPP: the tenant or request is audit
 * (a ruleset could only deny): run fn on the calling thread instead. fn
 * returns NULL, or non-NULL to have its thread retired after the call. */
int sandbox_run_confined(void *(*fn)(void *), void *arg, char *msg, size_t msglen);

/* The status page (the same rows as `tenant-sandbox status`): malloc'd,
 * NUL-terminated (free() it), its length in *len; at most `top` tenants
 * with rows of their own (0: the default), only `tenant` when not NULL
 * (JSON). NULL on failure (errno set). Claimant only, and never inside a
 * tenant's request (-EPERM as errno): it shows every tenant. */
#define SANDBOX_STATUS_HTML 0
#define SANDBOX_STATUS_JSON 1
#define SANDBOX_STATUS_PROMETHEUS 2
char *sandbox_status_render(int format, size_t top, const char *tenant, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* TENANT_SANDBOX_H */
