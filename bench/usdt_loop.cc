// bench_usdt_loop: a tight loop over one tslab probe site, for tslab-bench's
// cost-per-probe-hit measurement (bench/usdt_cost.h).
//
// Each iteration calls tslab_epoch_advance() on an allocator that holds no
// objects: the call takes a mutex, moves the epoch onto an open, empty slot
// (no wrap work) and fires the epoch_advance probe exactly once. Whatever a
// tracer attached to that probe costs shows up as the difference in time
// per iteration, traced versus not.
//
// Protocol (the driver attaches and detaches tracers between measurements,
// so the process must outlive them): prints one JSON line
// {"ready":true,"pid":N} on stdout, then waits for signals: SIGUSR1 runs
// one measurement (a warm-up chunk, then --chunks chunks of --iters calls,
// each timed by CLOCK_MONOTONIC and by this thread's CPU clock) and prints
// one JSON line {"metrics":{...}}; SIGTERM or SIGINT ends it (exit 0).
// Exit codes: 0 done; 1 setup failed (one line on stderr); 2 bad arguments.
//
// Thread-safety: one thread; the signals are blocked and taken by
// sigwaitinfo, so a measurement is never interrupted by them.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "bench/stats_util.h"
#include "tslab/stats.h"
#include "tslab/tslab.h"

namespace {

uint64_t ClockNs(clockid_t c) {
  timespec ts;
  clock_gettime(c, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

uint64_t Advances(tslab_allocator* a) {
  SlabGlobalStats g;
  return tslab_stats_global(a, &g) == TSLAB_OK ? g.epoch_advances : 0;
}

// One measurement: per-chunk ns per call, wall and CPU.
nlohmann::json Measure(tslab_allocator* a, uint32_t iters, uint32_t chunks) {
  const uint64_t adv0 = Advances(a);
  for (uint32_t i = 0; i < iters; ++i) (void)tslab_epoch_advance(a);  // warm-up
  std::vector<double> wall, cpu;
  for (uint32_t c = 0; c < chunks; ++c) {
    const uint64_t w0 = ClockNs(CLOCK_MONOTONIC), c0 = ClockNs(CLOCK_THREAD_CPUTIME_ID);
    for (uint32_t i = 0; i < iters; ++i) (void)tslab_epoch_advance(a);
    const uint64_t c1 = ClockNs(CLOCK_THREAD_CPUTIME_ID), w1 = ClockNs(CLOCK_MONOTONIC);
    wall.push_back(double(w1 - w0) / iters);
    cpu.push_back(double(c1 - c0) / iters);
  }
  nlohmann::json m;
  m["wall_ns_per_iter"] = tslab::bench::Median(wall);
  m["wall_ns_per_iter_min"] = *std::min_element(wall.begin(), wall.end());
  m["cpu_ns_per_iter"] = tslab::bench::Median(cpu);
  m["cpu_ns_per_iter_min"] = *std::min_element(cpu.begin(), cpu.end());
  m["iterations"] = double(iters) * chunks;
  // The allocator's own count of the calls, warm-up included: the driver
  // checks that a tracer attached throughout saw exactly this many hits.
  m["epoch_advances"] = double(Advances(a) - adv0);
  return nlohmann::json{{"metrics", m}};
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t iters = 5000, chunks = 20;
  CLI::App app{"bench_usdt_loop: tslab_epoch_advance in a loop, measured on SIGUSR1"};
  app.add_option("--iters", iters, "calls per chunk")->check(CLI::Range(1u, 100000000u));
  app.add_option("--chunks", chunks, "timed chunks per measurement (median and min)")
      ->check(CLI::Range(1u, 100000u));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "bench_usdt_loop: " << e.what() << "\n";
    return 2;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);

  tslab_options o;
  tslab_options_init(&o);
  o.name = "bench-usdt-loop";
  o.region_mode = TSLAB_REGION_OFF;  // no file: nothing to clean up if killed
  tslab_allocator* a = tslab_create(&o);
  if (a == nullptr) {
    std::cerr << "bench_usdt_loop: tslab_create: " << tslab_strerror(tslab_last_error()) << "\n";
    return 1;
  }
  std::cout << nlohmann::json{{"ready", true}, {"pid", getpid()}}.dump() << std::endl;
  for (;;) {
    int sig = sigwaitinfo(&set, nullptr);
    if (sig == SIGUSR1) {
      std::cout << Measure(a, iters, chunks).dump() << std::endl;
    } else if (sig == SIGTERM || sig == SIGINT) {
      break;
    }
  }
  tslab_destroy(a);
  return 0;
}
