// SpinLock: the allocator's heap and cache locks.
//
// Why not std::mutex: a slow path takes a heap lock every few allocations
// in a churning workload, and pthread_mutex_trylock/unlock (through the
// PLT, with their type checks) cost more than the critical section. The
// sections are short (list pops, a CAS or two); the one long one, growing
// the arena (mprotect), happens once per 512 new slabs. A waiter spins with
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
