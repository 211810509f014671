// The seccomp programs (see seccomp_filters.hpp). Both are deny lists with
// default ALLOW: Apache, mod_php and the extensions make hundreds of
// different system calls, and an allow list that misses one kills a worker
// in production. What is refused below was chosen from a review of the
// x86_64 system call table (arch/x86/entry/syscalls/syscall_64.tbl, Linux
// 6.18): everything that reaches another process, the kernel's global
// state, or a file without a path check, and that no web worker uses.
//
// Other ABIs: a 64-bit process can still enter the kernel through int 0x80
// (i386 numbers) or with the x32 bit set, where every number means
// something else and a deny list would not match. libseccomp's x86_64
// program sends any architecture but x86_64 -- and x32 numbers -- to the
// "bad arch" action, which we set to ENOSYS: nothing on Debian's amd64
// userland uses them.
#include "seccomp_filters.hpp"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <initializer_list>

namespace tenant::kernel::detail {
namespace {

// memfd_create flags, Linux 6.3 (not in Debian 12's headers).
constexpr unsigned kMfdNoexecSeal = 0x0008u;

struct Denied {
  const char* name;
  int nr;    // x86_64 number, used when libseccomp 2.5 does not know the name
  int err;   // errno returned
};

// ---- the worker baseline (process-wide, applied once per worker) ----------
// Every entry is something no Apache worker or PHP request needs.
constexpr Denied kWorkerDenied[] = {
    // io_uring: IORING_OP_OPENAT / _CONNECT run in kernel context and never
    // pass a libc wrapper (THREATS 4). ENOSYS, not EPERM, so libraries that
    // probe for io_uring (libuv, liburing users) fall back to plain calls.
    {"io_uring_setup", 425, ENOSYS},
    {"io_uring_enter", 426, ENOSYS},
    {"io_uring_register", 427, ENOSYS},
    // Reaching a sibling worker's memory or files (THREATS 20): same uid, so
    // only dumpability and this filter stand in the way.
    {"ptrace", 101, EPERM},
    {"process_vm_readv", 310, EPERM},
    {"process_vm_writev", 311, EPERM},
    {"pidfd_getfd", 438, EPERM},      // copies an fd out of another process
    {"process_madvise", 440, EPERM},  // acts on another process's memory
    {"kcmp", 312, EPERM},             // compares other processes' fds/memory
    {"migrate_pages", 256, EPERM},    // moves another process's pages
    {"move_pages", 279, EPERM},
    // File handles skip path resolution entirely ("shocker"): no path, so
    // neither the preload layer nor Landlock's path rules would apply.
    {"open_by_handle_at", 304, EPERM},
    {"name_to_handle_at", 303, EPERM},
    // Kernel attack surface and exploitation primitives.
    {"bpf", 321, EPERM},
    {"perf_event_open", 298, EPERM},
    {"userfaultfd", 323, EPERM},  // stalls kernel copies: widens race windows
    {"kexec_load", 246, EPERM},
    {"kexec_file_load", 320, EPERM},
    {"reboot", 169, EPERM},
    {"init_module", 175, EPERM},
    {"finit_module", 313, EPERM},
    {"delete_module", 176, EPERM},
    {"swapon", 167, EPERM},
    {"swapoff", 168, EPERM},
    {"acct", 163, EPERM},
    {"quotactl", 179, EPERM},
    {"quotactl_fd", 443, EPERM},
    {"syslog", 103, EPERM},  // kernel log: addresses, other tenants' errors
    {"iopl", 172, EPERM},
    {"ioperm", 173, EPERM},
    {"modify_ldt", 154, EPERM},  // 16-bit segments; only Wine/DOSEMU use it
    {"uselib", 134, EPERM},      // a.out loader, a path that skips execve
    {"lookup_dcookie", 212, EPERM},
    {"vhangup", 153, EPERM},
    {"fanotify_init", 300, EPERM},  // would watch other tenants' file accesses
    // Mounts and namespaces: a new user namespace hands out capabilities
    // inside it and with them mount(2), and changes what paths mean.
    {"mount", 165, EPERM},
    {"umount2", 166, EPERM},
    {"pivot_root", 155, EPERM},
    {"chroot", 161, EPERM},
    {"move_mount", 429, EPERM},
    {"open_tree", 428, EPERM},
    {"fsopen", 430, EPERM},
    {"fsconfig", 431, EPERM},
    {"fsmount", 432, EPERM},
    {"fspick", 433, EPERM},
    {"mount_setattr", 442, EPERM},
    {"statmount", 457, EPERM},        // Linux 6.8: mount table of the system
    {"listmount", 458, EPERM},        // Linux 6.8
    {"open_tree_attr", 467, EPERM},   // Linux 6.15: open_tree with attributes
    {"setns", 308, EPERM},
    // unshare(2): refused per namespace flag below (with clone's), so that
    // unshare(CLONE_FILES) -- a private fd table for a request thread,
    // ConfineOptions::private_fd_table -- stays possible.
    // clone3 takes its flags in a struct seccomp cannot read, so it could
    // carry CLONE_NEWUSER. ENOSYS makes glibc (pthread_create, posix_spawn)
    // fall back to clone(2), whose flags are checked below.
    {"clone3", 435, ENOSYS},
    // Keyrings are per uid: every tenant would share the user keyring.
    {"keyctl", 250, EPERM},
    {"add_key", 248, EPERM},
    {"request_key", 249, EPERM},
    // The system clock and host identity.
    {"settimeofday", 164, EPERM},
    {"clock_settime", 227, EPERM},
    {"clock_adjtime", 305, EPERM},
    {"adjtimex", 159, EPERM},
    {"sethostname", 170, EPERM},
    {"setdomainname", 171, EPERM},
};

// ---- added for a confined request thread (EACCES, like a policy denial) ----
constexpr Denied kThreadDenied[] = {
    // SysV IPC objects are found by key or id and checked by uid only: a
    // tenant could attach another tenant's segments (THREATS 20). Apache's
    // own mutexes are pthread/fcntl on Debian and are used by the main
    // thread, never by the request thread.
    {"shmget", 29, EACCES},
    {"shmat", 30, EACCES},
    {"shmctl", 31, EACCES},
    {"semget", 64, EACCES},
    {"semop", 65, EACCES},
    {"semctl", 66, EACCES},
    {"semtimedop", 220, EACCES},
    {"msgget", 68, EACCES},
    {"msgsnd", 69, EACCES},
    {"msgrcv", 70, EACCES},
    {"msgctl", 71, EACCES},
    // POSIX message queues live in the mqueue filesystem, not under a path
    // Landlock rules cover. (POSIX shm is files under /dev/shm: Landlock.)
    {"mq_open", 240, EACCES},
    {"mq_unlink", 241, EACCES},
    {"mq_timedsend", 242, EACCES},
    {"mq_timedreceive", 243, EACCES},
    {"mq_notify", 244, EACCES},
    {"mq_getsetattr", 245, EACCES},
    // Landlock does not cover inotify: a watch on another tenant's folder
    // would report its file names (session ids). PHP core does not use it.
    {"inotify_add_watch", 254, EACCES},
    // The worker builds a Landlock ruleset per request in the unconfined
    // thread; confined code must not be able to make rulesets of its own
    // (dup2'ed over the next request's ruleset fd) or add rules to one.
    // ENOSYS: a program that sandboxes itself sees "no Landlock" and goes on.
    {"landlock_create_ruleset", 444, ENOSYS},
    {"landlock_add_rule", 445, ENOSYS},
};

int resolve(const Denied& d) noexcept {
  const int nr = seccomp_syscall_resolve_name(d.name);
  return nr == __NR_SCMP_ERROR ? d.nr : nr;
}

scmp_arg_cmp cmp(unsigned arg, scmp_compare op, scmp_datum_t a, scmp_datum_t b = 0) noexcept {
  scmp_arg_cmp c{};
  c.arg = arg;
  c.op = op;
  c.datum_a = a;
  c.datum_b = b;
  return c;
}

class Builder {
 public:
  explicit Builder(BpfProgram& out) : out_(out), ctx_(seccomp_init(SCMP_ACT_ALLOW)) {
    if (ctx_ == nullptr) {
      fail("seccomp_init failed");
      return;
    }
    check(seccomp_attr_set(ctx_, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(ENOSYS)), "bad-arch action");
    // We set no_new_privs ourselves; the exported program carries no attribute.
    check(seccomp_attr_set(ctx_, SCMP_FLTATR_CTL_NNP, 0), "nnp attribute");
  }
  ~Builder() {
    if (ctx_ != nullptr) seccomp_release(ctx_);
  }
  Builder(const Builder&) = delete;
  Builder& operator=(const Builder&) = delete;

