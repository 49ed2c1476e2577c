// Allocator: the temporal-slab allocator's core (tslab::internal).
//
// Purpose: size-classed, epoch-owned slabs with a lock-free fast path.
// Each (epoch, class, heap) has a "current" slab that threads allocate from
// by one CAS on its bitmap word; when it fills, the slow path (heap lock)
// installs another: a slab of that heap with free slots, an empty one from
// the class's cache or overflow list, or a fresh page from the arena.
// Closing an epoch recycles its empty slabs (madvise, then cache); a slab of
// a closed epoch is recycled when its last object is freed.
//
// Invariants (see slab.h for the bitmap/tag protocol):
//   - A slab is on exactly one list (ListKind) when no call is in flight.
//   - Only sealed slabs change owner; the fast path re-reads the tag after
//     its CAS and gives the slot back if the slab changed hands.
//   - Per class, owned slabs == new + reused - recycled slabs.
//
// Thread-safety: all public members are thread-safe except the destructor.
// Lock order: advance_mu_, then one heap lock, then one class lock, then
// the arena's mutex; never the reverse, never two of a kind.
#ifndef TSLAB_SRC_ALLOCATOR_ALLOCATOR_H_
#define TSLAB_SRC_ALLOCATOR_ALLOCATOR_H_

#include <atomic>
#include <cstdint>
#include <mutex>

#include "src/allocator/arena.h"
#include "src/allocator/region.h"
#include "src/allocator/size_class.h"
#include "src/allocator/slab.h"
#include "src/allocator/spin_lock.h"
#include "src/allocator/stats_macros.h"
#include "tslab/tslab.h"

namespace tslab::internal {

// Handle layout: [allocator id:12][generation:16][slab:30][slot:6].
inline constexpr uint64_t MakeHandle(uint32_t id, uint16_t gen, uint64_t slab,
                                     uint32_t slot) {
  return (uint64_t{id} << 52) | (uint64_t{gen} << 36) | (slab << 6) | slot;
}
inline constexpr uint32_t HandleId(uint64_t h) { return h >> 52; }
inline constexpr uint16_t HandleGen(uint64_t h) { return (h >> 36) & 0xffff; }
inline constexpr uint64_t HandleSlab(uint64_t h) {
  return (h >> 6) & ((1ull << 30) - 1);
}
inline constexpr uint32_t HandleSlot(uint64_t h) { return h & 63; }
inline constexpr uint64_t kMaxSlabs = 1ull << 30;

void SetLastError(tslab_status s);

// Heaps: each (epoch, class) is split into kNumHeaps heaps, and a thread
// allocates from heap (its shard number % kNumHeaps). Threads then claim
// slots on different slabs and take different locks; a free still goes to
// the slab's own heap (lock-free pending push), whatever the thread.
inline constexpr uint32_t kNumHeaps = 8;
inline uint32_t HeapOf(uint32_t shard) { return shard % kNumHeaps; }

struct alignas(64) Heap {
  std::atomic<SlabMeta*> current{nullptr};
  // Slabs that went from full to not-full (lock-free pushes; see slab.h).
  std::atomic<SlabMeta*> pending{nullptr};
  SlabList all;     // every slab of this heap; heap lock
  AvailStack avail;  // slabs with free slots (ACTIVE epoch); heap lock
};

struct alignas(64) EpochSlot {
  std::atomic<uint32_t> state{TSLAB_EPOCH_IDLE};
  std::atomic<uint64_t> era{0};
  // Slabs on this epoch's lists, all classes: reaching 0 while CLOSING
  // makes the epoch DRAINED.
  std::atomic<uint64_t> slab_count{0};
  Heap heaps[kNumClasses][kNumHeaps];
};

// The lock of one (class, heap), over every epoch's Heap of that pair,
// plus the heap's drain list (reopened epochs' old slabs).
struct alignas(64) HeapLock {
  SpinLock mu;
  SlabList drain;  // guarded by mu
};

struct alignas(64) ClassState {
  SpinLock mu;  // the cache, the overflow list
  uint32_t size = 0;
  uint32_t slots = 0;
  uint64_t empty_bits = 0;
  uint64_t div_mul = 0;  // slot = (offset * div_mul) >> 32, exact here
  SlabMeta** cache = nullptr;  // guarded by mu
  uint32_t cache_len = 0;      // guarded by mu
  SlabList overflow;           // guarded by mu
  std::atomic<uint64_t> owned{0};     // slabs on epoch or drain lists
  std::atomic<uint64_t> draining{0};  // of those, on drain lists
  HeapLock heaps[kNumHeaps];
};

// The calling thread's counter shard in one allocator's region.
struct ShardRef {
  TslabRegionShard* shard;
  bool shared;  // the overflow shard: atomic adds
};

class Allocator {
 public:
  // nullptr on failure, with *err set.
  static Allocator* Create(const tslab_options& opts, tslab_status* err);
  ~Allocator();
  Allocator(const Allocator&) = delete;
  Allocator& operator=(const Allocator&) = delete;

