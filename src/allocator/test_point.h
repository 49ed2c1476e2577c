// Test points: named places on the allocator's slow paths where a test can
// run code of its own, to force an interleaving of threads that timing
// alone would almost never produce.
//
// Purpose: the engine's races (a value mirrored between a fetch_add and
// its store, a state decided and then published, a state checked and then
// acted on) have windows of a few instructions. A stress test hits them
// once in thousands of runs, if ever; a test point lets a test park one
// thread inside the window while others run, so a race test fails every
// time on code that has the race (tests/engine_races_test.cc).
//
// Invariants: with no hook installed (always, outside tests) a point does
// nothing but one load (a plain mov on x86-64) and a not-taken branch. Points sit on slow
// paths only (a new slab, a drained epoch, the cold allocation path, a
// free by another thread), never on the owner's fast paths. A hook must
// not call into tslab (the calling thread may hold an allocator lock or be
// inside its heap's exclusion); it may wait for other threads, and should
// bound the wait, since a correct allocator may make those threads wait
// for the parked one.
//
// Thread-safety: SetTestPointHook may be called from any thread; a point
// reached by several threads calls the hook in each of them.
#ifndef TSLAB_SRC_ALLOCATOR_TEST_POINT_H_
#define TSLAB_SRC_ALLOCATOR_TEST_POINT_H_

#include <atomic>
#include <cstdint>

namespace tslab::internal {

enum class TestPoint : uint32_t {
  // NewSlab: the epoch's slab count was raised, its region mirror not yet.
  kSlabCountMirror,
  // MaybeDrained: the epoch was found empty and CLOSING and marked
  // DRAINED, its region mirror not yet written.
  kDrainedDecided,
  // AllocSlow: the epoch was checked ACTIVE, no slot taken yet.
  kAllocSawActive,
  // FreeRemote: the slab's tag was read, its remote word not yet CASed.
  kRemoteFreeTagRead,
};

using TestPointHook = void (*)(TestPoint point, uint32_t epoch, uint32_t cls);

inline std::atomic<TestPointHook> g_test_point_hook{nullptr};

// nullptr removes the hook.
inline void SetTestPointHook(TestPointHook hook) {
  g_test_point_hook.store(hook, std::memory_order_release);
}

inline void AtTestPoint(TestPoint point, uint32_t epoch, uint32_t cls) {
  const TestPointHook hook = g_test_point_hook.load(std::memory_order_acquire);
  if (__builtin_expect(hook != nullptr, 0)) hook(point, epoch, cls);
}

}  // namespace tslab::internal

#endif  // TSLAB_SRC_ALLOCATOR_TEST_POINT_H_