  void deny(const Denied& d) { rule(d.err, resolve(d), {}, d.name); }
  void deny(const char* name, int nr, int err, std::initializer_list<scmp_arg_cmp> args) {
    rule(err, resolve(Denied{name, nr, err}), args, name);
  }
  void count(int n) { out_.refused += n; }

  void finish() {
    if (!out_.error.empty()) return;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      fail(std::string("pipe: ") + std::strerror(errno));
      return;
    }
    const int rc = seccomp_export_bpf(ctx_, fds[1]);
    ::close(fds[1]);
    std::vector<unsigned char> bytes;
    unsigned char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      bytes.insert(bytes.end(), buf, buf + n);
    }
    ::close(fds[0]);
    if (rc != 0 || bytes.empty() || bytes.size() % sizeof(sock_filter) != 0) {
      fail("seccomp_export_bpf failed");
      return;
    }
    out_.insns.resize(bytes.size() / sizeof(sock_filter));
    std::memcpy(out_.insns.data(), bytes.data(), bytes.size());
  }

 private:
  void rule(int err, int nr, std::initializer_list<scmp_arg_cmp> args, const char* name) {
    if (ctx_ == nullptr) return;
    const int rc = seccomp_rule_add_array(ctx_, SCMP_ACT_ERRNO(static_cast<unsigned>(err)), nr,
                                          static_cast<unsigned>(args.size()), args.begin());
    if (rc != 0) {
      fail(std::string("rule for ") + name + ": " + std::strerror(-rc));
    }
  }
  void check(int rc, const char* what) {
    if (rc != 0) fail(std::string(what) + ": " + std::strerror(-rc));
  }
  void fail(std::string e) {
    if (out_.error.empty()) out_.error = std::move(e);
  }
  BpfProgram& out_;
  scmp_filter_ctx ctx_;
};

