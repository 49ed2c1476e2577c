// The original temporal-slab's statistics and diagnostics API (tslab/
// compat/slab_stats.h, slab_diagnostics.h), computed from one tslab
// snapshot per call plus the per-(epoch, class) shard counters. Cold
// paths only. Thread-safety: every call is thread-safe.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "src/allocator/allocator.h"
#include "src/allocator/compat_registry.h"
#include "src/allocator/stats_macros.h"
#include "tslab/compat/slab_alloc.h"
#include "tslab/compat/slab_diagnostics.h"
#include "tslab/compat/slab_stats.h"

namespace tslab::internal {
Allocator* ImplOf(tslab_allocator* a);  // c_api.cc

namespace {
std::mutex g_compat_mu;
std::vector<tslab_allocator*> g_compat_allocators;  // g_compat_mu
}  // namespace

void CompatRegister(tslab_allocator* a) {
  std::lock_guard<std::mutex> lock(g_compat_mu);
  g_compat_allocators.push_back(a);
}

void CompatUnregister(tslab_allocator* a) {
  std::lock_guard<std::mutex> lock(g_compat_mu);
  auto& v = g_compat_allocators;
  v.erase(std::remove(v.begin(), v.end(), a), v.end());
}

void CompatForEach(void (*fn)(tslab_allocator* a, void* ctx), void* ctx) {
  std::lock_guard<std::mutex> lock(g_compat_mu);
  for (tslab_allocator* a : g_compat_allocators) fn(a, ctx);
}

}  // namespace tslab::internal

namespace {

using tslab::internal::Allocator;
using tslab::internal::AtomicLoad;

// Live objects of class cls in epoch e: allocations minus frees over the
// shards (the per-epoch live_objects of the snapshot, split by class).
uint64_t LiveOf(const Allocator* a, uint32_t e, uint32_t cls) {
  uint64_t live = 0;
  for (uint32_t i = 0; i < TSLAB_REGION_SHARDS; ++i) {
    const TslabRegionShard& sh = a->region().shard(i);
    live += AtomicLoad(sh.allocs[e][cls]) - AtomicLoad(sh.frees[e][cls]);
  }
  return static_cast<int64_t>(live) > 0 ? live : 0;
}

EpochLifecycleState CompatState(uint32_t tslab_state) {
  return tslab_state == TSLAB_EPOCH_CLOSING || tslab_state == TSLAB_EPOCH_DRAINED
             ? EPOCH_CLOSING
             : EPOCH_ACTIVE;
}

double Pct(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) /
                                static_cast<double>(whole);
}

// The recommendation for a class's slow paths: the largest cause's remedy.
const char* SlowPathAdvice(const SlowPathAttribution& s) {
  const uint64_t causes = s.cache_miss_count + s.epoch_closed_count +
                          s.partial_null_count + s.partial_full_count;
  if (causes == 0) return "no slow paths: nothing to do";
  const uint64_t top = std::max({s.cache_miss_count, s.epoch_closed_count,
                                 s.partial_null_count, s.partial_full_count});
  if (top == s.epoch_closed_count) {
    return "allocations into closed epochs: allocate in epoch_current(), "
           "not in an epoch already closed";
  }
  if (top == s.cache_miss_count) {
    return "fresh pages dominate: raise cache_capacity or close epochs "
           "sooner so recycled slabs are reused";
  }
  if (top == s.partial_full_count) {
    return "slabs fill up: expected with growth; steady state should "
           "settle at about one per slab filled";
  }
  return "first allocation of a thread/epoch/class: expected; many epochs "
         "or threads multiply it";
}

void PrintAllocator(tslab_allocator* a, void* ctx) {
  auto* n = static_cast<int*>(ctx);
  SlabGlobalStats g;
  if (tslab_stats_global(a, &g) != TSLAB_OK) return;
  std::printf("allocator %d: allocs %llu, frees %llu, live %llu, slow paths "
              "%llu (%.2f%% of allocs), refused frees %llu\n",
              (*n)++, static_cast<unsigned long long>(g.total_allocs),
              static_cast<unsigned long long>(g.total_frees),
              static_cast<unsigned long long>(g.live_objects),
              static_cast<unsigned long long>(g.total_slow_path_hits),
              Pct(g.total_slow_path_hits, g.total_allocs),
              static_cast<unsigned long long>(g.invalid_frees + g.stale_frees +
                                              g.double_frees +
                                              g.foreign_frees));
}

}  // namespace

