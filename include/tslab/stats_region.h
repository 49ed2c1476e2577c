/* tslab/stats_region.h: the layout of an allocator's counter region.
 *
 * Purpose: every allocator instance keeps its raw counters in one
 * fixed-layout block of memory, the "region". The allocator writes the
 * counters in place (no copying thread, no syscall on the hot path). The
 * region is either anonymous memory or a file under /dev/shm/tslab/ that
 * another process maps read-only (stats_dump); see tslab.h for the options.
 *
 * Layout (all offsets from the start; every counter is a 64-bit value):
 *   TslabRegionHeader  (tslab_region_header, 512 bytes)
 *   TslabRegionGlobal  global slow counters
 *   TslabRegionClass   [TSLAB_NUM_CLASSES]  per-class slow counters + gauges
 *   TslabRegionEpoch   [TSLAB_NUM_EPOCHS]   per-epoch state
 *   TslabRegionShard   [TSLAB_REGION_SHARDS] per-thread fast counters
 *
 * Invariants: magic and layout_version are written last at creation
 * (release), so a reader that sees them sees a whole header. Counters only
 * grow; gauges are exact when the allocator is quiescent. Fast-path counters
 * are sharded per thread (one writer per shard, no atomic read-modify-write)
 * so that no cache line is written by every thread; a reader sums shards.
 *
 * Readers: use tslab_region_snapshot() rather than summing by hand.
 * Thread-safety: readers need no lock; values are read with relaxed loads.
 */
#ifndef TSLAB_STATS_REGION_H_
#define TSLAB_STATS_REGION_H_

#include <stddef.h>
#include <stdint.h>

#include "tslab/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TSLAB_REGION_MAGIC 0x314741545342534cULL /* "LSBSTAG1" */
#define TSLAB_REGION_LAYOUT_VERSION 1u
#define TSLAB_REGION_SHARDS 64
#define TSLAB_REGION_NAME_MAX 64

/* Region lifecycle, in header.state. */
#define TSLAB_REGION_STATE_LIVE 1u
#define TSLAB_REGION_STATE_DESTROYED 2u

typedef struct TslabRegionHeader {
  uint64_t magic;
  uint32_t layout_version;
  uint32_t header_size;        /* sizeof(TslabRegionHeader) */
  uint64_t region_size;        /* bytes of the whole region */
  int64_t pid;
  uint64_t start_time_ticks;   /* /proc/PID/stat field 22: detects PID reuse */
  uint64_t create_realtime_ns; /* CLOCK_REALTIME at creation */
  uint64_t page_size;
  uint32_t epoch_count;
  uint32_t class_count;
  uint32_t shard_count;
  uint32_t state;              /* TSLAB_REGION_STATE_* */
  uint64_t allocator_id;       /* unique among the process's live allocators */
  uint64_t cache_capacity;
  uint64_t off_global;         /* offsets of the sections */
  uint64_t off_classes;
  uint64_t off_epochs;
  uint64_t off_shards;
  uint64_t object_size[TSLAB_NUM_CLASSES];
  uint64_t objects_per_slab[TSLAB_NUM_CLASSES];
  char name[TSLAB_REGION_NAME_MAX]; /* NUL-terminated, may be empty */
  uint8_t reserved[512 - 8 * 12 - 4 * 6 - 16 * TSLAB_NUM_CLASSES -
                   TSLAB_REGION_NAME_MAX];
} TslabRegionHeader;

/* Rare events, written with relaxed atomic adds. */
typedef struct TslabRegionGlobal {
  uint64_t current_epoch;
  uint64_t epoch_advances;
  uint64_t epoch_closes;
  uint64_t epoch_wraps_live;
  uint64_t invalid_frees;
  uint64_t stale_frees;
  uint64_t double_frees;
  uint64_t foreign_frees;
  uint64_t alloc_failures;
  uint64_t reserved[7];
} TslabRegionGlobal;

/* Per class: rare slow-path counters (relaxed atomic adds) and gauges
 * (stored under the class lock). Frequent events live in the shards. */
typedef struct TslabRegionClass {
  uint64_t new_slab_count;
  uint64_t slabs_reused;
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
  uint64_t invalid_frees;
  /* gauges */
  uint64_t cache_size;
  uint64_t cache_overflow_len;
  uint64_t owned_slabs;    /* slabs held by epochs, draining ones included */
  uint64_t draining_slabs;
  uint64_t resident_empty_slabs; /* empty slabs whose pages are still
                                  * resident (purge delay); part of
                                  * cache_size + cache_overflow_len */
  uint64_t reserved[5];
} TslabRegionClass;

typedef struct TslabRegionEpoch {
  uint64_t state; /* tslab_epoch_state */
  uint64_t era;
  uint64_t open_ns;
  uint64_t close_ns;
  uint64_t slab_count;
  uint64_t close_calls;
  uint64_t reserved[2];
} TslabRegionEpoch;

/* Per-thread counters of frequent events. One thread owns a shard at a
 * time; the last shard is shared by any threads beyond
 * TSLAB_REGION_SHARDS - 1 and is updated with atomic adds. */
typedef struct TslabRegionShardClass {
  uint64_t alloc_cas_retries;
  uint64_t free_cas_retries;
  uint64_t slow_path_hits;
  uint64_t current_partial_null;
  uint64_t current_partial_full;
  uint64_t slab_fills;    /* a claim took a slab's last free slot */
  uint64_t slab_unfills;  /* a free on a full slab */
  uint64_t current_cas_attempts;
  uint64_t current_cas_failures;
  uint64_t lock_fast_acquire;
  uint64_t lock_contended;
} TslabRegionShardClass;

typedef struct TslabRegionShard {
  /* allocs/frees per (epoch, class): live objects per epoch and per class
   * fall out of the same two counters, one add per operation. */
  uint64_t allocs[TSLAB_NUM_EPOCHS][TSLAB_NUM_CLASSES];
  uint64_t frees[TSLAB_NUM_EPOCHS][TSLAB_NUM_CLASSES];
  TslabRegionShardClass cls[TSLAB_NUM_CLASSES];
  uint64_t pad[8]; /* a whole number of cache lines */
} TslabRegionShard;

/* Fills *out from a region (mapped by this or another process).
 * REQUIRES: region points to size readable bytes.
 * Returns 0, or a tslab_status (tslab.h): TSLAB_E_REGION_CORRUPT (bad magic
 * or offsets), TSLAB_E_REGION_VERSION (other layout_version),
 * TSLAB_E_REGION_TRUNCATED (size smaller than the header says).
 * now_mono_ns: CLOCK_MONOTONIC "now" for epoch ages (0: read the clock). */
int tslab_region_snapshot(const void* region, size_t size,
                          uint64_t now_mono_ns, TslabSnapshot* out);

/* Bytes a region of the current layout takes. */
size_t tslab_region_size(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TSLAB_STATS_REGION_H_ */