// Argument rules shared by both programs.
void add_common_arg_rules(Builder& b) {
  // A worker made dumpable again could be ptraced and have /proc/PID/mem
  // read by its siblings (THREATS 20).
  // prctl's option is an int: the kernel ignores the high half, so compare
  // the low half only (an EQ on all 64 bits would let 0x1_00000004 through).
  b.deny("prctl", 157, EPERM,
         {cmp(0, SCMP_CMP_MASKED_EQ, 0xffffffffu, PR_SET_DUMPABLE), cmp(1, SCMP_CMP_NE, 0)});
  // TIOCSTI/TIOCLINUX push input into a terminal (`tenant-sandbox run` from
  // a shell). The kernel reads cmd as unsigned int: compare the low half.
  b.deny("ioctl", 16, EPERM, {cmp(1, SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI)});
  b.deny("ioctl", 16, EPERM, {cmp(1, SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX)});
  // clone(2) with a namespace flag is unshare(2) in disguise; unshare(2)
  // itself only with non-namespace flags (CLONE_FILES, CLONE_FS, SYSVSEM).
  for (const int f : {CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
                      CLONE_NEWPID, CLONE_NEWNET}) {
    const auto flag = static_cast<scmp_datum_t>(f);
    b.deny("clone", 56, EPERM, {cmp(0, SCMP_CMP_MASKED_EQ, flag, flag)});
    b.deny("unshare", 272, EPERM, {cmp(0, SCMP_CMP_MASKED_EQ, flag, flag)});
  }
  // CLONE_NEWTIME (Linux 5.6) is 0x80, a CSIGNAL bit for clone: unshare only.
  b.deny("unshare", 272, EPERM, {cmp(0, SCMP_CMP_MASKED_EQ, 0x80u, 0x80u)});
  b.count(4);  // prctl, ioctl, clone, unshare (counted once each)
}

