// bench_usdt_loop: a tight loop over one tslab probe site, for tslab-bench's
// cost-per-probe-hit measurement (bench/usdt_cost.h).
//
// Two loops, each firing exactly one probe per call on an allocator that
// holds no objects; whatever a tracer attached to that probe costs shows
// up as the difference in time per iteration, traced versus not:
//  - tslab_epoch_advance(): takes a mutex, moves the epoch onto an open,
//    empty slot (no wrap work) and fires epoch_advance (a probe whose BPF
//    program only counts);
//  - tslab_free_handle(a, 0): the handle 0 is never valid, so the free is
//    refused and counted and invalid_free fires (under stats_dump --doctor
//    --trace its program also takes the user stack).
//
// Protocol (the driver attaches and detaches tracers between measurements,
// so the process must outlive them): prints one JSON line
// {"ready":true,"pid":N} on stdout, then waits for signals: SIGUSR1 runs
// one measurement of the epoch_advance loop, SIGUSR2 one of the
// invalid_free loop (a warm-up chunk, then --chunks chunks of --iters
// calls, each timed by CLOCK_MONOTONIC and by this thread's CPU clock) and
// prints one JSON line {"metrics":{...}}; SIGTERM or SIGINT ends it
// (exit 0).
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

enum class Loop { kEpochAdvance, kInvalidFree };

// The allocator's own count of the loop's probe events.
uint64_t Events(tslab_allocator* a, Loop loop) {
  SlabGlobalStats g;
  if (tslab_stats_global(a, &g) != TSLAB_OK) return 0;
  return loop == Loop::kEpochAdvance ? g.epoch_advances : g.invalid_frees;
}

inline void Call(tslab_allocator* a, Loop loop) {
  if (loop == Loop::kEpochAdvance) {
    (void)tslab_epoch_advance(a);
  } else {
    (void)tslab_free_handle(a, 0);  // refused: invalid
  }
}

// One measurement: per-chunk ns per call, wall and CPU.
nlohmann::json Measure(tslab_allocator* a, Loop loop, uint32_t iters, uint32_t chunks) {
  const uint64_t ev0 = Events(a, loop);
  for (uint32_t i = 0; i < iters; ++i) Call(a, loop);  // warm-up
  std::vector<double> wall, cpu;
  for (uint32_t c = 0; c < chunks; ++c) {
    const uint64_t w0 = ClockNs(CLOCK_MONOTONIC), c0 = ClockNs(CLOCK_THREAD_CPUTIME_ID);
    for (uint32_t i = 0; i < iters; ++i) Call(a, loop);
    const uint64_t c1 = ClockNs(CLOCK_THREAD_CPUTIME_ID), w1 = ClockNs(CLOCK_MONOTONIC);
    wall.push_back(double(w1 - w0) / iters);
    cpu.push_back(double(c1 - c0) / iters);
  }
  nlohmann::json m;
  m["probe"] = loop == Loop::kEpochAdvance ? "epoch_advance" : "invalid_free";
  m["wall_ns_per_iter"] = tslab::bench::Median(wall);
  m["wall_ns_per_iter_min"] = *std::min_element(wall.begin(), wall.end());
  m["cpu_ns_per_iter"] = tslab::bench::Median(cpu);
  m["cpu_ns_per_iter_min"] = *std::min_element(cpu.begin(), cpu.end());
  m["iterations"] = double(iters) * chunks;
  // The allocator's own count of the probe's events, warm-up included: the
  // driver checks that a tracer attached throughout saw exactly this many.
  m["probe_events"] = double(Events(a, loop) - ev0);
  return nlohmann::json{{"metrics", m}};
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t iters = 5000, chunks = 20;
  CLI::App app{"bench_usdt_loop: tslab_epoch_advance (SIGUSR1) or a refused free (SIGUSR2) "
               "in a loop, measured on the signal"};

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
  sigaddset(&set, SIGUSR2);
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
    if (sig == SIGUSR1 || sig == SIGUSR2) {
      const Loop loop = sig == SIGUSR1 ? Loop::kEpochAdvance : Loop::kInvalidFree;
      std::cout << Measure(a, loop, iters, chunks).dump() << std::endl;
    } else if (sig == SIGTERM || sig == SIGINT) {
      break;
    }
  }
  tslab_destroy(a);
  return 0;
}
