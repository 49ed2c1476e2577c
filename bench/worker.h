// bench/worker.h: one benchmark worker process = one allocator backend.
//
// Purpose: the driver (tslab-bench) cannot host glibc, jemalloc, mimalloc,
// tcmalloc and three tslab builds in one process, so each measurement runs
// in a fresh worker. Every worker is built from the same sources; only
// worker_backend.cc is compiled per backend (-DTSLAB_BENCH_BACKEND_*), and
// the link line picks the library (libjemalloc and libtcmalloc_minimal
// replace malloc itself). worker_main.cc parses arguments, calls
// RunWorkload() and prints ONE JSON line on stdout:
//   {"backend":..,"api":..,"malloc_from":..,"workload":..,"threads":..,
//    "metrics":{name:number,...},"info":{name:string,...}}
// The driver aggregates metrics by name, so a new metric needs no driver
// change to reach the CSV.
//
// Workloads (ops = allocations + frees, so a pair is two ops):
//   churn    live set of `live` objects per thread; each cycle frees `batch`
//            distinct random ones, then allocates `batch`; `cycles` cycles;
//            `threads` threads, each with its own live set, one allocator.
//   pairs    alloc then immediately free, `pairs` times.
//   epoch    per cycle: allocate `batch` in the current epoch, advance,
//            free the previous cycle's batch (shuffled order), close its
//            epoch. Non-tslab backends do the same without epoch calls.
//            tslab: madvise calls per close from the warm cycle to the end.
//            After the last free and close, RssAnon at once and again
//            purge delay + 100 ms later: with `pause_after_close` the
//            driver reads them (AnnounceClosed, then the worker idles until
//            stdin reaches EOF), else the worker itself.
//   latency  churn for `lat_cycles` cycles, each alloc and free timed
//            alone with the TSC; percentiles in ns (timer floor included).
//   hold     fill a live set, print a "ready" line (with the stats region
//            path), churn until stdin reaches EOF, print the result line.
//            Lets the driver snapshot a live process's region.
//
// Thread-safety: RunWorkload is called once, from main.
#ifndef TSLAB_BENCH_WORKER_H_
#define TSLAB_BENCH_WORKER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tslab::bench {

struct WorkerConfig {
  std::string workload = "churn";
  bool handle_api = false;  // tslab backend: tslab_alloc/tslab_free_handle
  uint32_t threads = 1;
  uint32_t live = 100000;
  uint32_t batch = 10000;
  uint32_t cycles = 1000;
  uint32_t size = 128;
  uint32_t warm_cycle = 10;  // RSS "warm" sample after this many cycles
  uint64_t pairs = 10000000;
  uint32_t lat_cycles = 50;
  uint32_t floor_samples = 1000000;
  uint32_t calibrate_ms = 100;
  uint64_t seed = 1;
  bool pause_after_close = false;  // epoch: let the driver sample RssAnon
};

struct WorkerResult {
  std::vector<std::pair<std::string, double>> metrics;
  std::vector<std::pair<std::string, std::string>> info;
  std::string error;  // non-empty: the run failed, say why

  void Metric(std::string name, double v) { metrics.emplace_back(std::move(name), v); }
  void Info(std::string name, std::string v) { info.emplace_back(std::move(name), std::move(v)); }
};

// Called by the hold workload once its live set is in place; prints the
// "ready" line. Defined in worker_main.cc.
void AnnounceReady(const WorkerResult& partial);
// True once stdin has reached EOF (the driver wants the hold to end).
bool StdinClosed();
// The epoch workload's pause: prints {"ready":true,"pause":"closed",
// "closed_at_ns":..,"purge_wait_ms":..,"rss_before_bytes":..} with snprintf
// and write(2), so that announcing calls no allocator, not even malloc.
void AnnounceClosed(uint64_t closed_at_ns, int64_t purge_wait_ms, uint64_t rss_before);
// Blocks (in poll, no allocator call) until stdin reaches EOF; false if it
// has not after timeout_s.
bool WaitStdinClosed(double timeout_s);

// Backend name ("malloc", "mimalloc", "tslab"), fixed at compile time.
const char* BackendName();

// Runs cfg.workload with this worker's backend; false (and r->error) on
// failure, including an allocation failure or a refused free.
bool RunWorkload(const WorkerConfig& cfg, WorkerResult* r);

}  // namespace tslab::bench

#endif  // TSLAB_BENCH_WORKER_H_
