/* tslab/stats_region.h: the layout of an allocator's counter region.
 *
 * Purpose: every allocator instance keeps its raw counters in one
 * fixed-layout block of memory, the "region". The allocator writes the
 * counters in place (no copying thread, no syscall on the hot path). The
 * region is either anonymous memory or a file under /dev/shm/tslab/ that
 * another process maps read-only (stats_dump); see tslab.h for the options.
 * A file appears under its final name only once its header is whole (it
 * is built under a hidden name and renamed), and only its writer maps it
 * read-write: a reader counts a file as live only while the process its
 * header names has it mapped.
 *
 * Layout (all offsets from the start; every counter is a 64-bit value):
 *   TslabRegionHeader  (tslab_region_header, 512 bytes)
 *   TslabRegionGlobal  global slow counters
 *   TslabRegionClass   [TSLAB_NUM_CLASSES]  per-class slow counters + gauges
 *   TslabRegionEpoch   [TSLAB_NUM_EPOCHS]   per-epoch state
 *   TslabRegionShard   [TSLAB_REGION_SHARDS] per-thread fast counters
 *   TslabRegionLabel   [TSLAB_NUM_EPOCHS]   per-epoch labels (off_labels;
 *                      0 in a region that predates them: no labels)
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

/* Relative to this file, so that -I<prefix>/include/tslab/compat alone
 * finds it (tslab/compat/slab_alloc.h). */
#include "stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* libtslab is built with -fvisibility=hidden: only what is declared between
 * these pragmas is in the shared library's dynamic symbol table. */
#pragma GCC visibility push(default)

#define TSLAB_REGION_MAGIC 0x314741545342534cULL /* "LSBSTAG1" */
#define TSLAB_REGION_LAYOUT_VERSION 1u
#define TSLAB_REGION_SHARDS 64
#define TSLAB_REGION_NAME_MAX 64

/* Region lifecycle, in header.state. */
#define TSLAB_REGION_STATE_LIVE 1u
#define TSLAB_REGION_STATE_DESTROYED 2u
/* The process exited normally with TSLAB_OPTIONS=keep_stats=1: the file
 * stays, its counters final, for stats_dump -p PID / --list; --gc removes
 * it. exit_realtime_ns says when. */
#define TSLAB_REGION_STATE_EXITED 3u

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
  /* Taken from the reserved bytes (a layout 1 reader that predates it sees
   * 0 there): the allocator's purge delay, resolved, written at creation. */
  uint64_t purge_delay_ms;
  /* Likewise: the offset of the label section, 0 if the region has none. */
  uint64_t off_labels;
  /* Likewise: the inode of the writer's PID namespace (/proc/self/ns/pid),
   * 0 if unknown. pid is the pid inside that namespace: with it, a reader
   * in another namespace finds the writer on its side (docs/stats_dump.md,
   * "Region files"). */
  uint64_t pid_ns_inode;
  /* Likewise: CLOCK_REALTIME when the process exited, written (before the
   * state becomes EXITED) only with keep_stats=1; 0 otherwise. */
  uint64_t exit_realtime_ns;
  /* The rest of 512 bytes: 16 uint64_t, 6 uint32_t, the two per-class
   * arrays, the name. */
  uint8_t reserved[512 - 8 * 16 - 4 * 6 - 16 * TSLAB_NUM_CLASSES -
                   TSLAB_REGION_NAME_MAX];
} TslabRegionHeader;

/* The counter lists of the sections: one X-macro per struct, the one
 * source of truth for its fields. The structs are generated from them, and
 * so is tslab_region_snapshot's copy into tslab/stats.h's structs
 * (src/allocator/snapshot.cc). Every field is a uint64_t.
 *
 * X(role, name) for the global, class and epoch sections:
 *   COPY   the snapshot copies it to the field of the same name of
 *          SlabGlobalStats, SlabClassStats or TslabEpochStats;
 *   DERIVE the snapshot only uses it to derive other fields.
 * Each section is a fixed number of 64-bit slots: a field appended to a
 * list takes a reserved slot, so the section's size and every earlier
 * offset stay (layout_version 1). Append only; the engine writes the
 * fields by name (region_.cls(c).madvise_calls). */

/* Rare events, written with relaxed atomic adds. */
#define TSLAB_REGION_GLOBAL_FIELDS(X) \
  X(COPY, current_epoch)              \
  X(COPY, epoch_advances)             \
  X(COPY, epoch_closes)               \
  X(COPY, epoch_wraps_live)           \
  X(COPY, invalid_frees)              \
  X(COPY, stale_frees)                \
  X(COPY, double_frees)               \
  X(COPY, foreign_frees)              \
  X(COPY, alloc_failures)
#define TSLAB_REGION_GLOBAL_SLOTS 16

