// Native probe of the kernel layers (issue 4; THREATS 4, 6, 15, 20, 21).
//
//   kernel_confine_probe ROOT POLICY STATIC_BINARY
//
// Run by run_probe.sh (fixture tree, policy kernel_confine.policy.json) with
// no preload library at all: every attempt below goes straight to the
// kernel, so only tenant_kernel can stop it. Each check runs twice in a
// fresh forked child: first UNCONFINED, where it must succeed (the attempt
// is real and the fixture is right), then CONFINED (confine_thread for the
// tenant, or apply_worker_baseline), where it must fail with the expected
// errno. Checks of the tenant's own rights must succeed both times.
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/seccomp.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/ptrace.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kernel_confine.hpp"
#include "kernel_confine_c.h"
#include "tenant/context.hpp"
#include "tenant/policy.hpp"

namespace {

std::string g_root;
std::string g_static;                // path of the static binary
std::vector<char> g_static_image;    // its bytes, read before any confinement
pid_t g_sibling = -1;
std::string g_abstract;              // abstract socket name the sibling listens on
volatile long g_marker = 0x5eed1234;  // same address in the sibling (forked)
const tenant::TenantContext* g_site_a = nullptr;
const tenant::TenantContext* g_site_php = nullptr;
int g_passed = 0, g_failed = 0;

std::string p(const char* rel) { return g_root + "/" + rel; }
int err_or_ok(long rc) { return rc < 0 ? errno : 0; }

// ---- attempts: 0 on success, else the errno ---------------------------------

int raw_openat(const std::string& path, int flags) {
  const long fd = syscall(SYS_openat, AT_FDCWD, path.c_str(), flags | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  close(static_cast<int>(fd));
  return 0;
}

int raw_openat2(const std::string& path) {
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC;
  const long fd = syscall(SYS_openat2, AT_FDCWD, path.c_str(), &how, sizeof how);
  if (fd < 0) return errno;
  close(static_cast<int>(fd));
  return 0;
}

struct Ring {
  int fd = -1;
  io_uring_params params{};
  char* sq = nullptr;
  char* cq = nullptr;
  io_uring_sqe* sqes = nullptr;
};

int ring_setup(Ring& r) {
  const long fd = syscall(SYS_io_uring_setup, 4, &r.params);
  if (fd < 0) return errno;
  r.fd = static_cast<int>(fd);
  const io_uring_params& pr = r.params;
  size_t sq_size = pr.sq_off.array + pr.sq_entries * sizeof(unsigned);
  const size_t cq_size = pr.cq_off.cqes + pr.cq_entries * sizeof(io_uring_cqe);
  const bool single = (pr.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single && cq_size > sq_size) sq_size = cq_size;
  void* sq = mmap(nullptr, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r.fd, IORING_OFF_SQ_RING);
  if (sq == MAP_FAILED) return errno;
  r.sq = static_cast<char*>(sq);
  if (single) {
    r.cq = r.sq;
  } else {
    void* cq = mmap(nullptr, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r.fd, IORING_OFF_CQ_RING);
    if (cq == MAP_FAILED) return errno;
    r.cq = static_cast<char*>(cq);
  }
  void* sqes = mmap(nullptr, pr.sq_entries * sizeof(io_uring_sqe), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_POPULATE, r.fd, IORING_OFF_SQES);
  if (sqes == MAP_FAILED) return errno;
  r.sqes = static_cast<io_uring_sqe*>(sqes);
  return 0;
}

// IORING_OP_OPENAT with raw system calls (no liburing): the open runs in the
// kernel's io_uring context, never through a libc wrapper.
int ring_openat(Ring& r, const std::string& path) {
  auto* tail = reinterpret_cast<unsigned*>(r.sq + r.params.sq_off.tail);
  auto* mask = reinterpret_cast<unsigned*>(r.sq + r.params.sq_off.ring_mask);
  auto* array = reinterpret_cast<unsigned*>(r.sq + r.params.sq_off.array);
  const unsigned idx = *tail & *mask;
  io_uring_sqe* sqe = &r.sqes[idx];
  std::memset(sqe, 0, sizeof *sqe);
  sqe->opcode = IORING_OP_OPENAT;
  sqe->fd = AT_FDCWD;
  sqe->addr = reinterpret_cast<unsigned long>(path.c_str());
  sqe->open_flags = O_RDONLY | O_CLOEXEC;
  array[idx] = idx;
  __atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
  if (syscall(SYS_io_uring_enter, r.fd, 1, 1, IORING_ENTER_GETEVENTS, nullptr, 0) < 0) return errno;
  auto* head = reinterpret_cast<unsigned*>(r.cq + r.params.cq_off.head);
  auto* cmask = reinterpret_cast<unsigned*>(r.cq + r.params.cq_off.ring_mask);
  auto* cqes = reinterpret_cast<io_uring_cqe*>(r.cq + r.params.cq_off.cqes);
  const int res = cqes[*head & *cmask].res;
  __atomic_store_n(head, *head + 1, __ATOMIC_RELEASE);
  if (res < 0) return -res;
  close(res);
  return 0;
}

int uring_open(const std::string& path) {
  Ring r;
  if (int e = ring_setup(r)) return e;
  return ring_openat(r, path);
}

int exec_static() {
  char* argv[] = {const_cast<char*>("static-hello"), nullptr};
  execv(g_static.c_str(), argv);
  return errno;
}

int memfd_exec(unsigned flags) {
  const int fd = static_cast<int>(syscall(SYS_memfd_create, "payload", flags));
  if (fd < 0) return errno;
  if (write(fd, g_static_image.data(), g_static_image.size()) != static_cast<ssize_t>(g_static_image.size())) {
    return errno;
  }
  char* argv[] = {const_cast<char*>("memfd"), nullptr};
  char* envp[] = {nullptr};
  syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
  return errno;
}

int ptrace_sibling() {
  if (ptrace(PTRACE_ATTACH, g_sibling, nullptr, nullptr) != 0) return errno;
  int st = 0;
  waitpid(g_sibling, &st, __WALL);
  ptrace(PTRACE_DETACH, g_sibling, nullptr, nullptr);
  return 0;
}

int vm_read_sibling() {
  long v = 0;
  iovec local{&v, sizeof v};
  iovec remote{const_cast<long*>(&g_marker), sizeof v};
  if (process_vm_readv(g_sibling, &local, 1, &remote, 1, 0) < 0) return errno;
  return v == 0x5eed1234 ? 0 : EIO;
}

int mem_read_sibling() {
  const std::string path = "/proc/" + std::to_string(g_sibling) + "/mem";
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  long v = 0;
  const ssize_t n = pread(fd, &v, sizeof v, static_cast<off_t>(reinterpret_cast<uintptr_t>(&g_marker)));
  const int e = errno;
  close(fd);
  if (n < 0) return e;
  return v == 0x5eed1234 ? 0 : EIO;
}

int connect_abstract() {
  const int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path + 1, g_abstract.data(), g_abstract.size());
  const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + g_abstract.size());
  const int rc = connect(s, reinterpret_cast<sockaddr*>(&a), len) == 0 ? 0 : errno;
  close(s);
  return rc;
}

