// Per-request cost of the kernel layer (issue 4 "Figures"): a fresh thread
// per request that confines itself with Landlock + seccomp, against the same
// thread without confinement. Every iteration is timed on its own so the
// benchmark reports p50 and p99 in microseconds (counters p50_us, p99_us),
// not just a mean.
//
//   thread_only          pthread_create + join, no confinement (the floor)
//   thread_confine       the thread calls confine_thread(): builds the
//                        Landlock ruleset (open O_PATH + add_rule per path)
//                        and installs the precompiled seccomp program
//   prepared_apply       the parent builds the ruleset (Confinement::prepare),
//                        the thread only applies it (3 system calls)
//   spawned              start_confined_thread(): prepare in the parent, the
//                        thread inherits the seccomp filter from a spawner
//                        thread and applies only Landlock (the module's way)
//   spawned_cached       spawned, with one Confinement per tenant reused
//   ..._exec             same with an exec list (adds the loader's paths)
//   pooled_hit           run_on_tenant_thread(): the request is handed to a
//                        parked thread already confined for the tenant
//                        (futex hand-over; the module's way since the pool)
//   pooled_miss_100      the same with requests spread over 100 tenants and
//                        the default pool of 16 threads: nearly every request
//                        binds a spare (Landlock restrict_self) and evicts a
//                        thread (rulesets prepared and pinned beforehand, as
//                        the module's per-worker ruleset cache holds them)
//   pooled_off_fresh     the old per-request fresh thread via the pool's
//                        max_threads = 0 fallback, for comparison
//
// The process first applies apply_worker_baseline(), as a worker would, so
// the worker filter's per-syscall cost is included. Run with
//   bench_kernel_confine --benchmark_repetitions=1
// (iterations are fixed at 2000).
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "kernel_confine.hpp"
#include "tenant/context.hpp"
#include "tenant/policy.hpp"

