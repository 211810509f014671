// Real-function resolution, thread and process tenant state, the denial log.
#include "runtime.hpp"

#include <sys/syscall.h>
#include <time.h>

#include <array>
#include <cstdio>
#include <cstring>

#include "fdtable.hpp"
#include "internal.hpp"
#include "tenant/tenant_id.hpp"
#include "tenant/wire.hpp"

namespace sb {

thread_local ThreadState t_state __attribute__((tls_model("initial-exec"))) = {nullptr, ThreadKind::Unknown, 0};
std::atomic<ActiveTenant*> g_process_tenant{nullptr};
std::atomic<bool> g_supervised{false};
ActiveTenant* g_deny_all = nullptr;

namespace {

RealFunctions g_real;
std::atomic<bool> g_resolved{false};
pthread_once_t g_resolve_once = PTHREAD_ONCE_INIT;
char g_library_path[4096];

[[noreturn]] void die(const char* what, const char* name) noexcept {
  char line[256];
  int n = std::snprintf(line, sizeof line, "tenant-sandbox: fatal: %s: %s\n", what, name);
  if (n > 0) (void)!::write(2, line, static_cast<size_t>(n));
  ::abort();
}

void resolve_all() noexcept {
  InternalScope internal;
  // dlsym(RTLD_NEXT) from inside libsandbox finds the next definition after
  // us in the lookup order: libc's. Getting our own wrapper back means a
  // second copy of libsandbox is ahead of us; calling it would recurse.
#define SB_SYM(cat, variant, ret, name, params)                                     \
  {                                                                                 \
    void* p = ::dlsym(RTLD_NEXT, #name);                                            \
    if (p != nullptr && p == reinterpret_cast<void*>(&::name)) die("real function resolves to libsandbox itself", #name); \
    g_real.name = reinterpret_cast<ret(*) params>(p);                               \
  }
#include "interpose.def"
#undef SB_SYM
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&resolve_all), &info) != 0 && info.dli_fname != nullptr)
    std::snprintf(g_library_path, sizeof g_library_path, "%s", info.dli_fname);
  g_resolved.store(true, std::memory_order_release);
}

// Coarse monotonic seconds: the dedup window needs no precision, and the
// coarse clock is a vDSO read without a system call.
std::uint64_t now_seconds() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec);
}

constexpr std::size_t kDedupSlots = 4096;  // power of two
constexpr std::uint64_t kDedupWindowSeconds = 10;
struct DedupSlot {
  std::atomic<std::uint64_t> key{0};
  std::atomic<std::uint64_t> stamp{0};
};
std::array<DedupSlot, kDedupSlots> g_dedup;

std::uint64_t fnv1a(std::uint64_t h, std::string_view s) noexcept {
  for (char ch : s) {
    h ^= static_cast<unsigned char>(ch);
    h *= 1099511628211ull;
  }
  return h ^ 0xff;  // separator, so ("ab","c") != ("a","bc")
}

}  // namespace

const RealFunctions& real() noexcept {
  if (!g_resolved.load(std::memory_order_acquire)) ::pthread_once(&g_resolve_once, resolve_all);
  return g_real;
}

const char* library_path() noexcept {
  (void)real();
  return g_library_path;
}

PreparedTenant* prepare_tenant(std::unique_ptr<const tenant::TenantContext> ctx) noexcept {
  try {
    auto* p = new PreparedTenant;
    const std::size_t n = ctx->areas().size();
    p->area_fds = std::make_unique<std::atomic<int>[]>(n);
    p->area_dev = std::make_unique<std::atomic<std::uint64_t>[]>(n);
    p->area_ino = std::make_unique<std::atomic<std::uint64_t>[]>(n);
    for (std::size_t i = 0; i < n; ++i) {
      p->area_fds[i].store(-1, std::memory_order_relaxed);
      p->area_dev[i].store(0, std::memory_order_relaxed);
      p->area_ino[i].store(0, std::memory_order_relaxed);
    }
    p->ctx = std::move(ctx);
    return p;
  } catch (...) {
    return nullptr;
  }
}

