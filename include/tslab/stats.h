/* tslab/stats.h: snapshot structs of the allocator's counters.
 *
 * Purpose: the plain, fixed-layout C structs that an in-process caller
 * (tslab_stats_*) and an out-of-process reader (tslab_region_snapshot, used by
 * stats_dump) fill. Field names are those of the stats_dump JSON contract
 * (shared/spec/stats_dump_reference.md, schema_version 1); fields the spec
 * lacks are marked "tslab:" and appended after the spec's fields.
 *
 * Invariants, exact when the allocator is quiescent (no call in flight):
 *   - every total_* equals the sum of its per-class field;
 *   - per class: net_slabs == total_partial_slabs + total_full_slabs and
 *     estimated_rss_bytes == net_slabs * page_size;
 *   - madvise_bytes is a whole number of pages.
 * While threads run, each monotonic counter read twice never goes backwards,
 * but fields of one snapshot may be a few operations apart.
 *
 * How each field is computed: docs/counters.md.
 * Thread-safety: the structs are values; filling them is thread-safe.
 */
#ifndef TSLAB_STATS_H_
#define TSLAB_STATS_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TSLAB_NUM_CLASSES 8
#define TSLAB_NUM_EPOCHS 16
#define TSLAB_STATS_VERSION 1

/* Epoch slot states. IDLE: never opened (or reopened by nothing yet);
 * ACTIVE: accepts allocations; CLOSING: closed, still holds live objects;
 * DRAINED: closed and empty (every slab returned). */
typedef enum tslab_epoch_state {
  TSLAB_EPOCH_IDLE = 0,
  TSLAB_EPOCH_ACTIVE = 1,
  TSLAB_EPOCH_CLOSING = 2,
  TSLAB_EPOCH_DRAINED = 3
} tslab_epoch_state;

typedef struct SlabClassStats {
  /* --- spec fields, in the spec's order --- */
  uint32_t version;
  uint32_t class_index;
  uint32_t object_size;
  uint32_t reserved0; /* padding, keeps the 64-bit fields aligned */
  uint64_t slow_path_hits;
  uint64_t new_slab_count;
  uint64_t list_move_partial_to_full;
  uint64_t list_move_full_to_partial;
  uint64_t current_partial_null;
  uint64_t current_partial_full;
  uint64_t empty_slab_recycled;
  uint64_t empty_slab_overflowed;
  uint64_t slow_path_cache_miss;
  uint64_t slow_path_epoch_closed;
  uint64_t madvise_calls;
  uint64_t madvise_bytes;
  uint64_t madvise_failures;
  uint64_t epoch_close_calls;
  uint64_t epoch_close_scanned_slabs;
  uint64_t epoch_close_recycled_slabs;
  uint64_t epoch_close_total_ns;
  uint32_t cache_size;
  uint32_t cache_capacity;
  uint32_t cache_overflow_len;
  uint32_t total_partial_slabs;
  uint32_t total_full_slabs;
  uint32_t reserved1;
  double recycle_rate_pct;
  uint64_t net_slabs;
  uint64_t estimated_rss_bytes;
  /* Phase 2.2 contention fields */
  uint64_t bitmap_alloc_cas_retries;
  uint64_t bitmap_free_cas_retries;
  uint64_t current_partial_cas_failures;
  uint64_t bitmap_alloc_attempts;
  uint64_t bitmap_free_attempts;
  uint64_t current_partial_cas_attempts;
  uint64_t lock_fast_acquire;
  uint64_t lock_contended;
  double avg_alloc_cas_retries_per_attempt;
  double avg_free_cas_retries_per_attempt;
  double lock_contention_rate;
  /* --- tslab: additions --- */
  uint64_t objects_per_slab;   /* tslab: slots in one slab of this class */
  uint64_t slabs_reused;       /* tslab: empty slabs taken back from cache/overflow */
  uint64_t live_objects;       /* tslab: allocated and not yet freed */
  uint64_t live_bytes;         /* tslab: live_objects * object_size */
  uint64_t draining_slabs;     /* tslab: slabs of a reopened epoch's old life */
  uint64_t invalid_frees;      /* tslab: refused frees attributed to this class */
} SlabClassStats;

typedef struct SlabGlobalStats {
  /* --- spec fields, in the spec's order --- */
  uint32_t version;
  uint32_t current_epoch;
  uint32_t active_epoch_count;
  uint32_t closing_epoch_count;
  uint64_t total_slabs_allocated;
  uint64_t total_slabs_recycled;
  uint64_t net_slabs;
  uint64_t estimated_slab_rss_bytes;
  uint64_t total_slow_path_hits;
  uint64_t total_cache_overflows;
  uint64_t total_slow_cache_miss;
  uint64_t total_slow_epoch_closed;
  uint64_t total_madvise_calls;
  uint64_t total_madvise_bytes;
  uint64_t total_madvise_failures;
  /* --- tslab: additions --- */
  uint64_t page_size;
  uint32_t epoch_count;
  uint32_t drained_epoch_count; /* tslab: closed epochs with nothing left */
  uint64_t total_slabs_reused;  /* tslab: sum of slabs_reused */
  uint64_t total_allocs;        /* tslab: successful allocations */
  uint64_t total_frees;         /* tslab: successful frees */
  uint64_t live_objects;
  uint64_t live_bytes;
  uint64_t epoch_advances;      /* tslab: epoch_advance calls that moved */
  uint64_t epoch_closes;        /* tslab: epoch_close calls (not x classes) */
  uint64_t epoch_wraps_live;    /* tslab: advances onto a slot still holding objects */
  uint64_t invalid_frees;       /* tslab: handle/pointer not from any live slot */
  uint64_t stale_frees;         /* tslab: handle of a slot since reused */
  uint64_t double_frees;        /* tslab: slot already free */
  uint64_t foreign_frees;       /* tslab: belongs to another allocator */
  uint64_t alloc_failures;      /* tslab: allocations refused (any reason) */
} SlabGlobalStats;

typedef struct TslabEpochStats {
  uint32_t epoch_id;
  uint32_t state;          /* tslab_epoch_state */
  uint64_t era;            /* times this slot has been (re)opened */
  uint64_t open_ns;        /* CLOCK_MONOTONIC when opened, 0 if never */
  uint64_t close_ns;       /* CLOCK_MONOTONIC of the last close, 0 if none */
  uint64_t age_ns;         /* now - open_ns at the snapshot, 0 if idle */
  uint64_t slab_count;     /* slabs the epoch holds now */
  uint64_t live_objects;   /* allocations minus frees of this slot */
  uint64_t live_bytes;
  uint64_t allocs;         /* cumulative allocations into this slot */
  uint64_t frees;          /* cumulative frees from this slot */
  uint64_t close_calls;
} TslabEpochStats;

/* A whole snapshot: what stats_dump serialises. */
typedef struct TslabSnapshot {
  int32_t pid;
  uint32_t reserved0;
  uint64_t page_size;
  SlabGlobalStats global;
  SlabClassStats classes[TSLAB_NUM_CLASSES];
  TslabEpochStats epochs[TSLAB_NUM_EPOCHS];
} TslabSnapshot;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TSLAB_STATS_H_ */
