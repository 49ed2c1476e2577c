// The allocator's slow paths: installing a new current slab, list moves on
// full/partial transitions, recycling empty slabs into the cache.
// Everything here is out of line and cold; it runs under the class lock
// except where a comment says otherwise.
#include <sys/mman.h>

#include <cerrno>

#include "src/allocator/allocator.h"
#include "src/usdt/tslab_usdt.h"

#define TSLAB_COLD __attribute__((cold, noinline))

namespace tslab::internal {

TSLAB_COLD void Allocator::LockClass(uint32_t cls) {
  ClassState& cs = classes_[cls];
  if (cs.mu.try_lock()) {
    TSLAB_STAT_INC(region_.cls(cls).lock_fast_acquire);
  } else {
    cs.mu.lock();
    TSLAB_STAT_INC(region_.cls(cls).lock_contended);
  }
}

void Allocator::PublishGauges(uint32_t cls) {
  ClassState& cs = classes_[cls];
  TslabRegionClass& rc = region_.cls(cls);
  uint64_t partial = cs.drain_partial.size, full = cs.drain_full.size;
  for (const EpochSlot& ep : epochs_) {
    partial += ep.lists[cls].partial.size;
    full += ep.lists[cls].full.size;
  }
  AtomicStore(rc.partial_slabs, partial);
  AtomicStore(rc.full_slabs, full);
  AtomicStore(rc.draining_slabs, cs.drain_partial.size + cs.drain_full.size);
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

// REQUIRES: class lock.
SlabMeta* Allocator::NewSlabLocked(uint32_t cls, uint32_t e) {
  ClassState& cs = classes_[cls];
  TslabRegionClass& rc = region_.cls(cls);
  SlabMeta* s = nullptr;
  int from_cache = 1;
  if (cs.cache_len > 0) {
    s = cs.cache[--cs.cache_len];
  } else if (cs.overflow.head != nullptr) {
    s = cs.overflow.PopFront();
  } else {
    from_cache = 0;
    TSLAB_STAT_INC(rc.slow_path_cache_miss);
    s = arena_.NewSlab();
    if (s == nullptr) return nullptr;
    s->bits.store(kSealed | kSlotMask, std::memory_order_relaxed);
  }
  if (from_cache) {
    TSLAB_STAT_INC(rc.slabs_reused);
  } else {
    TSLAB_STAT_INC(rc.new_slab_count);
  }
  TSLAB_PROBE3(slab_new, cls, e, from_cache);
  // Re-own while sealed: tag first, then the bitmap (release), so a racing
  // fast-path CAS that reads the new bitmap also reads the new tag.
  uint64_t inc = (s->tag.load(std::memory_order_relaxed) >> 16) + 1;
  s->tag.store(MakeTag(inc, e, cls), std::memory_order_release);
  s->reclaim_on_empty.store(0, std::memory_order_relaxed);
  s->cls = static_cast<uint8_t>(cls);
  s->epoch = static_cast<uint8_t>(e);
  s->list = ListKind::kPartial;
  epochs_[e].lists[cls].partial.PushFront(s);
  epochs_[e].slab_count.fetch_add(1, std::memory_order_acq_rel);
  AtomicStore(region_.epoch(e).slab_count,
              epochs_[e].slab_count.load(std::memory_order_relaxed));
  s->bits.store(cs.empty_bits, std::memory_order_release);
  return s;
}

TSLAB_COLD void* Allocator::AllocSlow(uint32_t cls, uint32_t e, int reason,
                                       uint64_t* out) {
  const uint64_t t0 = TSLAB_PROBE_ENABLED(slow_path) ? MonotonicNs() : 0;
  TslabRegionClass& rc = region_.cls(cls);
  TSLAB_STAT_INC(rc.slow_path_hits);
  EpochSlot& ep = epochs_[e];
  LockClass(cls);
  uint32_t st = ep.state.load(std::memory_order_acquire);
  if (st == TSLAB_EPOCH_IDLE) {
    // First allocation into a never-opened slot opens it (compatible with
    // the original, where every slot accepts allocations until closed).
    OpenEpoch(e);
    st = TSLAB_EPOCH_ACTIVE;
  }
  void* result = nullptr;
  if (st != TSLAB_EPOCH_ACTIVE) {
    reason = TSLAB_SLOW_EPOCH_CLOSED;
    TSLAB_STAT_INC(rc.slow_path_epoch_closed);
    TSLAB_STAT_INC(region_.global().alloc_failures);
    TSLAB_PROBE2(epoch_closed_alloc, cls, e);
    classes_[cls].mu.unlock();
    SetLastError(TSLAB_E_EPOCH_CLOSED);
  } else {
    if (reason == TSLAB_SLOW_CURRENT_FULL) {
      TSLAB_STAT_INC(rc.current_partial_full);
    } else {
      TSLAB_STAT_INC(rc.current_partial_null);
    }
    ClassEpochLists& lists = ep.lists[cls];
    uint32_t slot = 0;
    bool filled = false;
    uint64_t retries = 0;
    SlabMeta* s = nullptr;
    for (;;) {
      SlabMeta* cur = lists.current.load(std::memory_order_acquire);
      // Another thread may have installed a fresh current meanwhile.
      if (cur != nullptr && TryClaim(cur, &slot, &filled, &retries)) {
        s = cur;
        break;
      }
      SlabMeta* pick = nullptr;
      for (SlabMeta* p = lists.partial.head; p != nullptr; p = p->next) {
        if (p != cur && (~p->bits.load(std::memory_order_relaxed) &
                         kSlotMask) != 0) {
          pick = p;
          break;
        }
      }
      if (pick == nullptr) pick = NewSlabLocked(cls, e);
      if (pick == nullptr) break;  // address space exhausted
      TSLAB_STAT_INC(rc.current_partial_cas_attempts);
      if (!lists.current.compare_exchange_strong(cur, pick,
                                                 std::memory_order_acq_rel)) {
        // A filler swapped the full current out between our load and CAS.
        TSLAB_STAT_INC(rc.current_partial_cas_failures);
        continue;
      }
      if (TryClaim(pick, &slot, &filled, &retries)) {
        s = pick;
        break;
      }
    }
    if (s != nullptr && filled) {
      // Move the now-full slab off the partial list while we hold the lock.
      SlabMeta* expect = s;
      TSLAB_STAT_INC(rc.current_partial_cas_attempts);
      if (!lists.current.compare_exchange_strong(expect, nullptr,
                                                 std::memory_order_acq_rel)) {
        TSLAB_STAT_INC(rc.current_partial_cas_failures);
      }
      if (s->list == ListKind::kPartial &&
          s->bits.load(std::memory_order_acquire) == kSlotMask) {
        lists.partial.Remove(s);
        lists.full.PushFront(s);
        s->list = ListKind::kFull;
        TSLAB_STAT_INC(rc.list_move_partial_to_full);
      }
    }
    PublishGauges(cls);
    classes_[cls].mu.unlock();
    if (s != nullptr) {
      result = FinishAlloc(s, slot, cls, e, retries, out);
    } else {
      TSLAB_STAT_INC(region_.global().alloc_failures);
      SetLastError(TSLAB_E_NO_MEMORY);
    }
  }
  if (TSLAB_PROBE_ENABLED(slow_path)) {
    TSLAB_PROBE4(slow_path, cls, e, reason, MonotonicNs() - t0);
  }
  return result;
}

TSLAB_COLD void Allocator::OnSlabFilled(SlabMeta* s, uint64_t tag) {
  const uint32_t cls = TagClass(tag), e = TagEpoch(tag);
  TslabRegionClass& rc = region_.cls(cls);
  ClassEpochLists& lists = epochs_[e].lists[cls];
  SlabMeta* expect = s;
  TSLAB_STAT_INC(rc.current_partial_cas_attempts);
  if (!lists.current.compare_exchange_strong(expect, nullptr,
                                             std::memory_order_acq_rel)) {
    TSLAB_STAT_INC(rc.current_partial_cas_failures);
  }
  LockClass(cls);
  if (s->tag.load(std::memory_order_acquire) == tag &&
      s->list == ListKind::kPartial &&
      s->bits.load(std::memory_order_acquire) == kSlotMask) {
    lists.partial.Remove(s);
    lists.full.PushFront(s);
    s->list = ListKind::kFull;
    TSLAB_STAT_INC(rc.list_move_partial_to_full);
    PublishGauges(cls);
  }
  classes_[cls].mu.unlock();
}

TSLAB_COLD void Allocator::OnFullToPartial(SlabMeta* s, uint64_t tag) {
  const uint32_t cls = TagClass(tag), e = TagEpoch(tag);
  LockClass(cls);
  if (s->tag.load(std::memory_order_acquire) == tag &&
      s->bits.load(std::memory_order_acquire) != kSlotMask) {
    if (s->list == ListKind::kFull) {
      epochs_[e].lists[cls].full.Remove(s);
      epochs_[e].lists[cls].partial.PushFront(s);
      s->list = ListKind::kPartial;
      TSLAB_STAT_INC(region_.cls(cls).list_move_full_to_partial);
      PublishGauges(cls);
    } else if (s->list == ListKind::kDrainFull) {
      classes_[cls].drain_full.Remove(s);
      classes_[cls].drain_partial.PushFront(s);
      s->list = ListKind::kDrainPartial;
      TSLAB_STAT_INC(region_.cls(cls).list_move_full_to_partial);
      PublishGauges(cls);
    }
  }
  classes_[cls].mu.unlock();
}

void Allocator::UnlinkLocked(SlabMeta* s) {
  const uint32_t cls = s->cls, e = s->epoch;
  switch (s->list) {
    case ListKind::kPartial:
    case ListKind::kFull: {
      ClassEpochLists& lists = epochs_[e].lists[cls];
      (s->list == ListKind::kPartial ? lists.partial : lists.full).Remove(s);
      SlabMeta* expect = s;
      lists.current.compare_exchange_strong(expect, nullptr,
                                            std::memory_order_acq_rel);
      epochs_[e].slab_count.fetch_sub(1, std::memory_order_acq_rel);
      AtomicStore(region_.epoch(e).slab_count,
                  epochs_[e].slab_count.load(std::memory_order_relaxed));
      break;
    }
    case ListKind::kDrainPartial:
      classes_[cls].drain_partial.Remove(s);
      break;
    case ListKind::kDrainFull:
      classes_[cls].drain_full.Remove(s);
      break;
    default:
      break;
  }
  s->list = ListKind::kNone;
}

TSLAB_COLD void Allocator::RecycleOnEmpty(SlabMeta* s, uint64_t tag) {
  const uint32_t cls = TagClass(tag);
  ClassState& cs = classes_[cls];
  LockClass(cls);
  uint64_t empty = cs.empty_bits;
  bool sealed = false;
  if (s->tag.load(std::memory_order_acquire) == tag &&
      s->list != ListKind::kNone && s->list != ListKind::kCache &&
      s->list != ListKind::kOverflow &&
      s->bits.compare_exchange_strong(empty, empty | kSealed,
                                      std::memory_order_acq_rel)) {
    UnlinkLocked(s);
    PublishGauges(cls);
    sealed = true;
  }
  cs.mu.unlock();
  if (sealed) {
    SlabList one;
    one.PushFront(s);
    ReturnSlabs(cls, &one);
    MaybeDrained(TagEpoch(tag));
  }
}

void Allocator::Madvise(SlabMeta* s, uint32_t cls) {
  void* page = arena_.SlabBase(s);
  const bool timed = TSLAB_PROBE_ENABLED(madvise);
  const uint64_t t0 = timed ? MonotonicNs() : 0;
  int r = madvise_fn_ ? madvise_fn_(page, page_size_, MADV_DONTNEED,
                                    madvise_ctx_)
                      : madvise(page, page_size_, MADV_DONTNEED);
  int err = r == 0 ? 0 : errno;
  const uint64_t dt = timed ? MonotonicNs() - t0 : 0;
  TslabRegionClass& rc = region_.cls(cls);
  TSLAB_STAT_INC(rc.madvise_calls);
  TSLAB_STAT_ADD(rc.madvise_bytes, page_size_);
  if (r != 0) TSLAB_STAT_INC(rc.madvise_failures);
  TSLAB_PROBE4(madvise, cls, page_size_, err, dt);
}

// Runs without the class lock: madvise is a syscall, and the slabs are
// sealed and unlinked, so no other thread can reach them meanwhile.
void Allocator::ReturnSlabs(uint32_t cls, SlabList* sealed) {
  for (SlabMeta* s = sealed->head; s != nullptr; s = s->next) {
    Madvise(s, cls);
  }
  ClassState& cs = classes_[cls];
  TslabRegionClass& rc = region_.cls(cls);
  LockClass(cls);
  while (SlabMeta* s = sealed->PopFront()) {
    TSLAB_STAT_INC(rc.empty_slab_recycled);
    if (cs.cache_len < cache_capacity_) {
      cs.cache[cs.cache_len++] = s;
      s->list = ListKind::kCache;
    } else {
      cs.overflow.PushFront(s);
      s->list = ListKind::kOverflow;
      TSLAB_STAT_INC(rc.empty_slab_overflowed);
      TSLAB_PROBE1(cache_overflow, cls);
    }
  }
  PublishGauges(cls);
  cs.mu.unlock();
}

}  // namespace tslab::internal
