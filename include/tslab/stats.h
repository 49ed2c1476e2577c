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

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A compile-time check in C11 and C++ (ends with its own ';'); unchecked
 * by an older C compiler, which C++ and C11 builds of tslab still check. */
#if defined(__cplusplus)
#define TSLAB_STATIC_ASSERT(cond, msg) static_assert(cond, msg);
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define TSLAB_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg);
#else
#define TSLAB_STATIC_ASSERT(cond, msg)
#endif

#define TSLAB_NUM_CLASSES 8
#define TSLAB_NUM_EPOCHS 16
#define TSLAB_STATS_VERSION 1
/* Bytes of an epoch's label, its NUL included: at most 31 bytes of text
 * (tslab_epoch_set_label truncates on a UTF-8 character boundary). */
#define TSLAB_EPOCH_LABEL_MAX 32

/* Epoch slot states. IDLE: never opened (or reopened by nothing yet);
 * ACTIVE: accepts allocations; CLOSING: closed, still holds live objects;
 * DRAINED: closed and empty (every slab returned). */
typedef enum tslab_epoch_state {
  TSLAB_EPOCH_IDLE = 0,
  TSLAB_EPOCH_ACTIVE = 1,
  TSLAB_EPOCH_CLOSING = 2,
  TSLAB_EPOCH_DRAINED = 3
} tslab_epoch_state;

/* The field lists: one X-macro per struct, the one source of truth for its
 * fields. The structs below are generated from them, and so are the
 * snapshot's copies (src/allocator/snapshot.cc), stats_dump's JSON
 * (tools/stats_dump/snapshot_json.cc) and the tests' field lists; tests
 * check docs/counters.md and docs/stats_dump.md against them.
 *
 * X(role, kind, type, name), in struct order:
 *   role  SPEC  a field of the spec (shared/spec/stats_dump_reference.md),
 *               in the JSON's spec part, in the spec's order;
 *         ADD   a tslab addition ("tslab:"), in the JSON after the spec's
 *               fields (schema_version 1 allows additive fields);
 *         HIDE  a struct field the JSON does not show as such (it shows
 *               the value elsewhere, or not at all);
 *         PAD   padding that keeps the 64-bit fields aligned;
 *         META  not a struct field: a member of stats_dump's JSON that the
 *               spec puts here, among the struct's fields (the snapshot's
 *               metadata, the process's RSS).
 *   kind  COUNT only grows; GAUGE a current value; CONST fixed for the
 *         allocator's life; RATIO derived from counters (a double); PAD.
 * Append new fields at the end (the layout of these structs is the ABI
 * of tslab_stats_*); the JSON only ever gains members at its end.
 * Comments after an entry say what the name does not. */

