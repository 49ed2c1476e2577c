/* tests/compat_c11.c: the original temporal-slab API (tslab/compat/
 * slab_alloc.h) driven from C11, compiled with -std=c11 -pedantic -Werror
 * (mk/tests_core.mk), so the header is proven to be C11. compat_test.cc
 * runs each scenario; a scenario records its first failed check.
 *
 * Thread-safety: each scenario uses its own allocators; one at a time. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tslab/compat/slab_alloc.h"
#include "tslab/tslab.h"

typedef struct CompatReport {
  int failures;
  char first[256];
} CompatReport;

#define CHECK(r, cond)                                                    \
  do {                                                                    \
    if (!(cond) && (r)->failures++ == 0) {                                \
      snprintf((r)->first, sizeof((r)->first), "compat_c11.c:%d: %s",     \
               __LINE__, #cond);                                          \
    }                                                                     \
  } while (0)

/* Scenarios, called from compat_test.cc. */
void compat_alloc_and_free(CompatReport* r);
void compat_bad_frees(CompatReport* r);
void compat_epochs(CompatReport* r);
void compat_domains(CompatReport* r);
void compat_stale_domain(CompatReport* r);

static SlabGlobalStats Global(SlabAllocator* a) {
  SlabGlobalStats g;
  memset(&g, 0, sizeof(g));
  slab_stats_global(a, &g);
  return g;
}

void compat_alloc_and_free(CompatReport* r) {
  SlabAllocator* a = slab_allocator_create();
  CHECK(r, a != NULL);
  if (a == NULL) return;
  EpochId e = epoch_current(a);
  SlabHandle h = 0;
  unsigned char* p = (unsigned char*)alloc_obj_epoch(a, 100, e, &h);
  CHECK(r, p != NULL && h != 0);
  CHECK(r, ((uintptr_t)p % 16) == 0);
  memset(p, 0xab, 100);
  void* q = alloc_obj_epoch(a, 64, e, NULL); /* out may be NULL */
  CHECK(r, q != NULL && q != (void*)p);
  char* m = (char*)slab_malloc_epoch(a, 768, e);
  CHECK(r, m != NULL);
  memset(m, 0x5a, 768);

  SlabGlobalStats g = Global(a);
  CHECK(r, g.total_allocs == 3 && g.live_objects == 3);
  SlabClassStats k;
  memset(&k, 0, sizeof(k));
  slab_stats_class(a, (uint32_t)tslab_size_to_class(100), &k);
  CHECK(r, k.object_size == 128 && k.live_objects == 1);

  CHECK(r, p[0] == 0xab && p[99] == 0xab && m[767] == 0x5a);
  CHECK(r, free_obj(a, h));
  slab_free(a, q);
  slab_free(a, m);
  g = Global(a);
  CHECK(r, g.total_frees == 3 && g.live_objects == 0);

  /* Bad sizes and epochs: NULL, nothing counted. */
  CHECK(r, alloc_obj_epoch(a, 0, e, &h) == NULL);
  CHECK(r, alloc_obj_epoch(a, 769, e, &h) == NULL);
  CHECK(r, tslab_last_error() == TSLAB_E_TOO_LARGE);
  CHECK(r, slab_malloc_epoch(a, 0, e) == NULL);
  CHECK(r, slab_malloc_epoch(a, 64, 16) == NULL);
  CHECK(r, tslab_last_error() == TSLAB_E_EPOCH_RANGE);
  CHECK(r, alloc_obj_epoch(NULL, 64, 0, &h) == NULL);
  CHECK(r, Global(a).total_allocs == 3);

  slab_allocator_free(a);
  slab_allocator_free(NULL); /* a no-op */
}