  // REQUIRES: cls < 8, e < 16 (the C API checks).
  __attribute__((always_inline)) inline void* Alloc(uint32_t cls, uint32_t e,
                                                    uint64_t* handle_out);
  tslab_status FreeHandle(uint64_t h);
  tslab_status FreePtr(void* p);
  void* HandlePtr(uint64_t h) const;

  uint32_t EpochCurrent() const {
    return current_epoch_.load(std::memory_order_acquire);
  }
  uint32_t EpochAdvance();
  // era_check: if non-zero, refuse (TSLAB_E_STALE_DOMAIN) when the slot's
  // era differs (a domain closing an epoch that was reopened since); 1
  // also matches a never-opened slot (era 0), the life a domain bound to
  // it belongs to.
  tslab_status EpochClose(uint32_t e, uint64_t era_check = 0);
  tslab_epoch_state EpochState(uint32_t e) const {
    return static_cast<tslab_epoch_state>(
        epochs_[e].state.load(std::memory_order_acquire));
  }
  uint64_t EpochEra(uint32_t e) const {
    return epochs_[e].era.load(std::memory_order_acquire);
  }

  // Gives back every resident empty slab's pages now (tslab_purge).
  void Purge() {}

  tslab_status Snapshot(TslabSnapshot* out) const;
  const StatsRegion& region() const { return region_; }
  uint32_t id() const { return id_; }
  uint64_t page_size() const { return page_size_; }

 private:
  Allocator() = default;
  bool Init(const tslab_options& opts, tslab_status* err);

  // Claims a free slot of s with one CAS loop. False if s is sealed or
  // full. *filled: this claim took the last free slot.
  static inline bool TryClaim(SlabMeta* s, uint32_t* slot, bool* filled,
                              uint64_t* retries);
  inline void* FinishAlloc(SlabMeta* s, uint32_t slot, uint32_t cls,
                           uint32_t e, uint32_t shard, uint64_t retries,
                           uint64_t* out);
  // Clears slot's bit and handles the full->partial and ->empty
  // transitions. count: a real free (false: undoing a racy claim).
  // False, changing nothing, if the bit was already clear (a concurrent
  // free of the same slot won): the bit CAS is where frees linearise.
  __attribute__((always_inline)) inline bool ReleaseSlot(SlabMeta* s,
                                                        uint64_t tag,
                                                        uint32_t slot,
                                                        bool count);
  tslab_status RefuseFree(int kind, int cls);

  ShardRef ShardAt(uint32_t i) const {
    return {&region_.shard(i), i == kSharedShard};
  }
  ShardRef CurShard() const { return ShardAt(ThreadShard()); }
  void CountFill(uint32_t cls, uint32_t shard) const {
#if TSLAB_STATS
    ShardRef sh = ShardAt(shard);
    TSLAB_STAT_SHARD_ADD(sh.shared, sh.shard->cls[cls].slab_fills, 1);
#else
    (void)cls;
    (void)shard;
#endif
  }

