/* tests/compat/every_decl.c: a program written against the original
 * temporal-slab's public headers, using every declaration of tslab's
 * compat headers (include/tslab/compat/), with checks of what each call
 * returns. Built twice by mk/tests_core.mk, with only
 * -I include/tslab/compat: as C11 (-std=c11 -pedantic) and as C++, linked
 * with libtslab.a; tests/compat_build_test.cc runs both.
 *
 * Output: "ok N checks" and exit 0, or each failed check and exit 1.
 * Thread-safety: single-threaded. */
#include <epoch_domain.h>
#include <slab_alloc.h>
#include <slab_diagnostics.h>
#include <slab_stats.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_checks = 0;
static int g_failures = 0;

#define CHECK(cond)                                                   \
  do {                                                                \
    ++g_checks;                                                       \
    if (!(cond)) {                                                    \
      ++g_failures;                                                   \
      fprintf(stderr, "every_decl.c:%d: failed: %s\n", __LINE__, #cond); \
    }                                                                 \
  } while (0)

/* slab_alloc.h: lifetime, handles, malloc-style, utilities. */
static void CoreApi(void) {
  SlabAllocator* a = slab_allocator_create();
  SlabHandle h = 0, h2 = 0;
  EpochId e;
  void* p;
  void* q;
  char* m;
  char* big;
  PerfCounters pc;
  uint64_t t0, t1, rss;
  /* allocator_init/allocator_destroy are declared but cannot be called
   * (a compile-time error, tests/compat_build_test.cc); their addresses
   * can still be named. */
  void (*volatile init_fn)(SlabAllocator*) = allocator_init;
  void (*volatile destroy_fn)(SlabAllocator*) = allocator_destroy;

  CHECK(a != NULL);
  if (a == NULL) return;
  /* Through a pointer: a no-op that says why. */
  init_fn(a);
  CHECK(tslab_last_error() == TSLAB_E_INVALID_ARG);
  destroy_fn(a);
  CHECK(tslab_last_error() == TSLAB_E_INVALID_ARG);
  CHECK(SLAB_PAGE_SIZE == 4096u);
  e = epoch_current(a);
  CHECK(e == 0);
  p = alloc_obj_epoch(a, 128, e, &h);
  CHECK(p != NULL && h != 0);
  q = alloc_obj(a, 64, &h2);
  CHECK(q != NULL && h2 != 0 && q != p);
  memset(p, 1, 128);
  memset(q, 2, 64);
  m = (char*)slab_malloc(a, 100);
  CHECK(m != NULL);
  big = (char*)slab_malloc_epoch(a, 768, e); /* the original stopped at 504 */
  CHECK(big != NULL);
  if (big != NULL) memset(big, 3, 768);
  CHECK(free_obj(a, h));
  CHECK(!free_obj(a, h)); /* double: refused, no crash */
  CHECK(free_obj(a, h2));
  slab_free(a, m);
  slab_free(a, big);
  slab_free(a, NULL);
  CHECK(slab_malloc(a, 769) == NULL);

  get_perf_counters(a, 2, &pc); /* class 2: 128 B */
  CHECK(pc.new_slab_count == 1);
  CHECK(pc.slow_path_hits >= 1);
  CHECK(pc.current_partial_null >= 1);
  CHECK(pc.list_move_partial_to_full == 0 && pc.list_move_full_to_partial == 0);
  CHECK(pc.current_partial_full == 0);
  CHECK(pc.empty_slab_recycled == 0 && pc.empty_slab_overflowed == 0);
  memset(&pc, 0x5a, sizeof(pc));
  get_perf_counters(a, 8, &pc); /* no such class: zeroed */
  CHECK(pc.slow_path_hits == 0 && pc.new_slab_count == 0);

  CHECK(slab_object_count(128) == (4096 - 64) / 128);
  CHECK(slab_object_count(1) == 63); /* 64-byte class, capped at 63 */
  CHECK(slab_object_count(768) == 5);
  CHECK(slab_object_count(0) == 0 && slab_object_count(769) == 0);
  rss = read_rss_bytes_linux();
  CHECK(rss > 0 && rss % 4096 == 0);
  t0 = now_ns();
  t1 = now_ns();
  CHECK(t0 > 0 && t1 >= t0);
  slab_allocator_free(a);
  slab_allocator_free(NULL);
}

/* slab_alloc.h: epochs, labels, refcounts; slab_stats.h: epoch stats. */
static void Epochs(void) {
  SlabAllocator* a = slab_allocator_create();
  EpochId e;
  SlabEpochStats es;
  void* objs[3];
  int i;
  EpochLifecycleState st;
  CHECK(a != NULL);
  if (a == NULL) return;
  epoch_advance(a);
  e = epoch_current(a);
  CHECK(e == 1);
  slab_epoch_set_label(a, e, "request:abc123");
  slab_epoch_set_label(a, e, NULL); /* ignored */
  for (i = 0; i < 3; ++i) objs[i] = slab_malloc_epoch(a, 200, e);
  CHECK(objs[0] != NULL && objs[2] != NULL);
  CHECK(slab_epoch_get_refcount(a, e) == 0);
  slab_epoch_inc_refcount(a, e);
  slab_epoch_inc_refcount(a, e);
  CHECK(slab_epoch_get_refcount(a, e) == 2);
  slab_epoch_dec_refcount(a, e);
  CHECK(slab_epoch_get_refcount(a, e) == 1);
  slab_epoch_dec_refcount(a, e);
  slab_epoch_dec_refcount(a, e); /* never below 0 */
  CHECK(slab_epoch_get_refcount(a, e) == 0);
  CHECK(slab_epoch_get_refcount(a, 16) == 0);

  slab_stats_epoch(a, 4, e, &es); /* class 4: 256 B */
  CHECK(es.version == SLAB_STATS_VERSION && es.class_index == 4);
  CHECK(es.object_size == 256 && es.epoch_id == e && es.epoch_era == 1);
  st = es.state;
  CHECK(st == EPOCH_ACTIVE);
  CHECK(es.open_since_ns > 0 && es.open_since_ns <= now_ns());
  CHECK(es.alloc_count == 3);
  CHECK(strcmp(es.label, "request:abc123") == 0);
  CHECK(es.rss_before_close == 0 && es.rss_after_close == 0);
  CHECK(es.partial_slab_count == 0 && es.full_slab_count == 0);
  CHECK(es.estimated_rss_bytes == 0);
  CHECK(es.reclaimable_slab_count == 0 && es.reclaimable_bytes == 0);
  slab_stats_epoch(a, 0, e, &es); /* another class: nothing there */
  CHECK(es.alloc_count == 0);

  epoch_close(a, e);
  slab_stats_epoch(a, 4, e, &es);
  CHECK(es.state == EPOCH_CLOSING);
  CHECK(slab_malloc_epoch(a, 64, e) == NULL); /* closed */
  for (i = 0; i < 3; ++i) slab_free(a, objs[i]);
  slab_stats_epoch(a, 4, e, &es);
  CHECK(es.state == EPOCH_CLOSING && es.alloc_count == 0); /* drained */
  slab_stats_epoch(a, 8, e, &es);
  CHECK(es.version == 0); /* bad class: zeroed */
  slab_allocator_free(a);
}

/* epoch_domain.h. */
static void Domains(void) {
  SlabAllocator* a = slab_allocator_create();
  epoch_domain_t* outer;
  epoch_domain_t* inner;
  void* p;
  CHECK(a != NULL);
  if (a == NULL) return;
  CHECK(epoch_domain_current() == NULL && epoch_domain_allocator() == NULL);
  epoch_advance(a);
  outer = epoch_domain_create(a);
  CHECK(outer != NULL);
  if (outer == NULL) return;
  CHECK(outer->alloc == a && outer->epoch_id == 1 && outer->auto_close);
  CHECK(outer->epoch_era == 1 && outer->refcount == 0);
  epoch_domain_enter(outer);
  CHECK(outer->refcount == 1);
  CHECK(epoch_domain_current() == outer && epoch_domain_allocator() == a);
  CHECK(slab_epoch_get_refcount(a, outer->epoch_id) == 1);
  p = slab_malloc_epoch(epoch_domain_allocator(), 64, outer->epoch_id);
  CHECK(p != NULL);

  inner = epoch_domain_wrap(a, 5, false);
  CHECK(inner != NULL && inner->epoch_id == 5 && !inner->auto_close);
  if (inner == NULL) return;
  epoch_domain_enter(inner);
  CHECK(epoch_domain_current() == inner);
  epoch_domain_exit(inner);
  CHECK(epoch_domain_current() == outer); /* nesting unwinds */
  epoch_domain_force_close(inner);
  CHECK(slab_malloc_epoch(a, 64, 5) == NULL); /* closed by force */
  epoch_domain_destroy(inner);

  slab_free(a, p);
  epoch_domain_exit(outer); /* last exit: auto-close */
  CHECK(outer->refcount == 0 && epoch_domain_current() == NULL);
  CHECK(slab_epoch_get_refcount(a, outer->epoch_id) == 0);
  CHECK(slab_malloc_epoch(a, 64, outer->epoch_id) == NULL);
  epoch_domain_exit(outer); /* without enter: refused, no crash */
  CHECK(outer->refcount == 0);
  epoch_domain_destroy(outer);
  slab_allocator_free(a);
}

/* Two auto-close domains over one epoch (a transaction and a query in
 * it): the inner one's exit and destroy leave the epoch open for the outer
 * one; the outer one's last exit closes it. */
static void NestedDomains(void) {
  SlabAllocator* a = slab_allocator_create();
  epoch_domain_t* txn;
  epoch_domain_t* query;
  CHECK(a != NULL);
  if (a == NULL) return;
  txn = epoch_domain_create(a);
  query = epoch_domain_create(a);
  CHECK(txn != NULL && query != NULL && txn->epoch_id == query->epoch_id);
  if (txn == NULL || query == NULL) return;
  epoch_domain_enter(txn);
  epoch_domain_enter(query);
  CHECK(slab_epoch_get_refcount(a, txn->epoch_id) == 2);
  epoch_domain_exit(query);
  epoch_domain_destroy(query);
  CHECK(slab_epoch_get_refcount(a, txn->epoch_id) == 1);
  CHECK(slab_malloc_epoch(a, 256, txn->epoch_id) != NULL); /* still open */
  epoch_domain_exit(txn);
  CHECK(slab_malloc_epoch(a, 256, txn->epoch_id) == NULL); /* closed now */
  epoch_domain_destroy(txn);
  slab_allocator_free(a);
}

/* slab_stats.h: global, class, thread stats, the TLS printout. */
static void Stats(void) {
  SlabAllocator* a = slab_allocator_create();
  SlabGlobalStats g;
  SlabClassStats c;
  ThreadStats t;
  struct timespec ts;
  void* p;
  CHECK(a != NULL);
  if (a == NULL) return;
  p = slab_malloc(a, 300);
  CHECK(p != NULL);
  slab_free(a, p);
  slab_stats_global(a, &g);
  CHECK(g.version == SLAB_STATS_VERSION);
  CHECK(g.current_epoch == 0 && g.active_epoch_count == 1);
  CHECK(g.closing_epoch_count == 0);
  CHECK(g.total_slabs_allocated == 1 && g.total_slabs_recycled == 0);
  CHECK(g.net_slabs == 1 && g.rss_bytes_current > 0);
  CHECK(g.estimated_slab_rss_bytes == 4096);
  CHECK(g.total_slow_path_hits >= 1 && g.total_cache_overflows == 0);
  CHECK(g.total_slow_cache_miss == 1 && g.total_slow_epoch_closed == 0);
  CHECK(g.total_madvise_calls == 0 && g.total_madvise_bytes == 0);
  CHECK(g.total_madvise_failures == 0);
  CHECK(g.total_bitmap_alloc_cas_retries == 0);
  CHECK(g.total_bitmap_free_cas_retries == 0);
  CHECK(g.total_current_partial_cas_failures == 0);
  CHECK(g.total_bitmap_alloc_attempts == 1 && g.total_bitmap_free_attempts == 1);
  CHECK(g.total_current_partial_cas_attempts >= 1);

  slab_stats_class(a, 5, &c); /* 384 B */
  CHECK(c.version == SLAB_STATS_VERSION && c.class_index == 5);
  CHECK(c.object_size == 384 && c.new_slab_count == 1);
  CHECK(c.bitmap_alloc_attempts == 1 && c.bitmap_free_attempts == 1);
  CHECK(c.live_bytes == 0 && c.net_slabs == 1);
  CHECK(c.committed_bytes == 4096 && c.empty_slabs_count == 0);
  CHECK(c.scan_adapt_checks == 0 && c.scan_adapt_switches == 0);
  CHECK(c.scan_mode == 0 && c.current_partial_cas_failure_rate == 0.0);
  CHECK(c.cache_capacity == 32 && c.cache_size == 0);
  CHECK(c.total_partial_slabs + c.total_full_slabs == 1);
  CHECK(c.recycle_rate_pct == 0.0 && c.estimated_rss_bytes == 4096);
  CHECK(c.slow_path_cache_miss == 1 && c.slow_path_epoch_closed == 0);
  CHECK(c.madvise_calls == 0 && c.epoch_close_calls == 0);
  CHECK(c.lock_fast_acquire + c.lock_contended >= 1);
  CHECK(c.avg_alloc_cas_retries_per_attempt == 0.0);
  CHECK(c.avg_free_cas_retries_per_attempt == 0.0);
  CHECK(c.lock_contention_rate >= 0.0);

  t = slab_stats_thread();
  CHECK(t.alloc_samples == 0 && t.repair_count == 0);
  CHECK(t.alloc_wall_ns_sum == 0 && t.alloc_cpu_ns_sum == 0);
  CHECK(t.alloc_wall_ns_max == 0 && t.alloc_cpu_ns_max == 0);
  CHECK(t.alloc_wait_ns_sum == 0 && t.alloc_wait_ns_max == 0);
  CHECK(t.repair_wall_ns_sum == 0 && t.repair_cpu_ns_sum == 0);
  CHECK(t.repair_wall_ns_max == 0 && t.repair_cpu_ns_max == 0);
  CHECK(t.repair_wait_ns_sum == 0 && t.repair_wait_ns_max == 0);
  CHECK(t.repair_reason_full_bitmap == 0 && t.repair_reason_list_mismatch == 0);
  CHECK(t.repair_reason_other == 0);
  CHECK(SAMPLE_RATE_MASK == 1023u);
  CHECK(REPAIR_REASON_FULL_BITMAP == 1u && REPAIR_REASON_LIST_MISMATCH == 2u);
  ts.tv_sec = 2;
  ts.tv_nsec = 5;
  CHECK(ns_from_ts(&ts) == 2000000005ull);
  tls_print_stats(); /* to stdout; the test reads it */
  slab_allocator_free(a);
}

/* slab_diagnostics.h. */
static void Diagnostics(void) {
  SlabAllocator* a = slab_allocator_create();
  EpochLeakReport leaks;
  SlowPathReport slow;
  ReclamationReport rec;
  EpochId e;
  void* kept[10];
  int i;
  uint32_t n;
  CHECK(a != NULL);
  if (a == NULL) return;
  epoch_advance(a);
  e = epoch_current(a);
  slab_epoch_set_label(a, e, "request:leaky");
  for (i = 0; i < 10; ++i) kept[i] = slab_malloc_epoch(a, 512, e);
  CHECK(kept[9] != NULL);
  (void)slab_malloc_epoch(a, 64, e); /* one more, of another class: leaked */
  epoch_close(a, e);

  n = slab_detect_epoch_leaks(a, 0, 1, &leaks);
  CHECK(n == 2 && leaks.candidate_count == 2 && leaks.top_count == 1);
  CHECK(leaks.version == SLAB_DIAGNOSTICS_VERSION && leaks.threshold_sec == 0);
  CHECK(leaks.candidates != NULL);
  if (leaks.candidates != NULL) {
    const EpochLeakCandidate* c = &leaks.candidates[0];
    CHECK(c->class_index == 6 && c->object_size == 512); /* most bytes first */
    CHECK(c->epoch_id == e && c->epoch_era == 1);
    CHECK(strcmp(c->label, "request:leaky") == 0);
    CHECK(c->alloc_count == 10 && c->age_sec < 60);
    CHECK(c->estimated_rss_bytes == 2 * 4096); /* 10 objects, 7 a slab */
    CHECK(c->partial_slab_count == 0 && c->full_slab_count == 0);
    CHECK(c->reclaimable_slab_count == 0);
  }
  free(leaks.candidates);
  n = slab_detect_epoch_leaks(a, 3600, 10, &leaks); /* none that old */
  CHECK(n == 0 && leaks.candidates == NULL);

  slab_analyze_slow_path(a, &slow);
  CHECK(slow.version == SLAB_DIAGNOSTICS_VERSION && slow.class_count == 8);
  CHECK(slow.classes != NULL);
  if (slow.classes != NULL) {
    const SlowPathAttribution* s = &slow.classes[6];
    CHECK(s->class_index == 6 && s->object_size == 512);
    CHECK(s->total_slow_path_hits >= 2 && s->cache_miss_count == 2);
    CHECK(s->epoch_closed_count == 0 && s->partial_null_count >= 1);
    CHECK(s->partial_full_count >= 1);
    CHECK(s->cache_miss_pct > 0.0 && s->epoch_closed_pct == 0.0);
    CHECK(s->partial_null_pct > 0.0 && s->partial_full_pct > 0.0);
    CHECK(s->cache_miss_pct + s->epoch_closed_pct + s->partial_null_pct +
              s->partial_full_pct > 99.9);
    CHECK(strlen(s->recommendation) > 0);
    CHECK(slow.classes[3].total_slow_path_hits == 0);
  }
  free(slow.classes);

  slab_analyze_reclamation(a, &rec);
  CHECK(rec.version == SLAB_DIAGNOSTICS_VERSION && rec.epoch_count == 16);
  CHECK(rec.total_madvise_calls == 0 && rec.total_madvise_bytes == 0);
  CHECK(rec.total_madvise_failures == 0);
  CHECK(rec.epochs != NULL);
  if (rec.epochs != NULL) {
    const EpochReclamation* r = &rec.epochs[e];
    CHECK(r->epoch_id == e && r->epoch_era == 1 && r->was_closed);
    CHECK(r->class_index == 0xffffffffu);
    CHECK(strcmp(r->label, "request:leaky") == 0);
    CHECK(r->slabs_recycled == 0 && r->bytes_madvised == 0);
    CHECK(r->rss_before == 0 && r->rss_after == 0 && r->rss_delta == 0);
    CHECK(rec.epochs[0].was_closed); /* by the advance, as the original */
    CHECK(!rec.epochs[2].was_closed);
  }
  free(rec.epochs);
  for (i = 0; i < 10; ++i) slab_free(a, kept[i]);
  slab_allocator_free(a);
}

int main(void) {
  CoreApi();
  Epochs();
  Domains();
  NestedDomains();
  Stats();
  Diagnostics();
  if (g_failures != 0) {
    printf("FAILED %d of %d checks\n", g_failures, g_checks);
    return 1;
  }
  printf("ok %d checks\n", g_checks);
  return 0;
}