/* Per class: rare slow-path counters (relaxed atomic adds), then gauges
 * (stored under the class lock). Frequent events live in the shards. */
#define TSLAB_REGION_CLASS_FIELDS(X)                                      \
  X(COPY, new_slab_count)                                                 \
  X(COPY, slabs_reused)                                                   \
  X(COPY, empty_slab_recycled)                                            \
  X(COPY, empty_slab_overflowed)                                          \
  X(COPY, slow_path_cache_miss)                                           \
  X(COPY, slow_path_epoch_closed)                                         \
  X(COPY, madvise_calls)                                                  \
  X(COPY, madvise_bytes)                                                  \
  X(COPY, madvise_failures)                                               \
  X(COPY, epoch_close_calls)                                              \
  X(COPY, epoch_close_scanned_slabs)                                      \
  X(COPY, epoch_close_recycled_slabs)                                     \
  X(COPY, epoch_close_total_ns)                                           \
  X(COPY, invalid_frees)                                                  \
  /* gauges */                                                            \
  X(COPY, cache_size)                                                     \
  X(COPY, cache_overflow_len)                                             \
  X(DERIVE, owned_slabs) /* held by epochs, draining ones included */     \
  X(COPY, draining_slabs)                                                 \
  /* empty slabs whose pages are still resident (purge delay); part of */ \
  /* cache_size + cache_overflow_len */                                   \
  X(COPY, resident_empty_slabs)
#define TSLAB_REGION_CLASS_SLOTS 24

#define TSLAB_REGION_EPOCH_FIELDS(X)     \
  X(COPY, state) /* tslab_epoch_state */ \
  X(COPY, era)                           \
  X(COPY, open_ns)                       \
  X(COPY, close_ns)                      \
  X(COPY, slab_count)                    \
  X(COPY, close_calls)                   \
  X(COPY, refcount) /* domains in a scope of this life */
#define TSLAB_REGION_EPOCH_SLOTS 8

/* Per-thread counters of frequent events, per class: X(name, class_field),
 * summed over the shards by the snapshot into SlabClassStats' class_field.
 * No reserved slots: a field added here changes the shard's size, hence
 * the layout (layout_version). */
#define TSLAB_REGION_SHARD_CLASS_FIELDS(X)                               \
  X(alloc_cas_retries, bitmap_alloc_cas_retries)                         \
  X(free_cas_retries, bitmap_free_cas_retries)                           \
  X(slow_path_hits, slow_path_hits)                                      \
  X(current_partial_null, current_partial_null)                          \
  X(current_partial_full, current_partial_full)                          \
  X(slab_fills, list_move_partial_to_full) /* took a slab's last slot */ \
  X(slab_unfills, list_move_full_to_partial) /* a free on a full slab */ \
  X(current_cas_attempts, current_partial_cas_attempts)                  \
  X(current_cas_failures, current_partial_cas_failures)                  \
  X(lock_fast_acquire, lock_fast_acquire)                                \
  X(lock_contended, lock_contended)

#define TSLAB_REGION_MEMBER_(role, name) uint64_t name;
#define TSLAB_REGION_SHARD_MEMBER_(name, class_field) uint64_t name;
/* Counts a list's fields: (0 +1 +1 ...), a constant expression. */
#define TSLAB_REGION_COUNT_(...) +1

typedef struct TslabRegionGlobal {
  TSLAB_REGION_GLOBAL_FIELDS(TSLAB_REGION_MEMBER_)
  uint64_t reserved[TSLAB_REGION_GLOBAL_SLOTS -
                    (0 TSLAB_REGION_GLOBAL_FIELDS(TSLAB_REGION_COUNT_))];
} TslabRegionGlobal;

typedef struct TslabRegionClass {
  TSLAB_REGION_CLASS_FIELDS(TSLAB_REGION_MEMBER_)
  uint64_t reserved[TSLAB_REGION_CLASS_SLOTS -
                    (0 TSLAB_REGION_CLASS_FIELDS(TSLAB_REGION_COUNT_))];
} TslabRegionClass;

typedef struct TslabRegionEpoch {
  TSLAB_REGION_EPOCH_FIELDS(TSLAB_REGION_MEMBER_)
  uint64_t reserved[TSLAB_REGION_EPOCH_SLOTS -
                    (0 TSLAB_REGION_EPOCH_FIELDS(TSLAB_REGION_COUNT_))];
} TslabRegionEpoch;

/* Per-thread counters of frequent events. One thread owns a shard at a
 * time; the last shard is shared by any threads beyond
 * TSLAB_REGION_SHARDS - 1 and is updated with atomic adds. */
typedef struct TslabRegionShardClass {
  TSLAB_REGION_SHARD_CLASS_FIELDS(TSLAB_REGION_SHARD_MEMBER_)
} TslabRegionShardClass;

