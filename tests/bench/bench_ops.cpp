// One call, N times, for instruction counts (valgrind --tool=callgrind) and
// system-call counts (strace -c): the stable measure of what libsandbox adds
// per call on a noisy machine, where wall-clock ratios move by 20 %.
//   bench_ops OP N        OP: open stat stat_root lstat fopen opendir access
// Same environment as bench_calls: BENCH_DIR (folder in the tenant's tree,
// holding file.txt; its parent, the tenant's root, holds file.txt too),
// BENCH_POLICY + BENCH_TENANT (tenant set around the loop), else none.
// The loop runs in run_ops(), so callgrind can be told
//   --collect-atstart=no --toggle-collect=run_ops
// and the per-call count is the total divided by N.
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

using claim_fn = int (*)();
using set_fn = int (*)(const char*);
using load_fn = int (*)(const char*, char*, size_t);

}  // namespace

extern "C" __attribute__((noinline)) int run_ops(const char* op, const char* path, long n) {
  int bad = 0;
  struct stat st {};
  for (long i = 0; i < n; ++i) {
    if (std::strcmp(op, "open") == 0) {
      const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) ++bad; else ::close(fd);
    } else if (std::strcmp(op, "stat") == 0 || std::strcmp(op, "stat_root") == 0) {
      if (::stat(path, &st) != 0) ++bad;
    } else if (std::strcmp(op, "lstat") == 0) {
      if (::lstat(path, &st) != 0) ++bad;
    } else if (std::strcmp(op, "access") == 0) {
      if (::access(path, R_OK) != 0) ++bad;
    } else if (std::strcmp(op, "fopen") == 0) {
      FILE* f = std::fopen(path, "r");
      if (f == nullptr) ++bad; else std::fclose(f);
    } else if (std::strcmp(op, "opendir") == 0) {
      DIR* d = ::opendir(path);
      if (d == nullptr) { ++bad; continue; }
      while (::readdir(d) != nullptr) {}
      ::closedir(d);
    } else {
      return -1;
    }
  }
  return bad;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: bench_ops OP N\n");
    return 2;
  }
  const std::string op = argv[1];
  const char* d = std::getenv("BENCH_DIR");
  const std::string dir = d != nullptr ? d : "/tmp";
  std::string path = dir + "/file.txt";
  if (op == "stat_root") path = dir.substr(0, dir.rfind('/')) + "/file.txt";
  if (op == "opendir") path = dir;
  const char* policy = std::getenv("BENCH_POLICY");
  const char* tenant = std::getenv("BENCH_TENANT");
  set_fn set = nullptr;
  if (policy != nullptr && tenant != nullptr) {
    auto claim = reinterpret_cast<claim_fn>(::dlsym(RTLD_DEFAULT, "sandbox_claim_control"));
    auto load = reinterpret_cast<load_fn>(::dlsym(RTLD_DEFAULT, "sandbox_load_policy"));
    set = reinterpret_cast<set_fn>(::dlsym(RTLD_DEFAULT, "sandbox_set_tenant"));
    char err[1024] = "";
    if (claim == nullptr || load == nullptr || set == nullptr || claim() != 0 || load(policy, err, sizeof err) != 0 ||
        set(tenant) != 0) {
      std::fprintf(stderr, "bench_ops: cannot set the tenant (is libsandbox preloaded?) %s\n", err);
      return 2;
    }
  }
  run_ops(op.c_str(), path.c_str(), 1);  // warm: area root fd, lazy binding
  const int bad = run_ops(op.c_str(), path.c_str(), std::atol(argv[2]));
  if (bad != 0) {
    std::fprintf(stderr, "bench_ops: %d of %s failed\n", bad, argv[2]);
    return 1;
  }
  return 0;
}
