// SpinLock: the allocator's heap and cache locks.
//
// Why not std::mutex: the class (cache) lock is taken once per slab taken
// or recycled, and the shared heap's lock on every operation of a thread
// beyond the 63 exclusive shards; pthread_mutex_trylock/unlock (through
// the PLT, with their type checks) cost more than those critical sections.
// The sections are short (list pops, a CAS or two); the long ones are
// growing the arena (mprotect, once per 512 new slabs) and an epoch close
// holding a heap's lock while it scans, which an owner waits out only if
// it allocates meanwhile. A waiter spins with
// pause, then yields the CPU, so a preempted holder is not spun against
// for a whole time slice.
//
// Thread-safety: BasicLockable + try_lock (usable with std::lock_guard).
#ifndef TSLAB_SRC_ALLOCATOR_SPIN_LOCK_H_
#define TSLAB_SRC_ALLOCATOR_SPIN_LOCK_H_

#include <sched.h>

#include <atomic>
#include <cstdint>

namespace tslab::internal {

class SpinLock {
 public:
  bool try_lock() {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void lock() {
    if (try_lock()) return;
    LockSlow();
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

  // One step of a waiter's back-off: pause, then yield the CPU.
  static void Backoff(uint32_t spins) {
    if (spins < 64) {
      __builtin_ia32_pause();
    } else {
      sched_yield();
    }
  }

 private:
  __attribute__((noinline, cold)) void LockSlow() {
    for (uint32_t spins = 0;; ++spins) {
      if (try_lock()) return;
      Backoff(spins);
    }
  }

  std::atomic<bool> locked_{false};
};

}  // namespace tslab::internal

#endif  // TSLAB_SRC_ALLOCATOR_SPIN_LOCK_H_