  // ---- slow paths (slow_path.cc), all out of line and cold ----
  void* AllocSlow(uint32_t cls, uint32_t e, uint32_t shard, int reason,
                  uint64_t* out);
  void PushPending(SlabMeta* s, uint64_t tag);
  void RecycleOnEmpty(SlabMeta* s, uint64_t tag);
  // Every lock of the allocator (heap and cache locks) is taken here, so
  // that lock_fast_acquire / lock_contended count them all: a try_lock
  // first, no clock read.
  void LockCounted(SpinLock& mu, uint32_t cls) {
    LockCounted(mu, cls, CurShard());
  }
  // The same, for a caller that already holds the thread's shard.
  void LockCounted(SpinLock& mu, uint32_t cls, ShardRef sh) {
    if (__builtin_expect(mu.try_lock(), 1)) {
      TSLAB_STAT_SHARD_ADD(sh.shared, sh.shard->cls[cls].lock_fast_acquire,
                           1);
    } else {
      mu.lock();
      TSLAB_STAT_SHARD_ADD(sh.shared, sh.shard->cls[cls].lock_contended, 1);
    }
    (void)sh;
  }
  // The fast path's rare undo of a claim on a slab that changed hands.
  void UndoClaim(SlabMeta* s, uint64_t tag, uint32_t slot);
  // REQUIRES: heap lock (cls, h). Moves (e, cls, h)'s pending slabs to
  // avail.
  void DrainPendingLocked(uint32_t cls, uint32_t e, uint32_t h);
  // REQUIRES: heap lock. A slab of (e, cls, h) with free slots, or null.
  SlabMeta* TakeAvailLocked(uint32_t cls, uint32_t e, uint32_t h);
  // REQUIRES: heap lock; takes the class lock. An empty slab, re-owned by
  // (e, cls, h) and on its `all` list, or null (address space exhausted).
  SlabMeta* NewSlabLocked(uint32_t cls, uint32_t e, uint32_t h);
  // REQUIRES: heap lock of s; s sealed. Takes s off every list of its heap.
  void UnlinkLocked(SlabMeta* s);
  // Gives the pages back and puts sealed, unlinked slabs into the cache.
  // REQUIRES: no lock held (madvise is a syscall); takes the class lock.
  void ReturnSlabs(uint32_t cls, SlabList* sealed);
  // One madvise(MADV_DONTNEED) over `pages` adjacent slabs from `first`.
  void Madvise(SlabMeta* first, uint64_t pages, uint32_t cls);
  void OpenEpoch(uint32_t e);
  void MaybeDrained(uint32_t e);
  // True if a slab on e's lists holds an allocated slot. Takes each heap
  // lock in turn (REQUIRES: none held). Cold: the ring wrap onto an ACTIVE
  // slot only.
  bool EpochHoldsObjects(uint32_t e);
  void PublishGauges(uint32_t cls);  // REQUIRES: class lock

