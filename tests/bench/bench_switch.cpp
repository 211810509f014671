// Benchmarks 2 and 3 (issue 5), in process, libsandbox preloaded:
//   bench_switch POLICY TENANTS SAMPLES FORKS
// 1. loads POLICY through sandbox_load_policy (as the module's post_config
//    does in Apache's parent): wall and CPU time, peak RSS;
// 2. set + clear of a random tenant (ids site-0000000 .. TENANTS-1, as
//    tests/bench/gen_policy.py writes them), SAMPLES times, each pair timed
//    with CLOCK_MONOTONIC: p50 / p90 / p99 / max in nanoseconds;
// 3. forks FORKS children that load nothing after fork (as prefork
//    workers) and FORKS more that also do 10,000 random switches, then
//    reads their /proc/PID/smaps_rollup: Pss, Private_Dirty (what each
//    worker does not share with the parent: the policy must stay shared
//    copy-on-write).
// Prints one JSON object on stdout.
#include <dlfcn.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using claim_fn = int (*)();
using set_fn = int (*)(const char*);
using clear_fn = int (*)(const char*);
using load_fn = int (*)(const char*, char*, size_t);

double now_ns(clockid_t c) {
  timespec ts{};
  clock_gettime(c, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

long kb_field(const std::string& file, const char* key) {
  FILE* f = std::fopen(file.c_str(), "r");
  if (f == nullptr) return -1;
  char line[256];
  long v = -1;
  const std::size_t kl = std::strlen(key);
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, key, kl) == 0 && line[kl] == ':') {
      v = std::atol(line + kl + 1);
      break;
    }
  }
  std::fclose(f);
  return v;
}

void id_of(long i, char* buf) { std::snprintf(buf, 32, "site-%07ld", i); }

set_fn g_set;
clear_fn g_clear;

void switches(long tenants, long n, unsigned seed) {
  std::mt19937_64 rng(seed);
  char id[32];
  for (long k = 0; k < n; ++k) {
    id_of(static_cast<long>(rng() % static_cast<unsigned long>(tenants)), id);
    g_set(id);
    g_clear(id);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: bench_switch POLICY TENANTS SAMPLES FORKS\n");
    return 2;
  }
  const char* policy = argv[1];
  const long tenants = std::atol(argv[2]);
  const long samples = std::atol(argv[3]);
  const int forks = std::atoi(argv[4]);
  auto claim = reinterpret_cast<claim_fn>(::dlsym(RTLD_DEFAULT, "sandbox_claim_control"));
  auto load = reinterpret_cast<load_fn>(::dlsym(RTLD_DEFAULT, "sandbox_load_policy"));
  g_set = reinterpret_cast<set_fn>(::dlsym(RTLD_DEFAULT, "sandbox_set_tenant"));
  g_clear = reinterpret_cast<clear_fn>(::dlsym(RTLD_DEFAULT, "sandbox_clear_tenant"));
  if (claim == nullptr || load == nullptr || g_set == nullptr || g_clear == nullptr || claim() != 0) {
    std::fprintf(stderr, "bench_switch: libsandbox is not preloaded\n");
    return 2;
  }
  const long rss0 = kb_field("/proc/self/status", "VmRSS");
  char err[1024] = "";
  const double w0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  if (load(policy, err, sizeof err) != 0) {
    std::fprintf(stderr, "bench_switch: %s\n", err);
    return 1;
  }
  const double load_wall = (now_ns(CLOCK_MONOTONIC) - w0) / 1e9, load_cpu = (now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e9;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const long rss1 = kb_field("/proc/self/status", "VmRSS");

  // Switch latency. Ids are formatted before the clock starts.
  std::mt19937_64 rng(42);
  std::vector<double> ns(static_cast<std::size_t>(samples));
  char id[32];
  int bad = 0;
  switches(tenants, 1000, 1);  // warm
  for (long k = 0; k < samples; ++k) {
    id_of(static_cast<long>(rng() % static_cast<unsigned long>(tenants)), id);
    const double t0 = now_ns(CLOCK_MONOTONIC);
    const int a = g_set(id);
    const int b = g_clear(id);
    ns[static_cast<std::size_t>(k)] = now_ns(CLOCK_MONOTONIC) - t0;
    if (a != 0 || b != 0) ++bad;
  }
  std::sort(ns.begin(), ns.end());
  auto pct = [&](double p) { return ns[std::min(ns.size() - 1, static_cast<std::size_t>(p * static_cast<double>(ns.size())))]; };

  // Workers: idle after fork, and after 10,000 switches.
  std::vector<pid_t> kids;
  for (int k = 0; k < 2 * forks; ++k) {
    int p[2];
    if (pipe(p) != 0) return 1;
    const pid_t pid = fork();
    if (pid == 0) {
      close(p[0]);
      if (k >= forks) switches(tenants, 10000, static_cast<unsigned>(k));
      char c = 'r';
      (void)!write(p[1], &c, 1);
      pause();
      _exit(0);
    }
    close(p[1]);
    char c;
    (void)!read(p[0], &c, 1);
    close(p[0]);
    kids.push_back(pid);
  }
  std::vector<long> pss_idle, priv_idle, pss_used, priv_used;
  for (int k = 0; k < 2 * forks; ++k) {
    const std::string f = "/proc/" + std::to_string(kids[static_cast<std::size_t>(k)]) + "/smaps_rollup";
    const long pss = kb_field(f, "Pss"), pd = kb_field(f, "Private_Dirty") + kb_field(f, "Private_Clean");
    (k < forks ? pss_idle : pss_used).push_back(pss);
    (k < forks ? priv_idle : priv_used).push_back(pd);
  }
  for (pid_t pid : kids) kill(pid, SIGTERM);
  for (pid_t pid : kids) waitpid(pid, nullptr, 0);
  auto med = [](std::vector<long> v) -> long {
    if (v.empty()) return -1;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf(
      "{\"tenants\": %ld, \"load_wall_s\": %.3f, \"load_cpu_s\": %.3f, \"peak_rss_kb\": %ld, \"rss_before_kb\": %ld, "
      "\"rss_after_kb\": %ld, \"samples\": %ld, \"failed\": %d, \"switch_ns\": {\"p50\": %.0f, \"p90\": %.0f, "
      "\"p99\": %.0f, \"max\": %.0f}, \"forks\": %d, \"worker_idle_kb\": {\"pss\": %ld, \"private\": %ld}, "
      "\"worker_10k_switches_kb\": {\"pss\": %ld, \"private\": %ld}}\n",
      tenants, load_wall, load_cpu, ru.ru_maxrss, rss0, rss1, samples, bad, pct(0.5), pct(0.9), pct(0.99),
      ns.back(), forks, med(pss_idle), med(priv_idle), med(pss_used), med(priv_used));
  return bad == 0 ? 0 : 1;
}
