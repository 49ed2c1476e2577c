/* tslab/compat/slab_diagnostics.h: the original temporal-slab's
 * diagnostics API (its include/slab_diagnostics.h), from tslab's counters.
 *
 * Purpose: epoch leak candidates, slow-path attribution with a
 * recommendation, and per-epoch reclamation, as the original's reports.
 * The caller frees each report's array with free(). stats_dump --doctor
 * gives the same diagnoses from outside the process. Compiles as C11 and
 * C++.
 *
 * tslab's reading of the original's criteria:
 *   - A leak candidate is a (class, epoch) pair whose epoch is CLOSING
 *     (closed and still holding objects of that class) and was opened at
 *     least threshold_sec ago. Sorted by live bytes (live objects x object
 *     size), largest first; estimated_rss_bytes is those live bytes
 *     rounded up to whole slabs, an estimate: tslab does not count slabs
 *     per (class, epoch) pair (slab_stats.h), so partial_slab_count,
 *     full_slab_count and reclaimable_slab_count are 0.
 *   - Slow paths: tslab counts four causes, the original's four names:
 *     cache misses (a fresh page), allocations refused by a closed epoch,
 *     and the two ways the current slab failed (none, or full).
 *   - Reclamation, per epoch (class_index 0xffffffff: all classes): tslab
 *     attributes madvise to classes, not epochs, so slabs_recycled and
 *     bytes_madvised are 0 per epoch; rss_before/rss_after/rss_delta are 0
 *     (no RSS read in epoch_close). The totals are exact.
 *
 * Thread-safety: every call is thread-safe (one snapshot per call).
 */
#ifndef TSLAB_COMPAT_SLAB_DIAGNOSTICS_H_
#define TSLAB_COMPAT_SLAB_DIAGNOSTICS_H_

#include <stdbool.h>
#include <stdint.h>

#include "slab_alloc.h"
#include "slab_stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* libtslab is built with -fvisibility=hidden: only what is declared between
 * these pragmas is in the shared library's dynamic symbol table. */
#pragma GCC visibility push(default)

#define SLAB_DIAGNOSTICS_VERSION 1

typedef struct EpochLeakCandidate {
  uint32_t class_index;
  uint32_t object_size;
  EpochId epoch_id;
  uint64_t epoch_era;
  char label[32];
  uint64_t age_sec;             /* since the epoch opened */
  uint64_t alloc_count;         /* live objects of the class */
  uint64_t estimated_rss_bytes; /* live bytes in whole slabs (above) */
  uint32_t partial_slab_count;     /* 0: above */
  uint32_t full_slab_count;        /* 0: above */
  uint32_t reclaimable_slab_count; /* 0: above */
} EpochLeakCandidate;

typedef struct EpochLeakReport {
  uint32_t version; /* SLAB_DIAGNOSTICS_VERSION */
  uint32_t threshold_sec;
  uint32_t candidate_count; /* all found */
  uint32_t top_count;       /* returned: min(candidate_count, max_top) */
  EpochLeakCandidate* candidates; /* malloc'd (NULL if none): free() */
} EpochLeakReport;

/* Returns candidate_count; *out zeroed on a bad argument. */
uint32_t slab_detect_epoch_leaks(SlabAllocator* alloc, uint32_t threshold_sec,
                                 uint32_t max_top, EpochLeakReport* out);

typedef struct SlowPathAttribution {
  uint32_t class_index;
  uint32_t object_size;
  uint64_t total_slow_path_hits;
  uint64_t cache_miss_count;
  uint64_t epoch_closed_count;
  uint64_t partial_null_count;
  uint64_t partial_full_count;
  double cache_miss_pct;   /* of the four causes' sum; 0 if no slow path */
  double epoch_closed_pct;
  double partial_null_pct;
  double partial_full_pct;
  char recommendation[128];
} SlowPathAttribution;

typedef struct SlowPathReport {
  uint32_t version;
  uint32_t class_count;
  SlowPathAttribution* classes; /* malloc'd: free() */
} SlowPathReport;

void slab_analyze_slow_path(SlabAllocator* alloc, SlowPathReport* out);

typedef struct EpochReclamation {
  uint32_t class_index; /* 0xffffffff: the epoch over all classes */
  EpochId epoch_id;
  uint64_t epoch_era;
  uint64_t slabs_recycled; /* 0: above */
  uint64_t bytes_madvised; /* 0: above */
  uint64_t rss_before;     /* 0: above */
  uint64_t rss_after;      /* 0: above */
  int64_t rss_delta;       /* 0: above */
  char label[32];
  bool was_closed; /* epoch_close was called on this life */
} EpochReclamation;

typedef struct ReclamationReport {
  uint32_t version;
  uint64_t total_madvise_calls;
  uint64_t total_madvise_bytes;
  uint64_t total_madvise_failures;
  uint32_t epoch_count;
  EpochReclamation* epochs; /* malloc'd: free() */
} ReclamationReport;

void slab_analyze_reclamation(SlabAllocator* alloc, ReclamationReport* out);

#pragma GCC visibility pop

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TSLAB_COMPAT_SLAB_DIAGNOSTICS_H_ */
