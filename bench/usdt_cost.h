// bench/usdt_cost.h: what tracing with tslab-trace costs (issue 4's last two
// performance targets; the first, probes present but not attached, is the
// tslab vs tslab-nousdt churn ratio of the main tables).
//
// Purpose, per round (the driver interleaves: the order of the conditions
// is rotated by the round number):
//  - Demo: tslab-demo runs --duration seconds three times: unattached;
//    with the empty BPF program as a plain uprobe at every tslab probe site
//    (what any uprobe costs there: tells the machine's share of the cost
//    from tslab-trace's); with `tslab-trace -p PID` (every probe). The
//    tracer attaches during the demo's --delay; a run where it attached
//    after the work began is void and run again with twice the delay.
//    Throughput = (allocs + frees) / seconds as the demo prints them at the
//    end; by CPU time from /proc/PID/stat (the uprobe traps and BPF
//    programs run in the demo's threads, so they are in it). Target:
//    tslab-trace >= 0.95x unattached.
//  - Probe hit: bench_usdt_loop (usdt_loop.cc) calls tslab_epoch_advance()
//    in a loop, one epoch_advance probe hit per call, untraced, with a bare
//    uprobe running an empty BPF program (bpf/bench_empty_uprobe.bpf.c) at
//    every epoch_advance site, and with `tslab-trace --probe epoch_advance`.
//    Cost per hit = (ns per call traced - untraced) / hits per call (hits
//    counted by tslab-trace itself, checked against the allocator's own
//    count). Target: tslab-trace's cost <= 1.5x the bare uprobe's.
// Every value goes into the ResultStore under the rows "untraced",
// "bare-uprobe", "tslab-trace" (workloads "demo" and "probe-hit") and the
// per-round ratios "bare-uprobe/untraced", "tslab-trace/untraced" (demo)
// and "tslab-trace/bare-uprobe" (probe-hit).
//
// Invariants: needs root (BPF); UsdtCostUnavailable() says why not. Only
// processes this module started are signalled or killed, by pid.
// Thread-safety: single-threaded driver only.
#ifndef TSLAB_BENCH_USDT_COST_H_
#define TSLAB_BENCH_USDT_COST_H_

#include <cstdint>
#include <memory>
#include <string>

#include "bench/report.h"

namespace tslab::bench {

struct UsdtCostConfig {
  std::string demo;   // tslab-demo
  std::string trace;  // tslab-trace
  std::string loop;   // bench_usdt_loop
  double demo_seconds = 5.0;
  double demo_delay = 2.0;  // time tslab-trace has to attach
  // One worker: with two on this 2-CPU shared machine, the demo's batch
  // barrier makes every run hostage to preemptions (ratios spread twice as
  // wide); --usdt-demo-threads 2 for the demo's default.
  int demo_threads = 1;
  uint32_t loop_iters = 10000;  // calls per timed chunk
  uint32_t loop_chunks = 20;    // chunks per measurement
  double timeout_s = 120;       // per process step
};

// "" if the measurements can run here, else why not (one line).
std::string UsdtCostUnavailable();

// Holds the loop process and the loaded empty BPF program across rounds.
class UsdtCostBench {
 public:
  explicit UsdtCostBench(UsdtCostConfig cfg);
  ~UsdtCostBench();
  UsdtCostBench(const UsdtCostBench&) = delete;
  UsdtCostBench& operator=(const UsdtCostBench&) = delete;

  // One round of each measurement; false (and *err) if it failed (the
  // round's values for that measurement are then missing).
  bool DemoRound(int round, ResultStore* store, std::string* err);
  bool ProbeHitRound(int round, ResultStore* store, std::string* err);

 private:
  struct State;
  struct DemoResult {
    double ops_per_s = 0, ops_per_cpu_s = 0, hits_per_s = 0;
  };
  bool DemoRun(int condition, int round, double delay, DemoResult* out, bool* late,
               std::string* err);

  UsdtCostConfig cfg_;
  double bare_delay_ = 0.5;  // --delay for the empty uprobes' run
  std::unique_ptr<State> st_;
};

}  // namespace tslab::bench

#endif  // TSLAB_BENCH_USDT_COST_H_