int make_socket(int family, int type, int proto) {
  const int s = socket(family, type | SOCK_CLOEXEC, proto);
  if (s < 0) return errno;
  close(s);
  return 0;
}

int tcp_bind() {
  const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int rc = bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
  close(s);
  return rc;
}

int sysv_shm() {
  const int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
  if (id < 0) return errno;
  shmctl(id, IPC_RMID, nullptr);
  return 0;
}

struct ThreadArg {
  std::function<int()> fn;
  int result = -1;
};
void* thread_main(void* a) {
  auto* t = static_cast<ThreadArg*>(a);
  t->result = t->fn();
  return nullptr;
}
int in_new_thread(std::function<int()> fn) {
  ThreadArg t{std::move(fn)};
  pthread_t th;
  if (pthread_create(&th, nullptr, thread_main, &t) != 0) return EAGAIN;
  pthread_join(th, nullptr);
  return t.result;
}


// The module's way: the request runs on a thread from start_confined_thread.
struct SpawnJob {
  std::function<int()> fn;
  int result = -1;
};
void* spawn_main(void* a) {
  auto* j = static_cast<SpawnJob*>(a);
  j->result = j->fn();
  return nullptr;
}
int in_spawned_thread(const tenant::TenantContext& ctx, std::function<int()> fn) {
  auto c = tenant::kernel::Confinement::prepare(ctx);
  if (!c) return 252;
  SpawnJob j{std::move(fn)};
  pthread_t th;
  if (tenant::kernel::start_confined_thread(*c.value(), spawn_main, &j, &th) != 0) return 253;
  pthread_join(th, nullptr);
  return j.result;
}

int in_spawned_thread_with(const tenant::kernel::Confinement& c, std::function<int()> fn) {
  SpawnJob j{std::move(fn)};
  pthread_t th;
  if (tenant::kernel::start_confined_thread(c, spawn_main, &j, &th) != 0) return 253;
  pthread_join(th, nullptr);
  return j.result;
}

// The module's way since the pool: run_on_tenant_thread (confined_pool.cpp).
struct PoolJob {
  std::function<int()> fn;
  int result = -1;
  long tid = 0;
};
void* pool_main(void* a) {
  auto* j = static_cast<PoolJob*>(a);
  j->tid = syscall(SYS_gettid);
  j->result = j->fn();
  return nullptr;
}
// fn's result, or 253 when no pooled thread ran it; *tid: the thread's id.
int in_pooled_thread(const char* tenant, const tenant::kernel::Confinement& c, std::function<int()> fn,
                     long* tid = nullptr) {
  PoolJob j{std::move(fn)};
  if (tenant::kernel::run_on_tenant_thread(tenant, c, pool_main, &j) != 0) return 253;
  if (tid != nullptr) *tid = j.tid;
  return j.result;
}
bool task_exists(long tid) {
  struct stat st {};
  return stat(("/proc/self/task/" + std::to_string(tid)).c_str(), &st) == 0;
}

// getpid through the i386 entry (int 0x80): a deny list of x86_64 numbers
// would not match i386 numbers, so the filter must refuse the whole ABI.
int int80_getpid() {
  long ret = 20;  // __NR_getpid on i386
  __asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
  if (ret < 0) return static_cast<int>(-ret);
  return ret == getpid() ? 0 : EIO;
}

// ---- harness ---------------------------------------------------------------

enum class Layer { ThreadA, ThreadPhp, Baseline };

// 0..255: exit code of the child; 300+sig when it died of a signal.
int run_child(const std::function<int()>& fn) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) _exit(fn() & 0xff);
  int st = 0;
  if (waitpid(pid, &st, 0) < 0) return 299;
  if (WIFSIGNALED(st)) return 300 + WTERMSIG(st);
  return WEXITSTATUS(st);
}

int confine(Layer layer) {
#ifdef KERNEL_PROBE_WITHOUT_LAYER
  // Self-check build: no confinement at all. Every "denied" check must then
  // FAIL, proving the probe measures the layer, not the fixture.
  (void)layer;
  return 0;
#endif
  if (layer == Layer::Baseline) {
    auto r = tenant::kernel::apply_worker_baseline();
    if (!r) {
      std::fprintf(stderr, "  apply_worker_baseline: %s\n", r.error().str().c_str());
      return 250;
    }
    return 0;
  }
  const tenant::TenantContext& ctx = layer == Layer::ThreadA ? *g_site_a : *g_site_php;
  auto r = tenant::kernel::confine_thread(ctx);
  if (!r) {
    std::fprintf(stderr, "  confine_thread: %s\n", r.error().str().c_str());
    return 251;
  }
  return 0;
}

