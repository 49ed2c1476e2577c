// The engine's cross-thread paths: frees by a thread that does not own the
// slab (remote frees, collected by the owner) and closes that visit other
// threads' heaps (the named races: engine_races_test.cc). Counts are exact
// once every thread has joined.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tests/test_util.h"
#include "tslab/tslab.h"

namespace tslab::test {
namespace {

template <typename Fn>
void OnOtherThread(Fn&& fn) {
  std::thread t(std::forward<Fn>(fn));
  t.join();
}

TEST(RemoteFree, AnotherThreadsFreesAreExactAndReused) {
  AllocatorPtr a = MakeAllocator();
  const tslab_epoch_id e = tslab_epoch_current(a.get());
  std::vector<LiveObject> objs;
  uint64_t seed = 1;
  AllocMany(a.get(), 2, e, 500, &objs, &seed);
  OnOtherThread([&] {
    for (size_t i = 0; i < objs.size(); i += 2) {
      const LiveObject& o = objs[i];
      EXPECT_EQ(o.h ? tslab_free_handle(a.get(), o.h) : tslab_free(a.get(), o.p),
                TSLAB_OK);
    }
  });
  std::vector<LiveObject> kept;
  for (size_t i = 1; i < objs.size(); i += 2) kept.push_back(objs[i]);
  ExpectIntact(kept);
  // Refused from either thread, once freed remotely (collected or not).
  EXPECT_EQ(tslab_free_handle(a.get(), objs[0].h), TSLAB_E_FREE_DOUBLE);
  EXPECT_EQ(tslab_free(a.get(), objs[2].p), TSLAB_E_FREE_DOUBLE);
  OnOtherThread([&] {
    EXPECT_EQ(tslab_free_handle(a.get(), objs[4].h), TSLAB_E_FREE_DOUBLE);
  });
  EXPECT_EQ(tslab_handle_ptr(a.get(), objs[0].h), nullptr);
  SlabGlobalStats g;
  ASSERT_EQ(tslab_stats_global(a.get(), &g), TSLAB_OK);
  EXPECT_EQ(g.double_frees, 3u);
  EXPECT_EQ(g.live_objects, 250u);
  // The owner reuses the remotely freed slots (collected on its slow path)
  // before it takes a new slab.
  SlabClassStats before;
  ASSERT_EQ(tslab_stats_class(a.get(), 2, &before), TSLAB_OK);
  std::vector<LiveObject> more;
  AllocMany(a.get(), 2, e, 250, &more, &seed);
  SlabClassStats after;
  ASSERT_EQ(tslab_stats_class(a.get(), 2, &after), TSLAB_OK);
  EXPECT_LE(after.new_slab_count, before.new_slab_count + 1);
  // A stale handle (slot reused) from another thread.
  OnOtherThread([&] {
    for (size_t i = 0; i < objs.size(); i += 2) {
      if (tslab_handle_ptr(a.get(), objs[i].h) == nullptr &&
          PageOf(objs[i].p) != 0) {
        const tslab_status st = tslab_free_handle(a.get(), objs[i].h);
        EXPECT_TRUE(st == TSLAB_E_FREE_STALE || st == TSLAB_E_FREE_DOUBLE) << st;
      }
    }
  });
  ExpectIntact(more);
  ExpectIntact(kept);
  FreeAll(a.get(), &more);
  FreeAll(a.get(), &kept);
  ExpectQuiescentInvariants(a.get());
}

// Pointer frees skip the generation unless a handle is out for the slot:
// refusals stay exact either way.
TEST(RemoteFree, GenerationsOnlyWhereHandlesAreOut) {
  AllocatorPtr a = MakeAllocator();
  const tslab_epoch_id e = tslab_epoch_current(a.get());
  void* p = tslab_malloc(a.get(), 64, e);
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(tslab_free(a.get(), p), TSLAB_OK);
  EXPECT_EQ(tslab_free(a.get(), p), TSLAB_E_FREE_DOUBLE);
  // A handle, its object freed by pointer, the slot reused by pointer: the
  // handle is refused and the new object survives.
  tslab_handle h = 0;
  void* q = tslab_alloc(a.get(), 64, e, &h);
  ASSERT_NE(q, nullptr);
  ASSERT_EQ(tslab_free(a.get(), q), TSLAB_OK);
  void* r = tslab_malloc(a.get(), 64, e);
  ASSERT_EQ(r, q) << "the lowest free slot is reused";
  const tslab_status st = tslab_free_handle(a.get(), h);
  EXPECT_EQ(st, TSLAB_E_FREE_STALE);
  EXPECT_EQ(tslab_handle_ptr(a.get(), h), nullptr);
  ASSERT_EQ(tslab_free(a.get(), r), TSLAB_OK);
  EXPECT_EQ(tslab_free_handle(a.get(), h), TSLAB_E_FREE_DOUBLE);
  // The same through another thread's frees.
  tslab_handle h2 = 0;
  void* q2 = tslab_alloc(a.get(), 64, e, &h2);
  OnOtherThread([&] { EXPECT_EQ(tslab_free(a.get(), q2), TSLAB_OK); });
  void* pad = tslab_malloc(a.get(), 64, e);  // the owner's slab refills
  EXPECT_NE(tslab_free_handle(a.get(), h2), TSLAB_OK);
  ASSERT_EQ(tslab_free(a.get(), pad), TSLAB_OK);
  ExpectQuiescentInvariants(a.get());
}

// A close made by one thread while other threads own the epoch's slabs:
// their slabs are disowned, the empty ones recycled, and the ones still
// holding objects are recycled by whichever thread frees their last one.
TEST(RemoteFree, CloseOfOtherThreadsSlabsThenFreesFromEveryThread) {
  AllocatorPtr a = MakeAllocator();
  const tslab_epoch_id e = tslab_epoch_advance(a.get());
  constexpr int kThreads = 3;
  std::vector<std::vector<LiveObject>> objs(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      uint64_t seed = 1000 * (t + 1);
      for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
        AllocMany(a.get(), c, e, 40, &objs[t], &seed);
      }
    });
  }
  for (auto& t : ts) t.join();
  ts.clear();
  ASSERT_EQ(tslab_epoch_close(a.get(), e), TSLAB_OK);
  EXPECT_EQ(tslab_epoch_get_state(a.get(), e), TSLAB_EPOCH_CLOSING);
  EXPECT_EQ(tslab_malloc(a.get(), 64, e), nullptr);
  OnOtherThread([&] { EXPECT_EQ(tslab_malloc(a.get(), 64, e), nullptr); });
  // Frees from threads other than the allocating ones.
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] { FreeAll(a.get(), &objs[(t + 1) % kThreads]); });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(tslab_epoch_get_state(a.get(), e), TSLAB_EPOCH_DRAINED);
  TslabSnapshot s = TakeSnapshot(a.get());
  EXPECT_EQ(s.epochs[e].slab_count, 0u);
  EXPECT_EQ(s.global.live_objects, 0u);
  ExpectQuiescentInvariants(s);
}

}  // namespace
}  // namespace tslab::test
