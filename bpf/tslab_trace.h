/* bpf/tslab_trace.h: the data layout shared by tslab_trace.bpf.c (the BPF
 * side of tslab-trace) and its C++ user space.
 *
 * Purpose: the BPF programs keep cumulative totals in one global struct
 * (the skeleton's .bss, memory-mapped by user space), which tslab-trace
 * reads every interval and subtracts from the previous reading. Totals are
 * never cleared, so no event is lost between two readings and the sum of
 * every interval equals the count since attach.
 *
 * Invariants: the probe order is that of TSLAB_USDT_PROBE_LIST in
 * src/usdt/tslab_usdt.h; every index into these arrays is clamped by the
 * BPF side. Thread-safety: the BPF side adds with atomic fetch-and-add (a
 * uprobe program can be preempted, and several CPUs hit the same cells);
 * user space only reads, with 64-bit aligned loads, so a reading is per
 * cell exact, and at most a few in-flight events off across cells.
 */
#ifndef TSLAB_BPF_TSLAB_TRACE_H_
#define TSLAB_BPF_TSLAB_TRACE_H_

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum tt_probe {
  TT_SLOW_PATH = 0,      /* (cls, epoch, reason, dur_ns) */
  TT_SLAB_NEW = 1,       /* (cls, epoch, from_cache) */
  TT_EPOCH_ADVANCE = 2,  /* (old, new) */
  TT_EPOCH_CLOSE = 3,    /* (epoch, scanned, recycled, dur_ns) */
  TT_MADVISE = 4,        /* (cls, bytes, err, dur_ns) */
  TT_CACHE_OVERFLOW = 5, /* (cls) */
  TT_INVALID_FREE = 6,   /* (kind) */
  TT_EPOCH_CLOSED_ALLOC = 7, /* (cls, epoch) */
  TT_NPROBES = 8
};

/* Probes with a duration, and their histogram index. */
enum tt_timed { TT_H_SLOW_PATH = 0, TT_H_EPOCH_CLOSE = 1, TT_H_MADVISE = 2,
                TT_NTIMED = 3 };

/* Second index of a cell: the size class (when per_class is set, else 0),
 * the kind for invalid_free, 0 for probes without either. */
#define TT_NSUB 8
/* log2 buckets: bucket i holds values v with floor(log2(v)) == i, and
 * bucket 0 also holds v == 0 (as in bcc's libbpf-tools). */
#define TT_NBUCKETS 64

/* What a/b mean per probe:
 *   slow_path:   a = reason CURRENT_FULL count, b = reason EPOCH_CLOSED count
 *   slab_new:    a = from-cache count (count - a came from the OS)
 *   epoch_close: a = slabs scanned, b = slabs recycled
 *   madvise:     a = bytes, b = calls that failed (err != 0)
 * sum is the sum of durations in the chosen unit for timed probes. */
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