void compat_bad_frees(CompatReport* r) {
  SlabAllocator* a = slab_allocator_create();
  SlabAllocator* b = slab_allocator_create();
  CHECK(r, a != NULL && b != NULL);
  if (a == NULL || b == NULL) return;
  SlabHandle ha = 0, hb = 0;
  char* pa = (char*)alloc_obj_epoch(a, 200, 0, &ha);
  char* pb = (char*)alloc_obj_epoch(b, 200, 0, &hb);
  CHECK(r, pa != NULL && pb != NULL);
  if (pa == NULL || pb == NULL) return;
  memset(pa, 1, 200);
  memset(pb, 2, 200);

  CHECK(r, !free_obj(a, 0));
  CHECK(r, tslab_last_error() == TSLAB_E_FREE_INVALID);
  CHECK(r, !free_obj(a, hb)); /* b's handle */
  CHECK(r, tslab_last_error() == TSLAB_E_FREE_FOREIGN);
  slab_free(a, pb); /* b's pointer: a counted no-op */
  slab_free(a, pa + 8); /* interior */
  slab_free(a, NULL);   /* like free(NULL): nothing at all */
  {
    int on_stack = 0;
    slab_free(a, &on_stack);
  }
  SlabGlobalStats g = Global(a);
  CHECK(r, g.foreign_frees == 2);
  CHECK(r, g.invalid_frees == 3); /* handle 0, interior, stack */
  CHECK(r, g.total_frees == 0 && g.live_objects == 1);
  CHECK(r, Global(b).live_objects == 1 && Global(b).foreign_frees == 0);
  CHECK(r, pa[0] == 1 && pa[199] == 1 && pb[0] == 2 && pb[199] == 2);

  CHECK(r, free_obj(a, ha));
  CHECK(r, !free_obj(a, ha)); /* double */
  CHECK(r, tslab_last_error() == TSLAB_E_FREE_DOUBLE);
  slab_free(b, pb);
  slab_free(b, pb); /* double, by pointer */
  CHECK(r, Global(a).double_frees == 1);
  CHECK(r, Global(b).double_frees == 1 && Global(b).total_frees == 1);
  slab_allocator_free(a);
  slab_allocator_free(b);
}

void compat_epochs(CompatReport* r) {
  SlabAllocator* a = slab_allocator_create();
  CHECK(r, a != NULL);
  if (a == NULL) return;
  CHECK(r, epoch_current(a) == 0);
  void* p0 = slab_malloc_epoch(a, 64, 0);
  CHECK(r, p0 != NULL);
  /* As the original: the advance closes the previous epoch. */
  epoch_advance(a);
  CHECK(r, epoch_current(a) == 1);
  CHECK(r, slab_malloc_epoch(a, 64, 0) == NULL);
  CHECK(r, tslab_last_error() == TSLAB_E_EPOCH_CLOSED);
  CHECK(r, tslab_epoch_get_state(a, 0) == TSLAB_EPOCH_CLOSING);
  slab_free(a, p0); /* epoch 0 drains */
  CHECK(r, tslab_epoch_get_state(a, 0) == TSLAB_EPOCH_DRAINED);
  void* p = slab_malloc_epoch(a, 64, 1);
  CHECK(r, p != NULL);
  epoch_close(a, 1);
  CHECK(r, slab_malloc_epoch(a, 64, 1) == NULL);
  CHECK(r, tslab_last_error() == TSLAB_E_EPOCH_CLOSED);
  SlabClassStats k;
  slab_stats_class(a, 0, &k);
  CHECK(r, k.slow_path_epoch_closed == 2);
  SlabGlobalStats g = Global(a);
  CHECK(r, g.closing_epoch_count == 1 && g.epoch_closes == 2);
  slab_free(a, p); /* the last object: the epoch drains */
  g = Global(a);
  CHECK(r, g.closing_epoch_count == 0 && g.drained_epoch_count == 2);
  CHECK(r, g.net_slabs == 0 && g.total_slabs_recycled == 2);
  epoch_close(a, 99); /* out of range: ignored */
  CHECK(r, Global(a).epoch_closes == 2);
  /* The ring wraps; each advance closes the epoch it leaves. */
  for (int i = 0; i < TSLAB_NUM_EPOCHS; ++i) epoch_advance(a);
  CHECK(r, epoch_current(a) == 1);
  CHECK(r, Global(a).epoch_advances == 1 + TSLAB_NUM_EPOCHS);
  CHECK(r, Global(a).epoch_closes == 2 + TSLAB_NUM_EPOCHS);
  slab_allocator_free(a);
}

static uint64_t Era(SlabAllocator* a, EpochId e) {
  TslabEpochStats es;
  memset(&es, 0, sizeof(es));
  (void)tslab_stats_epoch(a, e, &es);
  return es.era;
}

