// bench/usdt_cost.h: what tracing with tslab-trace and stats_dump --doctor
// --trace costs (issue 4's last two performance targets and issue 10's;
// issue 4's first, probes present but not attached, is the tslab vs
// tslab-nousdt churn ratio of the main tables).
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
//  - Probe hit: bench_usdt_loop (usdt_loop.cc) runs two loops, each firing
//    one probe per call: tslab_epoch_advance() (epoch_advance, a program
//    that only counts) and a refused free (invalid_free, whose program
//    under the doctor also takes the user stack). Each untraced, with a
//    bare uprobe running an empty BPF program (bpf/bench_empty_uprobe.bpf.c)
//    at the probe's sites, with `tslab-trace --probe NAME`, and with the
//    tracer of `stats_dump --doctor --trace` (stats_dump::DoctorTrace,
//    attached in this process as stats_dump attaches it: every probe,
//    doctor mode). Cost per hit = (ns per call traced - untraced) / BPF
//    program runs per call (counted by the tracer itself; its count of the
//    loop's probe is checked against the allocator's own). Targets:
//    tslab-trace's cost <= 1.5x the bare uprobe's (epoch_advance); the
//    doctor's <= 1.2x (issue 10), on both loops.
// Every value goes into the ResultStore under the rows "untraced",
// "bare-uprobe", "tslab-trace" (workloads "demo", "probe-hit" for the
// epoch_advance loop and "probe-hit-stack" for the invalid_free loop),
// "doctor-trace" (the two probe-hit workloads), and the per-round ratios
// "bare-uprobe/untraced", "tslab-trace/untraced" (demo),
// "tslab-trace/bare-uprobe" and "doctor-trace/bare-uprobe" (probe-hit*).
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

// The conditions, one list (the ResultStore's rows): the demo runs the
// first kDemoConditions, the probe-hit loops all of them.
inline constexpr const char* kTracingConditions[] = {"untraced", "bare-uprobe", "tslab-trace",
                                                     "doctor-trace"};
inline constexpr int kDemoConditions = 3;
inline constexpr int kHitConditions = 4;

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

  // One loop of bench_usdt_loop: its probe, the signal that runs it, the
  // ResultStore workload of its rows.
  struct HitLoop {
    const char* probe;
    int signal;
    const char* workload;
  };

 private:
  struct State;
  struct DemoResult {
    double ops_per_s = 0, ops_per_cpu_s = 0, hits_per_s = 0;
  };
  bool DemoRun(int condition, int round, double delay, DemoResult* out, bool* late,
               std::string* err);
  bool ProbeHitLoop(const HitLoop& loop, int round, ResultStore* store, std::string* err);

  UsdtCostConfig cfg_;
  double bare_delay_ = 0.5;  // --delay for the empty uprobes' run
  std::unique_ptr<State> st_;
};

}  // namespace tslab::bench

#endif  // TSLAB_BENCH_USDT_COST_H_
