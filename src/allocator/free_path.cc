// The free paths that leave the owner's fast path: a free by another
// thread (one CAS on the slab's `remote` word), the recycle of a disowned
// slab by the free that empties it, and refusals.
//
// What a caller sees when the same object is freed at the same instant by
// its owner thread and by another thread (a double free racing with
// itself): usually one of the two is refused, as any double free. In a
// window of a few instructions both can pass their checks; then both
// return TSLAB_OK, and the double free is found when the owner collects the
// remote free (Collect, slow_path.cc): counted then in double_frees, the
// invalid_free probe fires, and the counted free is undone. If the owner
// handed the slot out again in between, the remote bit frees the new
// object: the same as a pointer double free after reuse, which no allocator
// can tell from a valid free (tslab.h).
#include "src/allocator/allocator.h"
#include "src/allocator/test_point.h"
#include "src/usdt/tslab_usdt.h"

#define TSLAB_COLD __attribute__((cold, noinline))

namespace tslab::internal {

void Allocator::CountRefusal(int kind, int cls) {
  TslabRegionGlobal& g = region_.global();
  switch (kind) {
    case kFreeStale: TSLAB_STAT_INC(g.stale_frees); break;
    case kFreeDouble: TSLAB_STAT_INC(g.double_frees); break;
    case kFreeForeign: TSLAB_STAT_INC(g.foreign_frees); break;
    default: TSLAB_STAT_INC(g.invalid_frees); break;
  }
  if (cls >= 0) TSLAB_STAT_INC(region_.cls(cls).invalid_frees);
  TSLAB_PROBE1(invalid_free, kind);
  (void)g;
}

TSLAB_COLD tslab_status Allocator::RefuseOutside(const void* p) {
  return RefuseFree(p != nullptr && FindArenaOwner(p) != 0 ? kFreeForeign
                                                            : kFreeInvalid,
                    -1);
}

TSLAB_COLD tslab_status Allocator::RefuseHandle(uint64_t h) {
  const uint32_t id = HandleId(h);
  if (id != id_) {
    return RefuseFree(id != 0 && AllocatorIdLive(id) ? kFreeForeign
                                                      : kFreeInvalid,
                      -1);
  }
  return RefuseFree(kFreeInvalid, -1);  // no such slab
}

TSLAB_COLD tslab_status Allocator::RefuseLocal(const SlabMeta* s,
                                               uint32_t slot, int32_t hgen) {
  const int cls = s->cls.load(std::memory_order_relaxed);
  if (slot >= s->slots.load(std::memory_order_relaxed)) {
    return RefuseFree(kFreeInvalid, cls);
  }
  return RefuseFree(ClassifyRefusal(s, slot, hgen), cls);
}

TSLAB_COLD tslab_status Allocator::RefuseFree(int kind, int cls) {
  CountRefusal(kind, cls);
  tslab_status st = TSLAB_E_FREE_INVALID;
  switch (kind) {
    case kFreeStale: st = TSLAB_E_FREE_STALE; break;
    case kFreeDouble: st = TSLAB_E_FREE_DOUBLE; break;
    case kFreeForeign: st = TSLAB_E_FREE_FOREIGN; break;
    default: break;
  }
  SetLastError(st);
  return st;
}

int Allocator::ClassifyRefusal(const SlabMeta* s, uint32_t slot,
                               int32_t hgen) const {
  const uint64_t bit = 1ull << slot;
  const uint64_t r = s->remote.load(std::memory_order_acquire);
  const bool live = !(r & kSealed) && !(r & bit) &&
                    (s->alloc.load(std::memory_order_acquire) & bit);
  const uint16_t cur = s->gen[slot].load(std::memory_order_acquire);
  if (hgen < 0) {
    // A slot never handed out: not live, above the life's high mark, and
    // its generation never moved (no earlier life freed it either).
    return !live && cur == 0 && slot >= s->high.load(std::memory_order_relaxed)
               ? kFreeInvalid
               : kFreeDouble;
  }
  const auto g = static_cast<uint16_t>(hgen);
  if (cur == g) return live ? kFreeDouble : kFreeInvalid;
  if (cur == static_cast<uint16_t>(g + 1) && !live) return kFreeDouble;
  return kFreeStale;
}

TSLAB_COLD tslab_status Allocator::FreeRemote(SlabMeta* s, uint64_t where,
                                              int32_t hgen) {
  // remote before tag (acquire both): a slab re-owned since shows its new
  // life's tag once its remote word is unsealed (NewSlab).
  uint64_t r = s->remote.load(std::memory_order_acquire);
  const uint64_t tag = s->tag.load(std::memory_order_acquire);
  const uint32_t cls = TagClass(tag);
  const int icls = static_cast<int>(cls);
  // The tag may go stale from here on only through a racing double free
  // (the slab recycled and re-owned meanwhile): the push below then lands
  // on the old life's ready stack, which PopReady checks.
  AtTestPoint(TestPoint::kRemoteFreeTagRead, TagEpoch(tag), cls);
  uint32_t slot;
  if (hgen < 0) {
    slot = SlotOf(cls, where);
    if (slot == kBadSlot) return RefuseFree(kFreeInvalid, icls);
  } else {
    slot = static_cast<uint32_t>(where);
    if (slot >= classes_[cls].slots) return RefuseFree(kFreeInvalid, icls);
  }
  const uint64_t bit = 1ull << slot;
  if ((r & (kSealed | bit)) ||
      !(s->alloc.load(std::memory_order_acquire) & bit)) {
    return RefuseFree(ClassifyRefusal(s, slot, hgen), icls);
  }
  // The handle dies before the slot can be handed out again.
  if (hgen >= 0) {
    auto g = static_cast<uint16_t>(hgen);
    if (!s->gen[slot].compare_exchange_strong(g, static_cast<uint16_t>(g + 1),
                                              std::memory_order_acq_rel)) {
      return RefuseFree(ClassifyRefusal(s, slot, hgen), icls);
    }
  } else {
    s->gen[slot].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t retries = 0;
  for (;;) {
    if (r & (kSealed | bit)) return RefuseFree(kFreeDouble, icls);
    // seq_cst: pairs with a close's store of owner = kNoOwner followed by
    // its read of remote (epoch.cc): one side sees the other.
    if (s->remote.compare_exchange_weak(r, r | bit, std::memory_order_seq_cst,
                                        std::memory_order_acquire)) {
      break;
    }
    ++retries;
  }
  const ShardRef sh = CurShard();
  TSLAB_STAT_SHARD_ADD(sh.shared, sh.shard->frees[TagEpoch(tag)][cls], 1);
  if (__builtin_expect(retries != 0, 0)) {
    TSLAB_STAT_SHARD_ADD(sh.shared, sh.shard->cls[cls].free_cas_retries,
                         retries);
  }
  (void)sh;
  if (s->owner.load(std::memory_order_seq_cst) == kNoOwner) {
    // Disowned (a closed epoch's slab): the free that empties it recycles.
    const uint64_t a = s->alloc.load(std::memory_order_acquire);
    if ((a & ~(r | bit) & classes_[cls].slot_bits) == 0) {
      RecycleOnEmpty(s, tag);
    }
  } else if ((r & kSlotMask) == 0) {
    PushReady(s, tag);  // the first remote free since the owner collected
  }
  return TSLAB_OK;
}

void Allocator::PushReady(SlabMeta* s, uint64_t tag) {
  if (s->in_ready.exchange(1, std::memory_order_acq_rel) != 0) return;
  ThreadHeap* th = heaps_[TagHeap(tag)].load(std::memory_order_acquire);
  std::atomic<SlabMeta*>& head = th->bins[TagEpoch(tag)][TagClass(tag)].ready;
  SlabMeta* n = head.load(std::memory_order_relaxed);
  do {
    s->ready_next = n;
  } while (!head.compare_exchange_weak(n, s, std::memory_order_release,
                                       std::memory_order_relaxed));
}

bool Allocator::TrySealLocked(ThreadHeap* th, SlabMeta* s, ShardRef sh) {
  const uint64_t tag = s->tag.load(std::memory_order_relaxed);
  const uint32_t cls = TagClass(tag), e = TagEpoch(tag);
  ClassState& cs = classes_[cls];
  const uint64_t a = s->alloc.load(std::memory_order_acquire);
  // seq_cst: a close disowned s (seq_cst) before this read; a remote free
  // CASes remote then reads owner (seq_cst): one side sees the other.
  uint64_t r = s->remote.load(std::memory_order_seq_cst);
  do {
    if ((r & kSealed) || (a & ~r & cs.slot_bits) != 0) return false;
  } while (!s->remote.compare_exchange_weak(r, r | kSealed,
                                            std::memory_order_acq_rel,
                                            std::memory_order_acquire));
  if (a == kFull) {
    TSLAB_STAT_SHARD_ADD(sh.shared, sh.shard->cls[cls].slab_unfills, 1);
  }
  const ListKind kind = s->list.load(std::memory_order_relaxed);
  if (kind == ListKind::kEpoch) {
    th->bins[e][cls].all.Remove(s);
    epochs_[e].slab_count.fetch_sub(1, std::memory_order_acq_rel);
    AtomicAdd(region_.epoch(e).slab_count, 0 - uint64_t{1});
  } else if (kind == ListKind::kDrain) {
    th->drain.Remove(s);
    cs.draining.fetch_sub(1, std::memory_order_relaxed);
  }
  cs.owned.fetch_sub(1, std::memory_order_relaxed);
  s->list.store(ListKind::kNone, std::memory_order_relaxed);
  (void)sh;
  return true;
}

TSLAB_COLD void Allocator::RecycleOnEmpty(SlabMeta* s, uint64_t tag) {
  const uint32_t cls = TagClass(tag);
  ThreadHeap* th = heaps_[TagHeap(tag)].load(std::memory_order_acquire);
  const ShardRef sh = CurShard();
  LockCounted(th->mu, cls, sh);
  // Still this life, unsealed and disowned: then it is on th's lists, and
  // only holders of th->mu seal such a slab.
  bool sealed = false;
  const uint64_t r = s->remote.load(std::memory_order_acquire);
  if (!(r & kSealed) && s->tag.load(std::memory_order_acquire) == tag &&
      s->owner.load(std::memory_order_acquire) == kNoOwner) {
    sealed = TrySealLocked(th, s, sh);
  }
  th->mu.unlock();
  if (sealed) {
    SlabList one;
    one.PushFront(s);
    ReturnSlabs(cls, &one);
    MaybeDrained(TagEpoch(tag));
  }
}

void* Allocator::HandlePtr(uint64_t h) const {
  if (HandleId(h) != id_) return nullptr;
  const uint64_t index = HandleSlab(h);
  if (index >= arena_.slabs_used()) return nullptr;
  const SlabMeta* s = arena_.Meta(index);
  const uint32_t slot = HandleSlot(h);
  const uint64_t r = s->remote.load(std::memory_order_acquire);
  const uint32_t cls = TagClass(s->tag.load(std::memory_order_acquire));
  if (slot >= classes_[cls].slots) return nullptr;
  const uint64_t bit = 1ull << slot;
  if ((r & (kSealed | bit)) ||
      !(s->alloc.load(std::memory_order_acquire) & bit) ||
      s->gen[slot].load(std::memory_order_acquire) != HandleGen(h)) {
    return nullptr;
  }
  return SlotAddress(s, cls, slot);
}

}  // namespace tslab::internal