extern "C" {

void slab_stats_global(SlabAllocator* alloc, SlabGlobalStats* out) {
  if (out == nullptr) return;
  if (tslab_stats_global(alloc, out) != TSLAB_OK) {
    std::memset(out, 0, sizeof(*out));
    return;
  }
  out->rss_bytes_current = read_rss_bytes_linux();  // the original's field
}

void slab_stats_class(SlabAllocator* alloc, uint32_t cls,
                      SlabClassStats* out) {
  if (out == nullptr) return;
  if (tslab_stats_class(alloc, cls, out) != TSLAB_OK) {
    std::memset(out, 0, sizeof(*out));
  }
}

void slab_stats_epoch(SlabAllocator* alloc, uint32_t size_class,
                      EpochId epoch, SlabEpochStats* out) {
  if (out == nullptr) return;
  std::memset(out, 0, sizeof(*out));
  Allocator* impl = tslab::internal::ImplOf(alloc);
  TslabEpochStats es;
  if (impl == nullptr || size_class >= TSLAB_NUM_CLASSES ||
      tslab_stats_epoch(alloc, epoch, &es) != TSLAB_OK) {
    tslab::internal::SetLastError(impl == nullptr ? TSLAB_E_INVALID_ARG
                                  : size_class >= TSLAB_NUM_CLASSES
                                      ? TSLAB_E_INVALID_ARG
                                      : TSLAB_E_EPOCH_RANGE);
    return;
  }
  out->version = SLAB_STATS_VERSION;
  out->class_index = size_class;
  out->object_size = tslab_class_size(size_class);
  out->epoch_id = epoch;
  out->epoch_era = es.era;
  out->state = CompatState(es.state);
  out->open_since_ns = es.open_ns;
  out->alloc_count = LiveOf(impl, epoch, size_class);
  static_assert(sizeof(out->label) == sizeof(es.label));
  std::memcpy(out->label, es.label, sizeof(out->label));
}

ThreadStats slab_stats_thread(void) { return ThreadStats{}; }

void tls_print_stats(void) {
  std::printf("\n=== tslab: per-allocator statistics (no thread cache: "
              "each thread owns its slabs) ===\n");
  int n = 0;
  tslab::internal::CompatForEach(PrintAllocator, &n);
  if (n == 0) std::printf("no live allocator\n");
  std::fflush(stdout);
}

uint32_t slab_detect_epoch_leaks(SlabAllocator* alloc, uint32_t threshold_sec,
                                 uint32_t max_top, EpochLeakReport* out) {
  if (out == nullptr) return 0;
  std::memset(out, 0, sizeof(*out));
  out->version = SLAB_DIAGNOSTICS_VERSION;
  out->threshold_sec = threshold_sec;
  Allocator* impl = tslab::internal::ImplOf(alloc);
  TslabSnapshot snap;
  if (impl == nullptr || impl->Snapshot(&snap) != TSLAB_OK) {
    tslab::internal::SetLastError(TSLAB_E_INVALID_ARG);
    return 0;
  }
  // At most one candidate per epoch and class: a fixed array, sorted by
  // insertion (stable). No std container or algorithm over the public
  // struct: their instantiations would be exported from
  // libtslab_compat.so (tests/symbols_test.cc).
  EpochLeakCandidate found[TSLAB_NUM_EPOCHS * TSLAB_NUM_CLASSES];
  uint32_t found_count = 0;
  for (uint32_t e = 0; e < TSLAB_NUM_EPOCHS; ++e) {
    const TslabEpochStats& es = snap.epochs[e];
    const uint64_t age_sec = es.age_ns / 1000000000ull;
    if (es.state != TSLAB_EPOCH_CLOSING || age_sec < threshold_sec) continue;
    for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
      const uint64_t live = LiveOf(impl, e, c);
      if (live == 0) continue;
      const SlabClassStats& k = snap.classes[c];
      EpochLeakCandidate x{};
      x.class_index = c;
      x.object_size = k.object_size;
      x.epoch_id = e;
      x.epoch_era = es.era;
      std::memcpy(x.label, es.label, sizeof(x.label));
      x.age_sec = age_sec;
      x.alloc_count = live;
      const uint64_t per = k.objects_per_slab != 0 ? k.objects_per_slab : 1;
      x.estimated_rss_bytes = (live + per - 1) / per * snap.page_size;
      found[found_count++] = x;
    }
  }
  auto weight = [](const EpochLeakCandidate& c) { return c.alloc_count * c.object_size; };
  for (uint32_t i = 1; i < found_count; ++i) {  // descending weight, stable
    const EpochLeakCandidate x = found[i];
    uint32_t j = i;
    for (; j > 0 && weight(found[j - 1]) < weight(x); --j) found[j] = found[j - 1];
    found[j] = x;
  }
  out->candidate_count = found_count;
  out->top_count = std::min(out->candidate_count, max_top);
  if (out->top_count > 0) {
    out->candidates = static_cast<EpochLeakCandidate*>(
        std::calloc(out->top_count, sizeof(EpochLeakCandidate)));
    if (out->candidates == nullptr) {
      out->top_count = 0;
    } else {
      std::memcpy(out->candidates, found,
                  out->top_count * sizeof(EpochLeakCandidate));
    }
  }
  return out->candidate_count;
}