#define TSLAB_CLASS_STATS_FIELDS(X)                                           \
  X(SPEC, CONST, uint32_t, version)                                           \
  X(SPEC, CONST, uint32_t, class_index)                                       \
  X(SPEC, CONST, uint32_t, object_size)                                       \
  X(PAD, PAD, uint32_t, reserved0)                                            \
  X(SPEC, COUNT, uint64_t, slow_path_hits)                                    \
  X(SPEC, COUNT, uint64_t, new_slab_count)                                    \
  X(SPEC, COUNT, uint64_t, list_move_partial_to_full)                         \
  X(SPEC, COUNT, uint64_t, list_move_full_to_partial)                         \
  X(SPEC, COUNT, uint64_t, current_partial_null)                              \
  X(SPEC, COUNT, uint64_t, current_partial_full)                              \
  X(SPEC, COUNT, uint64_t, empty_slab_recycled)                               \
  X(SPEC, COUNT, uint64_t, empty_slab_overflowed)                             \
  X(SPEC, COUNT, uint64_t, slow_path_cache_miss)                              \
  X(SPEC, COUNT, uint64_t, slow_path_epoch_closed)                            \
  X(SPEC, COUNT, uint64_t, madvise_calls)                                     \
  X(SPEC, COUNT, uint64_t, madvise_bytes)                                     \
  X(SPEC, COUNT, uint64_t, madvise_failures)                                  \
  X(SPEC, COUNT, uint64_t, epoch_close_calls)                                 \
  X(SPEC, COUNT, uint64_t, epoch_close_scanned_slabs)                         \
  X(SPEC, COUNT, uint64_t, epoch_close_recycled_slabs)                        \
  X(SPEC, COUNT, uint64_t, epoch_close_total_ns)                              \
  X(SPEC, GAUGE, uint32_t, cache_size)                                        \
  X(SPEC, CONST, uint32_t, cache_capacity)                                    \
  X(SPEC, GAUGE, uint32_t, cache_overflow_len)                                \
  X(SPEC, GAUGE, uint32_t, total_partial_slabs)                               \
  X(SPEC, GAUGE, uint32_t, total_full_slabs)                                  \
  X(PAD, PAD, uint32_t, reserved1)                                            \
  X(SPEC, RATIO, double, recycle_rate_pct)                                    \
  X(SPEC, GAUGE, uint64_t, net_slabs)                                         \
  X(SPEC, GAUGE, uint64_t, estimated_rss_bytes)                               \
  /* the spec's Phase 2.2 contention fields, in its table's order */          \
  X(SPEC, COUNT, uint64_t, bitmap_alloc_cas_retries)                          \
  X(SPEC, COUNT, uint64_t, bitmap_free_cas_retries)                           \
  X(SPEC, COUNT, uint64_t, current_partial_cas_failures)                      \
  X(SPEC, COUNT, uint64_t, bitmap_alloc_attempts)                             \
  X(SPEC, COUNT, uint64_t, bitmap_free_attempts)                              \
  X(SPEC, COUNT, uint64_t, current_partial_cas_attempts)                      \
  X(SPEC, COUNT, uint64_t, lock_fast_acquire)                                 \
  X(SPEC, COUNT, uint64_t, lock_contended)                                    \
  X(SPEC, RATIO, double, avg_alloc_cas_retries_per_attempt)                   \
  X(SPEC, RATIO, double, avg_free_cas_retries_per_attempt)                    \
  X(SPEC, RATIO, double, lock_contention_rate)                                \
  X(ADD, CONST, uint64_t, objects_per_slab) /* slots in one slab */           \
  X(ADD, COUNT, uint64_t, slabs_reused) /* taken back from cache/overflow */  \
  X(ADD, GAUGE, uint64_t, live_objects) /* allocated, not yet freed */        \
  X(ADD, GAUGE, uint64_t, live_bytes)   /* live_objects * object_size */      \
  X(ADD, GAUGE, uint64_t, draining_slabs) /* of reopened epochs' old lives */ \
  X(ADD, COUNT, uint64_t, invalid_frees) /* refused frees of this class */    \
  X(ADD, GAUGE, uint64_t, resident_empty_slabs) /* kept by the purge delay */ \
  /* the original temporal-slab's names (tslab/compat/slab_stats.h) */        \
  X(ADD, RATIO, double, current_partial_cas_failure_rate)                     \
  X(ADD, GAUGE, uint64_t, committed_bytes) /* (net + resident empty) pages */ \
  X(ADD, GAUGE, uint64_t, empty_slabs_count) /* cache_size + overflow */      \
  X(HIDE, CONST, uint32_t, scan_adapt_checks) /* 0: no adaptive scan */       \
  X(HIDE, CONST, uint32_t, scan_adapt_switches) /* 0: likewise */             \
  X(HIDE, CONST, uint32_t, scan_mode) /* 0: one scan mode (lowest bit) */     \
  X(PAD, PAD, uint32_t, reserved2)

