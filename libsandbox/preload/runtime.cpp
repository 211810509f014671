// Real-function resolution, thread and process tenant state, the denial log.
#include "runtime.hpp"

#include <sys/syscall.h>
#include <time.h>

#include <array>
#include <cstdio>
#include <cstring>

#include "fdtable.hpp"
#include "internal.hpp"

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

// Appends `s` quoted: printable ASCII as is, '"' and '\\' escaped, anything
// else as \xNN, so a hostile file name cannot forge or split a log line.
std::size_t append_quoted(char* out, std::size_t pos, std::size_t cap, std::string_view s) noexcept {
  static const char hex[] = "0123456789abcdef";
  auto put = [&](char c) {
    if (pos + 1 < cap) out[pos++] = c;
  };
  put('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (pos + 8 >= cap) {
      put('.'), put('.'), put('.');
      break;
    }
    if (c == '"' || c == '\\') {
      put('\\'), put(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      put('\\'), put('x'), put(hex[c >> 4]), put(hex[c & 15]);
    } else {
      put(static_cast<char>(c));
    }
  }
  put('"');
  return pos;
}

std::size_t append(char* out, std::size_t pos, std::size_t cap, std::string_view s) noexcept {
  for (char c : s)
    if (pos + 1 < cap) out[pos++] = c;
  return pos;
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

ActiveTenant* make_active(std::unique_ptr<const tenant::TenantContext> ctx) noexcept {
  static std::atomic<std::uint64_t> serial{0};
  try {
    auto* t = new ActiveTenant;
    const std::size_t n = ctx->areas().size();
    t->area_fds = std::make_unique<std::atomic<int>[]>(n);
    for (std::size_t i = 0; i < n; ++i) t->area_fds[i].store(-1, std::memory_order_relaxed);
    t->ctx = std::move(ctx);
    t->serial = serial.fetch_add(1, std::memory_order_relaxed) + 1;
    return t;
  } catch (...) {
    return nullptr;
  }
}

void retain(ActiveTenant* t) noexcept {
  if (t != nullptr) t->refs.fetch_add(1, std::memory_order_relaxed);
}

void release(ActiveTenant* t) noexcept {
  if (t == nullptr || t == g_deny_all) return;
  if (t->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  InternalScope internal;
  ErrnoKeeper keep;
  const std::size_t n = t->ctx ? t->ctx->areas().size() : 0;
  for (std::size_t i = 0; i < n; ++i) {
    int fd = t->area_fds[i].exchange(-1, std::memory_order_acq_rel);
    if (fd >= 0) {
      fds::unmark_internal(fd);
      SB_REAL(close)(fd);
    }
  }
  delete t;
}

bool refuse(const ActiveTenant& t, const char* op, tenant::Need need, std::string_view target, int err,
            const char* why) noexcept {
  ErrnoKeeper keep;
  const bool audit = t.ctx->mode() == tenant::Mode::Audit;
  note_denial(t, need, audit, op, target, err);  // status.cpp: counts and the last denial
  std::uint64_t h = 14695981039346656037ull;
  h = fnv1a(h, t.ctx->id());
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

  char line[1024];
  std::size_t pos = 0;
  const std::size_t cap = sizeof line - 1;  // room for '\n'
  pos = append(line, pos, cap, audit ? "tenant-sandbox: audit tenant=" : "tenant-sandbox: deny tenant=");
  pos = append(line, pos, cap, t.ctx->id());
  pos = append(line, pos, cap, " op=");
  pos = append(line, pos, cap, op);
  pos = append(line, pos, cap, " need=");
  pos = append(line, pos, cap, tenant::need_name(need));
  pos = append(line, pos, cap, " target=");
  pos = append_quoted(line, pos, cap - 120, target);
  pos = append(line, pos, cap, " errno=");
  const char* ename = ::strerrorname_np(err);
  pos = append(line, pos, cap, ename != nullptr ? ename : "?");
  if (why != nullptr) {
    pos = append(line, pos, cap, " rule=");
    pos = append_quoted(line, pos, cap, why);
  }
  if (audit) pos = append(line, pos, cap, " (audit mode: allowed)");
  line[pos++] = '\n';
  (void)!::write(2, line, pos);
  return !audit;
}

namespace {
// Runs before main in the main thread (and lazily from the first wrapper if
// another constructor calls libc first): resolve, mark the main thread as
// a System thread, and let a process started by a tenant lock itself to it.
__attribute__((constructor)) void libsandbox_init() noexcept {
  (void)real();
  if (::syscall(SYS_gettid) == ::getpid()) t_state.kind = ThreadKind::System;
  if (g_deny_all == nullptr) g_deny_all = make_active(tenant::TenantContext::deny_all());
  control_init();
}
}  // namespace

}  // namespace sb
