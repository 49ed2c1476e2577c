// bench/workloads.h: the benchmark workloads, templates over a backend's
// Ops (backend.h). What each workload does is described in worker.h.
//
// Cost notes: the random choice of victims is a partial Fisher-Yates
// shuffle of an index array (one RNG step and one swap per free), the same
// for every allocator. Each new object gets one 8-byte write, as a real
// caller would, so page faults on fresh memory count; the write is outside
// the timed region of the latency workload. Setup (filling the live set)
// is never timed.
//
// Thread-safety: each churn thread owns its ChurnSet; the Ops object is
// shared (allocators are thread-safe). Epoch calls come from one thread.
#ifndef TSLAB_BENCH_WORKLOADS_H_
#define TSLAB_BENCH_WORKLOADS_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "bench/proc.h"
#include "bench/stats_util.h"
#include "bench/tsc.h"
#include "bench/worker.h"

namespace tslab::bench {

// splitmix64: fast, and good enough to pick victims.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform enough in [0, n) (Lemire's multiply-shift, no rejection).
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(((Next() >> 32) * n) >> 32); }
};

// The caller's first write into a new object; the asm keeps the compiler
// from eliding a malloc/free pair (it may for std::malloc).
inline void Touch(void* p, uint64_t v) {
  std::memcpy(p, &v, sizeof(v));
  asm volatile("" : : "r"(p) : "memory");
}

inline double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline double DriftPct(uint64_t warm, uint64_t end) {
  return warm == 0 ? 0.0
                   : (static_cast<double>(end) - static_cast<double>(warm)) * 100.0 /
                         static_cast<double>(warm);
}

// The metrics of a timed run. cpu_secs: the process's CPU time over the
// same span (all threads), which other processes' load does not inflate
// the way it inflates wall time on a shared machine.
inline void ReportThroughput(WorkerResult* r, double ops, double secs, double cpu_secs) {
  r->Metric("ops", ops);
  r->Metric("seconds", secs);
  r->Metric("ops_per_s", ops / secs);
  r->Metric("cpu_seconds", cpu_secs);
  if (cpu_secs > 0) r->Metric("ops_per_cpu_s", ops / cpu_secs);
}

inline void ReportRss(WorkerResult* r, uint64_t rss_warm, uint64_t rss_end) {
  r->Metric("rss_warm_bytes", static_cast<double>(rss_warm));
  r->Metric("rss_end_bytes", static_cast<double>(rss_end));
  r->Metric("rss_drift_pct", DriftPct(rss_warm, rss_end));
}

// One thread's live set for churn and latency. Cache-line aligned: the
// 2-thread churn keeps one per thread side by side in a vector, and the
// rng state and refused_frees are written on every operation (false
// sharing there would be charged to whichever allocator is measured).
template <class Ops>
struct alignas(64) ChurnSet {
  using Ref = typename Ops::Ref;
  std::vector<Ref> refs;
  std::vector<uint32_t> perm;  // perm[0, batch) = this cycle's victims
  Rng rng{1};
  uint64_t refused_frees = 0;

  bool Fill(const Ops& ops, uint32_t live, uint32_t size, uint64_t seed) {
    refs.assign(live, Ref{});
    perm.resize(live);
    std::iota(perm.begin(), perm.end(), 0u);
    rng.s = seed;
    for (uint32_t i = 0; i < live; ++i) {
      void* p = nullptr;
      refs[i] = ops.Alloc(size, &p);
      if (p == nullptr) return false;
      Touch(p, i);
    }
    return true;
  }

