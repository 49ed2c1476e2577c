/* tslab/compat/slab_stats.h: the original temporal-slab's statistics API
 * (its include/slab_stats.h), filled from tslab's counters.
 *
 * Purpose: SlabGlobalStats and SlabClassStats are tslab's own structs
 * (tslab/stats.h): they carry every field name of the original's, plus
 * tslab's. This header adds the original's per-(class, epoch) view
 * (SlabEpochStats, slab_stats_epoch) and per-thread sampling view
 * (ThreadStats, slab_stats_thread). Compiles as C11 and C++.
 *
 * Fields that have no meaning in tslab are 0, and say why here:
 *   SlabClassStats.scan_adapt_checks, scan_adapt_switches, scan_mode:
 *     tslab has one bitmap scan (lowest free bit), never adapted.
 *   SlabEpochStats.rss_before_close, rss_after_close: tslab does not read
 *     the process's RSS in epoch_close (a system call on every close);
 *     what a close gave back is madvise_bytes (per class) instead.
 *   SlabEpochStats.partial_slab_count, full_slab_count, estimated_rss_bytes,
 *     reclaimable_slab_count, reclaimable_bytes: tslab counts slabs per
 *     epoch (all classes: tslab_stats_epoch's slab_count) and per class,
 *     not per (class, epoch) pair, without walking other threads' lists.
 *   ThreadStats: every field. tslab samples no allocation latency inside
 *     the allocator; its slow_path and epoch_close probes carry durations
 *     (docs/probes.md), and it never repairs a slab (no zombie repairs).
 *
 * SLAB_STATS_VERSION is tslab's TSLAB_STATS_VERSION (1), the value of the
 * structs' version fields, so a check of version == SLAB_STATS_VERSION
 * holds.
 * Thread-safety: every call is thread-safe; a snapshot is not atomic
 * across fields (tslab/stats.h says how far apart they may be).
 */
#ifndef TSLAB_COMPAT_SLAB_STATS_H_
#define TSLAB_COMPAT_SLAB_STATS_H_

#include <stdint.h>
#include <time.h>

#include "slab_alloc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* libtslab is built with -fvisibility=hidden: only what is declared between
 * these pragmas is in the shared library's dynamic symbol table. */
#pragma GCC visibility push(default)

#define SLAB_STATS_VERSION TSLAB_STATS_VERSION

/* One epoch of one size class. */
typedef struct SlabEpochStats {
  uint32_t version;       /* SLAB_STATS_VERSION */
  uint32_t class_index;
  uint32_t object_size;
  EpochId epoch_id;
  uint64_t epoch_era;     /* times the slot was (re)opened */
  EpochLifecycleState state;
  uint64_t open_since_ns; /* CLOCK_MONOTONIC at the open, 0 if never */
  uint64_t alloc_count;   /* live objects of this class in this epoch */
  char label[32];         /* the epoch's label, "" if none */
  uint64_t rss_before_close; /* 0: see above */
  uint64_t rss_after_close;  /* 0: see above */
  uint32_t partial_slab_count;     /* 0: see above */
  uint32_t full_slab_count;        /* 0: see above */
  uint64_t estimated_rss_bytes;    /* 0: see above */
  uint32_t reclaimable_slab_count; /* 0: see above */
  uint64_t reclaimable_bytes;      /* 0: see above */
} SlabEpochStats;

/* Per-thread allocation sampling of the original; all 0 in tslab. */
typedef struct ThreadStats {
  uint64_t alloc_samples;
  uint64_t alloc_wall_ns_sum;
  uint64_t alloc_cpu_ns_sum;
  uint64_t alloc_wall_ns_max;
  uint64_t alloc_cpu_ns_max;
  uint64_t alloc_wait_ns_sum;
  uint64_t alloc_wait_ns_max;
  uint64_t repair_count;
  uint64_t repair_wall_ns_sum;
  uint64_t repair_cpu_ns_sum;
  uint64_t repair_wall_ns_max;
  uint64_t repair_cpu_ns_max;
  uint64_t repair_wait_ns_sum;
  uint64_t repair_wait_ns_max;
  uint64_t repair_reason_full_bitmap;
  uint64_t repair_reason_list_mismatch;
  uint64_t repair_reason_other;
} ThreadStats;

/* The original's sampling constants and helper. */
#define SAMPLE_RATE_MASK 1023u
#define REPAIR_REASON_FULL_BITMAP (1u << 0)
#define REPAIR_REASON_LIST_MISMATCH (1u << 1)
static inline uint64_t ns_from_ts(const struct timespec* t) {
  return (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec;
}

void slab_stats_global(SlabAllocator* alloc, SlabGlobalStats* out);
void slab_stats_class(SlabAllocator* alloc, uint32_t size_class,
                      SlabClassStats* out);
/* out zeroed for a bad allocator, class or epoch. */
void slab_stats_epoch(SlabAllocator* alloc, uint32_t size_class,
                      EpochId epoch, SlabEpochStats* out);
/* The calling thread's sampling counters (all 0 in tslab). */
ThreadStats slab_stats_thread(void);

/* Prints the thread-cache statistics of the original to stdout. tslab has
 * no thread cache in front of its slabs (each thread owns its slabs), so
 * it prints what stands for it: allocations and frees, and how many took
 * the slow path, from the counters of every live allocator of this
 * process that called slab_allocator_create. */
void tls_print_stats(void);

#pragma GCC visibility pop

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TSLAB_COMPAT_SLAB_STATS_H_ */
