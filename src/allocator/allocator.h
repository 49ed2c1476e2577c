// Allocator: the temporal-slab allocator's core (tslab::internal).
//
// Purpose: size-classed, epoch-owned slabs with an owner-thread fast path.
// Every thread allocates from its own heap (heap.h): per (epoch, class) a
// current slab whose `alloc` word only that thread writes, so an
// allocation is a load, a bit scan and a store, and so is a free by the
// same thread into any slab its heap owns. A free by another thread is one
// CAS on the slab's `remote` word (slab.h), collected by the owner on its
// slow path. When the current slab has no free slot, the slow path takes
// (in this order) a slab of the heap that a local free made room in, one
// that received remote frees, an empty slab from the class's cache (pages
// still resident first: see purge below), or a fresh page of the arena.
//
// Closing an epoch visits every heap (heap.h, the asymmetric exclusion):
// it drops the epoch's current slabs, collects remote frees, disowns every
// slab of the epoch (later frees into them are remote CASes) and recycles
// the empty ones; a disowned slab is recycled by the free that empties it.
//
// Purge policy: a recycled slab keeps its pages for purge_delay_ms, on the
// class's dirty list, and is reused warm by later allocations; a
// background thread (purge.cc) gives the pages of slabs still unused after
// the delay back to the OS (madvise, one call per run of adjacent slabs),
// also when the application makes no further call. Delay 0: madvise at the
// recycle. Allocator::Purge gives everything back now.
//
// Invariants:
//   - A slab is on at most one list (ListKind) when no call is in flight.
//   - A slab with an owner is never sealed; only disowned slabs are.
//   - Per class, owned slabs == new + reused - recycled slabs.
//   - A heap's current/avail/ready of an epoch are empty unless it is ACTIVE.
//
// Thread-safety: all public members are thread-safe except the destructor.
// Lock order: advance_mu_, heaps_mu_, heap locks (by shard), meta_mu_, a
// class lock, the arena's mutex; the purge registry's lock before a class
// lock. A fork takes them all, in this order (fork.cc).
#ifndef TSLAB_SRC_ALLOCATOR_ALLOCATOR_H_
#define TSLAB_SRC_ALLOCATOR_ALLOCATOR_H_

#include <atomic>
#include <cstdint>
#include <mutex>

#include "src/allocator/arena.h"
#include "src/allocator/heap.h"
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
inline constexpr uint32_t kNumHeaps = TSLAB_REGION_SHARDS;
inline constexpr int32_t kDefaultPurgeDelayMs = 10;

void SetLastError(tslab_status s);
class Allocator;
void RegisterForPurge(Allocator* a);    // purge.cc
void UnregisterFromPurge(Allocator* a);
// fork.cc: the purge registry's lock across fork() (its thread does not
// survive in the child: the child's first dirty slab starts one).
void LockPurgeForFork();
void UnlockPurgeForFork(bool in_child);
void RegisterForFork(Allocator* a);     // fork.cc
void UnregisterFromFork(Allocator* a);
// Calls fn on every live allocator, under the fork registry's lock (fn must
// not create or destroy one): show_stats at exit.
void ForEachLiveAllocator(void (*fn)(Allocator* a, void* ctx), void* ctx);

struct alignas(64) EpochSlot {
  std::atomic<uint32_t> state{TSLAB_EPOCH_IDLE};
  std::atomic<uint64_t> era{0};
  // Slabs on this epoch's lists, all classes and heaps: reaching 0 while
  // CLOSING makes the epoch DRAINED (under advance_mu_).
  std::atomic<uint64_t> slab_count{0};
};

struct alignas(64) ClassState {
  SpinLock mu;  // the cache lists and the gauges
  uint32_t size = 0;
  uint32_t slots = 0;
  uint64_t empty_bits = 0;
  uint64_t slot_bits = 0;
  uint64_t div_mul = 0;  // slot = (offset * div_mul) >> 32, exact here
  SlabList dirty;        // recycled, pages resident; newest first; mu
  SlabList clean;        // recycled, pages returned; mu
  std::atomic<uint64_t> owned{0};     // slabs on epoch or drain lists
  std::atomic<uint64_t> draining{0};  // of those, on drain lists
};

// The calling thread's counter shard in one allocator's region.
struct ShardRef {
  TslabRegionShard* shard;
  bool shared;  // the overflow shard: atomic adds
};