const char* errname(int e) {
  switch (e) {
    case 0: return "ok";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EXDEV: return "EXDEV";
    case 77: return "worker fd untouched";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    default: return nullptr;
  }
}
std::string show(int code) {
  if (code >= 300) return std::string("killed by signal ") + std::to_string(code - 300);
  if (code == 250 || code == 251) return "confinement failed";
  const char* n = errname(code);
  return n != nullptr ? n : ("errno/exit " + std::to_string(code));
}

void report(bool ok, const std::string& name, const std::string& detail) {
  std::printf("%s %s: %s\n", ok ? "PASS" : "FAIL", name.c_str(), detail.c_str());
  (ok ? g_passed : g_failed)++;
}

// Must succeed unconfined and fail with `expect` once `layer` is applied.
void denied(const std::string& name, Layer layer, int expect, const std::function<int()>& attempt) {
  const int free_rc = run_child(attempt);
  const int conf_rc = run_child([&] {
    if (int c = confine(layer)) return c;
    return attempt();
  });
  const bool ok = free_rc == 0 && conf_rc == expect;
  report(ok, name, "unconfined " + show(free_rc) + ", confined " + show(conf_rc) +
                       (ok ? "" : " (expected unconfined ok, confined " + show(expect) + ")"));
}

// For entry points this kernel may not have at all (IA32 emulation, x32):
// when the unconfined attempt fails, the check cannot be real here: SKIP.
void denied_if_available(const std::string& name, Layer layer, int expect, const std::function<int()>& attempt) {
  const int free_rc = run_child(attempt);
  if (free_rc != 0) {
    std::printf("SKIP %s: not available on this kernel (unconfined %s)\n", name.c_str(), show(free_rc).c_str());
    return;
  }
  denied(name, layer, expect, attempt);
}

// The tenant's own rights: must succeed both ways.
void allowed(const std::string& name, Layer layer, const std::function<int()>& attempt) {
  const int free_rc = run_child(attempt);
  const int conf_rc = run_child([&] {
    if (int c = confine(layer)) return c;
    return attempt();
  });
  const bool ok = free_rc == 0 && conf_rc == 0;
  report(ok, name, "unconfined " + show(free_rc) + ", confined " + show(conf_rc));
}

// For attempts that confine themselves part-way: fn(false) must succeed,
// fn(true) must end with `expect`.
void staged(const std::string& name, int expect, const std::function<int(bool)>& fn) {
  const int free_rc = run_child([&] { return fn(false); });
  const int conf_rc = run_child([&] { return fn(true); });
  const bool ok = free_rc == 0 && conf_rc == expect;
  report(ok, name, "unconfined " + show(free_rc) + ", confined " + show(conf_rc) +
                       (ok ? "" : " (expected unconfined ok, confined " + show(expect) + ")"));
}

void start_sibling() {
  g_abstract = "ts-kernel-probe-" + std::to_string(getpid());
  int ready[2];
  if (pipe(ready) != 0) std::abort();
  g_sibling = fork();
  if (g_sibling == 0) {
    close(ready[0]);
    const int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path + 1, g_abstract.data(), g_abstract.size());
    const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + g_abstract.size());
    if (bind(s, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(s, 64) != 0) _exit(1);
    if (write(ready[1], "r", 1) != 1) _exit(1);
    for (;;) {
      const int c = accept(s, nullptr, nullptr);
      if (c >= 0) close(c);
    }
  }
  close(ready[1]);
  char b = 0;
  if (read(ready[0], &b, 1) != 1) {
    std::fprintf(stderr, "sibling did not start\n");
    std::exit(2);
  }
  close(ready[0]);
}

