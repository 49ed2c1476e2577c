// The races the engine issue named, each proven by a test that fails on
// the engine that had it (before 41debce's rework; see
// tests/old_engine/README.md for how to run these tests against it).
//
// Races 1-3 have windows of a few instructions: the deterministic tests
// park one thread inside the window at a test point (test_point.h) while
// the racing thread runs, then check the state at quiescence. A correct
// engine may make the racing thread wait for the parked one (a lock, the
// heap exclusion); the park then ends after kParkTimeout and the racing
// thread goes on. The stress tests run the same paths at full speed.
#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "src/allocator/test_point.h"
#include "tests/test_util.h"
#include "tslab/stats_region.h"
#include "tslab/tslab.h"

namespace tslab::test {
namespace {

using internal::TestPoint;
using Clock = std::chrono::steady_clock;

// How long a parked thread waits for the test to release it: long enough
// for the racing thread to finish where nothing holds it back (a few µs of
// work), short enough that a correct engine's wait costs little.
constexpr auto kParkTimeout = std::chrono::milliseconds(400);

// Waits until flag is set or the timeout passes; returns the flag.
bool WaitFor(const std::atomic<bool>& flag, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!flag.load()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

// One parked thread at a time: the first thread that reaches `point` for
// (epoch, cls) waits there until Release() or kParkTimeout.
struct ParkState {
  std::atomic<int> point{-1};
  std::atomic<uint32_t> epoch{0};
  std::atomic<uint32_t> cls{0};
  std::atomic<int> hits{0};
  std::atomic<bool> parked{false};
  std::atomic<bool> release{false};
  std::atomic<bool> timed_out{false};
};
ParkState g_park;

void ParkHook(TestPoint point, uint32_t epoch, uint32_t cls) {
  if (static_cast<int>(point) != g_park.point.load() ||
      epoch != g_park.epoch.load() || cls != g_park.cls.load() ||
      g_park.hits.fetch_add(1) != 0) {
    return;
  }
  g_park.parked.store(true);
  if (!WaitFor(g_park.release, kParkTimeout)) g_park.timed_out.store(true);
}

class ScopedPark {
 public:
  ScopedPark(TestPoint point, uint32_t epoch, uint32_t cls) {
    g_park.epoch.store(epoch);
    g_park.cls.store(cls);
    g_park.hits.store(0);
    g_park.parked.store(false);
    g_park.release.store(false);
    g_park.timed_out.store(false);
    g_park.point.store(static_cast<int>(point));
    internal::SetTestPointHook(&ParkHook);
  }
  ~ScopedPark() {
    Release();
    internal::SetTestPointHook(nullptr);
    g_park.point.store(-1);
  }
  ScopedPark(const ScopedPark&) = delete;
  ScopedPark& operator=(const ScopedPark&) = delete;

  bool WaitParked() {
    return WaitFor(g_park.parked, std::chrono::milliseconds(10000));
  }
  void Release() { g_park.release.store(true); }
  // Whether the parked thread gave up waiting (the engine held the racing
  // thread back until the parked one went on).
  bool TimedOut() const { return g_park.timed_out.load(); }
};

uint32_t ClassOf(uint32_t size) {
  for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
    if (kSpecClassSizes[c] >= size) return c;
  }
  return TSLAB_NUM_CLASSES;
}

// Race 1: the epoch's slab_count mirror in the region was stored from a
// value loaded after the fetch_add, under per-class locks; a second class's
// new slab landing between the load and the store was lost from the
// region. Here class 0's NewSlab is parked in that window while class 2
// takes a new slab of the same epoch.
TEST(EngineRaces, SlabCountMirrorKeepsAnInterleavedNewSlab) {
  AllocatorPtr a = MakeAllocator();
  const tslab_epoch_id e = tslab_epoch_advance(a.get());
  void* p0 = nullptr;
  void* p2 = nullptr;
  {
    ScopedPark park(TestPoint::kSlabCountMirror, e, ClassOf(64));
    std::thread first([&] { p0 = tslab_malloc(a.get(), 64, e); });
    ASSERT_TRUE(park.WaitParked());
    std::thread second([&] { p2 = tslab_malloc(a.get(), 128, e); });
    second.join();
    park.Release();
    first.join();
  }
  ASSERT_NE(p0, nullptr);
  ASSERT_NE(p2, nullptr);
  TslabSnapshot s = TakeSnapshot(a.get());
  EXPECT_EQ(s.epochs[e].slab_count, 2u) << "a new slab lost from the mirror";
  ASSERT_EQ(tslab_free(a.get(), p0), TSLAB_OK);
  ASSERT_EQ(tslab_free(a.get(), p2), TSLAB_OK);
  ASSERT_EQ(tslab_epoch_close(a.get(), e), TSLAB_OK);
  s = TakeSnapshot(a.get());
  EXPECT_EQ(s.epochs[e].slab_count, 0u);
  EXPECT_EQ(s.epochs[e].state, uint32_t{TSLAB_EPOCH_DRAINED});
}

// Race 2: the last free of a closed epoch marked it DRAINED and then wrote
// the region's state without advance_mu_; a ring wrap that reopened the
// slot in between had its ACTIVE overwritten by DRAINED in the region.
// Here the drain is parked between its decision and the region store while
// another thread advances around the ring onto the slot.
TEST(EngineRaces, DrainedIsNotPublishedOverAReopen) {
  AllocatorPtr a = MakeAllocator();
  const tslab_epoch_id e = tslab_epoch_current(a.get());
  void* x = tslab_malloc(a.get(), 64, e);
  ASSERT_NE(x, nullptr);
  tslab_epoch_advance(a.get());
  ASSERT_EQ(tslab_epoch_close(a.get(), e), TSLAB_OK);
  ASSERT_EQ(tslab_epoch_get_state(a.get(), e), TSLAB_EPOCH_CLOSING);
  std::atomic<bool> wrapped{false};
  {
    ScopedPark park(TestPoint::kDrainedDecided, e, 0);
    std::thread freer([&] { EXPECT_EQ(tslab_free(a.get(), x), TSLAB_OK); });
    ASSERT_TRUE(park.WaitParked());
    std::thread advancer([&] {
      while (tslab_epoch_current(a.get()) != e) tslab_epoch_advance(a.get());
      wrapped.store(true);
    });
    WaitFor(wrapped, std::chrono::milliseconds(200));
    park.Release();
    freer.join();
    advancer.join();
  }
  ASSERT_EQ(tslab_epoch_current(a.get()), e);
  EXPECT_EQ(tslab_epoch_get_state(a.get(), e), TSLAB_EPOCH_ACTIVE);
  TslabSnapshot s = TakeSnapshot(a.get());
  EXPECT_EQ(s.epochs[e].state, uint32_t{TSLAB_EPOCH_ACTIVE})
      << "the region says " << s.epochs[e].state
      << " for the reopened current epoch";
}

// Race 3: AllocSlow checked ACTIVE under its heap lock and raised the
// epoch's slab count only later, in NewSlab; meanwhile a close, and the
// free of the epoch's last object in another class, found the count at 0
// and marked the epoch DRAINED while the allocation landed in it. Here the
// allocation (class 7) is parked after its check while the close runs and
// the last object (class 2) is freed.
TEST(EngineRaces, NoDrainWhileAnAllocationIsLanding) {
  AllocatorPtr a = MakeAllocator();
  const tslab_epoch_id e = tslab_epoch_advance(a.get());
  void* x = tslab_malloc(a.get(), 128, e);
  ASSERT_NE(x, nullptr);
  void* landed = nullptr;
  tslab_status landed_err = TSLAB_OK;
  {
    ScopedPark park(TestPoint::kAllocSawActive, e, ClassOf(768));
    std::thread allocator([&] {
      landed = tslab_malloc(a.get(), 768, e);
      if (landed == nullptr) landed_err = tslab_last_error();
    });
    ASSERT_TRUE(park.WaitParked());
    std::thread closer(
        [&] { EXPECT_EQ(tslab_epoch_close(a.get(), e), TSLAB_OK); });
    // Long enough for a close that does not wait for the parked
    // allocation to scan the classes below 7 (microseconds).
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_EQ(tslab_free(a.get(), x), TSLAB_OK);
    park.Release();
    allocator.join();
    closer.join();
  }
  TslabSnapshot s = TakeSnapshot(a.get());
  if (landed != nullptr) {
    EXPECT_EQ(s.epochs[e].state, uint32_t{TSLAB_EPOCH_CLOSING})
        << "an epoch holding a live object is marked "
        << s.epochs[e].state;
    EXPECT_EQ(s.epochs[e].slab_count, 1u);
    ASSERT_EQ(tslab_free(a.get(), landed), TSLAB_OK);
  } else {
    EXPECT_EQ(landed_err, TSLAB_E_EPOCH_CLOSED);
  }
  s = TakeSnapshot(a.get());
  EXPECT_EQ(s.epochs[e].state, uint32_t{TSLAB_EPOCH_DRAINED});
  EXPECT_EQ(s.epochs[e].slab_count, 0u);
  EXPECT_EQ(s.global.live_objects, 0u);
}

// Race 5: a free by another thread queued the slab on a stack named by a
// tag it read before its CAS. If a racing double free let the slab be
// recycled and re-owned by another thread's heap in between, the queue
// was the old owner's, and the old owner then allocated from a slab that
// another heap owned (its lists corrupted). Here the second free of x is
// parked after its tag read while x's owner frees it, closes and reopens
// its epoch, and another thread fills the recycled slab; then the old
// owner allocates in that epoch and class.
TEST(EngineRaces, StaleTagOfARacingDoubleFreeDoesNotCrossHeaps) {
  AllocatorPtr a = MakeAllocator();
  const tslab_epoch_id e = tslab_epoch_current(a.get());
  void* x = tslab_malloc(a.get(), 64, e);
  ASSERT_NE(x, nullptr);
  std::atomic<bool> filled{false}, done{false};
  std::vector<void*> refill;
  {
    ScopedPark park(TestPoint::kRemoteFreeTagRead, e, ClassOf(64));
    std::thread second_free([&] { (void)tslab_free(a.get(), x); });
    ASSERT_TRUE(park.WaitParked());
    ASSERT_EQ(tslab_free(a.get(), x), TSLAB_OK);  // the owner's free
    tslab_epoch_advance(a.get());
    ASSERT_EQ(tslab_epoch_close(a.get(), e), TSLAB_OK);
    ASSERT_EQ(tslab_epoch_get_state(a.get(), e), TSLAB_EPOCH_DRAINED);
    while (tslab_epoch_current(a.get()) != e) tslab_epoch_advance(a.get());
    // Another thread's heap takes the recycled slab and fills it; it stays
    // alive, so its heap keeps the slab.
    std::thread other([&] {
      for (uint32_t i = 0; i < ExpectedObjectsPerSlab(ClassOf(64)); ++i) {
        refill.push_back(tslab_malloc(a.get(), 64, e));
      }
      filled.store(true);
      while (!done.load()) std::this_thread::yield();
    });
    ASSERT_TRUE(WaitFor(filled, std::chrono::milliseconds(10000)));
    ASSERT_EQ(PageOf(refill.front()), PageOf(x)) << "the slab was not reused";
    park.Release();
    second_free.join();
    void* mine = tslab_malloc(a.get(), 64, e);
    ASSERT_NE(mine, nullptr);
    EXPECT_NE(PageOf(mine), PageOf(x))
        << "the old owner allocated from a slab another thread's heap owns";
    done.store(true);
    other.join();
  }
}

// Race 1 of the issue: the epoch's slab_count mirror in the region was
// stored from a value loaded after fetch_add/fetch_sub under different
// locks; with several classes taking new slabs at once the region could
// end wrong. Now it is mirrored by deltas: exact at quiescence.
TEST(EngineRaces, EpochSlabCountMirrorIsExactAfterParallelClasses) {
  AllocatorPtr a = MakeAllocator();
  for (int round = 0; round < 20; ++round) {
    const tslab_epoch_id e = tslab_epoch_advance(a.get());
    std::vector<std::vector<void*>> ptrs(4);
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t) {
      ts.emplace_back([&, t] {
        const uint32_t cls = static_cast<uint32_t>(t) * 2;
        for (int i = 0; i < 600; ++i) {
          void* p = tslab_malloc(a.get(), kSpecClassSizes[cls], e);
          ASSERT_NE(p, nullptr);
          ptrs[t].push_back(p);
        }
      });
    }
    for (auto& t : ts) t.join();
    TslabSnapshot s = TakeSnapshot(a.get());
    uint64_t owned = 0;
    for (const auto& k : s.classes) owned += k.total_partial_slabs + k.total_full_slabs;
    ASSERT_EQ(s.epochs[e].slab_count, owned) << "round " << round;
    ts.clear();
    for (int t = 0; t < 4; ++t) {
      ts.emplace_back([&, t] {
        for (void* p : ptrs[(t + 1) % 4]) ASSERT_EQ(tslab_free(a.get(), p), TSLAB_OK);
      });
    }
    for (auto& t : ts) t.join();
    ASSERT_EQ(tslab_epoch_close(a.get(), e), TSLAB_OK);
    s = TakeSnapshot(a.get());
    ASSERT_EQ(s.epochs[e].slab_count, 0u);
    ASSERT_EQ(s.epochs[e].state, uint32_t{TSLAB_EPOCH_DRAINED});
  }
  ExpectQuiescentInvariants(a.get());
}

// Races 2 and 3: DRAINED was stored without advance_mu_ (a reopen in
// between was overwritten), and a close could mark an epoch DRAINED while
// an allocation was landing in it. Closes, last frees from other threads
// and ring wraps run together; at quiescence every state is consistent:
// DRAINED only when empty, ACTIVE for the current slot, the region agrees.
TEST(EngineRaces, CloseFreeAndWrapKeepStatesConsistent) {
  AllocatorPtr a = MakeAllocator();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> allocated_into_closed{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 2; ++t) {
    ts.emplace_back([&] {
      std::vector<void*> mine;
      while (!stop.load()) {
        const tslab_epoch_id e = tslab_epoch_current(a.get());
        for (int i = 0; i < 64; ++i) {
          TslabEpochStats before, after;
          ASSERT_EQ(tslab_stats_epoch(a.get(), e, &before), TSLAB_OK);
          void* p = tslab_malloc(a.get(), 128, e);
          if (p == nullptr) break;
          ASSERT_EQ(tslab_stats_epoch(a.get(), e, &after), TSLAB_OK);
          // The slot may have been closed, reopened (a ring wrap moves the
          // old life's slabs to drain lists) and drained since: only the
          // same life (era) drained while holding p is wrong.
          if (after.state == TSLAB_EPOCH_DRAINED && after.era == before.era &&
              before.state == TSLAB_EPOCH_ACTIVE) {
            allocated_into_closed.fetch_add(1);
          }
          mine.push_back(p);
        }
        for (void* p : mine) EXPECT_EQ(tslab_free(a.get(), p), TSLAB_OK);
        mine.clear();
      }
    });
  }
  for (int i = 0; i < 3000; ++i) {
    const tslab_epoch_id old = tslab_epoch_current(a.get());
    tslab_epoch_advance(a.get());
    ASSERT_EQ(tslab_epoch_close(a.get(), old), TSLAB_OK);
  }
  stop.store(true);
  for (auto& t : ts) t.join();
  EXPECT_EQ(allocated_into_closed.load(), 0u)
      << "an allocation landed in an epoch marked DRAINED";
  TslabSnapshot s = TakeSnapshot(a.get());
  for (int e = 0; e < TSLAB_NUM_EPOCHS; ++e) {
    EXPECT_EQ(s.epochs[e].state, uint32_t(tslab_epoch_get_state(a.get(), e))) << e;
    if (s.epochs[e].state == TSLAB_EPOCH_DRAINED) {
      EXPECT_EQ(s.epochs[e].slab_count, 0u) << e;
      EXPECT_EQ(s.epochs[e].live_objects, 0u) << e;
    }
  }
  EXPECT_EQ(s.epochs[tslab_epoch_current(a.get())].state,
            uint32_t{TSLAB_EPOCH_ACTIVE});
  EXPECT_EQ(s.global.live_objects, 0u);
  ExpectQuiescentInvariants(s);
}

// Race 4: a thread's shard was released at exit while the thread kept its
// index, so a later pthread-key destructor that freed tslab objects wrote
// non-atomic adds into a shard (and now a heap) that a new thread owned.
// The new thread here takes the released shard and allocates while the
// old thread's destructor frees.
struct ExitFrees {
  tslab_allocator* a;
  std::vector<void*> ptrs;
  std::atomic<bool>* new_thread_running;
};
pthread_key_t g_exit_key;

TEST(EngineRaces, FreesInAKeyDestructorAfterTheShardIsReleased) {
  AllocatorPtr a = MakeAllocator();
  std::atomic<bool> running{false};
  std::atomic<bool> stop{false};
  std::atomic<bool> body_done{false};
  ExitFrees ef{a.get(), {}, &running};
  std::thread old_thread([&] {
    // First tslab call: the library's shard key exists before ours, so its
    // destructor (the shard release) runs before ours.
    for (int i = 0; i < 2000; ++i) ef.ptrs.push_back(tslab_malloc(a.get(), 64, 0));
    ASSERT_EQ(pthread_key_create(&g_exit_key, [](void* arg) {
                auto* x = static_cast<ExitFrees*>(arg);
                for (int i = 0; i < 2000 && !x->new_thread_running->load(); ++i) {
                  std::this_thread::sleep_for(std::chrono::milliseconds(1));
                }
                for (void* p : x->ptrs) {
                  if (tslab_free(x->a, p) != TSLAB_OK) std::abort();
                }
              }),
              0);
    pthread_setspecific(g_exit_key, &ef);
    body_done.store(true);
  });
  // Started after the old thread finished its body: it gets the shard the
  // old thread releases (the lowest free one) and allocates meanwhile.
  // It allocates and frees the same class and epoch as the destructor's
  // frees, so both write the same counters (frees[0][0]): with both on one
  // shard's non-atomic adds, updates are lost.
  std::vector<void*> fresh;
  uint64_t new_frees = 0;
  std::thread new_thread([&] {
    while (!body_done.load()) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    while (!stop.load() && fresh.size() < 200000) {
      void* p = tslab_malloc(a.get(), 64, 0);
      void* q = tslab_malloc(a.get(), 64, 0);
      if (p == nullptr || q == nullptr) break;
      fresh.push_back(p);
      if (tslab_free(a.get(), q) != TSLAB_OK) break;
      ++new_frees;
      running.store(true);
    }
  });
  old_thread.join();
  stop.store(true);
  new_thread.join();
  pthread_key_delete(g_exit_key);
  SlabGlobalStats g;
  ASSERT_EQ(tslab_stats_global(a.get(), &g), TSLAB_OK);
  EXPECT_EQ(g.live_objects, fresh.size());
  EXPECT_EQ(g.total_frees, 2000u + new_frees);
  EXPECT_EQ(g.total_allocs, 2000u + fresh.size() + new_frees);
  for (void* p : fresh) ASSERT_EQ(tslab_free(a.get(), p), TSLAB_OK);
  ExpectQuiescentInvariants(a.get());
}

}  // namespace
}  // namespace tslab::test