  // Frees `batch` distinct random objects, then allocates `batch`. With
  // kTimed, each call's ticks go to free_ticks/alloc_ticks[0, batch).
  template <bool kTimed>
  bool Cycle(const Ops& ops, uint32_t batch, uint32_t size, uint32_t* free_ticks = nullptr,
             uint32_t* alloc_ticks = nullptr) {
    const uint32_t live = static_cast<uint32_t>(refs.size());
    for (uint32_t k = 0; k < batch; ++k) {
      uint32_t j = k + rng.Below(live - k);
      std::swap(perm[k], perm[j]);
      Ref r = refs[perm[k]];
      bool ok;
      if constexpr (kTimed) {
        uint64_t t0 = TscBegin();
        ok = ops.Free(r);
        uint64_t t1 = TscEnd();
        free_ticks[k] = static_cast<uint32_t>(t1 - t0);
      } else {
        ok = ops.Free(r);
      }
      refused_frees += !ok;
    }
    for (uint32_t k = 0; k < batch; ++k) {
      void* p = nullptr;
      if constexpr (kTimed) {
        uint64_t t0 = TscBegin();
        refs[perm[k]] = ops.Alloc(size, &p);
        uint64_t t1 = TscEnd();
        alloc_ticks[k] = static_cast<uint32_t>(t1 - t0);
      } else {
        refs[perm[k]] = ops.Alloc(size, &p);
      }
      if (__builtin_expect(p == nullptr, 0)) return false;
      Touch(p, k);
    }
    return true;
  }

  void Drain(const Ops& ops) {
    for (Ref r : refs) refused_frees += !ops.Free(r);
    refs.clear();
  }
};

// churn with cfg.threads threads, each with its own live set; the clock
// runs from the moment every thread has filled its set until the last one
// finishes. RSS "warm" is sampled by thread 0 after cfg.warm_cycle cycles.
template <class Ops>
bool RunChurn(Ops& ops, const WorkerConfig& cfg, WorkerResult* r) {
  const uint32_t n = std::max(1u, cfg.threads);
  std::vector<ChurnSet<Ops>> sets(n);
  std::vector<std::chrono::steady_clock::time_point> ends(n);
  std::vector<char> ok(n, 1);
  std::atomic<uint32_t> ready{0};
  std::atomic<bool> go{false};
  uint64_t rss_warm = 0;
  const uint32_t warm = std::min(cfg.warm_cycle, cfg.cycles);
  auto body = [&](uint32_t t) {
    ChurnSet<Ops>& s = sets[t];
    if (!s.Fill(ops, cfg.live, cfg.size, cfg.seed * 1000003 + t)) ok[t] = 0;
    ready.fetch_add(1);
    while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
    for (uint32_t c = 0; c < cfg.cycles && ok[t]; ++c) {
      if (!s.template Cycle<false>(ops, cfg.batch, cfg.size)) ok[t] = 0;
      if (t == 0 && c + 1 == warm) rss_warm = RssBytes();
    }
    ends[t] = std::chrono::steady_clock::now();
  };
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < n; ++t) threads.emplace_back(body, t);
  while (ready.load() < n) std::this_thread::yield();
  const double cpu0 = ProcessCpuSeconds();
  auto t0 = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  for (auto& th : threads) th.join();
  const double cpu = ProcessCpuSeconds() - cpu0;
  uint64_t rss_end = RssBytes();
  double secs = 0;
  for (auto& e : ends) secs = std::max(secs, std::chrono::duration<double>(e - t0).count());
  uint64_t refused = 0;
  for (auto& s : sets) {
    s.Drain(ops);
    refused += s.refused_frees;
  }
  if (std::find(ok.begin(), ok.end(), 0) != ok.end()) {
    r->error = "allocation failed during churn";
    return false;
  }
  if (refused) {
    r->error = std::to_string(refused) + " frees refused during churn";
    return false;
  }
  double ops_done = 2.0 * cfg.batch * cfg.cycles * n;
  ReportThroughput(r, ops_done, secs, cpu);
  ReportRss(r, rss_warm, rss_end);
  return true;
}

