// The allocator's slow paths: installing a new current slab, draining the
// pending stacks, recycling empty slabs into the cache.
// Everything here is out of line and cold; it runs under a heap lock
// except where a comment says otherwise.
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>

#include "src/allocator/allocator.h"
#include "src/usdt/tslab_usdt.h"

#define TSLAB_COLD __attribute__((cold, noinline))

namespace tslab::internal {

void Allocator::PublishGauges(uint32_t cls) {
  ClassState& cs = classes_[cls];
  TslabRegionClass& rc = region_.cls(cls);
  AtomicStore(rc.owned_slabs, cs.owned.load(std::memory_order_relaxed));
  AtomicStore(rc.draining_slabs, cs.draining.load(std::memory_order_relaxed));
  AtomicStore(rc.cache_size, cs.cache_len);
  AtomicStore(rc.cache_overflow_len, cs.overflow.size);
}

TSLAB_COLD void Allocator::OpenEpoch(uint32_t e) {
  EpochSlot& ep = epochs_[e];
  ep.era.fetch_add(1, std::memory_order_acq_rel);
  TslabRegionEpoch& re = region_.epoch(e);
  AtomicStore(re.era, ep.era.load(std::memory_order_relaxed));
  AtomicStore(re.open_ns, MonotonicNs());
  AtomicStore(re.close_ns, 0);
  ep.state.store(TSLAB_EPOCH_ACTIVE, std::memory_order_release);
  AtomicStore(re.state, TSLAB_EPOCH_ACTIVE);
}

void Allocator::MaybeDrained(uint32_t e) {
  EpochSlot& ep = epochs_[e];
  if (ep.slab_count.load(std::memory_order_acquire) != 0) return;
  uint32_t expect = TSLAB_EPOCH_CLOSING;
  if (ep.state.compare_exchange_strong(expect, TSLAB_EPOCH_DRAINED,
                                       std::memory_order_acq_rel)) {
    AtomicStore(region_.epoch(e).state, TSLAB_EPOCH_DRAINED);
  }
}

TSLAB_COLD void Allocator::PushPending(SlabMeta* s, uint64_t tag) {
  std::atomic<SlabMeta*>& head =
      epochs_[TagEpoch(tag)].heaps[TagClass(tag)][TagHeap(tag)].pending;
  SlabMeta* n = head.load(std::memory_order_relaxed);
  do {
    s->pending_next = n;
  } while (!head.compare_exchange_weak(n, s, std::memory_order_release,
                                       std::memory_order_relaxed));
}

void Allocator::DrainPendingLocked(uint32_t cls, uint32_t e, uint32_t h) {
  Heap& lists = epochs_[e].heaps[cls][h];
  SlabMeta* s = lists.pending.exchange(nullptr, std::memory_order_acquire);
  while (s != nullptr) {
    SlabMeta* next = s->pending_next;
    s->pending_next = nullptr;
    // seq_cst store, then load of bits: pairs with ReleaseSlot's CAS then
    // exchange of `queued`; a slab that fills again after this check is
    // re-queued by its next free.
    s->queued.store(0, std::memory_order_seq_cst);
    // Only an ACTIVE epoch's slabs go on the avail stack: a closed
    // epoch's must stay off it (see AvailStack).
    if (s->list == ListKind::kEpoch && s->epoch == e && !s->in_avail &&
        epochs_[e].state.load(std::memory_order_acquire) ==
            TSLAB_EPOCH_ACTIVE &&
        (~s->bits.load(std::memory_order_seq_cst) & kSlotMask) != 0) {
      lists.avail.Push(s);
    }
    s = next;
  }
}

SlabMeta* Allocator::TakeAvailLocked(uint32_t cls, uint32_t e, uint32_t h) {
  Heap& lists = epochs_[e].heaps[cls][h];
  for (;;) {
    if (lists.avail.head == nullptr) {
      DrainPendingLocked(cls, e, h);
      if (lists.avail.head == nullptr) return nullptr;
    }
    SlabMeta* s = lists.avail.Pop();
    // Full again (it was current meanwhile)? Drop it: it is re-queued by
    // the free that next takes it below full.
    if ((~s->bits.load(std::memory_order_acquire) & kSlotMask) != 0) return s;
  }
}

SlabMeta* Allocator::NewSlabLocked(uint32_t cls, uint32_t e, uint32_t h) {
  ClassState& cs = classes_[cls];
  TslabRegionClass& rc = region_.cls(cls);
  SlabMeta* s = nullptr;
  int from_cache = 1;
  LockCounted(cs.mu, cls);
  if (cs.cache_len > 0) {
    s = cs.cache[--cs.cache_len];
  } else if (cs.overflow.head != nullptr) {
    s = cs.overflow.PopFront();
  } else {
    from_cache = 0;
    TSLAB_STAT_INC(rc.slow_path_cache_miss);
    s = arena_.NewSlab();
    if (s != nullptr) s->bits.store(kSealed | kSlotMask, std::memory_order_relaxed);
  }
  if (s != nullptr) {
    cs.owned.fetch_add(1, std::memory_order_relaxed);
    PublishGauges(cls);
  }
  cs.mu.unlock();
  if (s == nullptr) return nullptr;
  if (from_cache) {
    TSLAB_STAT_INC(rc.slabs_reused);
  } else {
    TSLAB_STAT_INC(rc.new_slab_count);
  }
  TSLAB_PROBE3_NESTED(slab_new, cls, e, from_cache);
  // Re-own while sealed: tag first, then the bitmap (release), so a racing
  // fast-path CAS that reads the new bitmap also reads the new tag.
  uint64_t inc = TagIncarnation(s->tag.load(std::memory_order_relaxed)) + 1;
  s->tag.store(MakeTag(inc, h, e, cls), std::memory_order_release);
  s->reclaim_on_empty.store(0, std::memory_order_relaxed);
  s->queued.store(0, std::memory_order_relaxed);
  s->pending_next = nullptr;
  s->cls = static_cast<uint8_t>(cls);
  s->epoch = static_cast<uint8_t>(e);
  s->heap = static_cast<uint8_t>(h);
  s->in_avail = false;
  s->list = ListKind::kEpoch;
  epochs_[e].heaps[cls][h].all.PushFront(s);
  epochs_[e].slab_count.fetch_add(1, std::memory_order_acq_rel);
  AtomicStore(region_.epoch(e).slab_count,
              epochs_[e].slab_count.load(std::memory_order_relaxed));
  s->bits.store(cs.empty_bits, std::memory_order_release);
  return s;
}

TSLAB_COLD void* Allocator::AllocSlow(uint32_t cls, uint32_t e,
                                      uint32_t shard, int reason,
                                      uint64_t* out) {
  // Times the slow path while traced; leaves out nested probes (slab_new,
  // epoch_closed_alloc), whose uprobe traps would otherwise dominate it.
  const tslab::usdt::ProbeTimer probe_timer(TSLAB_PROBE_ENABLED(slow_path));
  const uint32_t h = HeapOf(shard);
  ShardRef sh = ShardAt(shard);
  TSLAB_STAT_SHARD_ADD(sh.shared, sh.shard->cls[cls].slow_path_hits, 1);
  EpochSlot& ep = epochs_[e];
  if (ep.state.load(std::memory_order_acquire) == TSLAB_EPOCH_IDLE) {
    // First allocation into a never-opened slot opens it (compatible with
    // the original, where every slot accepts allocations until closed).
    // Under advance_mu_, like every other state change: opening under the
    // heap lock alone could undo a close that ran between our load of IDLE
    // and the open, leaving a closed epoch ACTIVE. Once per slot, ever.
    std::lock_guard<std::mutex> advance_lock(advance_mu_);
    if (ep.state.load(std::memory_order_acquire) == TSLAB_EPOCH_IDLE) {
      OpenEpoch(e);
    }
  }
  SpinLock& mu = classes_[cls].heaps[h].mu;
  LockCounted(mu, cls, sh);
  const uint32_t st = ep.state.load(std::memory_order_acquire);
  void* result = nullptr;
  if (st != TSLAB_EPOCH_ACTIVE) {
    reason = TSLAB_SLOW_EPOCH_CLOSED;
    mu.unlock();
    TSLAB_STAT_INC(region_.cls(cls).slow_path_epoch_closed);
    TSLAB_STAT_INC(region_.global().alloc_failures);
    TSLAB_PROBE2_NESTED(epoch_closed_alloc, cls, e);
    SetLastError(TSLAB_E_EPOCH_CLOSED);
  } else {
    // Alloc says "epoch closed" for any non-ACTIVE state; here the slot is
    // open (an IDLE slot just opened, or one reopened meanwhile), and the
    // counters below count it as current_partial_null: so does the probe.
    if (reason == TSLAB_SLOW_EPOCH_CLOSED) reason = TSLAB_SLOW_CURRENT_NULL;
    if (reason == TSLAB_SLOW_CURRENT_FULL) {
      TSLAB_STAT_SHARD_ADD(sh.shared, sh.shard->cls[cls].current_partial_full,
                           1);
    } else {
      TSLAB_STAT_SHARD_ADD(sh.shared, sh.shard->cls[cls].current_partial_null,
                           1);
    }
    Heap& lists = ep.heaps[cls][h];
    uint32_t slot = 0;
    bool filled = false;
    uint64_t retries = 0;
    SlabMeta* s = nullptr;
    for (;;) {
      SlabMeta* cur = lists.current.load(std::memory_order_acquire);
      // Another thread may have installed a fresh current meanwhile, or
      // a free may have made room in this one.
      if (cur != nullptr && TryClaim(cur, &slot, &filled, &retries)) {
        s = cur;
        break;
      }
      SlabMeta* pick = TakeAvailLocked(cls, e, h);
      if (pick == nullptr) pick = NewSlabLocked(cls, e, h);
      if (pick == nullptr) break;  // address space exhausted
      TSLAB_STAT_SHARD_ADD(sh.shared,
                           sh.shard->cls[cls].current_cas_attempts, 1);
      if (!lists.current.compare_exchange_strong(cur, pick,
                                                 std::memory_order_acq_rel)) {
        // Every writer of `current` holds this heap lock, so this cannot
        // fail today; kept as a CAS (and counted) for the spec's field.
        TSLAB_STAT_SHARD_ADD(sh.shared,
                             sh.shard->cls[cls].current_cas_failures, 1);
        if (!pick->in_avail) lists.avail.Push(pick);
        continue;
      }
      if (TryClaim(pick, &slot, &filled, &retries)) {
        s = pick;
        break;
      }
    }
    mu.unlock();
    if (s != nullptr) {
      if (filled) CountFill(cls, shard);
      result = FinishAlloc(s, slot, cls, e, shard, retries, out);
    } else {
      TSLAB_STAT_INC(region_.global().alloc_failures);
      SetLastError(TSLAB_E_NO_MEMORY);
    }
  }
  // Fires even if the tracer attached meanwhile (duration 0 then): one
  // event per slow_path_hits count.
  TSLAB_PROBE4(slow_path, cls, e, reason, probe_timer.ElapsedNs());
  (void)sh;
  return result;
}

void Allocator::UnlinkLocked(SlabMeta* s) {
  const uint32_t cls = s->cls, e = s->epoch, h = s->heap;
  ClassState& cs = classes_[cls];
  Heap& lists = epochs_[e].heaps[cls][h];
  if (s->list == ListKind::kEpoch || s->list == ListKind::kDrain) {
    // A sealed slab is on no pending stack once its stack is drained.
    DrainPendingLocked(cls, e, h);
    SlabMeta* expect = s;
    lists.current.compare_exchange_strong(expect, nullptr,
                                          std::memory_order_acq_rel);
    cs.owned.fetch_sub(1, std::memory_order_relaxed);
  }
  if (s->list == ListKind::kEpoch) {
    lists.all.Remove(s);
    epochs_[e].slab_count.fetch_sub(1, std::memory_order_acq_rel);
    AtomicStore(region_.epoch(e).slab_count,
                epochs_[e].slab_count.load(std::memory_order_relaxed));
  } else if (s->list == ListKind::kDrain) {
    cs.heaps[h].drain.Remove(s);
    cs.draining.fetch_sub(1, std::memory_order_relaxed);
  }
  s->list = ListKind::kNone;
}

TSLAB_COLD void Allocator::RecycleOnEmpty(SlabMeta* s, uint64_t tag) {
  const uint32_t cls = TagClass(tag);
  ClassState& cs = classes_[cls];
  SpinLock& mu = cs.heaps[TagHeap(tag)].mu;
  LockCounted(mu, cls);
  uint64_t empty = cs.empty_bits;
  bool sealed = false;
  // No read of s->list before the CAS: if a close sealed s meanwhile,
  // ReturnSlabs writes s->list under the class lock, not ours. A slab that
  // is still ours (same tag) and unsealed is on an epoch or drain list,
  // guarded by this heap lock; only sealed slabs are in flight or cached.
  if (s->tag.load(std::memory_order_acquire) == tag &&
      s->bits.compare_exchange_strong(empty, empty | kSealed,
                                      std::memory_order_acq_rel)) {
    UnlinkLocked(s);
    sealed = true;
  }
  mu.unlock();
  if (sealed) {
    SlabList one;
    one.PushFront(s);
    ReturnSlabs(cls, &one);
    MaybeDrained(TagEpoch(tag));
  }
}

void Allocator::Madvise(SlabMeta* first, uint64_t pages, uint32_t cls) {
  void* addr = arena_.SlabBase(first);
  const uint64_t bytes = pages * page_size_;
  const bool timed = TSLAB_PROBE_ENABLED(madvise);
  const uint64_t t0 = timed ? MonotonicNs() : 0;
  int r = madvise_fn_ ? madvise_fn_(addr, bytes, MADV_DONTNEED, madvise_ctx_)
                      : madvise(addr, bytes, MADV_DONTNEED);
  int err = r == 0 ? 0 : errno;
  const uint64_t dt = timed ? MonotonicNs() - t0 : 0;
  TslabRegionClass& rc = region_.cls(cls);
  TSLAB_STAT_INC(rc.madvise_calls);
  TSLAB_STAT_ADD(rc.madvise_bytes, bytes);
  if (r != 0) TSLAB_STAT_INC(rc.madvise_failures);
  // Nested in epoch_close's timed region (and in nothing timed on the free
  // path): its own cost is left out of epoch_close's dur_ns.
  TSLAB_PROBE4_NESTED(madvise, cls, bytes, err, dt);
}

// Runs without the class lock: madvise is a syscall, and the slabs are
// sealed and unlinked, so no other thread can reach them meanwhile.
// Slabs go back in batches sorted by address, one madvise per run of
// adjacent pages: a syscall (and its TLB shootdown) per page cost 60 us a
// page on this project's VMs, most of an epoch close. The cache is filled
// so that it hands slabs out again in ascending address order.
void Allocator::ReturnSlabs(uint32_t cls, SlabList* sealed) {
  constexpr size_t kBatch = 256;  // 2 KiB of stack
  SlabMeta* batch[kBatch];
  ClassState& cs = classes_[cls];
  TslabRegionClass& rc = region_.cls(cls);
  while (sealed->head != nullptr) {
    size_t n = 0;
    while (n < kBatch && sealed->head != nullptr) batch[n++] = sealed->PopFront();
    std::sort(batch, batch + n, [](const SlabMeta* a, const SlabMeta* b) {
      return a->index < b->index;
    });
    for (size_t i = 0; i < n;) {
      size_t j = i + 1;
      while (j < n && batch[j]->index == batch[j - 1]->index + 1) ++j;
      Madvise(batch[i], j - i, cls);
      i = j;
    }
    LockCounted(cs.mu, cls);
    for (size_t k = n; k-- > 0;) {
      SlabMeta* s = batch[k];
      TSLAB_STAT_INC(rc.empty_slab_recycled);
      if (cs.cache_len < cache_capacity_) {
        cs.cache[cs.cache_len++] = s;
        s->list = ListKind::kCache;
      } else {
        cs.overflow.PushFront(s);
        s->list = ListKind::kOverflow;
        TSLAB_STAT_INC(rc.empty_slab_overflowed);
        TSLAB_PROBE1_NESTED(cache_overflow, cls);
      }
    }
    PublishGauges(cls);
    cs.mu.unlock();
  }
}

}  // namespace tslab::internal