#define TSLAB_GLOBAL_STATS_FIELDS(X)                                       \
  X(META, CONST, uint32_t, schema_version)                                 \
  X(META, GAUGE, uint64_t, timestamp_ns)                                   \
  X(META, CONST, int32_t, pid)                                             \
  X(META, CONST, int64_t, page_size)                                       \
  X(META, CONST, uint32_t, epoch_count)                                    \
  X(SPEC, CONST, uint32_t, version)                                        \
  X(SPEC, GAUGE, uint32_t, current_epoch)                                  \
  X(SPEC, GAUGE, uint32_t, active_epoch_count)                             \
  X(SPEC, GAUGE, uint32_t, closing_epoch_count)                            \
  X(SPEC, COUNT, uint64_t, total_slabs_allocated)                          \
  X(SPEC, COUNT, uint64_t, total_slabs_recycled)                           \
  X(SPEC, GAUGE, uint64_t, net_slabs)                                      \
  X(META, GAUGE, uint64_t, rss_bytes_current)                              \
  X(SPEC, GAUGE, uint64_t, estimated_slab_rss_bytes)                       \
  X(SPEC, COUNT, uint64_t, total_slow_path_hits)                           \
  X(SPEC, COUNT, uint64_t, total_cache_overflows)                          \
  X(SPEC, COUNT, uint64_t, total_slow_cache_miss)                          \
  X(SPEC, COUNT, uint64_t, total_slow_epoch_closed)                        \
  X(SPEC, COUNT, uint64_t, total_madvise_calls)                            \
  X(SPEC, COUNT, uint64_t, total_madvise_bytes)                            \
  X(SPEC, COUNT, uint64_t, total_madvise_failures)                         \
  X(HIDE, CONST, uint64_t, page_size)  /* the JSON's META page_size */     \
  X(HIDE, CONST, uint32_t, epoch_count) /* the JSON's META epoch_count */  \
  X(ADD, GAUGE, uint32_t, drained_epoch_count) /* closed, nothing left */  \
  X(ADD, COUNT, uint64_t, total_slabs_reused)                              \
  X(ADD, COUNT, uint64_t, total_allocs) /* successful allocations */       \
  X(ADD, COUNT, uint64_t, total_frees)  /* successful frees */             \
  X(ADD, GAUGE, uint64_t, live_objects)                                    \
  X(ADD, GAUGE, uint64_t, live_bytes)                                      \
  X(ADD, COUNT, uint64_t, epoch_advances) /* advances that moved */        \
  X(ADD, COUNT, uint64_t, epoch_closes) /* epoch_close calls */            \
  X(ADD, COUNT, uint64_t, epoch_wraps_live) /* onto a slot with objects */ \
  X(ADD, COUNT, uint64_t, invalid_frees) /* not from any live slot */      \
  X(ADD, COUNT, uint64_t, stale_frees)  /* handle of a reused slot */      \
  X(ADD, COUNT, uint64_t, double_frees) /* slot already free */            \
  X(ADD, COUNT, uint64_t, foreign_frees) /* another allocator's */         \
  X(ADD, COUNT, uint64_t, alloc_failures) /* refused (any reason) */       \
  X(ADD, GAUGE, uint64_t, total_resident_empty_slabs)                      \
  X(ADD, CONST, uint64_t, purge_delay_ms) /* the allocator's, resolved */ \
  /* the original temporal-slab's totals (tslab/compat/slab_stats.h) */    \
  X(ADD, COUNT, uint64_t, total_bitmap_alloc_cas_retries)                  \
  X(ADD, COUNT, uint64_t, total_bitmap_free_cas_retries)                   \
  X(ADD, COUNT, uint64_t, total_current_partial_cas_failures)              \
  X(ADD, COUNT, uint64_t, total_bitmap_alloc_attempts)                     \
  X(ADD, COUNT, uint64_t, total_bitmap_free_attempts)                      \
  X(ADD, COUNT, uint64_t, total_current_partial_cas_attempts)              \
  /* the original's struct field of the META member's name: filled by */   \
  /* the compat slab_stats_global (this process's RSS), else 0 */           \
  X(HIDE, GAUGE, uint64_t, rss_bytes_current)

#define TSLAB_EPOCH_STATS_FIELDS(X)                                          \
  X(ADD, CONST, uint32_t, epoch_id)                                          \
  X(ADD, GAUGE, uint32_t, state) /* tslab_epoch_state; the JSON: its name */ \
  X(ADD, COUNT, uint64_t, era)   /* times this slot has been (re)opened */   \
  X(HIDE, GAUGE, uint64_t, open_ns)  /* CLOCK_MONOTONIC when opened */       \
  X(HIDE, GAUGE, uint64_t, close_ns) /* ... of the last close, 0 if none */  \
  X(ADD, GAUGE, uint64_t, age_ns) /* now - open_ns, 0 if idle */             \
  X(ADD, GAUGE, uint64_t, slab_count) /* slabs the epoch holds now */        \
  X(ADD, GAUGE, uint64_t, live_objects) /* allocs - frees of this slot */    \
  X(ADD, GAUGE, uint64_t, live_bytes)                                        \
  X(ADD, COUNT, uint64_t, allocs) /* cumulative allocations into it */       \
  X(ADD, COUNT, uint64_t, frees)  /* cumulative frees from it */             \
  X(ADD, COUNT, uint64_t, close_calls)                                       \
  /* domains inside a scope of this life of the slot (entered, not yet */   \
  /* exited), plus slab_epoch_inc_refcount - dec; reset when reopened */     \
  X(ADD, GAUGE, uint64_t, refcount)

/* Every SlabGlobalStats total and the SlabClassStats field it sums over
 * the classes: X(global_field, class_field). */
