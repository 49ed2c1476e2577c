// The per-class cache of empty slabs and the purge policy.
//
// A recycled slab goes to its class's dirty list (pages resident, stamped
// with the time) and is handed out again first, warm: an epoch workload
// that closes one epoch and fills the next reuses the same pages without a
// page fault or a syscall. A slab still on the dirty list purge_delay_ms
// later is purged: its pages go back to the OS (madvise(MADV_DONTNEED), one
// call per run of adjacent slabs) and it moves to the clean list. With a
// delay of 0 the pages go back at the recycle, as before the policy.
//
// Who purges: one background thread per process ("tslab-purge"), started
// by the first slab that goes dirty, so pages go back on time even if the
// application makes no further call. It sleeps until the oldest dirty slab
// of any allocator falls due (no polling while nothing is dirty), takes a
// class lock only to unlink a batch of at most 256 slabs, and madvises
// outside it. An allocator re-arms it (one futex wake) only when it had no
// dirty slab left; in a steady churn of closes it stays armed, no wake.
// Costs: with the delay, a slab's pages stay resident up to the delay plus
// the wake-up slack after its last use.
//
// Thread-safety: the registry's mutex orders the thread, Register and
// Unregister; the purge thread holds it while it purges an allocator, so
// an allocator's destructor (Unregister) waits for a purge of it to end.
// fork: the child has no purge thread; the first slab that goes dirty in
// the child starts one (dirty slabs inherited from the parent are purged
// then, or by tslab_purge).
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <new>

#include "src/allocator/allocator.h"
#include "src/usdt/tslab_usdt.h"

namespace tslab::internal {

struct PurgeRegistry {
  std::mutex mu;
  std::condition_variable cv;
  Allocator* head = nullptr;  // mu
  bool thread_running = false;  // mu

  // Never destroyed: the detached thread may outlive static destructors.
  static PurgeRegistry& Get() {
    static PurgeRegistry* r = new PurgeRegistry();
    return *r;
  }

  // In a fork child (mu held): the thread is the parent's; the child
  // starts its own at its first dirty slab. The condition variable is
  // made anew: the copy still counts the parent's thread as a waiter, and
  // glibc's signal would wait for that waiter for ever.
  void ForgetThread() {
    new (&cv) std::condition_variable();
    thread_running = false;
    for (Allocator* a = head; a; a = a->purge_next_) {
      a->purge_armed_.store(false, std::memory_order_relaxed);
    }
  }

  void Register(Allocator* a) {
    std::lock_guard<std::mutex> lock(mu);
    a->purge_prev_ = nullptr;
    a->purge_next_ = head;
    if (head) head->purge_prev_ = a;
    head = a;
  }
  void Unregister(Allocator* a) {
    std::lock_guard<std::mutex> lock(mu);
    if (a->purge_prev_) a->purge_prev_->purge_next_ = a->purge_next_;
    else if (head == a) head = a->purge_next_;
    if (a->purge_next_) a->purge_next_->purge_prev_ = a->purge_prev_;
    a->purge_next_ = a->purge_prev_ = nullptr;
  }
  // REQUIRES: mu. False if no thread could be started (the slabs then
  // wait for tslab_purge or the next recycle).
  bool EnsureThread() {
    if (thread_running) return true;
    // pthread, not std::thread: the library is built without exceptions,
    // and a failure to start must be an answer, not std::terminate.
    pthread_t t;
    if (pthread_create(&t, nullptr, &PurgeRegistry::Main, this) != 0) {
      return false;
    }
    pthread_detach(t);
    thread_running = true;
    return true;
  }
  static void* Main(void* self) {
    static_cast<PurgeRegistry*>(self)->Run();
    return nullptr;
  }

  void Run() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);  // signals are the app's
    pthread_setname_np(pthread_self(), "tslab-purge");
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      const uint64_t now = MonotonicNs();
      uint64_t next = 0;
      for (Allocator* a = head; a != nullptr; a = a->purge_next_) {
        if (!a->purge_armed_.load(std::memory_order_acquire)) continue;
        // Disarm before looking: a slab made dirty after this look re-arms
        // (and wakes us) through ArmPurge.
        a->purge_armed_.store(false, std::memory_order_seq_cst);
        const uint64_t due = a->PurgeDue(now);
        if (due != 0) {
          a->purge_armed_.store(true, std::memory_order_relaxed);
          next = next == 0 ? due : std::min(next, due);
        }
      }
      if (next == 0) {
        cv.wait(lock);
      } else {
        const uint64_t later = MonotonicNs();
        if (next > later) {
          cv.wait_for(lock, std::chrono::nanoseconds(next - later));
        }
      }
    }
  }
};

void Allocator::ArmPurge() {
  if (purge_armed_.load(std::memory_order_seq_cst) ||
      purge_armed_.exchange(true, std::memory_order_acq_rel)) {
    return;
  }
  PurgeRegistry& reg = PurgeRegistry::Get();
  std::lock_guard<std::mutex> lock(reg.mu);
  if (reg.EnsureThread()) reg.cv.notify_one();
}