// Why a free was refused (the probe's kinds, tslab_usdt.h).
enum FreeKind : int { kFreeInvalid = 0, kFreeStale, kFreeDouble, kFreeForeign };

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
  __attribute__((always_inline)) inline tslab_status FreeHandle(uint64_t h);
  __attribute__((always_inline)) inline tslab_status FreePtr(void* p);
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

  // ---- epoch labels and domain refcounts (epoch_meta.cc), cold ----
  // Sets the label of e's current life (truncated, tslab.h); "" clears it.
  void SetEpochLabel(uint32_t e, const char* label);
  // Copies e's label into out (TSLAB_EPOCH_LABEL_MAX bytes).
  void EpochLabel(uint32_t e, char* out) const;
  // Adds delta (+1 or -1) to e's domain refcount. era_check as EpochClose:
  // if non-zero and e was reopened since, nothing changes (the life that
  // scope belonged to is over). A decrement never goes below 0. False if
  // nothing changed.
  bool EpochRefAdd(uint32_t e, uint64_t era_check, int delta);
  uint64_t EpochRefcount(uint32_t e) const;

  // Gives back every resident empty slab's pages now (tslab_purge).
  void Purge() { PurgeOlderThan(UINT64_MAX); }
  // The purge thread's step: gives back the slabs recycled more than the
  // delay before now_ns; returns when the next one falls due (0: none).
  uint64_t PurgeDue(uint64_t now_ns);
  int32_t purge_delay_ms() const { return purge_delay_ms_; }

  tslab_status Snapshot(TslabSnapshot* out) const;
  const StatsRegion& region() const { return region_; }
  uint32_t id() const { return id_; }
  uint64_t page_size() const { return page_size_; }

 private:
  friend struct PurgeRegistry;
  friend struct ForkRegistry;
  Allocator() = default;
  bool Init(const tslab_options& opts, tslab_status* err);

  ShardRef ShardAt(uint32_t i) const {
    return {&region_.shard(i), i == kSharedShard};
  }
  ShardRef CurShard() const { return ShardAt(ThreadShard()); }
  void* SlotAddress(const SlabMeta* s, uint32_t cls, uint32_t slot) const {
    return s->base + kSlabHeaderBytes + uint64_t{slot} * classes_[cls].size;
  }
  // Slot of a pointer at offset `off` in a slab of class cls, or kBadSlot.
  inline uint32_t SlotOf(uint32_t cls, uint64_t off) const;

  // The owner's free of slot of s (s->owner is the caller's shard and the
  // caller is inside Enter/Exit). hgen < 0: by pointer. False, changing
  // nothing, if refused: the caller refuses (RefuseLocal) after Exit, so
  // that no call sits inside the fast path.
  __attribute__((always_inline)) inline bool LocalFree(ThreadHeap* th,
                                                       SlabMeta* s,
                                                       uint32_t slot,
                                                       int32_t hgen);

  // The owner's claim of the first free slot of s (alloc word a, not
  // full): the bitmap, the high mark, the handle. REQUIRES: owner.
  __attribute__((always_inline)) inline void* TakeSlot(SlabMeta* s,
                                                       uint64_t a,
                                                       uint64_t* out);
  // TakeSlot with the owner's counters. REQUIRES: inside Enter/Exit.
  __attribute__((always_inline)) inline void* ClaimSlot(ThreadHeap* th,
                                                        SlabMeta* s,
                                                        uint64_t a,
                                                        uint32_t cls,
                                                        uint32_t e,
                                                        uint64_t* out);

  // ---- slow paths (slow_path.cc, free_path.cc), out of line ----
  // The current slab is full: install a slab of the heap that has room (a
  // local free's avail push, or collected remote frees) and allocate; a
  // counted slow path of its own. Null, counting nothing, when none has
  // room (the caller then takes AllocSlow). REQUIRES: inside Enter/Exit,
  // th->current[e][cls] non-null.
  void* AllocRefill(ThreadHeap* th, uint32_t cls, uint32_t e, uint64_t* out);
  // AllocRefill, then Exit, then AllocSlow if the refill found no slab.
  void* AllocFull(ThreadHeap* th, uint32_t cls, uint32_t e, uint64_t* out);
  void* AllocSlow(uint32_t cls, uint32_t e, uint64_t* out);
  // A free by a thread that does not own s (or whose heap is visited).
  // hgen < 0: by pointer, `where` is the offset in the slab (the slot is
  // recomputed from a fresh tag); else by handle, `where` is the slot.
  tslab_status FreeRemote(SlabMeta* s, uint64_t where, int32_t hgen);
  tslab_status RefuseFree(int kind, int cls);
  // Both frees after their own checks: the owner's path (slot_of() gives
  // the slot, or kBadSlot) or, for another thread, FreeRemote(s,
  // remote_where, hgen).
  template <typename SlotFn>
  __attribute__((always_inline)) inline tslab_status FreeIn(
      SlabMeta* s, int32_t hgen, uint64_t remote_where, SlotFn slot_of);
  // Cold, tail-called refusals of the fast paths: a pointer outside the
  // arena; a handle of another allocator or slab range; the owner's
  // refused free of slot (kBadSlot: not a slot start) of s.
  tslab_status RefuseOutside(const void* p);
  tslab_status RefuseHandle(uint64_t h);
  tslab_status RefuseLocal(const SlabMeta* s, uint32_t slot, int32_t hgen);
  // The counters and probe of a refused free, without the caller's error.
  void CountRefusal(int kind, int cls);
  // The kind of a refused free of slot (hgen < 0: by pointer).
  int ClassifyRefusal(const SlabMeta* s, uint32_t slot, int32_t hgen) const;
  // Folds s's remote frees into alloc (owner or visitor). Remote bits on
  // slots the owner had freed already are double frees found late: counted
  // (and their free undone in the counters) here.
  void Collect(SlabMeta* s, uint32_t cls, ShardRef sh);
  SlabMeta* PopAvail(Bin& b);
  SlabMeta* PopReady(ThreadHeap* th, Bin& b, uint32_t e, uint32_t cls,
                     ShardRef sh);
  // An empty slab re-owned by th's (e, cls) bin, or null (address space
  // exhausted). Takes the class lock.
  SlabMeta* NewSlab(ThreadHeap* th, uint32_t cls, uint32_t e, ShardRef sh);
  ThreadHeap* HeapFor(uint32_t shard);
  // A disowned slab's last free: seal, unlink, recycle.
  void RecycleOnEmpty(SlabMeta* s, uint64_t tag);
  // REQUIRES: th->mu (or th's owner excluded). Seals s if it holds no live
  // slot; on success unlinks it from its list. False if not empty.
  bool TrySealLocked(ThreadHeap* th, SlabMeta* s, ShardRef sh);
  void PushReady(SlabMeta* s, uint64_t tag);

  // Every lock an allocation, free or close takes is taken here, so that
  // lock_fast_acquire / lock_contended count them all: a try_lock first,
  // no clock read. (Not counted: the heap locks of a visit, and fork's.)
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

  // ---- heap visits (epoch.cc) ----
  // Locks every heap's mu and excludes every owner but the caller's own
  // heap (one HeavyFence for all). REQUIRES: advance_mu_.
  void VisitAllHeaps(uint32_t self_shard);
  void EndVisit();

  // ---- fork (fork.cc) ----
  // Takes every lock of the allocator in lock order, with every owner but
  // the caller's excluded and idle, so that a fork() child finds the locks
  // free and no heap mid-operation; ForkRelease undoes it (parent and
  // child alike).
  void ForkPrepare();
  void ForkRelease();

  // ---- epochs (epoch.cc) ----
  void OpenEpoch(uint32_t e);
  void MaybeDrained(uint32_t e);
  bool EpochHoldsObjects(uint32_t e) const;

  // ---- the cache and the purge (purge.cc) ----
  // Puts sealed, unlinked slabs in the class's cache: dirty (resident)
  // with a purge delay, else madvised first. REQUIRES: no lock held.
  void ReturnSlabs(uint32_t cls, SlabList* sealed);
  // One madvise(MADV_DONTNEED) over `pages` adjacent slabs from `first`.
  void Madvise(SlabMeta* first, uint64_t pages, uint32_t cls);
  // Sorts slabs by address and madvises each run of adjacent ones.
  void MadviseRuns(SlabMeta** batch, size_t n, uint32_t cls);
  // Purges the dirty slabs recycled at or before cutoff_ns; returns when
  // the oldest one left was recycled (0: none left).
  uint64_t PurgeOlderThan(uint64_t cutoff_ns);
  void PublishGauges(uint32_t cls);  // REQUIRES: class lock
  void ArmPurge();

  uint32_t id_ = 0;
  uint64_t page_size_ = 4096;
  uint32_t cache_capacity_ = 32;
  int32_t purge_delay_ms_ = kDefaultPurgeDelayMs;
  uint64_t purge_delay_ns_ = 0;
  tslab_madvise_fn madvise_fn_ = nullptr;
  void* madvise_ctx_ = nullptr;
  Arena arena_;
  StatsRegion region_;
  std::mutex advance_mu_;
  std::atomic<uint32_t> current_epoch_{0};
  EpochSlot epochs_[kNumEpochs];
  ClassState classes_[kNumClasses];

  // heaps_[shard]: created on the shard's first slow path (heaps_mu_).
  // fast_heaps_[shard + 1]: the same for exclusive shards, null for the
  // shared one and for "no shard yet" (0), so the fast path needs one TLS
  // load, one load and one test.
  std::mutex heaps_mu_;
  std::atomic<ThreadHeap*> heaps_[kNumHeaps] = {};
  std::atomic<ThreadHeap*> fast_heaps_[kNumHeaps + 1] = {};  // by shard + 1
  bool visit_blocked_[kNumHeaps] = {};  // advance_mu_

  // The fork registry's links (fork.cc; its mutex).
  Allocator* fork_next_ = nullptr;
  Allocator* fork_prev_ = nullptr;
  bool fork_registered_ = false;  // Init succeeded: on the fork registry

  // The purge thread's registry links (purge.cc; its mutex).
  Allocator* purge_next_ = nullptr;
  Allocator* purge_prev_ = nullptr;
  std::atomic<bool> purge_armed_{false};

  // Epoch labels' writers and refcount changes (epoch_meta.cc); after
  // advance_mu_ in the lock order (OpenEpoch resets both under both). Last:
  // the cold members leave the fast path's fields where they were.
  mutable std::mutex meta_mu_;
};