BpfProgram build_worker() {
  BpfProgram p;
  try {
    Builder b(p);
    for (const Denied& d : kWorkerDenied) b.deny(d);
    b.count(static_cast<int>(std::size(kWorkerDenied)));
    add_common_arg_rules(b);
    b.finish();
  } catch (...) {
    p.error = "out of memory building the worker filter";
  }
  return p;
}

BpfProgram build_thread(bool exec_allowed) {
  BpfProgram p;
  try {
    Builder b(p);
    for (const Denied& d : kWorkerDenied) b.deny(d);
    for (const Denied& d : kThreadDenied) b.deny(d);
    b.count(static_cast<int>(std::size(kWorkerDenied) + std::size(kThreadDenied)));
    add_common_arg_rules(b);
    // Stricter than the worker's: only the query form of personality(2).
    // (The worker itself gets personality_filter(), which also admits 0.)
    b.deny("personality", 135, EPERM, {cmp(0, SCMP_CMP_NE, 0xffffffffu)});
    if (!exec_allowed) {
      // Empty exec list: no exec at all, whatever the path (static binaries,
      // memfds, anything the tenant wrote; THREATS 6).
      b.deny(Denied{"execve", 59, EACCES});
      b.deny(Denied{"execveat", 322, EACCES});
    } else {
      // Landlock's EXECUTE right is checked on paths, and a memfd has none:
      // memfd_create + execveat(AT_EMPTY_PATH) runs code no rule covers
      // (verified on 6.18). So: memfds only with MFD_NOEXEC_SEAL (Linux 6.3;
      // older kernels reject the flag, i.e. no memfds there) and no
      // execveat(AT_EMPTY_PATH) (fexecve) at all.
      b.deny("memfd_create", 319, EACCES, {cmp(1, SCMP_CMP_MASKED_EQ, kMfdNoexecSeal, 0)});
      b.deny("execveat", 322, EACCES, {cmp(4, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH)});
    }
    // Socket families: only inet, inet6 and unix. Netlink (routing, audit,
    // uevents), packet (raw frames of every tenant's traffic), vsock, alg
    // and the rest are kernel surface no PHP request needs. libseccomp cannot
    // test one argument twice, so the refused ranges are listed: 0, 3..9,
    // and anything above AF_INET6 (10), which also catches values with the
    // high half set.
    for (const char* call : {"socket", "socketpair"}) {
      const int nr = std::strcmp(call, "socket") == 0 ? 41 : 53;
      b.deny(call, nr, EACCES, {cmp(0, SCMP_CMP_EQ, 0)});
      for (scmp_datum_t fam = 3; fam <= 9; ++fam) b.deny(call, nr, EACCES, {cmp(0, SCMP_CMP_EQ, fam)});
      b.deny(call, nr, EACCES, {cmp(0, SCMP_CMP_GT, AF_INET6)});
    }
    // seccomp(TSYNC) from a confined thread would push its filter chain --
    // plus one of the tenant's own, e.g. a user-notification listener that
    // lets it answer the worker's system calls -- onto every thread of the
    // worker, the unconfined one serving the next tenant included. The op
    // is an unsigned int: compare its low half.
    b.deny("seccomp", 317, EPERM,
           {cmp(0, SCMP_CMP_MASKED_EQ, 0xffffffffu, SECCOMP_SET_MODE_FILTER),
            cmp(1, SCMP_CMP_MASKED_EQ, SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_TSYNC)});
    // The worker's pinned fds (cached Landlock rulesets, see
    // Confinement::pin) must stay what they are: were tenant code able to
    // dup2 another ruleset (a more permissive tenant's) over one, or close it
    // and let dup() refill the number, the next request would be confined
    // by the wrong rules. fcntl(F_DUPFD) can only pick a free number.
    const auto floor = static_cast<scmp_datum_t>(reserved_fd_floor());
    b.deny("close", 3, EBADF, {cmp(0, SCMP_CMP_GE, floor)});
    b.deny("dup2", 33, EBADF, {cmp(1, SCMP_CMP_GE, floor)});
    b.deny("dup3", 292, EBADF, {cmp(1, SCMP_CMP_GE, floor)});
    // close_range(first, ~0U) (closefrom, subprocess close_fds): refused
    // when it would reach the pinned range; CLOSE_RANGE_CLOEXEC only marks
    // close-on-exec, which pinned fds already are.
    b.deny("close_range", 436, EPERM,
           {cmp(1, SCMP_CMP_GE, floor), cmp(2, SCMP_CMP_MASKED_EQ, CLOSE_RANGE_CLOEXEC, 0)});
    // Same-uid siblings can be reniced, pinned or have their limits cut by
    // pid (THREATS 20); Landlock does not scope these. Only "self" (0).
    b.deny("setpriority", 141, EPERM, {cmp(1, SCMP_CMP_NE, 0)});
    b.deny("ioprio_set", 251, EPERM, {cmp(1, SCMP_CMP_NE, 0)});
    b.deny("prlimit64", 302, EPERM, {cmp(0, SCMP_CMP_NE, 0), cmp(2, SCMP_CMP_NE, 0)});
    for (const Denied& d : {Denied{"sched_setaffinity", 203, EPERM}, Denied{"sched_setparam", 142, EPERM},
                            Denied{"sched_setscheduler", 144, EPERM}, Denied{"sched_setattr", 314, EPERM}}) {
      b.deny(d.name, d.nr, d.err, {cmp(0, SCMP_CMP_NE, 0)});
    }
    b.count(17);  // personality, exec pair, socket pair, seccomp, 4 fd calls, 7 pid-taking calls
    b.finish();
  } catch (...) {
    p.error = "out of memory building the thread filter";
  }
  return p;
}

