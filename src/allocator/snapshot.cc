// Snapshots: turning a stats region (ours or another process's) into the
// SlabGlobalStats / SlabClassStats / TslabEpochStats of tslab/stats.h.
// The derivations live here once, for the in-process API and stats_dump.
#include <unistd.h>

#include <cstring>

#include "src/allocator/allocator.h"
#include "src/allocator/epoch_label.h"
#include "src/allocator/stats_macros.h"
#include "tslab/stats_region.h"

namespace tslab::internal {
namespace {

double Ratio(uint64_t num, uint64_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

uint64_t Load(const uint64_t& v) { return AtomicLoad(v); }

// off + len <= limit, computed without wrapping.
bool Within(uint64_t off, uint64_t len, uint64_t limit) {
  return off <= limit && len <= limit - off;
}

template <typename T>
bool Aligned(uint64_t off) {
  return off % alignof(T) == 0;
}

}  // namespace

tslab_status Allocator::Snapshot(TslabSnapshot* out) const {
  return static_cast<tslab_status>(
      tslab_region_snapshot(region_.base(), region_.size(), 0, out));
}

}  // namespace tslab::internal

using tslab::internal::Aligned;
using tslab::internal::Load;
using tslab::internal::Ratio;
using tslab::internal::Within;

extern "C" size_t tslab_region_size(void) {
  // Matches StatsRegion::Create, page rounding included: that is the
  // header's region_size, which tslab_region_snapshot requires of `size`.
  size_t epochs_end = sizeof(TslabRegionHeader) + sizeof(TslabRegionGlobal) +
                      sizeof(TslabRegionClass) * TSLAB_NUM_CLASSES +
                      sizeof(TslabRegionEpoch) * TSLAB_NUM_EPOCHS;
  const size_t bytes = (epochs_end + 63) / 64 * 64 +
                       sizeof(TslabRegionShard) * TSLAB_REGION_SHARDS +
                       sizeof(TslabRegionLabel) * TSLAB_NUM_EPOCHS;
  const long ps = sysconf(_SC_PAGESIZE);
  const size_t page = ps > 0 ? static_cast<size_t>(ps) : 4096;
  return (bytes + page - 1) / page * page;
}

extern "C" int tslab_region_snapshot(const void* region, size_t size,
                                     uint64_t now_mono_ns,
                                     TslabSnapshot* out) {
  if (region == nullptr || out == nullptr) return TSLAB_E_INVALID_ARG;
  if (size < sizeof(TslabRegionHeader)) return TSLAB_E_REGION_TRUNCATED;
  const auto* base = static_cast<const char*>(region);
  // One copy of the header, validated and then used: the mapping may be
  // another process's file, rewritten (by a bug or by its owner) while we
  // read it, and a later re-read could escape the checks.
  TslabRegionHeader h;
  std::memcpy(&h, base, sizeof(h));
  if (h.magic != TSLAB_REGION_MAGIC) return TSLAB_E_REGION_CORRUPT;
  if (h.layout_version != TSLAB_REGION_LAYOUT_VERSION) {
    return TSLAB_E_REGION_VERSION;
  }
  // Every section inside the region and in order, by checks that cannot
  // wrap (a file may carry offsets near 2^64), and aligned for its loads.
  if (h.header_size != sizeof(TslabRegionHeader) ||
      h.epoch_count != TSLAB_NUM_EPOCHS ||
      h.class_count != TSLAB_NUM_CLASSES ||
      h.shard_count != TSLAB_REGION_SHARDS || h.page_size == 0 ||
      !Aligned<TslabRegionGlobal>(h.off_global) ||
      !Aligned<TslabRegionClass>(h.off_classes) ||
      !Aligned<TslabRegionEpoch>(h.off_epochs) ||
      !Aligned<TslabRegionShard>(h.off_shards) ||
      h.off_global < sizeof(TslabRegionHeader) ||
      !Within(h.off_global, sizeof(TslabRegionGlobal), h.off_classes) ||
      !Within(h.off_classes, sizeof(TslabRegionClass) * TSLAB_NUM_CLASSES,
              h.off_epochs) ||
      !Within(h.off_epochs, sizeof(TslabRegionEpoch) * TSLAB_NUM_EPOCHS,
              h.off_shards) ||
      !Within(h.off_shards, sizeof(TslabRegionShard) * TSLAB_REGION_SHARDS,
              h.region_size)) {
    return TSLAB_E_REGION_CORRUPT;
  }
  // Labels are optional (0: a region that predates them), after the
  // shards (whose end the check above bounded by region_size).
  if (h.off_labels != 0 &&
      (h.off_labels < h.off_shards + sizeof(TslabRegionShard) *
                                         TSLAB_REGION_SHARDS ||
       !Aligned<TslabRegionLabel>(h.off_labels) ||
       !Within(h.off_labels, sizeof(TslabRegionLabel) * TSLAB_NUM_EPOCHS,
               h.region_size))) {
    return TSLAB_E_REGION_CORRUPT;
  }
  if (size < h.region_size) return TSLAB_E_REGION_TRUNCATED;

  const auto& g = *reinterpret_cast<const TslabRegionGlobal*>(base +
                                                               h.off_global);
  const auto* rc =
      reinterpret_cast<const TslabRegionClass*>(base + h.off_classes);
  const auto* re =
      reinterpret_cast<const TslabRegionEpoch*>(base + h.off_epochs);
  const auto* sh =
      reinterpret_cast<const TslabRegionShard*>(base + h.off_shards);
  const auto* rl =
      h.off_labels == 0
          ? nullptr
          : reinterpret_cast<const TslabRegionLabel*>(base + h.off_labels);

  std::memset(out, 0, sizeof(*out));
  out->pid = static_cast<int32_t>(h.pid);
  out->page_size = h.page_size;

  // Sum the per-thread shards once.
  uint64_t allocs[TSLAB_NUM_EPOCHS][TSLAB_NUM_CLASSES] = {};
  uint64_t frees[TSLAB_NUM_EPOCHS][TSLAB_NUM_CLASSES] = {};
  TslabRegionShardClass sc[TSLAB_NUM_CLASSES] = {};
  for (int i = 0; i < TSLAB_REGION_SHARDS; ++i) {
    for (int e = 0; e < TSLAB_NUM_EPOCHS; ++e) {
      for (int c = 0; c < TSLAB_NUM_CLASSES; ++c) {
        allocs[e][c] += Load(sh[i].allocs[e][c]);
        frees[e][c] += Load(sh[i].frees[e][c]);
      }
    }
    for (int c = 0; c < TSLAB_NUM_CLASSES; ++c) {
      const TslabRegionShardClass& x = sh[i].cls[c];
#define TSLAB_SUM_SHARD_(name, class_field) sc[c].name += Load(x.name);
      TSLAB_REGION_SHARD_CLASS_FIELDS(TSLAB_SUM_SHARD_)
#undef TSLAB_SUM_SHARD_
    }
  }

  SlabGlobalStats& gs = out->global;
  gs.version = TSLAB_STATS_VERSION;
  gs.page_size = h.page_size;
  gs.epoch_count = TSLAB_NUM_EPOCHS;
  gs.purge_delay_ms = h.purge_delay_ms;
  // The region's COPY fields, each to the snapshot field of its name (the
  // lists in tslab/stats_region.h); the narrower snapshot fields (current
  // epoch, states, cache lengths) are 32-bit and take the value as is.
#define TSLAB_COPY_(dst, src, role, name) TSLAB_COPY_##role(dst, src, name)
#define TSLAB_COPY_COPY(dst, src, name) \
  dst.name = static_cast<decltype(dst.name)>(Load(src.name));
#define TSLAB_COPY_DERIVE(dst, src, name)
#define TSLAB_COPY_GLOBAL_(role, name) TSLAB_COPY_(gs, g, role, name)
  TSLAB_REGION_GLOBAL_FIELDS(TSLAB_COPY_GLOBAL_)
#undef TSLAB_COPY_GLOBAL_
  for (int c = 0; c < TSLAB_NUM_CLASSES; ++c) {
    const TslabRegionClass& r = rc[c];
    SlabClassStats& s = out->classes[c];
    s.version = TSLAB_STATS_VERSION;
    s.class_index = static_cast<uint32_t>(c);
    s.object_size = static_cast<uint32_t>(h.object_size[c]);
    s.objects_per_slab = h.objects_per_slab[c];
    s.cache_capacity = static_cast<uint32_t>(h.cache_capacity);
#define TSLAB_COPY_CLASS_(role, name) TSLAB_COPY_(s, r, role, name)
    TSLAB_REGION_CLASS_FIELDS(TSLAB_COPY_CLASS_)
#undef TSLAB_COPY_CLASS_
#define TSLAB_COPY_SHARD_(name, class_field) s.class_field = sc[c].name;
    TSLAB_REGION_SHARD_CLASS_FIELDS(TSLAB_COPY_SHARD_)
#undef TSLAB_COPY_SHARD_

    // Derived fields (docs/counters.md says why each is computed so).
    // Full slabs: fills minus unfills (a full slab is never recycled, so
    // the difference is exact at quiescence); partial: the rest of the
    // slabs the epochs hold, counted independently under the class lock.
    const uint64_t owned = Load(r.owned_slabs);
    const uint64_t full = sc[c].slab_fills > sc[c].slab_unfills
                              ? sc[c].slab_fills - sc[c].slab_unfills
                              : 0;
    s.total_full_slabs = static_cast<uint32_t>(full < owned ? full : owned);
    s.total_partial_slabs = static_cast<uint32_t>(owned - s.total_full_slabs);
    // Semantics over formula: slabs in use are those taken (new or reused
    // from the cache) minus those given back. The spec's new - recycled
    // would go negative as soon as a cached slab is reused.
    uint64_t taken = s.new_slab_count + s.slabs_reused;
    s.net_slabs = taken > s.empty_slab_recycled ? taken - s.empty_slab_recycled
                                                : 0;
    s.estimated_rss_bytes = s.net_slabs * h.page_size;
    // A true percentage (docs/counters.md): of the slabs emptied and given
    // back, the share the pool kept within cache_capacity. The spec's
    // recycled / new_slab_count is unbounded once pooled slabs are reused.
    const uint64_t kept = s.empty_slab_recycled > s.empty_slab_overflowed
                              ? s.empty_slab_recycled - s.empty_slab_overflowed
                              : 0;
    s.recycle_rate_pct = 100.0 * Ratio(kept, s.empty_slab_recycled);
    for (int e = 0; e < TSLAB_NUM_EPOCHS; ++e) {
      s.bitmap_alloc_attempts += allocs[e][c];
      s.bitmap_free_attempts += frees[e][c];
    }
    s.avg_alloc_cas_retries_per_attempt =
        Ratio(s.bitmap_alloc_cas_retries, s.bitmap_alloc_attempts);
    s.avg_free_cas_retries_per_attempt =
        Ratio(s.bitmap_free_cas_retries, s.bitmap_free_attempts);
    s.lock_contention_rate =
        Ratio(s.lock_contended, s.lock_fast_acquire + s.lock_contended);
    s.live_objects = s.bitmap_alloc_attempts > s.bitmap_free_attempts
                         ? s.bitmap_alloc_attempts - s.bitmap_free_attempts
                         : 0;
    s.live_bytes = s.live_objects * s.object_size;
    s.current_partial_cas_failure_rate = Ratio(
        s.current_partial_cas_failures, s.current_partial_cas_attempts);
    s.empty_slabs_count = uint64_t{s.cache_size} + s.cache_overflow_len;
    s.committed_bytes = (s.net_slabs + s.resident_empty_slabs) * h.page_size;

    // Every total the sums list (tslab/stats.h) names.
#define TSLAB_SUM_CLASS_(global_field, class_field) \
  gs.global_field += s.class_field;
    TSLAB_GLOBAL_SUMS(TSLAB_SUM_CLASS_)
#undef TSLAB_SUM_CLASS_
  }

  const uint64_t now =
      now_mono_ns != 0 ? now_mono_ns : tslab::internal::MonotonicNs();
  for (int e = 0; e < TSLAB_NUM_EPOCHS; ++e) {
    TslabEpochStats& es = out->epochs[e];
    const TslabRegionEpoch& r = re[e];
    es.epoch_id = static_cast<uint32_t>(e);
#define TSLAB_COPY_EPOCH_(role, name) TSLAB_COPY_(es, r, role, name)
    TSLAB_REGION_EPOCH_FIELDS(TSLAB_COPY_EPOCH_)
#undef TSLAB_COPY_EPOCH_
    es.age_ns = es.open_ns != 0 && now > es.open_ns ? now - es.open_ns : 0;
    if (rl != nullptr) (void)tslab::internal::ReadLabel(rl[e], es.label);
    for (int c = 0; c < TSLAB_NUM_CLASSES; ++c) {
      es.allocs += allocs[e][c];
      es.frees += frees[e][c];
      uint64_t live = allocs[e][c] > frees[e][c] ? allocs[e][c] - frees[e][c]
                                                 : 0;
      es.live_objects += live;
      es.live_bytes += live * h.object_size[c];
    }
    switch (es.state) {
      case TSLAB_EPOCH_ACTIVE: ++gs.active_epoch_count; break;
      case TSLAB_EPOCH_CLOSING: ++gs.closing_epoch_count; break;
      case TSLAB_EPOCH_DRAINED: ++gs.drained_epoch_count; break;
      default: break;
    }
  }
#undef TSLAB_COPY_
#undef TSLAB_COPY_COPY
#undef TSLAB_COPY_DERIVE
  return TSLAB_OK;
}