  uint32_t id_ = 0;
  uint64_t page_size_ = 4096;
  uint32_t cache_capacity_ = 32;
  tslab_madvise_fn madvise_fn_ = nullptr;
  void* madvise_ctx_ = nullptr;
  Arena arena_;
  StatsRegion region_;
  std::mutex advance_mu_;
  std::atomic<uint32_t> current_epoch_{0};
  EpochSlot epochs_[kNumEpochs];
  ClassState classes_[kNumClasses];
};

// ---------------- fast paths ----------------

inline bool Allocator::TryClaim(SlabMeta* s, uint32_t* slot, bool* filled,
                                uint64_t* retries) {
  uint64_t w = s->bits.load(std::memory_order_relaxed);
  for (;;) {
    if (w & kSealed) return false;
    uint64_t free_bits = ~w & kSlotMask;
    if (free_bits == 0) return false;
    uint64_t bit = free_bits & (~free_bits + 1);
    if (s->bits.compare_exchange_weak(w, w | bit, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
      *slot = static_cast<uint32_t>(__builtin_ctzll(bit));
      *filled = (w | bit) == kSlotMask;
      return true;
    }
    ++*retries;
  }
}

inline bool Allocator::ReleaseSlot(SlabMeta* s, uint64_t tag, uint32_t slot,
                            bool count) {
  const uint32_t cls = TagClass(tag);
  const uint64_t bit = 1ull << slot;
  uint64_t w = s->bits.load(std::memory_order_relaxed);
  uint64_t retries = 0;
  for (;;) {
    if (__builtin_expect(!(w & bit), 0)) return false;
    // Full -> not full: queue the slab for the slow path *before* giving
    // the slot back, so that it is never empty (hence never sealed and
    // recycled) while on a pending stack. `queued` makes this once-only.
    if (__builtin_expect(w == kSlotMask, 0) &&
        s->queued.exchange(1, std::memory_order_acq_rel) == 0) {
      PushPending(s, tag);
    }
    // seq_cst: pairs with EpochClose's store of reclaim_on_empty followed
    // by its load of bits, and with DrainPendingLocked's store of `queued`
    // followed by its load of bits; one side always sees the other.
    if (s->bits.compare_exchange_weak(w, w & ~bit, std::memory_order_seq_cst,
                                      std::memory_order_relaxed)) {
      break;
    }
    ++retries;
  }
#if TSLAB_STATS
  ShardRef sh = CurShard();
  if (count) {
    TSLAB_STAT_SHARD_ADD(sh.shared, sh.shard->frees[TagEpoch(tag)][cls], 1);
    if (__builtin_expect(retries != 0, 0)) {
      TSLAB_STAT_SHARD_ADD(sh.shared, sh.shard->cls[cls].free_cas_retries,
                           retries);
    }
  }
  if (__builtin_expect(w == kSlotMask, 0)) {
    TSLAB_STAT_SHARD_ADD(sh.shared, sh.shard->cls[cls].slab_unfills, 1);
  }
#else
  (void)count;
  (void)retries;
#endif
  if (__builtin_expect((w & ~bit) == classes_[cls].empty_bits, 0) &&
      s->reclaim_on_empty.load(std::memory_order_seq_cst)) {
    RecycleOnEmpty(s, tag);
  }
  return true;
}

inline void* Allocator::FinishAlloc(SlabMeta* s, uint32_t slot, uint32_t cls,
                                    uint32_t e, uint32_t shard,
                                    uint64_t retries, uint64_t* out) {
  if (out != nullptr) {
    uint16_t gen = s->gen[slot].load(std::memory_order_relaxed);
    *out = MakeHandle(id_, gen, s->index, slot);
  }
#if TSLAB_STATS
  ShardRef sh = ShardAt(shard);
  TSLAB_STAT_SHARD_ADD(sh.shared, sh.shard->allocs[e][cls], 1);
  if (__builtin_expect(retries != 0, 0)) {
    TSLAB_STAT_SHARD_ADD(sh.shared, sh.shard->cls[cls].alloc_cas_retries,
                         retries);
  }
#else
  (void)e;
  (void)shard;
  (void)retries;
#endif
  return arena_.SlabBase(s) + kSlabHeaderBytes +
         uint64_t{slot} * classes_[cls].size;
}

inline void* Allocator::Alloc(uint32_t cls, uint32_t e, uint64_t* out) {
  EpochSlot& ep = epochs_[e];
  const uint32_t shard = ThreadShard();
  int reason = 2;  // TSLAB_SLOW_EPOCH_CLOSED
  if (__builtin_expect(
          ep.state.load(std::memory_order_acquire) == TSLAB_EPOCH_ACTIVE, 1)) {
    reason = 0;  // TSLAB_SLOW_CURRENT_NULL
    SlabMeta* s =
        ep.heaps[cls][HeapOf(shard)].current.load(std::memory_order_acquire);
    if (s != nullptr) {
      uint64_t tag = s->tag.load(std::memory_order_acquire);
      if (TagOwner(tag) == OwnerKey(e, cls)) {
        uint32_t slot;
        bool filled;
        uint64_t retries = 0;
        if (TryClaim(s, &slot, &filled, &retries)) {
          const uint64_t now_tag = s->tag.load(std::memory_order_acquire);
          // A fill leaves the full slab current: the next allocation
          // swaps it (slow path, reason "current full").
          if (__builtin_expect(filled, 0)) CountFill(TagClass(now_tag), shard);
          if (__builtin_expect(now_tag == tag, 1)) {
            return FinishAlloc(s, slot, cls, e, shard, retries, out);
          }
          // The slab was recycled and re-owned between our reads: the
          // slot is the new owner's; give it back and take the slow path.
          UndoClaim(s, now_tag, slot);
        } else {
          reason = 1;  // TSLAB_SLOW_CURRENT_FULL
        }
      }
    }
  }
  return AllocSlow(cls, e, shard, reason, out);
}

}  // namespace tslab::internal

#endif  // TSLAB_SRC_ALLOCATOR_ALLOCATOR_H_
