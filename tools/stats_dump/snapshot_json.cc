#include "tools/stats_dump/snapshot_json.h"

namespace tslab::stats_dump {
namespace {

using Json = nlohmann::ordered_json;

Json ClassJson(const SlabClassStats& c) {
  Json j;
  // The spec's class object, in its order.
  j["version"] = c.version;
  j["class_index"] = c.class_index;
  j["object_size"] = c.object_size;
  j["slow_path_hits"] = c.slow_path_hits;
  j["new_slab_count"] = c.new_slab_count;
  j["list_move_partial_to_full"] = c.list_move_partial_to_full;
  j["list_move_full_to_partial"] = c.list_move_full_to_partial;
  j["current_partial_null"] = c.current_partial_null;
  j["current_partial_full"] = c.current_partial_full;
  j["empty_slab_recycled"] = c.empty_slab_recycled;
  j["empty_slab_overflowed"] = c.empty_slab_overflowed;
  j["slow_path_cache_miss"] = c.slow_path_cache_miss;
  j["slow_path_epoch_closed"] = c.slow_path_epoch_closed;
  j["madvise_calls"] = c.madvise_calls;
  j["madvise_bytes"] = c.madvise_bytes;
  j["madvise_failures"] = c.madvise_failures;
  // Phase 2.1: epoch-close telemetry.
  j["epoch_close_calls"] = c.epoch_close_calls;
  j["epoch_close_scanned_slabs"] = c.epoch_close_scanned_slabs;
  j["epoch_close_recycled_slabs"] = c.epoch_close_recycled_slabs;
  j["epoch_close_total_ns"] = c.epoch_close_total_ns;
  j["cache_size"] = c.cache_size;
  j["cache_capacity"] = c.cache_capacity;
  j["cache_overflow_len"] = c.cache_overflow_len;
  j["total_partial_slabs"] = c.total_partial_slabs;
  j["total_full_slabs"] = c.total_full_slabs;
  j["recycle_rate_pct"] = c.recycle_rate_pct;
  j["net_slabs"] = c.net_slabs;
  j["estimated_rss_bytes"] = c.estimated_rss_bytes;
  // Phase 2.2: contention, in the spec's table order.
  j["bitmap_alloc_cas_retries"] = c.bitmap_alloc_cas_retries;
  j["bitmap_free_cas_retries"] = c.bitmap_free_cas_retries;
  j["current_partial_cas_failures"] = c.current_partial_cas_failures;
  j["bitmap_alloc_attempts"] = c.bitmap_alloc_attempts;
  j["bitmap_free_attempts"] = c.bitmap_free_attempts;
  j["current_partial_cas_attempts"] = c.current_partial_cas_attempts;
  j["lock_fast_acquire"] = c.lock_fast_acquire;
  j["lock_contended"] = c.lock_contended;
  j["avg_alloc_cas_retries_per_attempt"] = c.avg_alloc_cas_retries_per_attempt;
  j["avg_free_cas_retries_per_attempt"] = c.avg_free_cas_retries_per_attempt;
  j["lock_contention_rate"] = c.lock_contention_rate;
  // tslab additions.
  j["objects_per_slab"] = c.objects_per_slab;
  j["slabs_reused"] = c.slabs_reused;
  j["live_objects"] = c.live_objects;
  j["live_bytes"] = c.live_bytes;
  j["draining_slabs"] = c.draining_slabs;
  j["invalid_frees"] = c.invalid_frees;
  return j;
}

Json EpochJson(const TslabEpochStats& e) {
  Json j;
  j["epoch_id"] = e.epoch_id;
  j["state"] = EpochStateName(e.state);
  j["era"] = e.era;
  j["age_ns"] = e.age_ns;
  j["slab_count"] = e.slab_count;
  j["live_objects"] = e.live_objects;
  j["live_bytes"] = e.live_bytes;
  j["allocs"] = e.allocs;
  j["frees"] = e.frees;
  j["close_calls"] = e.close_calls;
  return j;
}

}  // namespace

const char* EpochStateName(uint32_t state) {
  switch (state) {
    case TSLAB_EPOCH_IDLE: return "IDLE";
    case TSLAB_EPOCH_ACTIVE: return "ACTIVE";
    case TSLAB_EPOCH_CLOSING: return "CLOSING";
    case TSLAB_EPOCH_DRAINED: return "DRAINED";
    default: return "UNKNOWN";
  }
}

nlohmann::ordered_json SnapshotJson(const Sample& s, const RegionIdentity& id) {
  const SlabGlobalStats& g = s.snap.global;
  Json j;
  // The spec's top level, in its order.
  j["schema_version"] = static_cast<uint32_t>(kSchemaVersion);
  j["timestamp_ns"] = s.timestamp_ns;
  j["pid"] = static_cast<int32_t>(s.snap.pid);
  j["page_size"] = static_cast<int64_t>(s.snap.page_size);
  j["epoch_count"] = g.epoch_count;
  j["version"] = g.version;
  j["current_epoch"] = g.current_epoch;
  j["active_epoch_count"] = g.active_epoch_count;
  j["closing_epoch_count"] = g.closing_epoch_count;
  j["total_slabs_allocated"] = g.total_slabs_allocated;
  j["total_slabs_recycled"] = g.total_slabs_recycled;
  j["net_slabs"] = g.net_slabs;
  j["rss_bytes_current"] = s.rss_bytes;
  j["estimated_slab_rss_bytes"] = g.estimated_slab_rss_bytes;
  j["total_slow_path_hits"] = g.total_slow_path_hits;
  j["total_cache_overflows"] = g.total_cache_overflows;
  j["total_slow_cache_miss"] = g.total_slow_cache_miss;
  j["total_slow_epoch_closed"] = g.total_slow_epoch_closed;
  j["total_madvise_calls"] = g.total_madvise_calls;
  j["total_madvise_bytes"] = g.total_madvise_bytes;
  j["total_madvise_failures"] = g.total_madvise_failures;
  Json classes = Json::array();
  for (const SlabClassStats& c : s.snap.classes) classes.push_back(ClassJson(c));
  j["classes"] = std::move(classes);
  // tslab additions (schema_version 1 allows additive fields).
  j["allocator_id"] = id.allocator_id;
  j["allocator_name"] = id.name;
  j["drained_epoch_count"] = g.drained_epoch_count;
  j["total_slabs_reused"] = g.total_slabs_reused;
  j["total_allocs"] = g.total_allocs;
  j["total_frees"] = g.total_frees;
  j["live_objects"] = g.live_objects;
  j["live_bytes"] = g.live_bytes;
  j["epoch_advances"] = g.epoch_advances;
  j["epoch_closes"] = g.epoch_closes;
  j["epoch_wraps_live"] = g.epoch_wraps_live;
  j["invalid_frees"] = g.invalid_frees;
  j["stale_frees"] = g.stale_frees;
  j["double_frees"] = g.double_frees;
  j["foreign_frees"] = g.foreign_frees;
  j["alloc_failures"] = g.alloc_failures;
  Json epochs = Json::array();
  for (const TslabEpochStats& e : s.snap.epochs) epochs.push_back(EpochJson(e));
  j["epochs"] = std::move(epochs);
  return j;
}

}  // namespace tslab::stats_dump