// ---------------- fast paths ----------------
// The owner's paths read only the thread's TLS shard, its heap's line and
// line 0 of the slab's descriptor (slab.h), and write no shared line.

// Slot of offset `off` in a slab of the given geometry, or kBadSlot
// (header, or not the start of a slot). One multiply: with m = ceil(2^32 /
// size) and rel = q * size + r, rel * m = q * 2^32 + q * (size * m - 2^32)
// + r * m, whose low 32 bits are below 64 * 768 when r == 0 and at least m
// (> 2^32 / 768) otherwise.
inline constexpr uint32_t kBadSlot = 64;
inline uint32_t SlotAt(uint64_t off, uint32_t div_mul, uint32_t slots) {
  const uint64_t prod = (off - kSlabHeaderBytes) * div_mul;
  const auto slot = static_cast<uint32_t>(prod >> 32);
  if (__builtin_expect(off < kSlabHeaderBytes ||
                           static_cast<uint32_t>(prod) >= div_mul ||
                           slot >= slots,
                       0)) {
    return kBadSlot;
  }
  return slot;
}

inline uint32_t Allocator::SlotOf(uint32_t cls, uint64_t off) const {
  return SlotAt(off, static_cast<uint32_t>(classes_[cls].div_mul),
                classes_[cls].slots);
}