std::string run_php(Layer layer, const std::string& code) {
  int out[2];
  if (pipe(out) != 0) return "pipe failed";
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    close(out[0]);
    dup2(out[1], 1);
    dup2(out[1], 2);
    if (layer == Layer::ThreadPhp) {
      if (confine(Layer::Baseline) != 0 || confine(Layer::ThreadPhp) != 0) _exit(251);
    }
    execl("/usr/bin/php8.2", "php8.2", "-r", code.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  std::string s;
  char buf[512];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  close(out[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return s + "[exit " + std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : 300 + WTERMSIG(st)) + "]";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s ROOT POLICY STATIC_BINARY\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  g_static = argv[3];
  setvbuf(stdout, nullptr, _IOLBF, 0);
  {
    FILE* f = std::fopen(g_static.c_str(), "rb");
    if (f == nullptr) return 2;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) g_static_image.insert(g_static_image.end(), buf, buf + n);
    std::fclose(f);
  }
  auto policy = tenant::Policy::load_file(argv[2]);
  if (!policy) {
    for (const auto& e : policy.error()) std::fprintf(stderr, "policy: %s\n", e.str().c_str());
    return 2;
  }
  auto a = tenant::TenantContext::create(*policy.value(), "site-a");
  auto php = tenant::TenantContext::create(*policy.value(), "site-php");
  if (!a || !php) {
    std::fprintf(stderr, "cannot create contexts\n");
    return 2;
  }
  g_site_a = a.value().get();
  g_site_php = php.value().get();

  const tenant::kernel::KernelSupport ks = tenant::kernel::probe();
  std::printf("kernel: %s (errata 0x%x)\n", ks.describe().c_str(), static_cast<unsigned>(ks.landlock_errata));
  if (ks.landlock_abi < 6) {
    std::printf("note: Landlock ABI %d < 6: scope checks are expected to fail here\n", ks.landlock_abi);
  }
  {
    auto prep = tenant::kernel::Confinement::prepare(*g_site_a);
    if (prep) std::printf("site-a confinement: %s\n", prep.value()->report().describe().c_str());
  }
  start_sibling();

  const Layer A = Layer::ThreadA;
  const std::string secret = p("www/site-b/secret.txt");
  std::printf("-- confine_thread(site-a): raw system calls on another tenant (THREATS 4)\n");
  denied("syscall(SYS_openat) site-b/secret.txt", A, EACCES, [&] { return raw_openat(secret, O_RDONLY); });
  denied("syscall(SYS_openat2) site-b/secret.txt", A, EACCES, [&] { return raw_openat2(secret); });
  denied("syscall(SYS_openat, O_CREAT) site-b/new.txt", A, EACCES,
         [&] { return raw_openat(p("www/site-b/new.txt"), O_WRONLY | O_CREAT); });
  denied("syscall(SYS_openat) site-ab/file.txt (prefix trap)", A, EACCES,
         [&] { return raw_openat(p("www/site-ab/file.txt"), O_RDONLY); });
  denied("syscall(SYS_openat) outside/other.txt", A, EACCES,
         [&] { return raw_openat(p("outside/other.txt"), O_RDONLY); });
  denied("syscall(SYS_openat, O_WRONLY) shared/ro/readme.txt", A, EACCES,
         [&] { return raw_openat(p("shared/ro/readme.txt"), O_WRONLY); });
  // THREATS 8: hard links and renames that would carry another tenant's
  // file into the tenant's tree (where it would gain the tree's rights).
  denied("syscall(SYS_linkat) site-b/secret.txt -> site-a/tmp/hl.txt", A, EXDEV, [&] {
    const std::string dst = p("www/site-a/tmp/hl.txt");
    const long rc = syscall(SYS_linkat, AT_FDCWD, secret.c_str(), AT_FDCWD, dst.c_str(), 0);
    if (rc == 0) unlink(dst.c_str());
    return err_or_ok(rc);
  });
  {
    const std::string mv = p("www/site-b/mv.txt");
    const int fd = open(mv.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) close(fd);
  }
  denied("syscall(SYS_renameat2) site-b/mv.txt -> site-a/tmp/mv.txt", A, EACCES, [&] {
    const std::string src = p("www/site-b/mv.txt"), dst = p("www/site-a/tmp/mv.txt");
    const long rc = syscall(SYS_renameat2, AT_FDCWD, src.c_str(), AT_FDCWD, dst.c_str(), 0);
    if (rc == 0) rename(dst.c_str(), src.c_str());  // put it back for the confined run
    return err_or_ok(rc);
  });
  // THREATS 8-9: Landlock decides on the object the kernel resolves, so a
  // symlink planted in the tenant's own tree or a /proc magic link does not
  // lead out of it.
  {
    const std::string ln = p("www/site-a/tmp/ln-secret");
    if (symlink(secret.c_str(), ln.c_str()) != 0 && errno != EEXIST) std::perror("symlink");
  }
  denied("syscall(SYS_openat) own-tree symlink -> site-b/secret.txt", A, EACCES,
         [&] { return raw_openat(p("www/site-a/tmp/ln-secret"), O_RDONLY); });
  denied("syscall(SYS_openat) /proc/self/root + site-b/secret.txt", A, EACCES,
         [&] { return raw_openat("/proc/self/root" + secret, O_RDONLY); });
  denied("open /proc/<sibling>/mem", A, EACCES, mem_read_sibling);
  denied("io_uring_setup", A, ENOSYS, [] {
    Ring r;
    return ring_setup(r);
  });
  denied("io_uring IORING_OP_OPENAT site-b/secret.txt", A, ENOSYS, [&] { return uring_open(secret); });
  staged("io_uring ring set up before confinement, OPENAT after", ENOSYS, [&](bool confined) {
    Ring r;
    if (int e = ring_setup(r)) return e + 100;  // the worker may hold a ring from before
    if (confined) {
      if (int c = confine(Layer::ThreadA)) return c;
    }
    return ring_openat(r, secret);
  });
  std::printf("-- leaving the process image (THREATS 6)\n");
  denied("execv(static binary), exec list empty", A, EACCES, exec_static);
  denied("memfd_create + execveat(AT_EMPTY_PATH), exec list empty", A, EACCES, [] { return memfd_exec(0); });
  denied("execv(static binary) not on the exec list [php8.2]", Layer::ThreadPhp, EACCES, exec_static);
  denied("memfd_create + execveat, exec list [php8.2]", Layer::ThreadPhp, EACCES, [] { return memfd_exec(0); });
  denied("memfd_create(MFD_EXEC) + execveat, exec list [php8.2]", Layer::ThreadPhp, EACCES,
         [] { return memfd_exec(0x10u); });
  std::printf("-- same-uid siblings (THREATS 15, 20)\n");
  denied("ptrace(PTRACE_ATTACH, sibling)", A, EPERM, ptrace_sibling);
  denied("process_vm_readv(sibling)", A, EPERM, vm_read_sibling);
  denied("kill(sibling, 0)", A, EPERM, [] { return err_or_ok(kill(g_sibling, 0)); });
  denied("kill(sibling, SIGCONT)", A, EPERM, [] { return err_or_ok(kill(g_sibling, SIGCONT)); });
  denied("connect(abstract unix socket of sibling)", A, EPERM, connect_abstract);
  denied("shmget(IPC_PRIVATE) (SysV shm)", A, EACCES, sysv_shm);
  denied("setpriority(PRIO_PROCESS, sibling, 19)", A, EPERM,
         [] { return err_or_ok(setpriority(PRIO_PROCESS, static_cast<id_t>(g_sibling), 0)); });
  denied("seccomp(SET_MODE_FILTER, TSYNC) onto the worker's other threads", A, EPERM, [] {
    sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    sock_fprog prog{1, &allow};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    return err_or_ok(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog));
  });
  denied("prctl(0x1_00000004 = PR_SET_DUMPABLE with high bits, 1) after baseline", Layer::Baseline, EPERM, [] {
    return err_or_ok(syscall(SYS_prctl, 0x100000004L, 1L, 0L, 0L, 0L));
  });
  std::printf("-- sockets and TCP servers\n");
  denied("socket(AF_NETLINK)", A, EACCES, [] { return make_socket(AF_NETLINK, SOCK_RAW, 0); });
  denied("socket(AF_PACKET)", A, EACCES, [] { return make_socket(AF_PACKET, SOCK_RAW, 0); });
  denied("bind(127.0.0.1:0) TCP", A, EACCES, tcp_bind);
  std::printf("-- inheritance and scope of the confinement\n");
  denied("thread started after confinement: openat site-b", A, EACCES,
         [&] { return in_new_thread([&] { return raw_openat(secret, O_RDONLY); }); });
  denied("child forked after confinement: openat site-b", A, EACCES, [&] {
    const int rc = run_child([&] { return raw_openat(secret, O_RDONLY); });
    return rc;
  });
  // Not TSYNC: a confined thread leaves its process's other threads free
  // (the worker's main thread must serve the next tenant).
  staged("other thread of a process whose thread confined itself: openat site-b", 0, [&](bool confined) {
    const int t = in_new_thread([&] {
      if (confined) {
        if (int c = confine(Layer::ThreadA)) return c;
        return raw_openat(secret, O_RDONLY) == EACCES ? 0 : 1;
      }
      return 0;
    });
    if (t != 0) return 200 + t;
    return raw_openat(secret, O_RDONLY);
  });
  std::printf("-- the tenant's own rights still work confined\n");
  allowed("read site-a/file.txt", A, [&] { return raw_openat(p("www/site-a/file.txt"), O_RDONLY); });
  allowed("read site-a/sub/inner.txt via openat2", A, [&] { return raw_openat2(p("www/site-a/sub/inner.txt")); });
  allowed("create site-a/tmp/new.txt", A,
          [&] { return raw_openat(p("www/site-a/tmp/new.txt"), O_WRONLY | O_CREAT | O_TRUNC); });
  allowed("read shared/ro/readme.txt", A, [&] { return raw_openat(p("shared/ro/readme.txt"), O_RDONLY); });
  allowed("read /etc/hosts (system baseline)", A, [] { return raw_openat("/etc/hosts", O_RDONLY); });
  allowed("write /dev/null with O_TRUNC", A, [] { return raw_openat("/dev/null", O_WRONLY | O_TRUNC); });
  allowed("socket(AF_INET6) and socket(AF_UNIX)", A, [] {
    if (int e = make_socket(AF_INET6, SOCK_STREAM, 0)) return e;
    return make_socket(AF_UNIX, SOCK_DGRAM, 0);
  });
  allowed("kill(own process, 0)", A, [] { return err_or_ok(kill(getpid(), 0)); });

  std::printf("-- start_confined_thread (spawner-inherited seccomp + Landlock in the new thread)\n");
  staged("request thread: syscall(SYS_openat) site-b/secret.txt", EACCES, [&](bool confined) {
    auto fn = [&] { return raw_openat(secret, O_RDONLY); };
    return confined ? in_spawned_thread(*g_site_a, fn) : in_new_thread(fn);
  });
  staged("request thread: io_uring_setup", ENOSYS, [&](bool confined) {
    auto fn = [] {
      Ring r;
      return ring_setup(r);
    };
    return confined ? in_spawned_thread(*g_site_a, fn) : in_new_thread(fn);
  });
  staged("request thread: execv(static binary), exec list empty", EACCES, [&](bool confined) {
    return confined ? in_spawned_thread(*g_site_a, exec_static) : in_new_thread(exec_static);
  });
  staged("request thread: kill(sibling, 0)", EPERM, [&](bool confined) {
    auto fn = [] { return err_or_ok(kill(g_sibling, 0)); };
    return confined ? in_spawned_thread(*g_site_a, fn) : in_new_thread(fn);
  });
  staged("request thread: memfd + execveat, exec list [php8.2]", EACCES, [&](bool confined) {
    auto fn = [] { return memfd_exec(0); };
    return confined ? in_spawned_thread(*g_site_php, fn) : in_new_thread(fn);
  });
  staged("request threads of two tenants in turn; the worker thread stays free", 0, [&](bool confined) {
    if (confined) {
      if (in_spawned_thread(*g_site_a, [&] { return raw_openat(p("www/site-a/file.txt"), O_RDONLY); }) != 0) return 1;
      if (in_spawned_thread(*g_site_a, [&] { return raw_openat(secret, O_RDONLY); }) != EACCES) return 2;
      if (in_spawned_thread(*g_site_php, [&] { return raw_openat(secret, O_RDONLY); }) != EACCES) return 3;
    }
    return raw_openat(secret, O_RDONLY);  // the worker's own thread
  });
  staged("request thread: own file still readable", 0, [&](bool confined) {
    auto fn = [&] { return raw_openat(p("www/site-a/file.txt"), O_RDONLY); };
    return confined ? in_spawned_thread(*g_site_a, fn) : in_new_thread(fn);
  });

  staged("C facade: tenant_kernel_prepare + tenant_kernel_start_thread, openat site-b", EACCES, [&](bool confined) {
    auto fn = [&] { return raw_openat(secret, O_RDONLY); };
    if (!confined) return in_new_thread(fn);
    tenant_kernel_confinement* c = nullptr;
    char msg[512];
    if (tenant_kernel_prepare(g_site_a, nullptr, nullptr, nullptr, &c, msg, sizeof msg) != 0) return 252;
    SpawnJob j{fn};
    pthread_t th;
    const int rc = tenant_kernel_start_thread(c, spawn_main, &j, &th);
    tenant_kernel_free(c);
    if (rc != 0) return 253;
    pthread_join(th, nullptr);
    return j.result;
  });

  std::printf("-- a pinned Confinement reused across requests (per-tenant cache)\n");
  staged("pinned ruleset fd: request thread cannot dup2 over it, close it or close_range it", EBADF,
         [&](bool confined) {
    auto c = tenant::kernel::Confinement::prepare(*g_site_a);
    if (!c || c.value()->pin() != 0) return 251;
    const int fd = c.value()->ruleset_fd();
    if (fd < tenant::kernel::reserved_fd_floor()) return 249;
    auto attack = [fd] {
      if (dup2(0, fd) != fd) return errno;  // swap something else in
      return 0;
    };
    if (!confined) return in_new_thread(attack);
    auto all = [fd] {
      if (close(fd) == 0) return 1;
      if (errno != EBADF) return 2;
      if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0) return 3;
      if (dup3(0, fd, O_CLOEXEC) == fd) return 4;
      return dup2(0, fd) == fd ? 0 : errno;
    };
    const int rc = in_spawned_thread_with(*c.value(), all);
    if (rc != EBADF) return rc == 0 ? 5 : rc;
    // and the cached confinement still confines the next request
    if (in_spawned_thread_with(*c.value(), [&] { return raw_openat(secret, O_RDONLY); }) != EACCES) return 6;
    if (in_spawned_thread_with(*c.value(), [&] { return raw_openat(p("www/site-a/file.txt"), O_RDONLY); }) != 0) return 7;
    return EBADF;
  });

  // THREATS 18 with raw dup2: a request thread swaps its own file in for
  // the worker's fd 2 (Apache's ErrorLog), so later log lines of other
  // tenants' requests land in the tenant's file. Without a private fd table
  // the confined thread can (the "unconfined" run below); with
  // ConfineOptions::private_fd_table it only changes its own copy.
  staged("private_fd_table: request thread dup2 over the worker's fd 2 (error log; first run: option off, hijack works)", 77, [&](bool with_private) {
    const std::string f = p("www/site-a/tmp/hijack.txt");
    const int fd = open(f.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return 250;
    struct stat want {};
    fstat(fd, &want);
    tenant::kernel::ConfineOptions o;
    o.private_fd_table = with_private;
    auto c = tenant::kernel::Confinement::prepare(*g_site_a, o);
    if (!c) return 251;
    const int rc = in_spawned_thread_with(*c.value(), [fd] { return dup2(fd, 2) == 2 ? 0 : errno; });
    if (rc != 0) return 200 + rc;  // the dup2 itself works either way
    struct stat now {};
    fstat(2, &now);
    const bool hijacked = now.st_ino == want.st_ino && now.st_dev == want.st_dev;
    return hijacked ? 0 : 77;
  });
  std::printf("-- pooled confined threads (run_on_tenant_thread: one per tenant, reused)\n");
  staged("pooled: site-a's thread is reused, confined on every use, and never runs site-php", EACCES,
         [&](bool confined) {
    if (!confined) return raw_openat(secret, O_RDONLY);
    auto ca = tenant::kernel::Confinement::prepare(*g_site_a);
    auto cp = tenant::kernel::Confinement::prepare(*g_site_php);
    if (!ca || !cp || ca.value()->pin() != 0 || cp.value()->pin() != 0) return 251;
    long t1 = 0, t2 = 0, t3 = 0, t4 = 0;
    if (in_pooled_thread("site-a", *ca.value(), [&] { return raw_openat(secret, O_RDONLY); }, &t1) != EACCES) return 1;
    if (in_pooled_thread("site-a", *ca.value(), [&] { return raw_openat(secret, O_RDONLY); }, &t2) != EACCES) return 2;
    if (t1 != t2 || t1 == syscall(SYS_gettid)) return 3;  // reused, and not the caller's thread
    if (in_pooled_thread("site-php", *cp.value(), [&] { return raw_openat(secret, O_RDONLY); }, &t3) != EACCES) return 4;
    if (t3 == t1) return 5;  // another tenant: another thread
    if (in_pooled_thread("site-a", *ca.value(), [&] { return raw_openat(p("www/site-a/file.txt"), O_RDONLY); }, &t4) != 0) return 6;
    if (t4 != t1) return 7;
    const auto st = tenant::kernel::pool_stats();
    if (st.hits < 2 || st.misses < 2) return 8;
    return raw_openat(secret, O_RDONLY) == 0 ? EACCES : 9;  // the caller's own thread stays free
  });
  staged("pooled: admission + LRU eviction (max 1 thread): site-php's first request runs on a fresh thread, its second evicts site-a's thread (which exits); site-a's next request gets a new confined one", EACCES,
         [&](bool confined) {
    if (!confined) return raw_openat(secret, O_RDONLY);
    tenant::kernel::PoolOptions o;
    o.max_threads = 1;
    tenant::kernel::set_pool_options(o);
    auto ca = tenant::kernel::Confinement::prepare(*g_site_a);
    auto cp = tenant::kernel::Confinement::prepare(*g_site_php);
    if (!ca || !cp) return 251;
    long ta = 0, tp = 0, tp2 = 0, ta2 = 0, ta3 = 0;
    if (in_pooled_thread("site-a", *ca.value(), [] { return 0; }, &ta) != 0) return 1;
    // Pool full, site-php not seen lately: a fresh thread, site-a's stays.
    if (in_pooled_thread("site-php", *cp.value(), [&] { return raw_openat(secret, O_RDONLY); }, &tp) != EACCES) return 2;
    if (tp == ta || tenant::kernel::pool_stats().fresh != 1 || !task_exists(ta)) return 3;
    // Seen lately: admitted, site-a's thread is evicted and exits.
    if (in_pooled_thread("site-php", *cp.value(), [] { return 0; }, &tp2) != 0) return 4;
    if (tp2 == ta) return 5;
    for (int i = 0; i < 100 && task_exists(ta); ++i) usleep(10000);
    if (task_exists(ta)) return 6;  // evicted thread did not exit
    if (in_pooled_thread("site-a", *ca.value(), [] { return 0; }, &ta2) != 0) return 7;  // fresh again
    const int rc = in_pooled_thread("site-a", *ca.value(), [&] { return raw_openat(secret, O_RDONLY); }, &ta3);
    if (ta3 == tp2 || ta3 == ta) return 8;
    if (tenant::kernel::pool_stats().evictions < 2 || tenant::kernel::pool_stats().threads != 1) return 9;
    return rc;
  });
  staged("pooled: every signal blocked in a pooled thread (process signals go to the worker's thread)", 0,
         [&](bool confined) {
    auto fn = [] {
      sigset_t cur;
      pthread_sigmask(SIG_SETMASK, nullptr, &cur);
      return sigismember(&cur, SIGTERM) && sigismember(&cur, SIGUSR1) && sigismember(&cur, SIGPROF) ? 0 : 1;
    };
    if (!confined) return fn() == 1 ? 0 : 2;  // the caller's own mask: not blocked
    auto ca = tenant::kernel::Confinement::prepare(*g_site_a);
    if (!ca) return 251;
    return in_pooled_thread("site-a", *ca.value(), fn);
  });
  {
    // exit() with parked pooled threads of two tenants: immediate (no
    // condition variable or destructor waits for them).
    struct timespec t0 {}, t1 {};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const int rc = run_child([&] {
      auto ca = tenant::kernel::Confinement::prepare(*g_site_a);
      auto cp = tenant::kernel::Confinement::prepare(*g_site_php);
      if (!ca || !cp) return 251;
      if (in_pooled_thread("site-a", *ca.value(), [] { return 0; }) != 0) return 1;
      if (in_pooled_thread("site-php", *cp.value(), [] { return 0; }) != 0) return 2;
      std::exit(0);  // static destructors and atexit handlers run
    });
    clock_gettime(CLOCK_MONOTONIC, &t1);
    const double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    report(rc == 0 && ms < 2000, "pooled: exit() with parked confined threads is immediate",
           "exit " + show(rc) + " after " + std::to_string(static_cast<int>(ms)) + " ms");
  }
  std::printf("-- apply_worker_baseline (process-wide)\n");
  const Layer B = Layer::Baseline;
  denied("io_uring_setup", B, ENOSYS, [] {
    Ring r;
    return ring_setup(r);
  });
  denied_if_available("i386 entry: int 0x80 getpid (other ABI numbers)", B, ENOSYS, int80_getpid);
  denied_if_available("x32 entry: getpid | __X32_SYSCALL_BIT", B, ENOSYS, [] {
    return err_or_ok(syscall(39 | 0x40000000L));
  });
  denied("ptrace(PTRACE_ATTACH, sibling)", B, EPERM, ptrace_sibling);
  denied("process_vm_readv(sibling)", B, EPERM, vm_read_sibling);
  denied("prctl(PR_SET_DUMPABLE, 1)", B, EPERM, [] { return err_or_ok(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)); });
  denied("personality(ADDR_NO_RANDOMIZE)", B, EPERM, [] {
    const long old = syscall(SYS_personality, 0xffffffffUL);
    const int rc = err_or_ok(syscall(SYS_personality, 0x0040000UL));
    syscall(SYS_personality, old);
    return rc;
  });
  denied("unshare(CLONE_NEWUSER)", B, EPERM, [] { return err_or_ok(unshare(CLONE_NEWUSER)); });
  allowed("unshare(CLONE_FILES) still allowed (private fd tables)", B, [] { return err_or_ok(unshare(CLONE_FILES)); });
  denied("clone(CLONE_NEWUSER)", B, EPERM, [] {
    const long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, 0);
    if (pid == 0) _exit(0);
    if (pid < 0) return errno;
    waitpid(static_cast<pid_t>(pid), nullptr, 0);
    return 0;
  });
  denied("clone3 (flags unreadable by seccomp)", B, ENOSYS, [] {
    struct {
      unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    } args{};
    args.exit_signal = SIGCHLD;
    const long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) _exit(0);
    if (pid < 0) return errno;
    waitpid(static_cast<pid_t>(pid), nullptr, 0);
    return 0;
  });
  denied("capability use: open a 0000 file as root (CAP_DAC_OVERRIDE)", B, EACCES, [&] {
    const std::string f = p("www/site-a/tmp/mode0000");
    const int fd = open(f.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0);
    if (fd >= 0) close(fd);
    chmod(f.c_str(), 0);
    return raw_openat(f, O_RDONLY);
  });
  {
    const int rc = run_child([] {
      if (int c = confine(Layer::Baseline)) return c;
      FILE* f = std::fopen("/proc/self/status", "re");
      if (f == nullptr) return 2;
      char line[256];
      int bad = 0;
      while (std::fgets(line, sizeof line, f) != nullptr) {
        if (std::strncmp(line, "Cap", 3) == 0 && std::strncmp(line, "CapBnd", 6) != 0) {
          if (std::strtoull(std::strchr(line, ':') + 1, nullptr, 16) != 0) bad = 1;
        }
      }
      std::fclose(f);
      if (bad) return 3;
      if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) return 4;
      if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return 5;
      if (syscall(SYS_personality, 0xffffffffUL) < 0) return 6;  // the query stays allowed
      if (syscall(SYS_personality, 0UL) < 0) return 7;           // and PER_LINUX
      return in_new_thread([] { return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : 8; });
    });
    report(rc == 0, "baseline state: no capabilities, not dumpable, no_new_privs, personality query ok",
           rc == 0 ? "all verified" : "step " + std::to_string(rc) + " failed");
  }

  std::printf("-- PHP survives baseline + confine_thread (exec list [/usr/bin/php8.2, /bin/sh])\n");
  {
    const std::string code = "echo file_get_contents('" + p("www/site-a/file.txt") + "');";
    const std::string free_out = run_php(Layer::ThreadA, code);  // ThreadA here means: no confinement
    const std::string conf_out = run_php(Layer::ThreadPhp, code);
    const bool ok = free_out.rfind("A-DATA[exit 0]", 0) == 0 && conf_out.rfind("A-DATA[exit 0]", 0) == 0;
    report(ok, "php -r file_get_contents(own file)", "unconfined '" + free_out + "', confined '" + conf_out + "'");
    const std::string code_b = "var_dump(@file_get_contents('" + secret + "'));";
    const std::string free_b = run_php(Layer::ThreadA, code_b);
    const std::string conf_b = run_php(Layer::ThreadPhp, code_b);
    const bool ok_b = free_b.find("B-SECRET") != std::string::npos && conf_b.find("B-SECRET") == std::string::npos &&
                      conf_b.find("bool(false)") != std::string::npos;
    report(ok_b, "php -r file_get_contents(site-b) without the preload",
           "unconfined '" + free_b.substr(0, 40) + "', confined '" + conf_b.substr(0, 60) + "'");
    // popen -> posix_spawn -> clone3 (ENOSYS in the filter) -> glibc falls
    // back to clone; /bin/sh is on the list, cat is not.
    const std::string code_sh = "echo shell_exec('echo via-sh; cat " + secret + " 2>&1');";
    const std::string free_sh = run_php(Layer::ThreadA, code_sh);
    const std::string conf_sh = run_php(Layer::ThreadPhp, code_sh);
    const bool ok_sh = free_sh.find("B-SECRET") != std::string::npos && conf_sh.find("via-sh") != std::string::npos &&
                       conf_sh.find("B-SECRET") == std::string::npos;
    report(ok_sh, "php shell_exec: /bin/sh (listed) runs, cat (not listed) does not",
           "unconfined '" + free_sh.substr(0, 30) + "', confined '" + conf_sh.substr(0, 70) + "'");
    // What glibc and PHP read behind the scenes (the system read baseline):
    // resolver files, tzdata (Debian's PHP uses /usr/share/zoneinfo), gconv
    // modules, getrandom, mkstemp in the tenant's tree, proc_open.
    const std::string code_sys =
        "date_default_timezone_set('Europe/Berlin');"
        "$t = tempnam('" + p("www/site-a/tmp") + "', 'k');"
        "$po = proc_open(['/bin/sh', '-c', 'echo po'], [1 => ['pipe', 'w']], $pp);"
        "$pout = trim(stream_get_contents($pp[1])); proc_close($po);"
        "echo 'hosts=', gethostbyname('localhost'), ' tz=', date('T', 0),"
        "' iconv=', bin2hex(iconv('UTF-8', 'ISO-8859-15', \"\\u{20ac}\")), ' rnd=', strlen(random_bytes(4)),"
        "' tmp=', ($t !== false && strpos($t, '/site-a/tmp/') !== false) ? 'ok' : 'no', ' po=', $pout;";
    const std::string want = "hosts=127.0.0.1 tz=CET iconv=a4 rnd=4 tmp=ok po=po[exit 0]";
    const std::string free_sys = run_php(Layer::ThreadA, code_sys);
    const std::string conf_sys = run_php(Layer::ThreadPhp, code_sys);
    report(free_sys == want && conf_sys == want, "php: resolver, tzdata, iconv/gconv, random, tempnam, proc_open",
           "unconfined '" + free_sys + "', confined '" + conf_sys + "'");
  }

  std::printf("-- tenant-sandbox run style: apply() before exec with ConfineOptions::extra_exec\n");
  staged("extra_exec=[static binary]: the command runs, the exec list stays empty", 0, [&](bool confined) {
    if (confined) {
      tenant::kernel::ConfineOptions o;
      o.extra_exec.push_back(g_static);
      auto c = tenant::kernel::Confinement::prepare(*g_site_a, o);
      if (!c || c.value()->apply() != 0) return 251;
      // php8.2 is not the command and not on site-a's exec list
      if (run_child([] {
            execl("/usr/bin/php8.2", "php8.2", "-v", static_cast<char*>(nullptr));
            return errno;
          }) != EACCES) {
        return 240;
      }
    }
    return exec_static();
  });

  std::printf("-- known gaps of the kernel layer (informational, not counted)\n");
  {
    // Landlock (ABI <= 7) has no right for metadata changes: chmod, chown,
    // utimes, xattrs. A raw system call from a confined thread can change
    // another tenant's file mode/times (not its contents).
    const int rc = run_child([&] {
      if (int c = confine(A)) return c;
      return err_or_ok(syscall(SYS_fchmodat, AT_FDCWD, secret.c_str(), 0644));
    });
    std::printf("INFO fchmodat(site-b/secret.txt) from a confined thread: %s%s\n", show(rc).c_str(),
                rc == 0 ? " (GAP: only the preload layer checks chmod/chown/utimes/xattrs)" : "");
    // Nor for connecting to a pathname unix socket (ABI 7).
    const std::string sock = p("www/site-b/app.sock");
    const int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", sock.c_str());
    if (srv >= 0 && bind(srv, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(srv, 8) == 0) {
      const int rc2 = run_child([&] {
        if (int c = confine(A)) return c;
        const int s2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        return connect(s2, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
      });
      std::printf("INFO connect(site-b/app.sock) from a confined thread: %s%s\n", show(rc2).c_str(),
                  rc2 == 0 ? " (GAP: pathname unix sockets are the preload layer's; Landlock ABI 7 has no rule)" : "");
    }
    if (srv >= 0) close(srv);
  }

  kill(g_sibling, SIGKILL);
  waitpid(g_sibling, nullptr, 0);
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