void release(PreparedTenant* p) noexcept {
  if (p == nullptr || p->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  InternalScope internal;
  ErrnoKeeper keep;
  const std::size_t n = p->ctx ? p->ctx->areas().size() : 0;
  for (std::size_t i = 0; i < n; ++i) {
    const int fd = p->area_fds[i].exchange(-1, std::memory_order_acq_rel);
    if (fd >= 0) {
      fds::unmark_internal(fd);
      SB_REAL(close)(fd);
    }
  }
  delete p;
}

ActiveTenant* make_active(PreparedTenant* p) noexcept {
  static std::atomic<std::uint64_t> serial{0};
  if (p == nullptr) return nullptr;
  try {
    auto* t = new ActiveTenant;
    p->refs.fetch_add(1, std::memory_order_relaxed);
    t->prepared = p;
    t->ctx = p->ctx.get();
    t->area_fds = p->area_fds.get();
    t->serial = serial.fetch_add(1, std::memory_order_relaxed) + 1;
    return t;
  } catch (...) {
    return nullptr;
  }
}

ActiveTenant* make_active(std::unique_ptr<const tenant::TenantContext> ctx) noexcept {
  PreparedTenant* p = prepare_tenant(std::move(ctx));
  ActiveTenant* t = make_active(p);
  release(p);  // the tag holds its own reference
  return t;
}

void retain(ActiveTenant* t) noexcept {
  if (t != nullptr) t->refs.fetch_add(1, std::memory_order_relaxed);
}

void release(ActiveTenant* t) noexcept {
  if (t == nullptr || t == g_deny_all) return;
  if (t->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  release(t->prepared);
  delete t;
}

namespace {

// ---- per-tenant log budget -------------------------------------------------
// The dedup above stops one target from repeating; it does not stop a tenant
// from walking 10,000 distinct paths a second (a scanner, a tight loop over
// glob results), which would fill the error log and cost every worker the
// write(2)s. So each tenant may write at most g_line_budget lines (500) per
// g_budget_window seconds (10) per process (per process: the table lives in this
// process's memory and workers do not coordinate; N workers may write N
// times the budget). Lines over it are counted, not written, and one
// summary line per kind reports them when the tenant's next line comes after
// the window ended, or at process exit:
//
//   tenant-sandbox: deny tenant=site-a suppressed=9872 window=10s
//
// (no "op=", so `learn` skips it; "deny tenant=ID" so a grep for the
// tenant's denials finds it). Counting is exact: the denial counters
// (note_denial) see every denial, and every suppressed line is in exactly
// one summary. Each tenant has its own slot (open addressing on the hash of
// its id), so another tenant's flood never spends B's budget. A full table
// (kBudgetSlots tenants flooding at once in one process) writes the line
// rather than lose it.
constexpr std::size_t kBudgetSlots = 256;  // power of two
constexpr std::size_t kBudgetProbe = 16;
// 500 per 10 s: far above what a site's normal denials produce (so
// `learn` sees everything during an audit rollout), far below a flood.
// TENANT_SANDBOX_LOG_BUDGET=LINES/SECONDS changes it (control.cpp).
std::uint32_t g_line_budget = 500;
std::uint32_t g_budget_window = 10;  // seconds

struct BudgetSlot {
  std::atomic<std::uint64_t> key{0};     // fnv1a of the tenant id | 1; 0: free
  std::atomic<std::uint64_t> window{0};  // now / g_budget_window of the counts below
  std::atomic<std::uint32_t> written{0};
  std::atomic<std::uint64_t> suppressed[2] = {};  // [0] deny, [1] audit
  char id[tenant::kMaxTenantIdLen + 1] = {};       // for the summary at exit
};
std::array<BudgetSlot, kBudgetSlots> g_budget;

BudgetSlot* budget_slot(std::uint64_t key, std::string_view id, std::uint64_t window) noexcept {
  for (std::size_t i = 0; i < kBudgetProbe; ++i) {
    BudgetSlot& s = g_budget[(key + i) & (kBudgetSlots - 1)];
    std::uint64_t k = s.key.load(std::memory_order_acquire);
    if (k == key) return &s;
    // Free, or left by a tenant whose last line is two windows old and has
    // nothing left to report: take it over.
    const bool stale = k != 0 && s.window.load(std::memory_order_relaxed) + 1 < window &&
                       s.suppressed[0].load(std::memory_order_relaxed) == 0 &&
                       s.suppressed[1].load(std::memory_order_relaxed) == 0;
    if (k != 0 && !stale) continue;
    if (s.key.compare_exchange_strong(k, key, std::memory_order_acq_rel)) {
      const std::size_t n = id.size() < tenant::kMaxTenantIdLen ? id.size() : tenant::kMaxTenantIdLen;
      std::memcpy(s.id, id.data(), n);
      s.id[n] = '\0';
      s.window.store(window, std::memory_order_relaxed);
      s.written.store(0, std::memory_order_relaxed);
      return &s;
    }
    if (k == key) return &s;  // another thread of the same tenant claimed it
  }
  return nullptr;
}

// ---- where a line goes -------------------------------------------------------
// In a worker, the module's sink (sandbox_set_log_sink): Apache's own log
// for the request (ap_log_rerror: ErrorLogFormat, the vhost's ErrorLog,
// piped loggers, the client address). Elsewhere -- a process a tenant
// started, `tenant-sandbox run`, a thread without the request's context --
// fd 2 (Apache's main ErrorLog in a worker's children) in the same form
// Apache's default ErrorLogFormat gives a line:
//   [Wed Dec 02 18:03:29.292579 2026] [tenant_sandbox:error] [pid 7690:tid 7690] tenant-sandbox: deny ...
std::atomic<sandbox_log_sink> g_sink{nullptr};
std::atomic<pid_t> g_pid{0};     // this process (refreshed after fork: atfork)
long g_utc_offset = 0;           // local time, as at load (children load afresh)

void note_pid() noexcept {
  const auto pid = static_cast<pid_t>(::syscall(SYS_getpid));
  g_pid.store(pid, std::memory_order_relaxed);
  tenant::set_own_pid(pid);
}

struct LineBuf {
  char buf[1200];
  std::size_t pos = 0;
  void add(const char* s, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n && pos + 1 < sizeof buf; ++i) buf[pos++] = s[i];
  }
  void add(const char* s) noexcept { add(s, std::strlen(s)); }
  void num(std::uint64_t v, int width = 0) noexcept {
    char d[24];
    int n = 0;
    do {
      d[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0 && n < 23);
    while (n < width && n < 23) d[n++] = '0';
    while (n > 0 && pos + 1 < sizeof buf) buf[pos++] = d[--n];
  }
};

// Apache's error-log time stamp: "Wed Dec 02 18:03:29.292579 2026".
void add_time(LineBuf& b) noexcept {
  static const char* const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  // gmtime_r of a shifted clock: localtime_r may read a zone file named by
  // an environment a tenant changed (TZ); the offset was taken at load.
  const time_t local = ts.tv_sec + g_utc_offset;
  tm t{};
  ::gmtime_r(&local, &t);
  b.add(days[t.tm_wday % 7]);
  b.add(" ");
  b.add(months[t.tm_mon % 12]);
  b.add(" ");
  b.num(static_cast<std::uint64_t>(t.tm_mday), 2);
  b.add(" ");
  b.num(static_cast<std::uint64_t>(t.tm_hour), 2);
  b.add(":");
  b.num(static_cast<std::uint64_t>(t.tm_min), 2);
  b.add(":");
  b.num(static_cast<std::uint64_t>(t.tm_sec), 2);
  b.add(".");
  b.num(static_cast<std::uint64_t>(ts.tv_nsec / 1000), 6);
  b.add(" ");
  b.num(static_cast<std::uint64_t>(t.tm_year + 1900));
}

void emit_line(const ActiveTenant* t, bool audit, const char* line, std::size_t len) noexcept {
  const sandbox_log_sink sink = g_sink.load(std::memory_order_acquire);
  void* ctx = t != nullptr ? t->log_ctx.load(std::memory_order_acquire) : nullptr;
  if (sink != nullptr && ctx != nullptr && t->log_pid == g_pid.load(std::memory_order_relaxed)) {
    InternalScope internal;  // Apache's logging is not the tenant's work
    sink(ctx, audit ? 1 : 0, line, len);
    return;
  }
  LineBuf b;
  b.add("[");
  add_time(b);
  b.add(audit ? "] [tenant_sandbox:warn] [pid " : "] [tenant_sandbox:error] [pid ");
  b.num(static_cast<std::uint64_t>(g_pid.load(std::memory_order_relaxed)));
  b.add(":tid ");
  b.num(static_cast<std::uint64_t>(::syscall(SYS_gettid)));
  b.add("] ");
  b.add(line, len);
  b.buf[b.pos++] = '\n';  // LineBuf::add keeps one byte free
  (void)!::write(2, b.buf, b.pos);
}

void write_summary(const ActiveTenant* t, std::string_view id, bool audit, std::uint64_t n) noexcept {
  char line[200];
  const std::size_t len = tenant::wire::format_suppressed(line, sizeof line, id, audit, n, g_budget_window);
  emit_line(t, audit, line, len);
}

void flush_slot(const ActiveTenant* t, BudgetSlot& s, std::string_view id) noexcept {
  for (int kind = 0; kind < 2; ++kind)
    if (const std::uint64_t n = s.suppressed[kind].exchange(0, std::memory_order_acq_rel); n != 0)
      write_summary(t, id, kind == 1, n);
}

// true: write the line. Rolls the tenant's window first (writing the
// summary of the one that ended), then spends one line of the budget.
bool within_budget(const ActiveTenant* t, std::uint64_t key, std::string_view id, bool audit,
                   std::uint64_t now) noexcept {
  const std::uint64_t window = now / g_budget_window;
  BudgetSlot* s = budget_slot(key, id, window);
  if (s == nullptr) return true;
  std::uint64_t w = s->window.load(std::memory_order_acquire);
  if (w != window && s->window.compare_exchange_strong(w, window, std::memory_order_acq_rel)) {
    s->written.store(0, std::memory_order_relaxed);
    flush_slot(t, *s, id);
  }
  if (s->written.fetch_add(1, std::memory_order_relaxed) < g_line_budget) return true;
  s->suppressed[audit ? 1 : 0].fetch_add(1, std::memory_order_relaxed);
  return false;
}

// Process exit: what is still counted is reported (a worker that ends
// mid-flood, a CLI run). Best effort -- a process killed by a signal
// writes nothing.
__attribute__((destructor)) void flush_budgets_at_exit() noexcept {
  ErrnoKeeper keep;
  for (BudgetSlot& s : g_budget)
    if (s.key.load(std::memory_order_acquire) != 0) flush_slot(nullptr, s, s.id);
}

}  // namespace

void set_log_budget(std::uint32_t lines, std::uint32_t window_seconds) noexcept {
  if (lines != 0) g_line_budget = lines;
  if (window_seconds != 0) g_budget_window = window_seconds;
}

bool refuse(const ActiveTenant& t, const char* op, tenant::Need need, std::string_view target, int err,
            const char* why) noexcept {
  ErrnoKeeper keep;
  // Audit: the tenant's policy says so, or the request does (TenantSandbox
  // Audit, passed in through sandbox_set_request_info).
  const bool audit = t.ctx->mode() == tenant::Mode::Audit || t.request_audit();
  note_denial(t, need, audit, op, target, err);  // status.cpp: counts and the last denial
  const std::uint64_t tenant_key = fnv1a(14695981039346656037ull, t.ctx->id()) | 1;
  std::uint64_t h = tenant_key;
  // An audit line never hides behind a deny line of the same target (a
  // request of an Audit vhost right after an enforcing one): learn needs it.
  h = fnv1a(h, audit ? "a" : "d");
  h = fnv1a(h, op);
  h = fnv1a(h, target);
  h |= 1;  // 0 marks an empty slot
  DedupSlot& slot = g_dedup[h & (kDedupSlots - 1)];
  const std::uint64_t now = now_seconds();
  if (slot.key.load(std::memory_order_relaxed) == h &&
      now - slot.stamp.load(std::memory_order_relaxed) < kDedupWindowSeconds)
    return !audit;
  slot.key.store(h, std::memory_order_relaxed);
  slot.stamp.store(now, std::memory_order_relaxed);
  if (!within_budget(&t, tenant_key, t.ctx->id(), audit, now)) return !audit;

  tenant::wire::Denial d;
  d.audit = audit;
  d.tenant = t.ctx->id();
  d.op = op;
  d.need = tenant::need_name(need);
  d.target = target;
  const char* ename = ::strerrorname_np(err);
  d.err = ename != nullptr ? ename : "?";
  if (why != nullptr) d.rule = why;
  // The request's UNIQUE_ID (mod_unique_id), so a line can be joined with
  // the access log's %{UNIQUE_ID}e. Validated printable when it was set.
  if (const std::size_t n = t.request_id_len.load(std::memory_order_acquire); n != 0)
    d.request = std::string_view(t.request_id, n);
  if (const std::size_t n = t.vhost_len.load(std::memory_order_acquire); n != 0) d.vhost = std::string_view(t.vhost, n);
  char line[1024];
  const std::size_t len = tenant::wire::format_denial(line, sizeof line, d);
  emit_line(&t, audit, line, len);
  return !audit;
}

void set_log_sink(sandbox_log_sink sink) noexcept { g_sink.store(sink, std::memory_order_release); }

pid_t process_pid() noexcept { return g_pid.load(std::memory_order_relaxed); }

namespace {
// Runs before main in the main thread (and lazily from the first wrapper if
// another constructor calls libc first): resolve, mark the main thread as
// a System thread, and let a process started by a tenant lock itself to it.
__attribute__((constructor)) void libsandbox_init() noexcept {
  (void)real();
  note_pid();
  ::pthread_atfork(nullptr, nullptr, note_pid);
  {
    const time_t now = ::time(nullptr);
    tm lt{};
    if (::localtime_r(&now, &lt) != nullptr) g_utc_offset = lt.tm_gmtoff;
  }
  if (::syscall(SYS_gettid) == ::getpid()) t_state.kind = ThreadKind::System;
  if (g_deny_all == nullptr) g_deny_all = make_active(tenant::TenantContext::deny_all());
  control_init();
}
}  // namespace

}  // namespace sb
