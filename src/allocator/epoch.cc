// Epoch lifecycle: advance (with ring wrap) and close (with reclamation),
// and the heap visits a close makes (heap.h, the asymmetric exclusion).
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "src/allocator/allocator.h"
#include "src/allocator/epoch_label.h"
#include "src/allocator/test_point.h"
#include "src/usdt/tslab_usdt.h"

namespace tslab::internal {
namespace {

// membarrier PRIVATE_EXPEDITED needs a one-time registration per process
// (Linux 4.14+). Where it is refused (an old kernel, a seccomp filter), an
// mprotect that takes write permission away from a touched private page
// makes the kernel shoot down that page's TLB entries on every CPU running
// this process's threads: an interrupt there, hence a full barrier.
bool MembarrierReady() {
  static const bool ready = [] {
    const long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return false;
    return syscall(SYS_membarrier,
                   MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
  }();
  return ready;
}

void MprotectFence() {
  static std::mutex mu;
  static char* page = [] {
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
  }();
  if (page == nullptr) return;
  std::lock_guard<std::mutex> lock(mu);
  *reinterpret_cast<volatile char*>(page) = 1;
  mprotect(page, 4096, PROT_READ);
  mprotect(page, 4096, PROT_READ | PROT_WRITE);
}

}  // namespace

void HeavyFence() {
  if (MembarrierReady() &&
      syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) {
    return;
  }
  MprotectFence();
}

void Allocator::VisitAllHeaps(uint32_t self_shard) {
  heaps_mu_.lock();
  bool any = false;
  for (uint32_t i = 0; i < kNumHeaps; ++i) {
    ThreadHeap* th = heaps_[i].load(std::memory_order_acquire);
    if (th == nullptr) continue;
    th->mu.lock();
    // The caller's own heap has no operation in flight: it is here.
    if (!th->shared && i != self_shard) {
      th->Block();
      visit_blocked_[i] = true;
      any = true;
    }
  }
  if (any && !kAsymSeqCst) HeavyFence();
  for (uint32_t i = 0; i < kNumHeaps; ++i) {
    if (visit_blocked_[i]) heaps_[i].load(std::memory_order_relaxed)->WaitIdle();
  }
}

void Allocator::EndVisit() {
  for (uint32_t i = 0; i < kNumHeaps; ++i) {
    ThreadHeap* th = heaps_[i].load(std::memory_order_relaxed);
    if (th == nullptr) continue;
    if (visit_blocked_[i]) {
      th->Unblock();
      visit_blocked_[i] = false;
    }
    th->mu.unlock();
  }
  heaps_mu_.unlock();
}

void Allocator::OpenEpoch(uint32_t e) {
  EpochSlot& ep = epochs_[e];
  // A new life: no label, no domain scope yet (a scope of the old life
  // that exits later changes nothing: EpochRefAdd's era check).
  std::lock_guard<std::mutex> meta_lock(meta_mu_);
  const uint64_t era = ep.era.fetch_add(1, std::memory_order_acq_rel) + 1;
  TslabRegionEpoch& re = region_.epoch(e);
  AtomicStore(re.refcount, 0);
  static constexpr char kNoLabel[TSLAB_EPOCH_LABEL_MAX] = {};
  if (region_.label(e).text[0] != 0) WriteLabel(region_.label(e), kNoLabel);
  AtomicStore(re.era, era);
  AtomicStore(re.open_ns, MonotonicNs());
  AtomicStore(re.close_ns, 0);
  ep.state.store(TSLAB_EPOCH_ACTIVE, std::memory_order_seq_cst);
  AtomicStore(re.state, TSLAB_EPOCH_ACTIVE);
}

// Under advance_mu_, like every state change: a reopen cannot run between
// the check and the store (it would be overwritten by DRAINED).
void Allocator::MaybeDrained(uint32_t e) {
  EpochSlot& ep = epochs_[e];
  if (ep.slab_count.load(std::memory_order_acquire) != 0) return;
  std::lock_guard<std::mutex> advance_lock(advance_mu_);
  if (ep.state.load(std::memory_order_acquire) == TSLAB_EPOCH_CLOSING &&
      ep.slab_count.load(std::memory_order_acquire) == 0) {
    ep.state.store(TSLAB_EPOCH_DRAINED, std::memory_order_release);
    AtTestPoint(TestPoint::kDrainedDecided, e, 0);
    AtomicStore(region_.epoch(e).state, TSLAB_EPOCH_DRAINED);
  }
}

bool Allocator::EpochHoldsObjects(uint32_t e) const {
#if TSLAB_STATS
  // Live objects of the slot, from the counters (allocations minus frees,
  // modulo 2^64 across shards): no walk of other threads' slab lists.
  uint64_t live = 0;
  for (uint32_t i = 0; i < TSLAB_REGION_SHARDS; ++i) {
    const TslabRegionShard& sh = region_.shard(i);
    for (uint32_t c = 0; c < kNumClasses; ++c) {
      live += AtomicLoad(sh.allocs[e][c]) - AtomicLoad(sh.frees[e][c]);
    }
  }
  return live != 0;
#else
  (void)e;
  return false;  // only epoch_wraps_live needs it, and it is compiled out
#endif
}

uint32_t Allocator::EpochAdvance() {
  std::lock_guard<std::mutex> advance_lock(advance_mu_);
  const uint32_t old = current_epoch_.load(std::memory_order_relaxed);
  const uint32_t next = (old + 1) % kNumEpochs;
  EpochSlot& ep = epochs_[next];
  const uint32_t st = ep.state.load(std::memory_order_acquire);
  if (st == TSLAB_EPOCH_CLOSING) {
    // Wrapping onto a closed epoch that still holds objects: its slabs
    // (all disowned by the close) move to their heaps' drain lists, each
    // recycled by the free that empties it, and the slot starts a new life.
    // No owner touches a closed epoch's bins, so the heap locks suffice.
    TSLAB_STAT_INC(region_.global().epoch_wraps_live);
    uint64_t moved[kNumClasses] = {};
    uint64_t moved_all = 0;
    std::lock_guard<std::mutex> heaps_lock(heaps_mu_);
    for (uint32_t i = 0; i < kNumHeaps; ++i) {
      ThreadHeap* th = heaps_[i].load(std::memory_order_acquire);
      if (th == nullptr) continue;
      th->mu.lock();
      for (uint32_t cls = 0; cls < kNumClasses; ++cls) {
        Bin& b = th->bins[next][cls];
        while (SlabMeta* s = b.all.PopFront()) {
          th->drain.PushFront(s);
          s->list.store(ListKind::kDrain, std::memory_order_relaxed);
          ++moved[cls];
        }
      }
      th->mu.unlock();
    }
    for (uint32_t cls = 0; cls < kNumClasses; ++cls) {
      if (moved[cls] == 0) continue;
      moved_all += moved[cls];
      ClassState& cs = classes_[cls];
      cs.draining.fetch_add(moved[cls], std::memory_order_relaxed);
      const ShardRef sh = CurShard();
      LockCounted(cs.mu, cls, sh);
      PublishGauges(cls);
      cs.mu.unlock();
    }
    ep.slab_count.fetch_sub(moved_all, std::memory_order_acq_rel);
    AtomicAdd(region_.epoch(next).slab_count, 0 - moved_all);
    OpenEpoch(next);
  } else if (st == TSLAB_EPOCH_ACTIVE) {
    // Never closed: the slot stays open and keeps its objects. A live wrap
    // only if it still holds one.
    if (EpochHoldsObjects(next)) {
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

tslab_status Allocator::EpochClose(uint32_t e, uint64_t era_check) {
  EpochSlot& ep = epochs_[e];
  const uint64_t t_start = MonotonicNs();
  // epoch_close's dur_ns, timed only while traced, without the nested
  // madvise and cache_overflow probes.
  const tslab::usdt::ProbeTimer probe_timer(TSLAB_PROBE_ENABLED(epoch_close));
  SlabList sealed[kNumClasses];
  uint64_t scanned_all = 0, recycled_all = 0;
  {
    std::lock_guard<std::mutex> advance_lock(advance_mu_);
    // A domain bound to a never-opened slot holds era 1 (its first life):
    // it may close the slot while it is still unopened (era 0).
    const uint64_t era = ep.era.load(std::memory_order_acquire);
    if (era_check != 0 && era != era_check && !(era == 0 && era_check == 1)) {
      SetLastError(TSLAB_E_STALE_DOMAIN);
      return TSLAB_E_STALE_DOMAIN;
    }
    const uint32_t st = ep.state.load(std::memory_order_acquire);
    if (st == TSLAB_EPOCH_ACTIVE || st == TSLAB_EPOCH_IDLE) {
      ep.state.store(TSLAB_EPOCH_CLOSING, std::memory_order_seq_cst);
      AtomicStore(region_.epoch(e).state, TSLAB_EPOCH_CLOSING);
    }
    TslabRegionEpoch& re = region_.epoch(e);
    AtomicStore(re.close_ns, t_start);
    TSLAB_STAT_INC(re.close_calls);
    TSLAB_STAT_INC(region_.global().epoch_closes);

    const uint32_t self = ThreadShard();
    const ShardRef sh = ShardAt(self);
    VisitAllHeaps(self);
    for (uint32_t cls = 0; cls < kNumClasses; ++cls) {
      const uint64_t t0 = MonotonicNs();
      uint64_t scanned = 0;
      for (uint32_t i = 0; i < kNumHeaps; ++i) {
        ThreadHeap* th = heaps_[i].load(std::memory_order_relaxed);
        if (th == nullptr) continue;
        Bin& b = th->bins[e][cls];
        // No allocation from a closed epoch: no current, no avail, and the
        // ready stack emptied (a later push onto it is stale: PopReady).
        th->current[e][cls] = nullptr;
        while (PopAvail(b) != nullptr) {
        }
        SlabMeta* r = b.ready_local;
        b.ready_local = nullptr;
        for (int pass = 0; pass < 2; ++pass) {
          while (r != nullptr) {
            SlabMeta* n = r->ready_next;
            r->ready_next = nullptr;
            r->in_ready.store(0, std::memory_order_seq_cst);
            r = n;
          }
          r = b.ready.exchange(nullptr, std::memory_order_acquire);
        }
        SlabMeta* next = nullptr;
        for (SlabMeta* s = b.all.head; s != nullptr; s = next) {
          next = s->next;
          ++scanned;
          // Disown first (seq_cst): a remote free that still saw the owner
          // is seen by the seal's read of remote; one that sees kNoOwner
          // recycles the slab itself if it empties it.
          const bool was_owned =
              s->owner.exchange(kNoOwner, std::memory_order_seq_cst) !=
              kNoOwner;
          if (was_owned) Collect(s, cls, sh);
          if (TrySealLocked(th, s, sh)) sealed[cls].PushFront(s);
        }
      }
      TslabRegionClass& rc = region_.cls(cls);
      TSLAB_STAT_INC(rc.epoch_close_calls);
      TSLAB_STAT_ADD(rc.epoch_close_scanned_slabs, scanned);
      TSLAB_STAT_ADD(rc.epoch_close_recycled_slabs, sealed[cls].size);
      TSLAB_STAT_ADD(rc.epoch_close_total_ns, MonotonicNs() - t0);
      scanned_all += scanned;
      recycled_all += sealed[cls].size;
    }
    EndVisit();
  }
  // The cache (and madvise, without a purge delay), outside every lock.
  for (uint32_t cls = 0; cls < kNumClasses; ++cls) {
    if (sealed[cls].head != nullptr) ReturnSlabs(cls, &sealed[cls]);
  }
  MaybeDrained(e);
  // The label only when traced: the probe passes its address (bpftrace:
  // str(arg4)), valid while the probe fires.
  char label[TSLAB_EPOCH_LABEL_MAX] = {};
  if (TSLAB_PROBE_ENABLED(epoch_close)) EpochLabel(e, label);
  TSLAB_PROBE5(epoch_close, e, scanned_all, recycled_all,
               probe_timer.ElapsedNs(), reinterpret_cast<uintptr_t>(label));
  return TSLAB_OK;
}

}  // namespace tslab::internal