typedef struct TslabRegionShard {
  /* allocs/frees per (epoch, class): live objects per epoch and per class
   * fall out of the same two counters, one add per operation. */
  uint64_t allocs[TSLAB_NUM_EPOCHS][TSLAB_NUM_CLASSES];
  uint64_t frees[TSLAB_NUM_EPOCHS][TSLAB_NUM_CLASSES];
  TslabRegionShardClass cls[TSLAB_NUM_CLASSES];
  uint64_t pad[8]; /* a whole number of cache lines */
} TslabRegionShard;

/* An epoch's label, written rarely (tslab_epoch_set_label, a reopen) and
 * read from other processes while it may change: a sequence lock. The
 * writer (one at a time, under the allocator's label lock) makes `seq` odd,
 * stores the text, makes `seq` even again; a reader copies the text between
 * two reads of an even, unchanged `seq` and retries otherwise, so it never
 * sees half of one label and half of another. `text` holds
 * TSLAB_EPOCH_LABEL_MAX bytes, NUL-padded, always NUL-terminated; every
 * access is a 64-bit atomic (release stores, acquire loads). Readers: use
 * tslab_region_snapshot (TslabEpochStats.label). One cache line each. */
typedef struct TslabRegionLabel {
  uint64_t seq;
  uint64_t text[TSLAB_EPOCH_LABEL_MAX / 8];
  uint64_t reserved[8 - 1 - TSLAB_EPOCH_LABEL_MAX / 8];
} TslabRegionLabel;

/* layout_version 1, pinned: the generated sections are the hand-written
 * ones they replaced (same sizes, same offsets), each list leaves at least
 * one reserved slot (no zero-sized array), the header is 512 bytes. */
TSLAB_STATIC_ASSERT(sizeof(TslabRegionHeader) == 512 &&
                        offsetof(TslabRegionHeader, off_shards) == 112 &&
                        offsetof(TslabRegionHeader, name) == 248 &&
                        offsetof(TslabRegionHeader, purge_delay_ms) == 312 &&
                        offsetof(TslabRegionHeader, off_labels) == 320 &&
                        offsetof(TslabRegionHeader, pid_ns_inode) == 328 &&
                        offsetof(TslabRegionHeader, exit_realtime_ns) == 336 &&
                        offsetof(TslabRegionHeader, reserved) == 344,
                    "TslabRegionHeader: layout 1 is 512 bytes")
TSLAB_STATIC_ASSERT((0 TSLAB_REGION_GLOBAL_FIELDS(TSLAB_REGION_COUNT_)) <
                            TSLAB_REGION_GLOBAL_SLOTS &&
                        sizeof(TslabRegionGlobal) == 16 * 8 &&
                        offsetof(TslabRegionGlobal, alloc_failures) == 64,
                    "TslabRegionGlobal: layout 1")
TSLAB_STATIC_ASSERT((0 TSLAB_REGION_CLASS_FIELDS(TSLAB_REGION_COUNT_)) <
                            TSLAB_REGION_CLASS_SLOTS &&
                        sizeof(TslabRegionClass) == 24 * 8 &&
                        offsetof(TslabRegionClass, madvise_calls) == 48 &&
                        offsetof(TslabRegionClass, invalid_frees) == 104 &&
                        offsetof(TslabRegionClass, owned_slabs) == 128 &&
                        offsetof(TslabRegionClass, resident_empty_slabs) ==
                            144,
                    "TslabRegionClass: layout 1")
TSLAB_STATIC_ASSERT((0 TSLAB_REGION_EPOCH_FIELDS(TSLAB_REGION_COUNT_)) <
                            TSLAB_REGION_EPOCH_SLOTS &&
                        sizeof(TslabRegionEpoch) == 8 * 8 &&
                        offsetof(TslabRegionEpoch, close_calls) == 40 &&
                        offsetof(TslabRegionEpoch, refcount) == 48,
                    "TslabRegionEpoch: layout 1")
TSLAB_STATIC_ASSERT(sizeof(TslabRegionShardClass) == 11 * 8 &&
                        offsetof(TslabRegionShardClass, slab_fills) == 40 &&
                        offsetof(TslabRegionShardClass, lock_contended) ==
                            80 &&
                        offsetof(TslabRegionShard, cls) == 2048 &&
                        sizeof(TslabRegionShard) == 2816 &&
                        sizeof(TslabRegionShard) % 64 == 0,
                    "TslabRegionShard: layout 1, whole cache lines")
TSLAB_STATIC_ASSERT(sizeof(TslabRegionLabel) == 64 &&
                        TSLAB_EPOCH_LABEL_MAX % 8 == 0,
                    "TslabRegionLabel: one cache line of whole words")

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

#pragma GCC visibility pop

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TSLAB_STATS_REGION_H_ */