inline void* Allocator::Alloc(uint32_t cls, uint32_t e, uint64_t* out) {
  // Indexed by shard + 1: a thread with no shard yet (0) finds null.
  ThreadHeap* th =
      fast_heaps_[tl_shard_plus_one].load(std::memory_order_relaxed);
  if (__builtin_expect(th != nullptr, 1)) {
    if (__builtin_expect(th->Enter(), 1)) {
      SlabMeta* s = th->current[e][cls];
      if (__builtin_expect(s != nullptr, 1)) {
        const uint64_t a = s->alloc.load(std::memory_order_relaxed);
        if (__builtin_expect(~a != 0, 1)) {
          void* p = ClaimSlot(th, s, a, cls, e, out);
          th->Exit();
          return p;
        }
        // Full: most often another slab of the heap has room (a local free
        // put it on the avail stack); a tail call, so that the fast path
        // itself saves no registers.
        return AllocFull(th, cls, e, out);
      }
    }
    th->Exit();
  }
  return AllocSlow(cls, e, out);
}

inline void* Allocator::TakeSlot(SlabMeta* s, uint64_t a, uint64_t* out) {
  const auto slot = static_cast<uint32_t>(__builtin_ctzll(~a));
  const uint64_t bit = 1ull << slot;
  s->alloc.store(a | bit, std::memory_order_relaxed);
  if (__builtin_expect(slot >= s->high.load(std::memory_order_relaxed), 0)) {
    s->high.store(static_cast<uint8_t>(slot + 1), std::memory_order_relaxed);
  }
  if (out != nullptr) {
    s->handles.store(s->handles.load(std::memory_order_relaxed) | bit,
                     std::memory_order_relaxed);
    *out = MakeHandle(id_, s->gen[slot].load(std::memory_order_relaxed),
                      s->index, slot);
  }
  return s->base + kSlabHeaderBytes +
         slot * uint64_t{s->obj_size.load(std::memory_order_relaxed)};
}