#define TSLAB_GLOBAL_SUMS(X)                         \
  X(total_slabs_allocated, new_slab_count)           \
  X(total_slabs_recycled, empty_slab_recycled)       \
  X(net_slabs, net_slabs)                            \
  X(estimated_slab_rss_bytes, estimated_rss_bytes)   \
  X(total_slow_path_hits, slow_path_hits)            \
  X(total_cache_overflows, empty_slab_overflowed)    \
  X(total_slow_cache_miss, slow_path_cache_miss)     \
  X(total_slow_epoch_closed, slow_path_epoch_closed) \
  X(total_madvise_calls, madvise_calls)              \
  X(total_madvise_bytes, madvise_bytes)              \
  X(total_madvise_failures, madvise_failures)        \
  X(total_slabs_reused, slabs_reused)                \
  X(total_allocs, bitmap_alloc_attempts)             \
  X(total_frees, bitmap_free_attempts)               \
  X(live_objects, live_objects)                      \
  X(live_bytes, live_bytes)                          \
  X(total_resident_empty_slabs, resident_empty_slabs)                   \
  X(total_bitmap_alloc_cas_retries, bitmap_alloc_cas_retries)           \
  X(total_bitmap_free_cas_retries, bitmap_free_cas_retries)             \
  X(total_current_partial_cas_failures, current_partial_cas_failures)   \
  X(total_bitmap_alloc_attempts, bitmap_alloc_attempts)                 \
  X(total_bitmap_free_attempts, bitmap_free_attempts)                   \
  X(total_current_partial_cas_attempts, current_partial_cas_attempts)

/* A struct member per entry whose role is a struct field. The role is
 * pasted, never expanded, so a macro of the same name cannot interfere. */
#define TSLAB_STATS_MEMBER_(role, kind, type, name) \
  TSLAB_STATS_MEMBER_##role(type, name)
#define TSLAB_STATS_MEMBER_SPEC(type, name) type name;
#define TSLAB_STATS_MEMBER_ADD(type, name) type name;
#define TSLAB_STATS_MEMBER_HIDE(type, name) type name;
#define TSLAB_STATS_MEMBER_PAD(type, name) type name;
#define TSLAB_STATS_MEMBER_META(type, name)

typedef struct SlabClassStats {
  TSLAB_CLASS_STATS_FIELDS(TSLAB_STATS_MEMBER_)
} SlabClassStats;

typedef struct SlabGlobalStats {
  TSLAB_GLOBAL_STATS_FIELDS(TSLAB_STATS_MEMBER_)
} SlabGlobalStats;

typedef struct TslabEpochStats {
  TSLAB_EPOCH_STATS_FIELDS(TSLAB_STATS_MEMBER_)
  /* The label of this life of the slot (tslab_epoch_set_label), NUL-
   * terminated, "" if none; the one text field, so not in the list of
   * numbers above (stats_dump's JSON shows it as "label", after them). */
  char label[TSLAB_EPOCH_LABEL_MAX];
} TslabEpochStats;

/* The generated structs are those that were written by hand before the
 * lists, plus the appended fields: sizes, and offsets around the spec's
 * end and the appended fields, pinned (a reordered list fails here). */
TSLAB_STATIC_ASSERT(offsetof(SlabClassStats, recycle_rate_pct) == 176 &&
                        offsetof(SlabClassStats, lock_contention_rate) == 280 &&
                        offsetof(SlabClassStats, invalid_frees) == 328 &&
                        offsetof(SlabClassStats, resident_empty_slabs) == 336 &&
                        offsetof(SlabClassStats, committed_bytes) == 352 &&
                        sizeof(SlabClassStats) == 384,
                    "SlabClassStats: fields are only appended")
TSLAB_STATIC_ASSERT(offsetof(SlabGlobalStats, total_madvise_failures) == 96 &&
                        offsetof(SlabGlobalStats, page_size) == 104 &&
                        offsetof(SlabGlobalStats, alloc_failures) == 216 &&
                        offsetof(SlabGlobalStats,
                                 total_resident_empty_slabs) == 224 &&
                        offsetof(SlabGlobalStats, purge_delay_ms) == 232 &&
                        offsetof(SlabGlobalStats,
                                 total_current_partial_cas_attempts) == 280 &&
                        sizeof(SlabGlobalStats) == 296,
                    "SlabGlobalStats: fields are only appended")
TSLAB_STATIC_ASSERT(offsetof(TslabEpochStats, era) == 8 &&
                        offsetof(TslabEpochStats, close_calls) == 80 &&
                        offsetof(TslabEpochStats, refcount) == 88 &&
                        offsetof(TslabEpochStats, label) == 96 &&
                        sizeof(TslabEpochStats) == 128,
                    "TslabEpochStats: fields are only appended")

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
