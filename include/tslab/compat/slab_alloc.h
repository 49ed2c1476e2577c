/* tslab/compat/slab_alloc.h: drop-in API of the original C temporal-slab.
 *
 * Purpose: C users of temporal-slab relink against libtslab without
 * touching their code. Compiles as C11 and C++.
 *
 * Differences from the original, all in the direction of safety:
 *   - free_obj() on an invalid, stale, double or foreign handle returns
 *     false and is counted; slab_free() on a bad pointer is a counted no-op.
 *   - epoch_close() of an epoch that a later epoch_advance() reopened is
 *     refused when it comes through a domain (the era check).
 * tslab_last_error() (tslab/tslab.h) says why a call failed.
 *
 * Thread-safety: as tslab/tslab.h. epoch_domain_t's fields mirror the
 * domain's state after each call on it; they are for reading.
 */
#ifndef TSLAB_COMPAT_SLAB_ALLOC_H_
#define TSLAB_COMPAT_SLAB_ALLOC_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tslab/stats.h"
#include "tslab/tslab.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tslab_allocator SlabAllocator;
typedef uint32_t EpochId;
typedef uint64_t SlabHandle;

SlabAllocator* slab_allocator_create(void);
void slab_allocator_free(SlabAllocator* alloc);

void* alloc_obj_epoch(SlabAllocator* alloc, uint32_t size, EpochId epoch,
                      SlabHandle* out);
bool free_obj(SlabAllocator* alloc, SlabHandle h);

void* slab_malloc_epoch(SlabAllocator* alloc, size_t size, EpochId epoch);
void slab_free(SlabAllocator* alloc, void* ptr);

EpochId epoch_current(SlabAllocator* alloc);
void epoch_advance(SlabAllocator* alloc);
void epoch_close(SlabAllocator* alloc, EpochId epoch);

void slab_stats_global(SlabAllocator* alloc, SlabGlobalStats* out);
void slab_stats_class(SlabAllocator* alloc, uint32_t cls, SlabClassStats* out);

typedef struct epoch_domain {
  SlabAllocator* alloc;
  EpochId epoch_id;
  uint64_t epoch_era;
  uint32_t refcount;
  bool auto_close;
  struct tslab_domain* impl;
} epoch_domain_t;

/* Binds to the current epoch, auto-closing on the last exit. */
epoch_domain_t* epoch_domain_create(SlabAllocator* alloc);
epoch_domain_t* epoch_domain_wrap(SlabAllocator* alloc, EpochId epoch_id,
                                  bool auto_close);
void epoch_domain_enter(epoch_domain_t* domain);
void epoch_domain_exit(epoch_domain_t* domain);
void epoch_domain_force_close(epoch_domain_t* domain);
void epoch_domain_destroy(epoch_domain_t* domain);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TSLAB_COMPAT_SLAB_ALLOC_H_ */
