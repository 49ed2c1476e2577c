// ThreadHeap: the slabs one thread allocates from, in one allocator.
//
// Purpose: an owner-thread fast path with no atomic read-modify-write
// instruction and no lock. Each allocator has one heap per thread shard
// (region.h: a process-wide number a thread holds while it lives; the last
// shard is shared by any threads beyond the others). The heap of an
// exclusive shard is touched only by the thread holding that shard, except
// by a "visitor" (epoch close, purge) that has excluded the owner with the
// asymmetric protocol below. The heap of the shared shard has no fast path:
// every operation on it holds its `mu`.
//
// Per (epoch, class) the heap has a current slab (the one the owner
// allocates from) and a Bin that holds:
//   avail    owner-private LIFO of slabs with free slots (a local free that
//            takes a slab off full pushes it: O(1));
//   ready    a lock-free stack of slabs that received a remote free while
//            collected (pushed once per collection, see slab.h in_ready);
//            the owner takes the whole stack at once and then pops one
//            slab per need, so no slow path walks it whole;
//   all      every slab of the bin (the close scans it).
//
// The asymmetric exclusion (a biased lock): the owner brackets each
// operation with busy=1 ... busy=0 (plain stores) and checks `blocked`
// after setting busy; a visitor takes `mu`, sets blocked=1, issues a heavy
// fence (membarrier: a full barrier on every CPU running this process) and
// waits for busy==0. Either the owner's check sees blocked (and it backs
// off: frees take the remote path, allocations wait for `mu`), or the
// visitor sees busy (and waits for the owner's release store). The owner
// pays two plain stores and a load on a line it owns; the visitor pays one
// membarrier per visit of a set of heaps.
// Invariants: an owner holding busy never takes a heap `mu` or advance_mu_
// (a visitor holds those while it waits for busy); a visitor never waits
// for busy while holding a class lock.
// Thread-safety: as above; Bin fields are owner-private except `ready`
// (atomic) and `all` of a non-ACTIVE epoch (guarded by `mu`).
#ifndef TSLAB_SRC_ALLOCATOR_HEAP_H_
#define TSLAB_SRC_ALLOCATOR_HEAP_H_

#include <atomic>
#include <cstdint>

#include "src/allocator/size_class.h"
#include "src/allocator/slab.h"
#include "src/allocator/spin_lock.h"
#include "tslab/stats_region.h"

namespace tslab::internal {

// Under TSan (which does not model membarrier) the two sides use seq_cst
// accesses instead, which is correct by the C++ model alone.
#if defined(__SANITIZE_THREAD__)
inline constexpr bool kAsymSeqCst = true;
#else
inline constexpr bool kAsymSeqCst = false;
#endif

// A full memory barrier on every CPU that runs a thread of this process
// (membarrier PRIVATE_EXPEDITED; where the kernel refuses it, an mprotect
// of a private page, whose TLB shootdown interrupts the same CPUs).
// Syscall-priced: visitors only.
void HeavyFence();

struct Bin {
  SlabMeta* avail = nullptr;
  SlabMeta* ready_local = nullptr;  // taken from `ready`, not yet looked at
  std::atomic<SlabMeta*> ready{nullptr};
  SlabList all;
};

struct alignas(64) ThreadHeap {
  // --- the owner's line ---
  std::atomic<uint32_t> busy{0};
  std::atomic<uint32_t> blocked{0};
  uint32_t shard = 0;
  bool shared = false;  // the shared shard's heap: always under mu
  TslabRegionShard* stats = nullptr;  // the shard's counters
  // Per (epoch, class): the slab the owner allocates from (dense, so the
  // fast path indexes it with one lea; 1 KiB, 16 lines).
  SlabMeta* current[kNumEpochs][kNumClasses] = {};

  // --- visitors ---
  alignas(64) SpinLock mu;
  SlabList drain;  // reopened epochs' old slabs; mu

  Bin bins[kNumEpochs][kNumClasses];

  // Owner: start an operation; false if a visitor holds the heap (the
  // caller calls Exit and backs off).
  bool Enter() {
    if constexpr (kAsymSeqCst) {
      busy.store(1, std::memory_order_seq_cst);
      return blocked.load(std::memory_order_seq_cst) == 0;
    } else {
      busy.store(1, std::memory_order_relaxed);
      // Compiler-only: keeps the load after the store in program order;
      // the visitor's HeavyFence orders them on the CPU.
      std::atomic_signal_fence(std::memory_order_seq_cst);
      return blocked.load(std::memory_order_relaxed) == 0;
    }
  }
  void Exit() { busy.store(0, std::memory_order_release); }

  // Visitor, REQUIRES mu held: block the owner (then HeavyFence, then
  // WaitIdle) and unblock it (before unlocking mu).
  void Block() { blocked.store(1, std::memory_order_seq_cst); }
  void WaitIdle() {
    for (uint32_t spins = 0;
         busy.load(kAsymSeqCst ? std::memory_order_seq_cst
                               : std::memory_order_acquire) != 0;
         ++spins) {
      SpinLock::Backoff(spins);
    }
  }
  void Unblock() { blocked.store(0, std::memory_order_release); }
};

}  // namespace tslab::internal

#endif  // TSLAB_SRC_ALLOCATOR_HEAP_H_
