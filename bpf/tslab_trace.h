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

/* What only `stats_dump --doctor --trace` asks for (rodata doctor = true;
 * tslab-trace leaves it off, so its per-hit cost is unchanged), kept apart
 * from tt_totals so that tslab-trace's interval arithmetic (Subtract) never
 * sees a maximum.
 *   max:            largest duration per timed probe and cell (a plain
 *                   store: two CPUs raising it at the same instant may
 *                   keep the smaller, an accepted imprecision);
 *   close_own_*:    epoch_close minus the madvise calls made on the
 *                   closing thread since its last slow path or close (the
 *                   nested madvise time; a free-path madvise on that
 *                   thread in between would be counted too);
 *   close_nested_sum: the madvise time taken out, summed;
 *   stack_errors:   bpf_get_stackid failures (map full, no user stack). */
struct tt_extra {
  __u64 max[TT_NTIMED][TT_NSUB];
  __u64 close_own_hist[TT_NBUCKETS];
  __u64 close_own_sum;
  __u64 close_own_max;
  __u64 close_nested_sum;
  __u64 stack_errors;
  /* Events of each (probe, sub) that could take a stack: past
   * TT_STACK_ALL, they are sampled. */
  __u64 stack_seen[TT_NPROBES][TT_NSUB];
};

/* A user stack costs a walk of the frame-pointer chain, one user memory
 * read per frame: about 1 us a frame on a VM where a bare uprobe hit costs
 * 5.5 us. So the first TT_STACK_ALL events of each (probe, sub) take their
 * stack, then each later one does with probability 1/TT_STACK_EVERY and
 * counts for TT_STACK_EVERY: the counts stay unbiased estimates of the
 * true ones (exact up to TT_STACK_ALL), and a hot bug path costs about
 * 1/TT_STACK_EVERY of a stack walk a hit. */
#define TT_STACK_ALL 64
#define TT_STACK_EVERY 32
#define TT_STACK_DEPTH 32
#define TT_STACK_SLOTS 1024
#define TT_STACK_KEYS 4096
/* The probes whose user stacks are counted (doctor mode): key of the map
 * tt_stack_counts, value a count (an estimate: see above). sub: the class
 * (epoch_closed_alloc, slab_new from the arena) or the kind (invalid_free). */
struct tt_stack_key {
  __u32 probe;
  __u32 sub;
  __s32 stack_id;
  __u32 pad;
};

#endif /* TSLAB_BPF_TSLAB_TRACE_H_ */
