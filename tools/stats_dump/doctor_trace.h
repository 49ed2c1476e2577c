// stats_dump --doctor --trace: the doctor's window, also traced with BPF.
//
// Purpose: during the doctor's window, tslab-trace's BPF programs (the
// loader is libtslab_trace.a, the same code tslab-trace runs) are attached
// to the target in doctor mode (tracer.h): latency histograms of
// slow_path, epoch_close (with and without the madvise calls nested in it)
// and madvise; user stacks of epoch_closed_alloc, invalid_free and
// slab_new from the arena. At the end the report holds p50/p99/max of
// each (interpolated within log2 buckets), the events BPF counted set
// against the counters' deltas over the same window, and the top call
// sites, symbolised while the process still lives; then the probes are
// detached. JudgeTrace adds the trace-only checks (configs/doctor.yaml:
// slow_path_p99, epoch_close_p99, madvise_p99) and an evidence line to
// the counters' findings that have a probe.
//
// Invariants: a DoctorTrace that Start returned is attached; destroying it
// detaches (and a killed stats_dump's descriptors close, which detaches
// too: the uprobes are perf events owned by them). The probes cannot tell
// a process's allocators apart: latencies and counts are process-wide, and
// the counter deltas they are set against are summed over its allocators.
// Thread-safety: single-threaded use (stats_dump's main thread).
#ifndef TSLAB_TOOLS_STATS_DUMP_DOCTOR_TRACE_H_
#define TSLAB_TOOLS_STATS_DUMP_DOCTOR_TRACE_H_

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpf/tslab_trace.h"
#include "tools/stats_dump/doctor.h"
#include "tools/stats_dump/doctor_config.h"
#include "tools/stats_dump/region_reader.h"

namespace tslab::trace {
class Tracer;
}

namespace tslab::stats_dump {

// Durations in nanoseconds, from a log2 histogram: a percentile is
// interpolated linearly within its bucket [2^i, 2^(i+1)), and capped at
// the maximum the BPF side kept.
struct Latency {
  uint64_t count = 0;
  double p50_ns = 0, p99_ns = 0, max_ns = 0, sum_ns = 0;
};
Latency LatencyFromHist(const __u64* buckets, int n, uint64_t max_ns,
                        uint64_t sum_ns);

// One probe's events counted by BPF over the window, and the counter that
// counts the same events (docs/probes.md), its delta over the window.
// The counters cannot be read at the instant BPF's are: `skew` is the
// events BPF saw while the counters were being read (both edges), and a
// difference within skew + 2 x the target's threads (one event under way
// per thread per edge: the counter is bumped before its probe fires) is
// explained. Anything beyond that is a disagreement the report shows.
struct Reconciled {
  std::string probe, counter;
  uint64_t bpf = 0, counter_delta = 0;
  uint64_t skew = 0;
  bool Equal() const { return bpf == counter_delta; }
  bool Explained(uint64_t threads) const {
    const uint64_t diff = bpf > counter_delta ? bpf - counter_delta : counter_delta - bpf;
    return diff <= skew + 2 * threads;
  }
};

// A call site: the innermost frames outside libtslab of one stack, and how
// often it was seen since attach.
struct CallSite {
  std::string probe;
  std::string kind;  // invalid_free's kind; "" for the others
  uint64_t count = 0;
  double share = 0;  // of the (probe, kind)'s stacked events
  // "Function+0xOFF": the first frame outside libtslab, then its callers.
  std::vector<std::string> frames;
};

struct TraceReport {
  double seconds = 0;  // the BPF readings' distance (the window)
  // epoch_close_own: without the nested madvise, counted since attach (a
  // close or two more than the window at most).
  Latency slow_path, epoch_close, epoch_close_own, madvise;
  std::array<Latency, TT_NSUB> slow_path_cls{}, madvise_cls{};
  uint64_t madvise_failed = 0;
  double close_nested_madvise_ns = 0;
  std::vector<Reconciled> reconciliation;
  uint64_t threads = 0;          // the target's, the most seen at an edge (0: unknown)
  std::vector<CallSite> sites;   // top --stacks per (probe, kind)
  uint64_t stack_errors = 0;     // events whose stack BPF could not keep (estimated
                                 // past the sampling's first 64, as the counts)
};

class DoctorTrace {
 public:
  // Checks privileges, BTF and uprobe semaphores, resolves the target's
  // files and attaches. nullptr and *why (one line) if any step fails.
  static std::unique_ptr<DoctorTrace> Start(pid_t pid, std::string* why);
  ~DoctorTrace();
  DoctorTrace(const DoctorTrace&) = delete;
  DoctorTrace& operator=(const DoctorTrace&) = delete;

  // The readings at the window's two edges, edge 0 (first sample) and 1
  // (last): BeforeSample right before that sample's snapshots, AfterSample
  // right after. The window is [AfterSample(0), AfterSample(1)]; the
  // events between each Before and After are the reconciliation's skew.
  void BeforeSample(int edge);
  void AfterSample(int edge);
  // The BPF totals since attach, for tslab-bench's price of a probe hit
  // under this tracer (bench/usdt_cost.h).
  void ReadTotals(tt_totals* out) const;
  // The report over the window: first/last are every
  // allocator's first and last samples. Symbolises `stacks` call sites per
  // probe and kind, then detaches.
  TraceReport Finish(const std::vector<const Sample*>& first,
                     const std::vector<const Sample*>& last, int stacks);

 private:
  DoctorTrace() = default;
  pid_t pid_ = 0;
  std::unique_ptr<trace::Tracer> tracer_;
  tt_totals before_[2]{}, after_[2]{};
  uint64_t mono0_ = 0, mono1_ = 0;
  uint64_t threads_ = 0;  // the target's, the most seen at an edge
};

// The checks a run could not judge without the trace, for the one line
// that says so: "slow_path_p99, epoch_close_p99, madvise_p99, latency and
// call-site evidence".
std::string TraceOnlyChecks(const DoctorConfig& cfg);

// Adds the trace-only checks' findings (to the first allocator: the trace
// is process-wide), evidence lines on the counters' findings that have a
// probe, and the judged / not judged trace checks.
void JudgeTrace(const TraceReport& t, const DoctorConfig& cfg,
                const std::vector<RegionIdentity>& allocators,
                Diagnosis* d);

// "271 ns", "1.9 us", "1.05 ms".
std::string DurationText(double ns);

// The report's trace section (text) and its JSON ("trace" in --json).
std::string TraceText(const TraceReport& t);
nlohmann::ordered_json TraceJson(const TraceReport& t, int stacks);
// Without a trace: the one line, and {"attached": false, ...}.
std::string NoTraceText(const std::string& why, const DoctorConfig& cfg);
nlohmann::ordered_json NoTraceJson(const std::string& why,
                                   const DoctorConfig& cfg);

}  // namespace tslab::stats_dump

#endif  // TSLAB_TOOLS_STATS_DUMP_DOCTOR_TRACE_H_
