// tools/tslab-trace/report.h: tslab-trace's output, one block per interval.
//
// Purpose: per probe, the interval's event count and rate, the probe's own
// totals (reasons, bytes, slabs...) and, for probes with a duration, a log2
// histogram in the style of bcc's tools (ns, us or ms); split by size class
// with --per-class. --json prints the same as one JSON document per line.
//
// Invariants: `delta` is the interval's totals (current reading minus the
// previous one), `total` the reading since attach; both come from
// Tracer::Read. Thread-safety: single-threaded use.
#ifndef TSLAB_TOOLS_TSLAB_TRACE_REPORT_H_
#define TSLAB_TOOLS_TSLAB_TRACE_REPORT_H_

#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "bpf/tslab_trace.h"

namespace tslab::trace {

struct ReportConfig {
  std::vector<int> probes;  // indices into kProbes, in output order
  bool per_class = false;
  bool json = false;
  std::string unit = "ns";  // "ns", "us" or "ms"
  pid_t pid = -1;           // -1 with --binary
  std::string binary;       // --binary PATH
};

struct IntervalInfo {
  int index = 0;            // 1, 2, ...
  double seconds = 0;       // measured length of the interval
  uint64_t realtime_ns = 0;
  bool final = false;       // the last interval printed
  bool target_exited = false;
};

// a - b, cell by cell.
tt_totals Subtract(const tt_totals& a, const tt_totals& b);

void PrintInterval(const ReportConfig& cfg, const tt_totals& delta,
                   const tt_totals& total, const IntervalInfo& info,
                   FILE* out);

// Nanoseconds per unit ("ns", "us", "ms"): the BPF sums are in ns.
double NsPerUnit(const std::string& unit);
// v with two significant digits ("13", "1.3", "0.013"); whole above 10.
std::string TwoDigits(double v);

// bcc-style log2 histogram of buckets[0..n): bucket i covers [2^i, 2^(i+1))
// (bucket 0 also 0). Prints nothing if every bucket is 0.
void PrintLog2Hist(FILE* out, const uint64_t* buckets, int n,
                   const std::string& label, int indent);

}  // namespace tslab::trace

#endif  // TSLAB_TOOLS_TSLAB_TRACE_REPORT_H_