inline void* Allocator::ClaimSlot(ThreadHeap* th, SlabMeta* s, uint64_t a,
                                  uint32_t cls, uint32_t e, uint64_t* out) {
  TSLAB_STAT_OWNER_ADD(th->stats->allocs[e][cls], 1);
  if (__builtin_expect((a | (a + 1)) == kFull, 0)) {  // takes the last slot
    TSLAB_STAT_OWNER_ADD(th->stats->cls[cls].slab_fills, 1);
  }
  (void)th;
  (void)cls;
  (void)e;
  return TakeSlot(s, a, out);
}

inline bool Allocator::LocalFree(ThreadHeap* th, SlabMeta* s, uint32_t slot,
                                 int32_t hgen) {
  const uint64_t bit = 1ull << slot;
  const uint64_t a = s->alloc.load(std::memory_order_relaxed);
  if (__builtin_expect(!(a & bit), 0) ||
      __builtin_expect(s->remote.load(std::memory_order_relaxed) & bit, 0)) {
    return false;
  }
  const uint64_t h = s->handles.load(std::memory_order_relaxed);
  if (hgen >= 0 || (h & bit)) {
    // A handle may be out: it dies before the slot can be handed out again.
    const uint16_t g = s->gen[slot].load(std::memory_order_relaxed);
    if (__builtin_expect(hgen >= 0 && g != static_cast<uint16_t>(hgen), 0)) {
      return false;
    }
    s->gen[slot].store(static_cast<uint16_t>(g + 1), std::memory_order_relaxed);
    s->handles.store(h & ~bit, std::memory_order_relaxed);
  }
  s->alloc.store(a & ~bit, std::memory_order_relaxed);
  const uint32_t cls = s->cls.load(std::memory_order_relaxed);
  const uint32_t e = s->epoch.load(std::memory_order_relaxed);
  TSLAB_STAT_OWNER_ADD(th->stats->frees[e][cls], 1);
  if (__builtin_expect(a == kFull, 0)) {
    // Full -> not full: the heap can allocate from it again.
    TSLAB_STAT_OWNER_ADD(th->stats->cls[cls].slab_unfills, 1);
    if (s != th->current[e][cls] && !s->in_avail) {
      Bin& b = th->bins[e][cls];
      s->in_avail = true;
      s->avail_next = b.avail;
      b.avail = s;
    }
  }
  return true;
}

template <typename SlotFn>
inline tslab_status Allocator::FreeIn(SlabMeta* s, int32_t hgen,
                                      uint64_t remote_where, SlotFn slot_of) {
  ThreadHeap* th =
      fast_heaps_[tl_shard_plus_one].load(std::memory_order_relaxed);
  if (__builtin_expect(th != nullptr, 1)) {
    if (__builtin_expect(th->Enter() && s->owner.load(std::memory_order_relaxed) ==
                                            th->shard,
                         1)) {
      // Ours: the geometry on line 0 is this life's and stable.
      const uint32_t slot = slot_of();
      if (__builtin_expect(slot != kBadSlot && LocalFree(th, s, slot, hgen),
                           1)) {
        th->Exit();
        return TSLAB_OK;
      }
      th->Exit();
      return RefuseLocal(s, slot, hgen);
    }
    th->Exit();
  }
  return FreeRemote(s, remote_where, hgen);
}

inline tslab_status Allocator::FreePtr(void* p) {
  if (__builtin_expect(!arena_.Contains(p), 0)) return RefuseOutside(p);
  SlabMeta* s = arena_.Meta(arena_.SlabIndexOf(p));
  return FreeIn(s, -1, arena_.OffsetInSlab(p), [s, p] {
    return SlotAt(static_cast<uint64_t>(static_cast<char*>(p) - s->base),
                  s->div_mul.load(std::memory_order_relaxed),
                  s->slots.load(std::memory_order_relaxed));
  });
}

inline tslab_status Allocator::FreeHandle(uint64_t h) {
  const uint64_t index = HandleSlab(h);
  if (__builtin_expect(HandleId(h) != id_ || index >= arena_.slabs_used(),
                       0)) {
    return RefuseHandle(h);
  }
  SlabMeta* s = arena_.Meta(index);
  const uint32_t slot = HandleSlot(h);
  return FreeIn(s, HandleGen(h), slot, [s, slot] {
    return slot < s->slots.load(std::memory_order_relaxed) ? slot : kBadSlot;
  });
}

}  // namespace tslab::internal

#endif  // TSLAB_SRC_ALLOCATOR_ALLOCATOR_H_
