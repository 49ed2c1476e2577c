/* tslab/compat/slab_alloc.h: the original C temporal-slab's core API
 * (its include/slab_alloc.h), over libtslab.
 *
 * Purpose: a program written against the original's public headers
 * (slab_alloc.h, epoch_domain.h, slab_stats.h, slab_diagnostics.h) builds
 * against tslab with -I<prefix>/include/tslab/compat and links libtslab
 * (-ltslab -lpthread); nothing else changes. These declarations are
 * tslab's own, written from the original's documented names and
 * signatures. Compiles as C11 and C++.
 *
 * Differences from the original (docs/compat.md lists them all):
 *   - Sizes up to 768 B for every call: tslab's malloc-style calls keep no
 *     8-byte header (the original stopped slab_malloc at 504 B, later 760).
 *   - free_obj() of an invalid, stale, double or foreign handle returns
 *     false and is counted; slab_free() of a bad pointer is a counted
 *     no-op; neither ever crashes. tslab_last_error() says why.
 *   - Epoch states: tslab has four (tslab/stats.h); EpochLifecycleState
 *     shows IDLE as EPOCH_ACTIVE (it accepts allocations) and DRAINED as
 *     EPOCH_CLOSING (closed).
 *   - allocator_init()/allocator_destroy() cannot be honoured: the
 *     allocator is opaque, so no caller can provide storage of its size.
 *     A call does not compile (GCC and Clang: an error naming the
 *     replacement; elsewhere it does nothing); use slab_allocator_create()
 *     and slab_allocator_free().
 *   - SlabHandle's bits are tslab's own encoding; treat it as opaque.
 *
 * Invariants: every call with a NULL allocator, an epoch outside [0, 16)
 * or a size outside 1..768 fails without effect (NULL, false, 0, or a
 * no-op for void calls) and sets tslab_last_error().
 * Thread-safety: as tslab/tslab.h: every call may come from any thread.
 */
#ifndef TSLAB_COMPAT_SLAB_ALLOC_H_
#define TSLAB_COMPAT_SLAB_ALLOC_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Relative: -I<prefix>/include/tslab/compat alone must suffice. */
#include "../stats.h"
#include "../tslab.h"

#ifdef __cplusplus
extern "C" {
#endif

/* libtslab is built with -fvisibility=hidden: only what is declared between
 * these pragmas is in the shared library's dynamic symbol table. */
#pragma GCC visibility push(default)

/* A slab is one page: 4096 on x86-64 (tslab_page_size() is the truth). */
#define SLAB_PAGE_SIZE 4096u

typedef struct tslab_allocator SlabAllocator;
typedef uint32_t EpochId;
typedef uint64_t SlabHandle; /* 0 is never valid */

/* The original's two states. EPOCH_ACTIVE: accepts allocations (tslab's
 * IDLE and ACTIVE); EPOCH_CLOSING: closed (tslab's CLOSING and DRAINED). */
typedef enum EpochLifecycleState {
  EPOCH_ACTIVE = 0,
  EPOCH_CLOSING = 1
} EpochLifecycleState;

/* One size class's slab counters (get_perf_counters), each the
 * SlabClassStats field of the same name. */
typedef struct PerfCounters {
  uint64_t slow_path_hits;
  uint64_t new_slab_count;
  uint64_t list_move_partial_to_full;
  uint64_t list_move_full_to_partial;
  uint64_t current_partial_null;
  uint64_t current_partial_full;
  uint64_t empty_slab_recycled;
  uint64_t empty_slab_overflowed;
} PerfCounters;

/* ---- allocator lifetime ---- */
SlabAllocator* slab_allocator_create(void);
void slab_allocator_free(SlabAllocator* alloc);

#if defined(__GNUC__) || defined(__clang__)
#define TSLAB_COMPAT_UNAVAILABLE_(msg) __attribute__((error(msg)))
#else
#define TSLAB_COMPAT_UNAVAILABLE_(msg)
#endif
/* Not honoured (see above): a call fails at compile time with this
 * message. Defined all the same (a call through a pointer, or from a
 * compiler without the attribute, changes nothing and sets
 * TSLAB_E_INVALID_ARG). */
void allocator_init(SlabAllocator* alloc) TSLAB_COMPAT_UNAVAILABLE_(
    "tslab: SlabAllocator is opaque, caller storage is impossible; use "
    "slab_allocator_create()");
void allocator_destroy(SlabAllocator* alloc) TSLAB_COMPAT_UNAVAILABLE_(
    "tslab: SlabAllocator is opaque; use slab_allocator_free()");

/* ---- handles ---- */
void* alloc_obj_epoch(SlabAllocator* alloc, uint32_t size, EpochId epoch,
                      SlabHandle* out_handle);
/* The original's first API: alloc_obj_epoch in the current epoch. */
void* alloc_obj(SlabAllocator* alloc, uint32_t size, SlabHandle* out_handle);
bool free_obj(SlabAllocator* alloc, SlabHandle handle);

/* ---- malloc-style (sizes 1..768, no header) ---- */
void* slab_malloc_epoch(SlabAllocator* alloc, size_t size, EpochId epoch);
/* slab_malloc_epoch in the current epoch. */
void* slab_malloc(SlabAllocator* alloc, size_t size);
void slab_free(SlabAllocator* alloc, void* ptr); /* NULL: no-op */

/* ---- epochs ---- */
EpochId epoch_current(SlabAllocator* alloc);
/* As the original: makes the next slot current and the previous epoch
 * CLOSING (allocations into it are refused): tslab_epoch_advance, then
 * tslab_epoch_close of the previous epoch (its empty slabs are recycled
 * at once; counted in epoch_closes). */
void epoch_advance(SlabAllocator* alloc);
void epoch_close(SlabAllocator* alloc, EpochId epoch);

/* Labels the epoch's current life ("request:abc"): at most 31 bytes kept,
 * cut on a UTF-8 boundary; NULL is ignored (the original's rule). */
void slab_epoch_set_label(SlabAllocator* alloc, EpochId epoch,
                          const char* label);
/* The epoch's domain refcount (TslabEpochStats.refcount): +1 / -1, never
 * below 0; the epoch_domain_* calls move it on a domain's first enter and
 * last exit. A reopen of the slot resets it. */
void slab_epoch_inc_refcount(SlabAllocator* alloc, EpochId epoch);
void slab_epoch_dec_refcount(SlabAllocator* alloc, EpochId epoch);
uint64_t slab_epoch_get_refcount(SlabAllocator* alloc, EpochId epoch);

/* ---- instrumentation ---- */
/* size_class 0..7; out zeroed for a bad class or allocator. */
void get_perf_counters(SlabAllocator* alloc, uint32_t size_class,
                       PerfCounters* out);

/* ---- utilities ---- */
/* Objects in one slab of the class serving obj_size; 0 if none serves it
 * (0 or above 768). tslab: (page - 64 B header) / size, at most 63. */
uint32_t slab_object_count(uint32_t obj_size);
/* This process's resident set (/proc/self/statm), bytes; 0 if unreadable. */
uint64_t read_rss_bytes_linux(void);
/* CLOCK_MONOTONIC, nanoseconds. */
uint64_t now_ns(void);

#pragma GCC visibility pop

#ifdef __cplusplus
} /* extern "C" */
#endif

/* tslab's compat slab_alloc.h declared the domain and stats calls before
 * the other headers existed: it still brings them in. */
#include "epoch_domain.h"
#include "slab_stats.h"

#endif /* TSLAB_COMPAT_SLAB_ALLOC_H_ */
