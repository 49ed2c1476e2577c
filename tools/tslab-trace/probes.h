// tools/tslab-trace/probes.h: the tslab probes as tslab-trace knows them.
//
// Purpose: one table (name, arguments, what the BPF side records) used by
// the command line (--probe), the tracer (which program to attach) and the
// report. Order = enum tt_probe in bpf/tslab_trace.h = TSLAB_USDT_PROBE_LIST
// in src/usdt/tslab_usdt.h; docs/probes.md describes the same probes.
#ifndef TSLAB_TOOLS_TSLAB_TRACE_PROBES_H_
#define TSLAB_TOOLS_TSLAB_TRACE_PROBES_H_

#include <cstdint>
#include <string_view>

#include "bpf/tslab_trace.h"

namespace tslab::trace {

struct ProbeInfo {
  const char* name;
  int nargs;
  int hist;       // index into tt_totals.hist, -1 if the probe has no duration
  bool by_class;  // first argument is a size class (split by --per-class)
};

inline constexpr ProbeInfo kProbes[TT_NPROBES] = {
    {"slow_path", 4, TT_H_SLOW_PATH, true},
    {"slab_new", 3, -1, true},
    {"epoch_advance", 2, -1, false},
    {"epoch_close", 4, TT_H_EPOCH_CLOSE, false},
    {"madvise", 4, TT_H_MADVISE, true},
    {"cache_overflow", 1, -1, true},
    {"invalid_free", 1, -1, false},
    {"epoch_closed_alloc", 2, -1, true},
};

// The object sizes of tslab's size classes (include/tslab/tslab.h); the
// tracer does not link libtslab, tslab_trace_test checks the two agree.
inline constexpr uint32_t kClassSizes[TT_NSUB] = {64,  96,  128, 192,
                                                  256, 384, 512, 768};

inline constexpr const char* kFreeKinds[4] = {"invalid", "stale", "double",
                                              "foreign"};

// Index of a probe by name, -1 if unknown.
inline int ProbeIndex(std::string_view name) {
  for (int i = 0; i < TT_NPROBES; ++i) {
    if (name == kProbes[i].name) return i;
  }
  return -1;
}

}  // namespace tslab::trace

#endif  // TSLAB_TOOLS_TSLAB_TRACE_PROBES_H_