void slab_analyze_slow_path(SlabAllocator* alloc, SlowPathReport* out) {
  if (out == nullptr) return;
  std::memset(out, 0, sizeof(*out));
  out->version = SLAB_DIAGNOSTICS_VERSION;
  TslabSnapshot snap;
  if (tslab_snapshot(alloc, &snap) != TSLAB_OK) return;
  out->classes = static_cast<SlowPathAttribution*>(
      std::calloc(TSLAB_NUM_CLASSES, sizeof(SlowPathAttribution)));
  if (out->classes == nullptr) return;
  out->class_count = TSLAB_NUM_CLASSES;
  for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
    const SlabClassStats& k = snap.classes[c];
    SlowPathAttribution& s = out->classes[c];
    s.class_index = c;
    s.object_size = k.object_size;
    s.total_slow_path_hits = k.slow_path_hits;
    s.cache_miss_count = k.slow_path_cache_miss;
    s.epoch_closed_count = k.slow_path_epoch_closed;
    s.partial_null_count = k.current_partial_null;
    s.partial_full_count = k.current_partial_full;
    const uint64_t causes = s.cache_miss_count + s.epoch_closed_count +
                            s.partial_null_count + s.partial_full_count;
    s.cache_miss_pct = Pct(s.cache_miss_count, causes);
    s.epoch_closed_pct = Pct(s.epoch_closed_count, causes);
    s.partial_null_pct = Pct(s.partial_null_count, causes);
    s.partial_full_pct = Pct(s.partial_full_count, causes);
    std::snprintf(s.recommendation, sizeof(s.recommendation), "%s",
                  SlowPathAdvice(s));
  }
}

void slab_analyze_reclamation(SlabAllocator* alloc, ReclamationReport* out) {
  if (out == nullptr) return;
  std::memset(out, 0, sizeof(*out));
  out->version = SLAB_DIAGNOSTICS_VERSION;
  TslabSnapshot snap;
  if (tslab_snapshot(alloc, &snap) != TSLAB_OK) return;
  out->total_madvise_calls = snap.global.total_madvise_calls;
  out->total_madvise_bytes = snap.global.total_madvise_bytes;
  out->total_madvise_failures = snap.global.total_madvise_failures;
  out->epochs = static_cast<EpochReclamation*>(
      std::calloc(TSLAB_NUM_EPOCHS, sizeof(EpochReclamation)));
  if (out->epochs == nullptr) return;
  out->epoch_count = TSLAB_NUM_EPOCHS;
  for (uint32_t e = 0; e < TSLAB_NUM_EPOCHS; ++e) {
    const TslabEpochStats& es = snap.epochs[e];
    EpochReclamation& r = out->epochs[e];
    r.class_index = 0xffffffffu;
    r.epoch_id = e;
    r.epoch_era = es.era;
    std::memcpy(r.label, es.label, sizeof(r.label));
    // close_ns is this life's last close (a reopen clears it).
    r.was_closed = es.close_ns != 0;
  }
}

}  // extern "C"