BpfProgram build_personality() {
  BpfProgram p;
  try {
    // seccomp_data: nr at 0, arch at 4, args[0] at 16 (low half first on
    // little-endian x86_64). The kernel takes personality's argument as
    // unsigned int, so the low half is all that counts.
    p.insns = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 6),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_personality, 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0u, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffu, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    p.refused = 1;
  } catch (...) {
    p.error = "out of memory";
  }
  return p;
}

}  // namespace

const BpfProgram& worker_filter() noexcept {
  static const BpfProgram p = build_worker();
  return p;
}

const BpfProgram& thread_filter(bool exec_allowed) noexcept {
  static const BpfProgram with_exec = build_thread(true);
  static const BpfProgram without_exec = build_thread(false);
  return exec_allowed ? with_exec : without_exec;
}

const BpfProgram& personality_filter() noexcept {
  static const BpfProgram p = build_personality();
  return p;
}

int reserved_fd_floor() noexcept {
  static const int floor = [] {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1 << 20;
    const auto cur = static_cast<long>(rl.rlim_cur > (1u << 30) ? (1u << 30) : rl.rlim_cur);
    // The top numbers of the soft limit: far above what a request opens,
    // and below the limit so F_DUPFD can reach them. 256 (room for the
    // module's per-worker ruleset cache of a host with many tenants) when
    // the limit is at least 4096 (Debian's apache2ctl sets 8192), else 64
    // (at most a quarter).
    const long reserve = cur >= 4096 ? 256 : cur >= 256 ? 64 : cur / 4;
    return static_cast<int>(cur - reserve);
  }();
  return floor;
}

int install(const BpfProgram& p, unsigned flags) noexcept {
  if (!p.error.empty() || p.insns.empty()) return -EINVAL;
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(p.insns.size());
  prog.filter = const_cast<sock_filter*>(p.insns.data());
  const long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (rc == 0) return 0;
  if (rc > 0) return -ESRCH;  // TSYNC: thread `rc` could not be synchronised
  return -errno;
}

}  // namespace tenant::kernel::detail
