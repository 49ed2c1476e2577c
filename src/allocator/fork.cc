// fork() safety: pthread_atfork handlers that take every lock of the
// engine before fork() and release them after it, in the parent and in the
// child, the way jemalloc and mimalloc do.
//
// Why: the child has one thread, the one that called fork(). A lock that
// another thread held at the fork stays held in the child for ever, and a
// heap whose owner was in the middle of an operation stays busy for ever
// (a close would wait for it). tslab.h promises that a child's allocators
// keep working, so the prepare handler waits until no other thread holds
// an engine lock or is inside an operation, and keeps it so until fork()
// returns.
//
// Lock order (the engine's, allocator.h): the purge registry, then this
// registry, then per allocator advance_mu_, heaps_mu_ and every heap's
// lock (with the owners excluded: the close's visit, epoch.cc), meta_mu_
// (labels and refcounts), the class locks, the arena's lock; last the leaf
// locks: the shard table and the allocator-id registry. The region-file registry has its own handlers
// (region_file.cc): no engine lock is taken while holding it.
//
// What it costs: a fork() waits for every in-flight allocator call to end
// and makes one membarrier per allocator; nothing on any other path.
//
// Thread-safety: Register/Unregister may race with each other and with a
// fork in another thread (this registry's lock).
#include <pthread.h>

#include <mutex>

#include "src/allocator/allocator.h"

namespace tslab::internal {

struct ForkRegistry {
  // Constant-initialised, never destroyed: a fork may come late in exit.
  static std::mutex& Mu() {
    static std::mutex mu;
    return mu;
  }
  static Allocator*& Head() {
    static Allocator* head = nullptr;
    return head;
  }

  static void Prepare() {
    LockPurgeForFork();
    Mu().lock();
    for (Allocator* a = Head(); a != nullptr; a = a->fork_next_) {
      a->ForkPrepare();
    }
    LockShardsForFork();
    LockArenaRegistryForFork();
  }
  static void Release(bool in_child) {
    UnlockArenaRegistryForFork();
    UnlockShardsForFork(in_child);
    for (Allocator* a = Head(); a != nullptr; a = a->fork_next_) {
      a->ForkRelease();
    }
    Mu().unlock();
    UnlockPurgeForFork(in_child);
  }
  static void Parent() { Release(false); }
  static void Child() { Release(true); }

  static void Register(Allocator* a) {
    // A function-local static, not std::call_once: call_once's helper
    // would be exported from libtslab.so (tests/symbols_test.cc).
    static const int installed = pthread_atfork(Prepare, Parent, Child);
    (void)installed;
    std::lock_guard<std::mutex> lock(Mu());
    a->fork_prev_ = nullptr;
    a->fork_next_ = Head();
    if (Head() != nullptr) Head()->fork_prev_ = a;
    Head() = a;
  }
  static void ForEach(void (*fn)(Allocator* a, void* ctx), void* ctx) {
    std::lock_guard<std::mutex> lock(Mu());
    for (Allocator* a = Head(); a != nullptr; a = a->fork_next_) fn(a, ctx);
  }
  static void Unregister(Allocator* a) {
    std::lock_guard<std::mutex> lock(Mu());
    if (a->fork_prev_ != nullptr) {
      a->fork_prev_->fork_next_ = a->fork_next_;
    } else if (Head() == a) {
      Head() = a->fork_next_;
    }
    if (a->fork_next_ != nullptr) a->fork_next_->fork_prev_ = a->fork_prev_;
    a->fork_next_ = a->fork_prev_ = nullptr;
  }
};

void Allocator::ForkPrepare() {
  advance_mu_.lock();
  // The forking thread is in no operation (fork is not called from inside
  // tslab); a thread without a shard yet owns no heap.
  const uint32_t self = tl_shard_plus_one != 0 ? tl_shard_plus_one - 1
                                               : kNumHeaps;
  VisitAllHeaps(self);
  // After heaps_mu_: a ring wrap (EpochAdvance) reopens the slot, taking
  // meta_mu_, while it holds heaps_mu_ (TSan saw the other order here as
  // an inversion).
  meta_mu_.lock();
  for (ClassState& cs : classes_) cs.mu.lock();
  arena_.LockForFork();
}

void Allocator::ForkRelease() {
  arena_.UnlockForFork();
  for (uint32_t c = kNumClasses; c-- > 0;) classes_[c].mu.unlock();
  // In the child the other threads' heaps are idle (they were excluded
  // and idle at the fork): unblocked, a new thread that takes their shard
  // becomes their owner.
  meta_mu_.unlock();
  EndVisit();
  advance_mu_.unlock();
}

void RegisterForFork(Allocator* a) { ForkRegistry::Register(a); }

// The fork registry holds every live allocator: show_stats walks it at exit.
void ForEachLiveAllocator(void (*fn)(Allocator* a, void* ctx), void* ctx) {
  ForkRegistry::ForEach(fn, ctx);
}
void UnregisterFromFork(Allocator* a) { ForkRegistry::Unregister(a); }

}  // namespace tslab::internal