template <class Ops>
bool RunPairs(Ops& ops, const WorkerConfig& cfg, WorkerResult* r) {
  uint64_t refused = 0;
  auto loop = [&](uint64_t count) {
    for (uint64_t i = 0; i < count; ++i) {
      void* p = nullptr;
      auto ref = ops.Alloc(cfg.size, &p);
      if (__builtin_expect(p == nullptr, 0)) return false;
      Touch(p, i);
      refused += !ops.Free(ref);
    }
    return true;
  };
  if (!loop(10000)) {  // warm-up: first slab/chunk, TLS set-up
    r->error = "allocation failed during pairs";
    return false;
  }
  const double cpu0 = ProcessCpuSeconds();
  auto t0 = std::chrono::steady_clock::now();
  bool ok = loop(cfg.pairs);
  double secs = SecondsSince(t0);
  const double cpu = ProcessCpuSeconds() - cpu0;
  if (!ok || refused) {
    r->error = ok ? "frees refused during pairs" : "allocation failed during pairs";
    return false;
  }
  ReportThroughput(r, 2.0 * static_cast<double>(cfg.pairs), secs, cpu);
  return true;
}

// After the epoch workload's last free and close: the memory given back,
// RssAnon right after the close and purge delay + 100 ms later, with no
// allocator call in between. With cfg.pause_after_close the driver reads
// both from /proc/PID/status while this process sits blocked in poll
// (AnnounceClosed), the "from outside"; otherwise (a worker run by
// hand) it reads its own /proc/self/status, which is the same number.
// self_at_close: our own reading taken at the close (tens of us after it),
// kept beside the driver's as a check: on a busy machine the driver may
// wake later than the purge delay, and then its "at close" misses pages.
inline bool ReportPurge(const WorkerConfig& cfg, uint64_t rss_before, uint64_t closed_ns,
                        uint64_t self_at_close, int32_t delay_ms, WorkerResult* r) {
  const int64_t wait_ms = PurgeWaitMs(delay_ms);
  r->Metric("rss_before_bytes", static_cast<double>(rss_before));
  r->Metric("rss_after_close_self_bytes", static_cast<double>(self_at_close));
  r->Metric("purge_delay_ms", delay_ms);
  r->Metric("purge_wait_ms", static_cast<double>(wait_ms));
  if (cfg.pause_after_close) {
    AnnounceClosed(closed_ns, wait_ms, rss_before);
    if (!WaitStdinClosed(120.0)) {
      r->error = "epoch: stdin still open 120 s after the pause";
      return false;
    }
    r->Info("rss_sampled_by", "driver (/proc/PID/status)");
    return true;
  }
  SleepUntilNs(closed_ns + static_cast<uint64_t>(wait_ms) * 1000000);
  const uint64_t after = RssAnonBytes(0);
  r->Info("rss_sampled_by", "worker itself (/proc/self/status)");
  r->Metric("rss_after_close_bytes", static_cast<double>(self_at_close));
  r->Metric("rss_after_delay_bytes", static_cast<double>(after));
  r->Metric("close_sample_lag_ms", 0);
  if (auto pct =
          PurgeReturnedPct(rss_before, self_at_close, after, PurgeMinBytes(cfg.batch, cfg.size)))
    r->Metric("purge_returned_pct", *pct);
  return true;
}

