// Per-call cost of the calls every request makes, measured three ways by
// scripts/bench.sh from one binary:
//   none        no LD_PRELOAD
//   passthrough LD_PRELOAD=libsandbox.so, no tenant set (Apache's parent,
//               a worker between requests): must cost close to nothing
//   tenant      LD_PRELOAD=libsandbox.so, BENCH_POLICY + BENCH_TENANT set:
//               the benchmark claims control, loads the policy and sets
//               the tenant around each measured loop, as mod_tenant_tag
//               does around a request
// BENCH_DIR is a folder inside the tenant's root holding the test files.
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

using claim_fn = int (*)();
using set_fn = int (*)(const char*);
using clear_fn = int (*)(const char*);
using load_fn = int (*)(const char*, char*, size_t);

struct Sandbox {
  set_fn set = nullptr;
  clear_fn clear = nullptr;
  const char* tenant = nullptr;
};

Sandbox& sandbox() {
  static Sandbox s = [] {
    Sandbox r;
    const char* policy = std::getenv("BENCH_POLICY");
    r.tenant = std::getenv("BENCH_TENANT");
    if (policy == nullptr || r.tenant == nullptr) return r;
    auto claim = reinterpret_cast<claim_fn>(::dlsym(RTLD_DEFAULT, "sandbox_claim_control"));
    auto load = reinterpret_cast<load_fn>(::dlsym(RTLD_DEFAULT, "sandbox_load_policy"));
    r.set = reinterpret_cast<set_fn>(::dlsym(RTLD_DEFAULT, "sandbox_set_tenant"));
    r.clear = reinterpret_cast<clear_fn>(::dlsym(RTLD_DEFAULT, "sandbox_clear_tenant"));
    char err[1024] = "";
    if (claim == nullptr || load == nullptr || r.set == nullptr || r.clear == nullptr || claim() != 0 ||
        load(policy, err, sizeof err) != 0) {
      std::fprintf(stderr, "bench: cannot set up the tenant (is libsandbox preloaded?) %s\n", err);
      std::exit(2);
    }
    return r;
  }();
  return s;
}

// Sets the tenant for the measured loop only, so the benchmark library's
// own file work (output, CPU info) runs untenanted.
class TenantScope {
 public:
  TenantScope() {
    Sandbox& s = sandbox();
    if (s.set != nullptr && s.set(s.tenant) != 0) {
      std::fprintf(stderr, "bench: sandbox_set_tenant(%s) failed\n", s.tenant);
      std::exit(2);
    }
  }
  ~TenantScope() {
    Sandbox& s = sandbox();
    if (s.clear != nullptr) s.clear(nullptr);
  }
  TenantScope(const TenantScope&) = delete;
  TenantScope& operator=(const TenantScope&) = delete;
};

std::string dir() {
  const char* d = std::getenv("BENCH_DIR");
  return d != nullptr ? d : "/tmp";
}

void BM_OpenClose(benchmark::State& state) {
  const std::string path = dir() + "/file.txt";
  TenantScope scope;
  for (auto _ : state) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      state.SkipWithError("open failed");
      break;
    }
    ::close(fd);
  }
}
BENCHMARK(BM_OpenClose);

void BM_Stat(benchmark::State& state) {
  const std::string path = dir() + "/file.txt";
  TenantScope scope;
  struct stat st {};
  for (auto _ : state) {
    if (::stat(path.c_str(), &st) != 0) {
      state.SkipWithError("stat failed");
      break;
    }
    benchmark::DoNotOptimize(st.st_size);
  }
}
BENCHMARK(BM_Stat);

// stat of a file directly in the tenant's root (BENCH_DIR's parent): the
// one-call fast path of libsandbox (fs_resolve.cpp beneath()).
void BM_StatRoot(benchmark::State& state) {
  const std::string d = dir();
  const std::string path = d.substr(0, d.rfind('/')) + "/file.txt";
  TenantScope scope;
  struct stat st {};
  for (auto _ : state) {
    if (::stat(path.c_str(), &st) != 0) {
      state.SkipWithError("stat failed");
      break;
    }
    benchmark::DoNotOptimize(st.st_size);
  }
}
BENCHMARK(BM_StatRoot);

void BM_FopenFclose(benchmark::State& state) {
  const std::string path = dir() + "/file.txt";
  TenantScope scope;
  for (auto _ : state) {
    FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) {
      state.SkipWithError("fopen failed");
      break;
    }
    std::fclose(f);
  }
}
BENCHMARK(BM_FopenFclose);

void BM_OpendirReaddir(benchmark::State& state) {
  const std::string path = dir();
  TenantScope scope;
  for (auto _ : state) {
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) {
      state.SkipWithError("opendir failed");
      break;
    }
    while (::readdir(d) != nullptr) {
    }
    ::closedir(d);
  }
}
BENCHMARK(BM_OpendirReaddir);

// connect+close to a loopback listener whose accept loop runs in a thread
// started before the tenant is set. The client closes with SO_LINGER 0
// (an RST, no TIME_WAIT): otherwise every run leaves tens of thousands of
// TIME_WAIT sockets behind and the next run's connects (in whatever mode
// comes next) slow down, which made the no-preload baseline come out
// slower than the preloaded modes. setsockopt is outside the timed pair's
// meaning but inside the loop in every mode alike.
void BM_ConnectClose(benchmark::State& state) {
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (lfd < 0 || ::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(lfd, 4096) != 0 || ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    state.SkipWithError("listener setup failed");
    return;
  }
  std::thread acceptor([lfd] {
    for (;;) {
      int c = ::accept(lfd, nullptr, nullptr);
      if (c < 0) return;
      ::close(c);
    }
  });
  {
    TenantScope scope;
    for (auto _ : state) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      const linger lg{1, 0};
      if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        state.SkipWithError("connect failed");
        if (fd >= 0) ::close(fd);
        break;
      }
      ::close(fd);
    }
  }
  ::shutdown(lfd, SHUT_RDWR);
  ::close(lfd);
  acceptor.join();
}
BENCHMARK(BM_ConnectClose);

}  // namespace

BENCHMARK_MAIN();
