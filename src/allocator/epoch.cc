// Epoch lifecycle: advance (with ring wrap) and close (with reclamation).
#include "src/allocator/allocator.h"
#include "src/usdt/tslab_usdt.h"

namespace tslab::internal {

uint32_t Allocator::EpochAdvance() {
  std::lock_guard<std::mutex> advance_lock(advance_mu_);
  const uint32_t old = current_epoch_.load(std::memory_order_relaxed);
  const uint32_t next = (old + 1) % kNumEpochs;
  EpochSlot& ep = epochs_[next];
  const uint32_t st = ep.state.load(std::memory_order_acquire);
  if (st == TSLAB_EPOCH_CLOSING) {
    // Wrapping onto a closed epoch that still holds objects: its slabs
    // move to the per-class draining lists (recycled as their last object
    // is freed) and the slot starts a new life.
    TSLAB_STAT_INC(region_.global().epoch_wraps_live);
    for (uint32_t cls = 0; cls < kNumClasses; ++cls) {
      ClassState& cs = classes_[cls];
      for (uint32_t h = 0; h < kNumHeaps; ++h) {
        Heap& lists = ep.heaps[cls][h];
        LockCounted(cs.heaps[h].mu, cls);
        DrainPendingLocked(cls, next, h);
        lists.avail.Clear();
        uint64_t moved = 0;
        while (SlabMeta* s = lists.all.PopFront()) {
          cs.heaps[h].drain.PushFront(s);
          s->list = ListKind::kDrain;
          ++moved;
        }
        lists.current.store(nullptr, std::memory_order_release);
        ep.slab_count.fetch_sub(moved, std::memory_order_acq_rel);
        cs.draining.fetch_add(moved, std::memory_order_relaxed);
        cs.heaps[h].mu.unlock();
      }
      LockCounted(cs.mu, cls);
      PublishGauges(cls);
      cs.mu.unlock();
    }
    AtomicStore(region_.epoch(next).slab_count, 0);
    OpenEpoch(next);
  } else if (st == TSLAB_EPOCH_ACTIVE) {
    // Never closed: the slot stays open and keeps its objects. A live wrap
    // only if it still holds one: the empty slabs of an open epoch whose
    // objects were all freed share no lifetime with the new objects.
    if (ep.slab_count.load(std::memory_order_acquire) != 0 &&
        EpochHoldsObjects(next)) {
      TSLAB_STAT_INC(region_.global().epoch_wraps_live);
    }
  } else {
    OpenEpoch(next);  // IDLE or DRAINED
  }
  current_epoch_.store(next, std::memory_order_release);
  AtomicStore(region_.global().current_epoch, next);
  TSLAB_STAT_INC(region_.global().epoch_advances);
  TSLAB_PROBE2(epoch_advance, old, next);
  return next;
}

bool Allocator::EpochHoldsObjects(uint32_t e) {
  EpochSlot& ep = epochs_[e];
  for (uint32_t cls = 0; cls < kNumClasses; ++cls) {
    ClassState& cs = classes_[cls];
    for (uint32_t h = 0; h < kNumHeaps; ++h) {
      bool found = false;
      LockCounted(cs.heaps[h].mu, cls);
      for (SlabMeta* s = ep.heaps[cls][h].all.head; s != nullptr && !found;
           s = s->next) {
        // Slabs on the lists are unsealed: any bit beyond the empty
        // pattern is an allocated slot.
        found = s->bits.load(std::memory_order_acquire) != cs.empty_bits;
      }
      cs.heaps[h].mu.unlock();
      if (found) return true;
    }
  }
  return false;
}

tslab_status Allocator::EpochClose(uint32_t e, uint64_t era_check) {
  EpochSlot& ep = epochs_[e];
  const uint64_t t_start = MonotonicNs();
  // epoch_close's dur_ns, timed only while traced, without the nested
  // madvise and cache_overflow probes.
  const tslab::usdt::ProbeTimer probe_timer(TSLAB_PROBE_ENABLED(epoch_close));
  SlabList sealed[kNumClasses];
  uint64_t scanned_all = 0, recycled_all = 0;
  {
    // Serialised with EpochAdvance: a reopen must not move this epoch's
    // slabs to the drain lists before the scan below has marked them.
    std::lock_guard<std::mutex> advance_lock(advance_mu_);
    // A domain bound to a never-opened slot holds era 1 (its first life):
    // it may close the slot while it is still unopened (era 0).
    const uint64_t era = ep.era.load(std::memory_order_acquire);
    if (era_check != 0 && era != era_check && !(era == 0 && era_check == 1)) {
      SetLastError(TSLAB_E_STALE_DOMAIN);
      return TSLAB_E_STALE_DOMAIN;
    }
    uint32_t st = ep.state.load(std::memory_order_acquire);
    if (st == TSLAB_EPOCH_ACTIVE || st == TSLAB_EPOCH_IDLE) {
      ep.state.store(TSLAB_EPOCH_CLOSING, std::memory_order_seq_cst);
      AtomicStore(region_.epoch(e).state, TSLAB_EPOCH_CLOSING);
    }
    TslabRegionEpoch& re = region_.epoch(e);
    AtomicStore(re.close_ns, t_start);
    TSLAB_STAT_INC(re.close_calls);
    TSLAB_STAT_INC(region_.global().epoch_closes);

    for (uint32_t cls = 0; cls < kNumClasses; ++cls) {
      const uint64_t t0 = MonotonicNs();
      ClassState& cs = classes_[cls];
      uint64_t scanned = 0;
      for (uint32_t h = 0; h < kNumHeaps; ++h) {
        Heap& lists = ep.heaps[cls][h];
        LockCounted(cs.heaps[h].mu, cls);
        lists.current.store(nullptr, std::memory_order_release);
        // No allocation from a closed epoch: drop its free-slot stack, so
        // a slab recycled from now on is on no avail stack (see slab.h).
        DrainPendingLocked(cls, e, h);
        lists.avail.Clear();
        SlabMeta* next = nullptr;
        for (SlabMeta* s = lists.all.head; s != nullptr; s = next) {
          next = s->next;
          ++scanned;
          // seq_cst store then load: pairs with ReleaseSlot (see there).
          s->reclaim_on_empty.store(1, std::memory_order_seq_cst);
          uint64_t empty = cs.empty_bits;
          if (s->bits.load(std::memory_order_seq_cst) == empty &&
              s->bits.compare_exchange_strong(empty, empty | kSealed,
                                              std::memory_order_acq_rel)) {
            UnlinkLocked(s);
            sealed[cls].PushFront(s);
          }
        }
        cs.heaps[h].mu.unlock();
      }
      TslabRegionClass& rc = region_.cls(cls);
      TSLAB_STAT_INC(rc.epoch_close_calls);
      TSLAB_STAT_ADD(rc.epoch_close_scanned_slabs, scanned);
      TSLAB_STAT_ADD(rc.epoch_close_recycled_slabs, sealed[cls].size);
      TSLAB_STAT_ADD(rc.epoch_close_total_ns, MonotonicNs() - t0);
      scanned_all += scanned;
      recycled_all += sealed[cls].size;
    }
  }
  // madvise and the cache, outside every lock.
  for (uint32_t cls = 0; cls < kNumClasses; ++cls) {
    if (sealed[cls].head != nullptr) ReturnSlabs(cls, &sealed[cls]);
  }
  MaybeDrained(e);
  TSLAB_PROBE4(epoch_close, e, scanned_all, recycled_all,
               probe_timer.ElapsedNs());
  return TSLAB_OK;
}

}  // namespace tslab::internal
