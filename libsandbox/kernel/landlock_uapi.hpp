// Landlock user-space ABI, defined here because Debian 12's linux-libc-dev
// (6.1) stops at ABI 2 and glibc 2.36 has no wrappers. Every value is the
// kernel's uapi (include/uapi/linux/landlock.h); each block names the kernel
// that added it, which is also the ABI version landlock_create_ruleset(NULL,
// 0, LANDLOCK_CREATE_RULESET_VERSION) reports. The structs are declared under
// our own names so they never clash with a newer system header.
#pragma once
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace tenant::kernel::ll {

// Syscall numbers (x86_64; Linux 5.13). Debian 12's headers have them, but a
// build against older headers must not silently lose the layer.
#ifdef SYS_landlock_create_ruleset
inline constexpr long kSysCreateRuleset = SYS_landlock_create_ruleset;
inline constexpr long kSysAddRule = SYS_landlock_add_rule;
inline constexpr long kSysRestrictSelf = SYS_landlock_restrict_self;
#else
inline constexpr long kSysCreateRuleset = 444;
inline constexpr long kSysAddRule = 445;
inline constexpr long kSysRestrictSelf = 446;
#endif

// struct landlock_ruleset_attr. The kernel copies min(size, its own size) and
// requires the bytes it does not know to be zero, so passing the full struct
// to an older kernel works as long as the newer fields stay 0.
struct RulesetAttr {
  std::uint64_t handled_access_fs;   // Linux 5.13 (ABI 1)
  std::uint64_t handled_access_net;  // Linux 6.7  (ABI 4)
  std::uint64_t scoped;              // Linux 6.12 (ABI 6)
};

struct PathBeneathAttr {  // Linux 5.13; packed in the uapi
  std::uint64_t allowed_access;
  std::int32_t parent_fd;
} __attribute__((packed));

struct NetPortAttr {  // Linux 6.7 (ABI 4)
  std::uint64_t allowed_access;
  std::uint64_t port;
};

inline constexpr unsigned kCreateRulesetVersion = 1u << 0;  // Linux 5.13
inline constexpr unsigned kCreateRulesetErrata = 1u << 1;   // Linux 6.15 (also in stable kernels that got errata fixes)

inline constexpr int kRulePathBeneath = 1;  // Linux 5.13
inline constexpr int kRuleNetPort = 2;      // Linux 6.7

// Filesystem rights.
inline constexpr std::uint64_t kFsExecute = 1ull << 0;  // ABI 1 (Linux 5.13) ...
inline constexpr std::uint64_t kFsWriteFile = 1ull << 1;
inline constexpr std::uint64_t kFsReadFile = 1ull << 2;
inline constexpr std::uint64_t kFsReadDir = 1ull << 3;
inline constexpr std::uint64_t kFsRemoveDir = 1ull << 4;
inline constexpr std::uint64_t kFsRemoveFile = 1ull << 5;
inline constexpr std::uint64_t kFsMakeChar = 1ull << 6;
inline constexpr std::uint64_t kFsMakeDir = 1ull << 7;
inline constexpr std::uint64_t kFsMakeReg = 1ull << 8;
inline constexpr std::uint64_t kFsMakeSock = 1ull << 9;
inline constexpr std::uint64_t kFsMakeFifo = 1ull << 10;
inline constexpr std::uint64_t kFsMakeBlock = 1ull << 11;
inline constexpr std::uint64_t kFsMakeSym = 1ull << 12;  // ... through here
inline constexpr std::uint64_t kFsRefer = 1ull << 13;     // ABI 2 (Linux 5.19): rename/link across dirs
inline constexpr std::uint64_t kFsTruncate = 1ull << 14;  // ABI 3 (Linux 6.2): truncate, O_TRUNC
inline constexpr std::uint64_t kFsIoctlDev = 1ull << 15;  // ABI 5 (Linux 6.10): ioctl on devices

// Rights that make sense on a non-directory; the kernel rejects a rule on a
// file that carries any other right (EINVAL).
inline constexpr std::uint64_t kFsFileRights =
    kFsExecute | kFsWriteFile | kFsReadFile | kFsTruncate | kFsIoctlDev;

// Network rights, ABI 4 (Linux 6.7): TCP only, by port.
inline constexpr std::uint64_t kNetBindTcp = 1ull << 0;
inline constexpr std::uint64_t kNetConnectTcp = 1ull << 1;

// Scopes, ABI 6 (Linux 6.12): IPC the domain may not reach outside itself.
inline constexpr std::uint64_t kScopeAbstractUnixSocket = 1ull << 0;
inline constexpr std::uint64_t kScopeSignal = 1ull << 1;

// Every filesystem right a given ABI knows.
constexpr std::uint64_t fs_rights_for_abi(int abi) noexcept {
  if (abi <= 0) return 0;
  std::uint64_t r = (kFsMakeSym << 1) - 1;  // ABI 1
  if (abi >= 2) r |= kFsRefer;
  if (abi >= 3) r |= kFsTruncate;
  if (abi >= 5) r |= kFsIoctlDev;
  return r;
}

inline long create_ruleset(const RulesetAttr* attr, std::size_t size, unsigned flags) noexcept {
  return ::syscall(kSysCreateRuleset, attr, size, flags);
}
inline long add_rule(int ruleset_fd, int type, const void* attr, unsigned flags) noexcept {
  return ::syscall(kSysAddRule, ruleset_fd, type, attr, flags);
}
inline long restrict_self(int ruleset_fd, unsigned flags) noexcept {
  return ::syscall(kSysRestrictSelf, ruleset_fd, flags);
}

}  // namespace tenant::kernel::ll