namespace {

std::unique_ptr<tenant::TenantContext> g_plain, g_exec;

double now_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

struct Job {
  const tenant::TenantContext* ctx = nullptr;
  const tenant::kernel::Confinement* prepared = nullptr;
  bool ok = true;
};

void* run_job(void* p) {
  auto* j = static_cast<Job*>(p);
  if (j->prepared != nullptr) {
    j->ok = j->prepared->apply() == 0;
  } else if (j->ctx != nullptr) {
    j->ok = static_cast<bool>(tenant::kernel::confine_thread(*j->ctx));
  }
  return nullptr;
}

enum class Mode { ThreadOnly, Confine, Prepared, Spawned, Cached };

void* noop(void*) { return nullptr; }

void measure(benchmark::State& state, Mode mode, const tenant::TenantContext* ctx) {
  std::vector<double> samples;
  samples.reserve(static_cast<size_t>(state.max_iterations));
  for (auto _ : state) {
    const double t0 = now_us();
    Job job;
    std::unique_ptr<tenant::kernel::Confinement> prep;
    if (mode == Mode::Confine) job.ctx = ctx;
    if (mode == Mode::Prepared) {
      auto r = tenant::kernel::Confinement::prepare(*ctx);
      if (!r) {
        state.SkipWithError(r.error().str().c_str());
        break;
      }
      prep = std::move(r.value());
      job.prepared = prep.get();
    }
    pthread_t th;
    if (mode == Mode::Cached) {
      // One prepared confinement per tenant, reused: only Landlock's
      // restrict_self per request; pinned, so tenant code cannot swap it.
      static std::unique_ptr<tenant::kernel::Confinement> cached;
      if (!cached) {
        cached = std::move(tenant::kernel::Confinement::prepare(*ctx).value());
        if (cached->pin() != 0) {
          state.SkipWithError("pin failed");
          break;
        }
      }
      if (tenant::kernel::start_confined_thread(*cached, noop, nullptr, &th) != 0) {
        state.SkipWithError("start_confined_thread failed");
        break;
      }
    } else if (mode == Mode::Spawned) {
      auto r = tenant::kernel::Confinement::prepare(*ctx);
      if (!r) {
        state.SkipWithError(r.error().str().c_str());
        break;
      }
      if (tenant::kernel::start_confined_thread(*r.value(), noop, nullptr, &th) != 0) {
        state.SkipWithError("start_confined_thread failed");
        break;
      }
    } else if (pthread_create(&th, nullptr, run_job, &job) != 0) {
      state.SkipWithError("pthread_create failed");
      break;
    }
    pthread_join(th, nullptr);
    prep.reset();
    const double dt = now_us() - t0;
    if (!job.ok) {
      state.SkipWithError("confinement failed");
      break;
    }
    samples.push_back(dt);
    state.SetIterationTime(dt / 1e6);
  }
  if (samples.empty()) return;
  std::sort(samples.begin(), samples.end());
  auto pct = [&](double q) {
    return samples[std::min(samples.size() - 1, static_cast<size_t>(q * static_cast<double>(samples.size())))];
  };
  state.counters["p50_us"] = pct(0.50);
  state.counters["p99_us"] = pct(0.99);
}

void* pool_noop(void*) { return nullptr; }

// Pooled: `tenants` prepared + pinned confinements, requests round-robin.
void measure_pooled(benchmark::State& state, int tenants, std::size_t max_threads) {
  static std::vector<std::unique_ptr<tenant::kernel::Confinement>> confs;
  static std::vector<std::string> names;
  if (confs.size() < static_cast<std::size_t>(tenants)) {
    for (int i = static_cast<int>(confs.size()); i < tenants; ++i) {
      auto r = tenant::kernel::Confinement::prepare(*g_plain);
      if (!r || r.value()->pin() != 0) {
        state.SkipWithError("prepare/pin failed");
        return;
      }
      confs.push_back(std::move(r.value()));
      names.push_back("site-" + std::to_string(i));
    }
  }
  tenant::kernel::PoolOptions o;
  o.max_threads = max_threads;
  tenant::kernel::set_pool_options(o);
  tenant::kernel::pool_prewarm();
  const auto before = tenant::kernel::pool_stats();
  // CPU of the whole process (every thread: caller, pooled threads, the
  // spawner making spares, threads exiting), per request.
  auto proc_cpu_us = [] {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  };
  const double cpu0 = proc_cpu_us();
  std::vector<double> samples;
  samples.reserve(static_cast<size_t>(state.max_iterations));
  int i = 0;
  for (auto _ : state) {
    const int t = i++ % tenants;
    const double t0 = now_us();
    if (tenant::kernel::run_on_tenant_thread(names[static_cast<std::size_t>(t)].c_str(),
                                             *confs[static_cast<std::size_t>(t)], pool_noop, nullptr) != 0) {
      state.SkipWithError("run_on_tenant_thread failed");
      break;
    }
    const double dt = now_us() - t0;
    samples.push_back(dt);
    state.SetIterationTime(dt / 1e6);
  }
  const double cpu1 = proc_cpu_us();
  const auto after = tenant::kernel::pool_stats();
  if (samples.empty()) return;
  std::sort(samples.begin(), samples.end());
  auto pct = [&](double q) {
    return samples[std::min(samples.size() - 1, static_cast<size_t>(q * static_cast<double>(samples.size())))];
  };
  state.counters["p50_us"] = pct(0.50);
  state.counters["p99_us"] = pct(0.99);
  state.counters["hits"] = static_cast<double>(after.hits - before.hits);
  state.counters["misses"] = static_cast<double>(after.misses - before.misses);
  state.counters["proc_cpu_us"] = (cpu1 - cpu0) / static_cast<double>(samples.size());
}

void BM_thread_only(benchmark::State& s) { measure(s, Mode::ThreadOnly, nullptr); }
void BM_pooled_hit(benchmark::State& s) { measure_pooled(s, 1, 16); }
void BM_pooled_miss_100(benchmark::State& s) { measure_pooled(s, 100, 16); }
void BM_pooled_off_fresh(benchmark::State& s) { measure_pooled(s, 1, 0); }
void BM_thread_confine(benchmark::State& s) { measure(s, Mode::Confine, g_plain.get()); }
void BM_prepared_apply(benchmark::State& s) { measure(s, Mode::Prepared, g_plain.get()); }
void BM_spawned(benchmark::State& s) { measure(s, Mode::Spawned, g_plain.get()); }
void BM_spawned_cached(benchmark::State& s) { measure(s, Mode::Cached, g_plain.get()); }
void BM_spawned_exec(benchmark::State& s) { measure(s, Mode::Spawned, g_exec.get()); }
void BM_thread_confine_exec(benchmark::State& s) { measure(s, Mode::Confine, g_exec.get()); }
void BM_prepared_apply_exec(benchmark::State& s) { measure(s, Mode::Prepared, g_exec.get()); }

BENCHMARK(BM_thread_only)->Iterations(2000)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_pooled_hit)->Iterations(2000)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_pooled_miss_100)->Iterations(2000)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_pooled_off_fresh)->Iterations(2000)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_thread_confine)->Iterations(2000)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_prepared_apply)->Iterations(2000)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_spawned)->Iterations(2000)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_spawned_cached)->Iterations(2000)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_spawned_exec)->Iterations(2000)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_thread_confine_exec)->Iterations(2000)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_prepared_apply_exec)->Iterations(2000)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  // A tenant shaped like a typical one: its root, one extra writable tree,
  // two read-only trees (paths exist, so every rule is really added).
  const std::string base = "/tmp/ts-bench-kernel";
  for (const char* d : {"", "/www", "/www/site-a", "/www/site-a/tmp", "/shared", "/sessions"}) {
    mkdir((base + d).c_str(), 0755);
  }
  const std::string json = R"({"version":1,"tenant_root":")" + base + R"(/www/{tenant}","unknown_tenants":"deny",
    "defaults":{"read_write":[")" + base + R"(/sessions"],"read_only":[")" + base + R"(/shared","/usr/share/php"]},
    "tenants":{"site-a":{},"site-x":{"exec":["/usr/bin/php8.2"]}}})";
  auto policy = tenant::Policy::parse(json);
  if (!policy) {
    for (const auto& e : policy.error()) std::fprintf(stderr, "policy: %s\n", e.str().c_str());
    return 2;
  }
  auto a = tenant::TenantContext::create(*policy.value(), "site-a");
  auto x = tenant::TenantContext::create(*policy.value(), "site-x");
  if (!a || !x) return 2;
  g_plain = std::move(a.value());
  g_exec = std::move(x.value());

  std::fprintf(stderr, "kernel: %s\n", tenant::kernel::probe().describe().c_str());
  if (std::getenv("BENCH_NO_BASELINE") == nullptr) {
    auto b = tenant::kernel::apply_worker_baseline();
    if (!b) {
      std::fprintf(stderr, "baseline: %s\n", b.error().str().c_str());
      return 2;
    }
    std::fprintf(stderr, "baseline: %s\n", b.value().describe().c_str());
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