// Batches with lifetimes: allocate a batch into the current epoch, advance,
// free the previous batch in a fixed shuffled order, close its epoch.
// Steady state: the allocator's counters (tslab) at the warm cycle and at
// the end of the timed loop; their reads are two snapshot calls of a few
// us inside a loop of seconds.
template <class Ops>
bool RunEpoch(Ops& ops, const WorkerConfig& cfg, WorkerResult* r) {
  using Ref = typename Ops::Ref;
  std::string delay_source;
  const int32_t delay_ms = PurgeDelayMs(&delay_source);
  r->Info("purge_delay_source", delay_source);
  std::vector<Ref> sets[2] = {std::vector<Ref>(cfg.batch), std::vector<Ref>(cfg.batch)};
  std::vector<uint32_t> order(cfg.batch);
  std::iota(order.begin(), order.end(), 0u);
  Rng rng{cfg.seed};
  for (uint32_t i = cfg.batch; i > 1; --i) std::swap(order[i - 1], order[rng.Below(i)]);
  uint64_t refused = 0, bad_close = 0, rss_warm = 0;
  const uint32_t warm = std::min(cfg.warm_cycle, cfg.cycles);
  uint32_t prev_epoch = 0;
  AllocCounters at_warm, at_end;
  bool have_counters = false;
  auto free_set = [&](std::vector<Ref>& s) {
    for (uint32_t i : order) refused += !ops.Free(s[i]);
  };
  const uint64_t rss_before = RssAnonBytes(0);  // our vectors in, no object yet
  const double cpu0 = ProcessCpuSeconds();
  auto t0 = std::chrono::steady_clock::now();
  for (uint32_t c = 0; c < cfg.cycles; ++c) {
    std::vector<Ref>& cur = sets[c & 1];
    const uint32_t cur_epoch = ops.EpochCurrent();
    for (uint32_t i = 0; i < cfg.batch; ++i) {
      void* p = nullptr;
      cur[i] = ops.Alloc(cfg.size, &p);
      if (__builtin_expect(p == nullptr, 0)) {
        r->error = "allocation failed during epoch (cycle " + std::to_string(c) + ")";
        return false;
      }
      Touch(p, i);
    }
    ops.EpochAdvance();
    if (c > 0) {
      free_set(sets[(c + 1) & 1]);
      bad_close += !ops.EpochClose(prev_epoch);
    }
    prev_epoch = cur_epoch;
    if (c + 1 == warm) {
      rss_warm = RssBytes();
      have_counters = ops.ReadCounters(&at_warm);
    }
  }
  double secs = SecondsSince(t0);
  const double cpu = ProcessCpuSeconds() - cpu0;
  uint64_t rss_end = RssBytes();
  have_counters = have_counters && ops.ReadCounters(&at_end);
  if (cfg.cycles > 0) {
    free_set(sets[(cfg.cycles - 1) & 1]);
    bad_close += !ops.EpochClose(prev_epoch);
  }
  const uint64_t closed_ns = MonotonicNs();
  const uint64_t self_at_close = RssAnonBytes(0);
  if (refused || bad_close) {
    r->error = std::to_string(refused) + " frees and " + std::to_string(bad_close) +
               " epoch closes refused during epoch";
    return false;
  }
  // Frees of cycle c happen in cycle c+1: the last batch's are untimed.
  double ops_done = static_cast<double>(cfg.batch) * (2.0 * cfg.cycles - 1);
  ReportThroughput(r, ops_done, secs, cpu);
  ReportRss(r, rss_warm, rss_end);
  if (have_counters) {
    const uint64_t closes = at_end.epoch_closes - at_warm.epoch_closes;
    const uint64_t madv = at_end.madvise_calls - at_warm.madvise_calls;
    r->Metric("epoch_closes_steady", static_cast<double>(closes));
    r->Metric("madvise_calls_steady", static_cast<double>(madv));
    // No closes counted: counters compiled out (TSLAB_STATS=0) or no cycle
    // after the warm one; a ratio would be 0/0.
    if (closes > 0)
      r->Metric("madvise_per_close", static_cast<double>(madv) / static_cast<double>(closes));
  }
  return ReportPurge(cfg, rss_before, closed_ns, self_at_close, delay_ms, r);
}