void compat_domains(CompatReport* r) {
  SlabAllocator* a = slab_allocator_create();
  CHECK(r, a != NULL);
  if (a == NULL) return;
  epoch_advance(a);
  epoch_domain_t* d = epoch_domain_create(a);
  CHECK(r, d != NULL);
  if (d == NULL) return;
  CHECK(r, d->alloc == a && d->epoch_id == epoch_current(a));
  CHECK(r, d->auto_close && d->refcount == 0 && d->impl != NULL);
  CHECK(r, d->epoch_era == Era(a, d->epoch_id));
  epoch_domain_enter(d);
  epoch_domain_enter(d);
  CHECK(r, d->refcount == 2);
  void* p = slab_malloc_epoch(a, 300, d->epoch_id);
  CHECK(r, p != NULL);
  epoch_domain_exit(d);
  CHECK(r, d->refcount == 1);
  CHECK(r, tslab_epoch_get_state(a, d->epoch_id) == TSLAB_EPOCH_ACTIVE);
  epoch_domain_exit(d); /* last exit: auto-close */
  CHECK(r, d->refcount == 0);
  CHECK(r, tslab_epoch_get_state(a, d->epoch_id) == TSLAB_EPOCH_CLOSING);
  epoch_domain_exit(d); /* exit without enter: refused, no change */
  CHECK(r, d->refcount == 0);
  CHECK(r, tslab_last_error() == TSLAB_E_INVALID_ARG);
  CHECK(r, Global(a).epoch_closes == 2); /* the advance's and the exit's */
  slab_free(a, p);
  CHECK(r, tslab_epoch_get_state(a, d->epoch_id) == TSLAB_EPOCH_DRAINED);
  epoch_domain_destroy(d);

  /* wrap, without auto-close; force_close closes. */
  epoch_domain_t* w = epoch_domain_wrap(a, 7, false);
  CHECK(r, w != NULL);
  if (w == NULL) return;
  CHECK(r, w->epoch_id == 7 && !w->auto_close && w->alloc == a);
  CHECK(r, slab_malloc_epoch(a, 64, 7) != NULL); /* opens slot 7 */
  epoch_domain_enter(w);
  epoch_domain_exit(w);
  CHECK(r, tslab_epoch_get_state(a, 7) == TSLAB_EPOCH_ACTIVE);
  epoch_domain_force_close(w);
  CHECK(r, tslab_epoch_get_state(a, 7) == TSLAB_EPOCH_CLOSING);
  epoch_domain_destroy(w);

  CHECK(r, epoch_domain_wrap(a, 16, true) == NULL);
  CHECK(r, epoch_domain_create(NULL) == NULL);
  epoch_domain_enter(NULL); /* no-ops */
  epoch_domain_exit(NULL);
  epoch_domain_force_close(NULL);
  epoch_domain_destroy(NULL);
  slab_allocator_free(a);
}

/* A domain whose slot was closed and reopened by the ring refuses to close
 * the new life. */
void compat_stale_domain(CompatReport* r) {
  SlabAllocator* a = slab_allocator_create();
  CHECK(r, a != NULL);
  if (a == NULL) return;
  epoch_advance(a);
  const EpochId e = epoch_current(a);
  epoch_domain_t* d = epoch_domain_wrap(a, e, true);
  CHECK(r, d != NULL);
  if (d == NULL) return;
  const uint64_t era = d->epoch_era;
  epoch_domain_enter(d);
  epoch_close(a, e);
  for (int i = 0; i < TSLAB_NUM_EPOCHS; ++i) epoch_advance(a);
  CHECK(r, epoch_current(a) == e);
  CHECK(r, tslab_epoch_get_state(a, e) == TSLAB_EPOCH_ACTIVE);
  CHECK(r, Era(a, e) != era);
  epoch_domain_force_close(d);
  CHECK(r, tslab_last_error() == TSLAB_E_STALE_DOMAIN);
  CHECK(r, tslab_epoch_get_state(a, e) == TSLAB_EPOCH_ACTIVE);
  epoch_domain_exit(d); /* auto-close refused the same way */
  CHECK(r, d->refcount == 0);
  CHECK(r, tslab_epoch_get_state(a, e) == TSLAB_EPOCH_ACTIVE);
  /* The first advance's, the explicit one, one per advance of the ring;
   * none through the stale domain. */
  CHECK(r, Global(a).epoch_closes == 2 + TSLAB_NUM_EPOCHS);
  epoch_domain_destroy(d); /* its close is refused as well */
  CHECK(r, Global(a).epoch_closes == 2 + TSLAB_NUM_EPOCHS);
  slab_allocator_free(a);
}
