// The allocation slow path: a new current slab for a thread's heap.
// Everything here is out of line and cold. Each step is O(1) in the number
// of frees since the last slow path: the avail stack and the ready stack are
// popped one slab at a time, never walked whole.
#include <new>

#include "src/allocator/allocator.h"
#include "src/allocator/test_point.h"
#include "src/usdt/tslab_usdt.h"

#define TSLAB_COLD __attribute__((cold, noinline))

namespace tslab::internal {

ThreadHeap* Allocator::HeapFor(uint32_t shard) {
  ThreadHeap* th = heaps_[shard].load(std::memory_order_acquire);
  if (__builtin_expect(th != nullptr, 1)) return th;
  std::lock_guard<std::mutex> lock(heaps_mu_);
  th = heaps_[shard].load(std::memory_order_relaxed);
  if (th != nullptr) return th;
  th = new (std::nothrow) ThreadHeap();
  if (th == nullptr) return nullptr;
  th->shard = shard;
  th->shared = shard == kSharedShard;
  th->stats = &region_.shard(shard);
  heaps_[shard].store(th, std::memory_order_release);
  if (!th->shared) fast_heaps_[shard + 1].store(th, std::memory_order_release);
  return th;
}

void Allocator::Collect(SlabMeta* s, uint32_t cls, ShardRef sh) {
  if ((s->remote.load(std::memory_order_relaxed) & kSlotMask) == 0) return;
  const uint64_t r =
      s->remote.exchange(0, std::memory_order_acquire) & kSlotMask;
  const uint64_t a = s->alloc.load(std::memory_order_relaxed);
  const uint64_t late = r & ~a;
  s->alloc.store(a & ~r, std::memory_order_relaxed);
  if (a == kFull && (r & a) != 0) {
    TSLAB_STAT_SHARD_ADD(sh.shared, sh.shard->cls[cls].slab_unfills, 1);
  }
  if (__builtin_expect(late != 0, 0)) {
    // The owner freed these slots too, concurrently with another thread
    // (see docs/counters.md, "double frees found late"): the remote
    // thread's free counted a free that did not happen; undo it here.
    const auto n = static_cast<uint64_t>(__builtin_popcountll(late));
    TSLAB_STAT_SHARD_ADD(sh.shared,
                         sh.shard->frees[TagEpoch(s->tag.load(
                             std::memory_order_relaxed))][cls],
                         0 - n);
    for (uint64_t i = 0; i < n; ++i) CountRefusal(kFreeDouble, static_cast<int>(cls));
  }
  (void)sh;
}

SlabMeta* Allocator::PopAvail(Bin& b) {
  SlabMeta* s = b.avail;
  if (s != nullptr) {
    b.avail = s->avail_next;
    s->avail_next = nullptr;
    s->in_avail = false;
  }
  return s;
}

SlabMeta* Allocator::PopReady(ThreadHeap* th, Bin& b, uint32_t e,
                              uint32_t cls, ShardRef sh) {
  for (;;) {
    if (b.ready_local == nullptr) {
      if (b.ready.load(std::memory_order_relaxed) == nullptr) return nullptr;
      b.ready_local = b.ready.exchange(nullptr, std::memory_order_acquire);
    }
    SlabMeta* s = b.ready_local;
    b.ready_local = s->ready_next;
    s->ready_next = nullptr;
    s->in_ready.store(0, std::memory_order_seq_cst);
    // A push can be stale (the slab was disowned, even re-owned, since):
    // take only a slab of this bin's current life, not already in use.
    const uint64_t tag = s->tag.load(std::memory_order_acquire);
    if (s->owner.load(std::memory_order_relaxed) != th->shard ||
        TagEpoch(tag) != e || TagClass(tag) != cls || s == th->current[e][cls] ||
        s->in_avail) {
      continue;
    }
    Collect(s, cls, sh);
    if (~s->alloc.load(std::memory_order_relaxed) != 0) return s;
  }
}

SlabMeta* Allocator::NewSlab(ThreadHeap* th, uint32_t cls, uint32_t e,
                             ShardRef sh) {
  ClassState& cs = classes_[cls];
  TslabRegionClass& rc = region_.cls(cls);
  SlabMeta* s = nullptr;
  int from_cache = 1;
  LockCounted(cs.mu, cls, sh);
  if (cs.dirty.head != nullptr) {
    s = cs.dirty.PopFront();  // the most recently used pages: warm
  } else if (cs.clean.head != nullptr) {
    s = cs.clean.PopFront();
  } else {
    from_cache = 0;
    TSLAB_STAT_INC(rc.slow_path_cache_miss);
    s = arena_.NewSlab();
    if (s != nullptr) s->remote.store(kSealed, std::memory_order_relaxed);
  }
  if (s != nullptr) {
    s->list.store(ListKind::kNone, std::memory_order_relaxed);
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
  // Re-own while sealed: tag, owner and alloc first, then unseal `remote`
  // (release), so a remote free that sees it unsealed sees this life.
  const uint64_t inc = TagIncarnation(s->tag.load(std::memory_order_relaxed));
  s->tag.store(MakeTag(inc + 1, th->shard, e, cls), std::memory_order_relaxed);
  s->owner.store(th->shard, std::memory_order_relaxed);
  s->div_mul.store(static_cast<uint32_t>(cs.div_mul), std::memory_order_relaxed);
  s->obj_size.store(static_cast<uint16_t>(cs.size), std::memory_order_relaxed);
  s->cls.store(static_cast<uint8_t>(cls), std::memory_order_relaxed);
  s->epoch.store(static_cast<uint8_t>(e), std::memory_order_relaxed);
  s->slots.store(static_cast<uint8_t>(cs.slots), std::memory_order_relaxed);
  s->alloc.store(cs.empty_bits, std::memory_order_relaxed);
  // Every handle of the old life died with its slot's free (gen advanced).
  s->handles.store(0, std::memory_order_relaxed);
  s->high.store(0, std::memory_order_relaxed);
  s->in_avail = false;
  s->avail_next = nullptr;
  s->list.store(ListKind::kEpoch, std::memory_order_relaxed);
  th->bins[e][cls].all.PushFront(s);
  epochs_[e].slab_count.fetch_add(1, std::memory_order_relaxed);
  // The mirror moves by the same delta, never to a loaded value: two
  // classes' NewSlab interleaving here leave it exact.
  AtTestPoint(TestPoint::kSlabCountMirror, e, cls);
  AtomicAdd(region_.epoch(e).slab_count, 1);
  s->remote.store(0, std::memory_order_release);
  return s;
}

// The lean slow path: no epoch-state check (a current slab exists only in
// an ACTIVE epoch: a close clears it while the owner is excluded), no heap
// lookup, no lock, the owner's own counter shard. Collect reads only the
// slab's remote word unless other threads freed into it.
inline void* Allocator::AllocRefill(ThreadHeap* th,
                                                       uint32_t cls,
                                                       uint32_t e,
                                                       uint64_t* out) {
  const tslab::usdt::ProbeTimer probe_timer(TSLAB_PROBE_ENABLED(slow_path));
  SlabMeta*& current = th->current[e][cls];
  const ShardRef sh{th->stats, false};
  SlabMeta* s = current;
  if (__builtin_expect(s->remote.load(std::memory_order_relaxed) != 0, 0)) {
    Collect(s, cls, sh);
  }
  if (~s->alloc.load(std::memory_order_relaxed) == 0) {
    s = PopAvail(th->bins[e][cls]);
    if (s == nullptr) {
      s = PopReady(th, th->bins[e][cls], e, cls, sh);
      if (s == nullptr) return nullptr;  // AllocSlow: a new slab
    }
    current = s;
    TSLAB_STAT_OWNER_ADD(th->stats->cls[cls].current_cas_attempts, 1);
  }
  TSLAB_STAT_OWNER_ADD(th->stats->cls[cls].slow_path_hits, 1);
  TSLAB_STAT_OWNER_ADD(th->stats->cls[cls].current_partial_full, 1);
  void* p = ClaimSlot(th, s, s->alloc.load(std::memory_order_relaxed), cls,
                      e, out);
  TSLAB_PROBE4(slow_path, cls, e, TSLAB_SLOW_CURRENT_FULL,
               probe_timer.ElapsedNs());
  return p;
}

__attribute__((noinline)) void* Allocator::AllocFull(ThreadHeap* th,
                                                     uint32_t cls, uint32_t e,
                                                     uint64_t* out) {
  void* p = AllocRefill(th, cls, e, out);
  th->Exit();
  return p != nullptr ? p : AllocSlow(cls, e, out);
}

TSLAB_COLD void* Allocator::AllocSlow(uint32_t cls, uint32_t e,
                                      uint64_t* out) {
  // Times the slow path while traced; leaves out nested probes (slab_new,
  // epoch_closed_alloc), whose uprobe traps would otherwise dominate it.
  const tslab::usdt::ProbeTimer probe_timer(TSLAB_PROBE_ENABLED(slow_path));
  const uint32_t shard = ThreadShard();
  const ShardRef sh = ShardAt(shard);
  TSLAB_STAT_SHARD_ADD(sh.shared, sh.shard->cls[cls].slow_path_hits, 1);
  EpochSlot& ep = epochs_[e];
  if (ep.state.load(std::memory_order_acquire) == TSLAB_EPOCH_IDLE) {
    // First allocation into a never-opened slot opens it (compatible with
    // the original, where every slot accepts allocations until closed).
    // Under advance_mu_, like every other state change. Once per slot.
    std::lock_guard<std::mutex> advance_lock(advance_mu_);
    if (ep.state.load(std::memory_order_acquire) == TSLAB_EPOCH_IDLE) {
      OpenEpoch(e);
    }
  }
  ThreadHeap* th = HeapFor(shard);
  int reason = TSLAB_SLOW_CURRENT_NULL;
  void* result = nullptr;
  tslab_status err = TSLAB_E_NO_MEMORY;
  if (th != nullptr) {
    // Exclusive heap: Enter, or wait for the visitor that blocks us. The
    // shared heap: its lock, for the whole operation.
    if (th->shared) {
      LockCounted(th->mu, cls, sh);
    } else {
      while (!th->Enter()) {
        th->Exit();
        th->mu.lock();
        th->mu.unlock();
      }
    }
    Bin& b = th->bins[e][cls];
    SlabMeta*& current = th->current[e][cls];
    SlabMeta* s = current;
    if (ep.state.load(std::memory_order_acquire) != TSLAB_EPOCH_ACTIVE) {
      reason = TSLAB_SLOW_EPOCH_CLOSED;
      err = TSLAB_E_EPOCH_CLOSED;
      s = nullptr;
    } else {
      // Checked inside the heap's exclusion: a close waits for this
      // operation to end before it scans, so the slab taken below is
      // counted before any drain check can run.
      AtTestPoint(TestPoint::kAllocSawActive, e, cls);
      if (s != nullptr) {
        reason = TSLAB_SLOW_CURRENT_FULL;
        Collect(s, cls, sh);  // room made by other threads' frees?
        if (~s->alloc.load(std::memory_order_relaxed) == 0) {
          current = nullptr;  // full: found again by a free (avail/ready)
          s = nullptr;
        }
      }
      if (reason == TSLAB_SLOW_CURRENT_FULL) {
        TSLAB_STAT_SHARD_ADD(sh.shared,
                             sh.shard->cls[cls].current_partial_full, 1);
      } else {
        TSLAB_STAT_SHARD_ADD(sh.shared,
                             sh.shard->cls[cls].current_partial_null, 1);
      }
      if (s == nullptr) {
        s = PopAvail(b);
        if (s == nullptr) s = PopReady(th, b, e, cls, sh);
        if (s == nullptr) s = NewSlab(th, cls, e, sh);
        if (s != nullptr) {
          // Installed by a plain store (only this thread writes it); kept
          // as the spec's "current_partial_cas" attempt, never failing.
          TSLAB_STAT_SHARD_ADD(sh.shared,
                               sh.shard->cls[cls].current_cas_attempts, 1);
          current = s;
        }
      }
    }
    if (s != nullptr) {
      const uint64_t a = s->alloc.load(std::memory_order_relaxed);
      TSLAB_STAT_SHARD_ADD(sh.shared, sh.shard->allocs[e][cls], 1);
      if ((a | (a + 1)) == kFull) {
        TSLAB_STAT_SHARD_ADD(sh.shared, sh.shard->cls[cls].slab_fills, 1);
      }
      result = TakeSlot(s, a, out);
    }
    if (th->shared) {
      th->mu.unlock();
    } else {
      th->Exit();
    }
  }
  if (result == nullptr) {
    TSLAB_STAT_INC(region_.global().alloc_failures);
    if (err == TSLAB_E_EPOCH_CLOSED) {
      TSLAB_STAT_INC(region_.cls(cls).slow_path_epoch_closed);
      TSLAB_PROBE2_NESTED(epoch_closed_alloc, cls, e);
    }
    SetLastError(err);
  }
  // Fires even if the tracer attached meanwhile (duration 0 then): one
  // event per slow_path_hits count.
  TSLAB_PROBE4(slow_path, cls, e, reason, probe_timer.ElapsedNs());
  (void)sh;
  return result;
}

}  // namespace tslab::internal
