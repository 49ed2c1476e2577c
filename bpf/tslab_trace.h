/* bpf/tslab_trace.h: the data layout shared by tslab_trace.bpf.c (the BPF
 * side of tslab-trace) and its C++ user space.
 *
 * Purpose: the BPF programs keep cumulative totals in one global struct
 * (the skeleton's .bss, memory-mapped by user space), which tslab-trace
 * reads every interval and subtracts from the previous reading. Totals are
 * never cleared, so no event is lost between two readings and the sum of
 * every interval equals the count since attach.
 *
 * Invariants: enum tt_probe is generated from TSLAB_USDT_PROBE_LIST
 * (src/usdt/tslab_probes.h), so the BPF object and user space index the
 * probes alike; every index into these arrays is clamped by the BPF side.
 * Thread-safety: the BPF side adds with atomic fetch-and-add (a uprobe
 * program can be preempted, and several CPUs hit the same cells);
 * user space only reads, with 64-bit aligned loads, so a reading is per
 * cell exact, and at most a few in-flight events off across cells.
 */
#ifndef TSLAB_BPF_TSLAB_TRACE_H_
#define TSLAB_BPF_TSLAB_TRACE_H_

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "src/usdt/tslab_probes.h"

/* TT_<PROBE>: a probe's index, in the list's order (its arguments are in
 * the list). */
enum tt_probe {
#define TT_PROBE_ENUM_(name, NAME, args) TT_##NAME,
  TSLAB_USDT_PROBE_LIST(TT_PROBE_ENUM_)
#undef TT_PROBE_ENUM_
  TT_NPROBES
};

/* Probes with a duration (an argument dur_ns), and their histogram index.
 * tools/tslab-trace/probes.h checks it against the list at compile time. */
enum tt_timed { TT_H_SLOW_PATH = 0, TT_H_EPOCH_CLOSE = 1, TT_H_MADVISE = 2,
                TT_NTIMED = 3 };

/* Second index of a cell: the size class (when per_class is set, else 0),
 * the kind for invalid_free, 0 for probes without either. */
#define TT_NSUB 8
/* invalid_free's kinds have a cell each, and one is left for unknown ones. */
#ifdef __cplusplus
static_assert(TSLAB_FREE_KIND_COUNT < TT_NSUB, "a cell per free kind");
#else
_Static_assert(TSLAB_FREE_KIND_COUNT < TT_NSUB, "a cell per free kind");
#endif
/* log2 buckets: bucket i holds values v with floor(log2(v)) == i, and
 * bucket 0 also holds v == 0 (as in bcc's libbpf-tools). */
#define TT_NBUCKETS 64

/* What a/b mean per probe:
 *   slow_path:   a = reason CURRENT_FULL count, b = reason EPOCH_CLOSED count
 *   slab_new:    a = from-cache count (count - a came from the OS)
 *   epoch_close: a = slabs scanned, b = slabs recycled
 *   madvise:     a = bytes, b = calls that failed (err != 0)
 * sum is the sum of durations in ns for timed probes (whatever the
 * histograms' unit: tools/tslab-trace/report.cc converts). */
struct tt_cell {
  __u64 count;
  __u64 sum;
  __u64 a;
  __u64 b;
};

struct tt_totals {
  struct tt_cell cells[TT_NPROBES][TT_NSUB];
  __u64 hist[TT_NTIMED][TT_NSUB][TT_NBUCKETS];
};

#endif /* TSLAB_BPF_TSLAB_TRACE_H_ */