void Allocator::PublishGauges(uint32_t cls) {
  ClassState& cs = classes_[cls];
  TslabRegionClass& rc = region_.cls(cls);
  const uint64_t held = cs.dirty.size + cs.clean.size;
  const uint64_t cached = std::min<uint64_t>(held, cache_capacity_);
  AtomicStore(rc.owned_slabs, cs.owned.load(std::memory_order_relaxed));
  AtomicStore(rc.draining_slabs, cs.draining.load(std::memory_order_relaxed));
  AtomicStore(rc.cache_size, cached);
  AtomicStore(rc.cache_overflow_len, held - cached);
  AtomicStore(rc.resident_empty_slabs, cs.dirty.size);
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
  // path or the purge thread): its own cost is left out of epoch_close's.
  TSLAB_PROBE4_NESTED(madvise, cls, bytes, err, dt);
}

// A syscall (and its TLB shootdown) per page cost 60 us a page on this
// project's VMs: one call per run of adjacent slabs instead.
void Allocator::MadviseRuns(SlabMeta** batch, size_t n, uint32_t cls) {
  std::sort(batch, batch + n, [](const SlabMeta* a, const SlabMeta* b) {
    return a->index < b->index;
  });
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && batch[j]->index == batch[j - 1]->index + 1) ++j;
    Madvise(batch[i], j - i, cls);
    i = j;
  }
}

// Runs without the class lock for madvise: the slabs are sealed and
// unlinked, so no other thread can reach them meanwhile.
void Allocator::ReturnSlabs(uint32_t cls, SlabList* sealed) {
  constexpr size_t kBatch = 256;  // 2 KiB of stack
  SlabMeta* batch[kBatch];
  ClassState& cs = classes_[cls];
  TslabRegionClass& rc = region_.cls(cls);
  const ShardRef sh = CurShard();
  const bool delayed = purge_delay_ns_ != 0;
  const uint64_t now = delayed ? MonotonicNs() : 0;
  while (sealed->head != nullptr) {
    size_t n = 0;
    while (n < kBatch && sealed->head != nullptr) batch[n++] = sealed->PopFront();
    if (!delayed) MadviseRuns(batch, n, cls);
    LockCounted(cs.mu, cls, sh);
    // Pushed from the highest address down, so the cache hands slabs out
    // again in ascending address order.
    for (size_t k = n; k-- > 0;) {
      SlabMeta* s = batch[k];
      TSLAB_STAT_INC(rc.empty_slab_recycled);
      if (cs.dirty.size + cs.clean.size >= cache_capacity_) {
        TSLAB_STAT_INC(rc.empty_slab_overflowed);
        TSLAB_PROBE1_NESTED(cache_overflow, cls);
      }
      if (delayed) {
        s->dirty_since_ns = now;
        s->list.store(ListKind::kDirty, std::memory_order_relaxed);
        cs.dirty.PushFront(s);
      } else {
        s->list.store(ListKind::kClean, std::memory_order_relaxed);
        cs.clean.PushFront(s);
      }
    }
    PublishGauges(cls);
    cs.mu.unlock();
  }
  if (delayed) ArmPurge();
}

uint64_t Allocator::PurgeDue(uint64_t now_ns) {
  const uint64_t cutoff = now_ns > purge_delay_ns_ ? now_ns - purge_delay_ns_ : 0;
  const uint64_t oldest = PurgeOlderThan(cutoff);
  return oldest == 0 ? 0 : oldest + purge_delay_ns_;
}

uint64_t Allocator::PurgeOlderThan(uint64_t cutoff_ns) {
  constexpr size_t kBatch = 256;
  SlabMeta* batch[kBatch];
  const ShardRef sh = CurShard();
  uint64_t oldest_left = 0;
  for (uint32_t cls = 0; cls < kNumClasses; ++cls) {
    ClassState& cs = classes_[cls];
    for (;;) {
      size_t n = 0;
      LockCounted(cs.mu, cls, sh);
      // The dirty list is newest first: its tail is the oldest.
      while (n < kBatch && cs.dirty.tail != nullptr &&
             cs.dirty.tail->dirty_since_ns <= cutoff_ns) {
        SlabMeta* s = cs.dirty.PopBack();
        s->list.store(ListKind::kNone, std::memory_order_relaxed);
        batch[n++] = s;
      }
      const bool more = n == kBatch;
      if (!more && cs.dirty.tail != nullptr) {
        const uint64_t t = cs.dirty.tail->dirty_since_ns;
        if (oldest_left == 0 || t < oldest_left) oldest_left = t;
      }
      PublishGauges(cls);
      cs.mu.unlock();
      if (n == 0) break;
      MadviseRuns(batch, n, cls);
      LockCounted(cs.mu, cls, sh);
      for (size_t k = n; k-- > 0;) {
        batch[k]->list.store(ListKind::kClean, std::memory_order_relaxed);
        cs.clean.PushFront(batch[k]);
      }
      PublishGauges(cls);
      cs.mu.unlock();
      if (!more) break;
    }
  }
  return oldest_left;
}

void RegisterForPurge(Allocator* a) { PurgeRegistry::Get().Register(a); }

void LockPurgeForFork() { PurgeRegistry::Get().mu.lock(); }

void UnlockPurgeForFork(bool in_child) {
  PurgeRegistry& g = PurgeRegistry::Get();
  if (in_child) g.ForgetThread();
  g.mu.unlock();
}
void UnregisterFromPurge(Allocator* a) { PurgeRegistry::Get().Unregister(a); }

}  // namespace tslab::internal