// Single-call latency inside churn: every alloc and free of lat_cycles
// cycles timed alone. Two untimed cycles first (warm caches, first faults).
// p99.99 needs samples: at 100,000 per op only 10 calls lie above it (the
// driver raises lat_cycles to reach that); "samples" says how many.
template <class Ops>
bool RunLatency(Ops& ops, const WorkerConfig& cfg, WorkerResult* r) {
  ChurnSet<Ops> s;
  if (!s.Fill(ops, cfg.live, cfg.size, cfg.seed)) {
    r->error = "allocation failed during latency fill";
    return false;
  }
  const size_t n = static_cast<size_t>(cfg.lat_cycles) * cfg.batch;
  std::vector<uint32_t> free_ticks(n), alloc_ticks(n);
  bool ok = s.template Cycle<false>(ops, cfg.batch, cfg.size) &&
            s.template Cycle<false>(ops, cfg.batch, cfg.size);
  for (uint32_t c = 0; ok && c < cfg.lat_cycles; ++c) {
    size_t off = static_cast<size_t>(c) * cfg.batch;
    ok = s.template Cycle<true>(ops, cfg.batch, cfg.size, &free_ticks[off], &alloc_ticks[off]);
  }
  s.Drain(ops);
  if (!ok || s.refused_frees) {
    r->error = ok ? "frees refused during latency" : "allocation failed during latency";
    return false;
  }
  const double tpn = CalibrateTicksPerNs(static_cast<int>(cfg.calibrate_ms));
  const TimerFloor floor = MeasureTimerFloor(cfg.floor_samples);
  auto report = [&](const char* what, std::vector<uint32_t>& v) {
    std::sort(v.begin(), v.end());
    const std::string w(what);
    r->Metric(w + "_p50_ns", SortedPercentile(v, 50.0) / tpn);
    r->Metric(w + "_p99_ns", SortedPercentile(v, 99.0) / tpn);
    r->Metric(w + "_p999_ns", SortedPercentile(v, 99.9) / tpn);
    r->Metric(w + "_p9999_ns", SortedPercentile(v, 99.99) / tpn);
    r->Metric(w + "_max_ns", static_cast<double>(v.back()) / tpn);
  };
  report("alloc", alloc_ticks);
  report("free", free_ticks);
  r->Metric("samples", static_cast<double>(n));
  r->Metric("tsc_ticks_per_ns", tpn);
  r->Metric("tsc_invariant", TscIsInvariant() ? 1 : 0);
  r->Metric("timer_floor_p50_ns", floor.p50_ticks / tpn);
  r->Metric("timer_floor_p99_ns", floor.p99_ticks / tpn);
  r->Metric("timer_granularity_ns",
            static_cast<double>(TimerGranularityTicks(cfg.floor_samples)) / tpn);
  return true;
}

// Fills a live set, announces it, churns until stdin closes (or 120 s).
template <class Ops>
bool RunHold(Ops& ops, const WorkerConfig& cfg, WorkerResult* r) {
  ChurnSet<Ops> s;
  if (!s.Fill(ops, cfg.live, cfg.size, cfg.seed)) {
    r->error = "allocation failed during hold fill";
    return false;
  }
  WorkerResult ready;
  ops.Describe(&ready);
  AnnounceReady(ready);
  auto t0 = std::chrono::steady_clock::now();
  uint64_t cycles = 0;
  bool ok = true;
  while (ok && !StdinClosed() && SecondsSince(t0) < 120.0) {
    ok = s.template Cycle<false>(ops, cfg.batch, cfg.size);
    ++cycles;
  }
  s.Drain(ops);
  if (!ok) {
    r->error = "allocation failed during hold";
    return false;
  }
  r->Metric("cycles", static_cast<double>(cycles));
  r->Metric("seconds", SecondsSince(t0));
  return true;
}

template <class Ops>
bool RunWith(const WorkerConfig& cfg, WorkerResult* r) {
  Ops ops;
  std::string err;
  if (!ops.Init(cfg, &err)) {
    r->error = err;
    return false;
  }
  bool ok;
  const std::string& w = cfg.workload;
  if (w == "churn") {
    ok = RunChurn(ops, cfg, r);
  } else if (w == "pairs") {
    ok = RunPairs(ops, cfg, r);
  } else if (w == "epoch") {
    ok = RunEpoch(ops, cfg, r);
  } else if (w == "latency") {
    ok = RunLatency(ops, cfg, r);
  } else if (w == "hold") {
    ok = RunHold(ops, cfg, r);
  } else {
    r->error = "unknown workload '" + w + "'";
    ok = false;
  }
  if (ok) ops.Describe(r);
  ops.Shutdown();
  return ok;
}

}  // namespace tslab::bench

#endif  // TSLAB_BENCH_WORKLOADS_H_
