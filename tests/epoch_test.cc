// Epochs: the ring of 16 slots, their states (IDLE, ACTIVE, CLOSING,
// DRAINED), close with and without live objects, recycling of a closed
// epoch's slab when its last object is freed, and the ring wrap onto slots
// still holding objects (CLOSING and ACTIVE ones).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "tests/test_util.h"
#include "tslab/tslab.h"

namespace tslab::test {
namespace {

class Epochs : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NE(a_, nullptr); }
  tslab_allocator* a() { return a_.get(); }
  tslab_epoch_state State(tslab_epoch_id e) {
    return tslab_epoch_get_state(a(), e);
  }
  // n objects of class cls in epoch e, appended to *out.
  void AllocMany(uint32_t cls, tslab_epoch_id e, uint32_t n,
                 std::vector<LiveObject>* out) {
    test::AllocMany(a(), cls, e, n, out, &seed_);
  }
  // Advances until e is current again; returns how many advances it took.
  uint32_t AdvanceTo(tslab_epoch_id e) {
    uint32_t n = 0;
    do {
      ++n;
    } while (tslab_epoch_advance(a()) != e);
    return n;
  }

  MadviseRecorder madv_;
  AllocatorPtr a_ = MakeAllocator(RecorderOptions(&madv_));
  uint64_t seed_ = 1;
};

TEST_F(Epochs, FreshAllocatorHasEpochZeroOpen) {
  EXPECT_EQ(tslab_epoch_current(a()), 0u);
  EXPECT_EQ(State(0), TSLAB_EPOCH_ACTIVE);
  for (tslab_epoch_id e = 1; e < TSLAB_NUM_EPOCHS; ++e) {
    EXPECT_EQ(State(e), TSLAB_EPOCH_IDLE) << e;
  }
  TslabSnapshot s = TakeSnapshot(a());
  EXPECT_EQ(s.global.current_epoch, 0u);
  EXPECT_EQ(s.global.active_epoch_count, 1u);
  EXPECT_EQ(s.epochs[0].era, 1u);
  EXPECT_GT(s.epochs[0].open_ns, 0u);
  EXPECT_EQ(s.epochs[0].close_ns, 0u);
  ExpectQuiescentInvariants(s);
}

TEST_F(Epochs, BadArguments) {
  EXPECT_EQ(tslab_epoch_current(nullptr), TSLAB_INVALID_EPOCH);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_epoch_advance(nullptr), TSLAB_INVALID_EPOCH);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_epoch_close(nullptr, 0), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_epoch_close(a(), TSLAB_NUM_EPOCHS), TSLAB_E_EPOCH_RANGE);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_EPOCH_RANGE);
  EXPECT_EQ(tslab_epoch_close(a(), TSLAB_INVALID_EPOCH), TSLAB_E_EPOCH_RANGE);
  EXPECT_EQ(tslab_epoch_get_state(a(), TSLAB_NUM_EPOCHS), TSLAB_EPOCH_IDLE);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_EPOCH_RANGE);
  EXPECT_EQ(tslab_epoch_get_state(nullptr, 0), TSLAB_EPOCH_IDLE);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_INVALID_ARG);
  TslabEpochStats es;
  EXPECT_EQ(tslab_stats_epoch(a(), TSLAB_NUM_EPOCHS, &es), TSLAB_E_EPOCH_RANGE);
  EXPECT_EQ(tslab_stats_epoch(nullptr, 0, &es), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_stats_epoch(a(), 0, nullptr), TSLAB_E_INVALID_ARG);
  // None of it moved or closed anything.
  TslabSnapshot s = TakeSnapshot(a());
  EXPECT_EQ(s.global.epoch_advances, 0u);
  EXPECT_EQ(s.global.epoch_closes, 0u);
  EXPECT_EQ(State(0), TSLAB_EPOCH_ACTIVE);
}

TEST_F(Epochs, AdvanceWalksTheRingAndOpensEachSlot) {
  tslab_epoch_id cur = tslab_epoch_current(a());
  for (uint32_t i = 1; i <= 2 * TSLAB_NUM_EPOCHS + 3; ++i) {
    tslab_epoch_id next = tslab_epoch_advance(a());
    EXPECT_EQ(next, (cur + 1) % TSLAB_NUM_EPOCHS);
    EXPECT_EQ(tslab_epoch_current(a()), next);
    EXPECT_EQ(State(next), TSLAB_EPOCH_ACTIVE);
    cur = next;
    TslabSnapshot s = TakeSnapshot(a());
    EXPECT_EQ(s.global.epoch_advances, i);
    EXPECT_EQ(s.global.current_epoch, next);
  }
  TslabSnapshot s = TakeSnapshot(a());
  EXPECT_EQ(s.global.active_epoch_count, uint32_t{TSLAB_NUM_EPOCHS});
  // Nothing was allocated: no wrap met a live object; an open slot is not
  // reopened (its era stays 1).
  EXPECT_EQ(s.global.epoch_wraps_live, 0u);
  for (const TslabEpochStats& es : s.epochs) EXPECT_EQ(es.era, 1u);
  ExpectQuiescentInvariants(s);
}

TEST_F(Epochs, AllocationIntoAnIdleSlotOpensIt) {
  const tslab_epoch_id e = 5;
  ASSERT_EQ(State(e), TSLAB_EPOCH_IDLE);
  void* p = tslab_malloc(a(), 64, e);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(State(e), TSLAB_EPOCH_ACTIVE);
  EXPECT_EQ(tslab_epoch_current(a()), 0u) << "opening is not advancing";
  TslabEpochStats es;
  ASSERT_EQ(tslab_stats_epoch(a(), e, &es), TSLAB_OK);
  EXPECT_EQ(es.era, 1u);
  EXPECT_EQ(es.live_objects, 1u);
  EXPECT_EQ(es.live_bytes, 64u);
  EXPECT_EQ(tslab_free(a(), p), TSLAB_OK);
}

TEST_F(Epochs, ClosingAnIdleSlotDrainsIt) {
  ASSERT_EQ(tslab_epoch_close(a(), 9), TSLAB_OK);
  EXPECT_EQ(State(9), TSLAB_EPOCH_DRAINED);
  EXPECT_EQ(tslab_malloc(a(), 64, 9), nullptr);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_EPOCH_CLOSED);
  ExpectQuiescentInvariants(a());
}

// Empty slabs of the closed epoch are recycled and madvised by the close
// itself: exactly the pages its objects used.
TEST_F(Epochs, CloseOfAnEmptiedEpochRecyclesEverySlab) {
  const tslab_epoch_id e = tslab_epoch_advance(a());
  std::vector<LiveObject> objs;
  for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
    AllocMany(c, e, ExpectedObjectsPerSlab(c) * 2 + 1, &objs);  // 3 slabs
  }
  const std::set<uintptr_t> pages = PagesOf(objs);
  ASSERT_EQ(pages.size(), 3u * TSLAB_NUM_CLASSES);
  FreeAll(a(), &objs);
  TslabSnapshot before = TakeSnapshot(a());
  EXPECT_EQ(before.epochs[e].slab_count, pages.size()) << "freed, not closed";
  EXPECT_EQ(State(e), TSLAB_EPOCH_ACTIVE);
  EXPECT_TRUE(madv_.Calls().empty());

  ASSERT_EQ(tslab_epoch_close(a(), e), TSLAB_OK);
  EXPECT_EQ(State(e), TSLAB_EPOCH_DRAINED);
  TslabSnapshot after = TakeSnapshot(a());
  EXPECT_EQ(after.epochs[e].slab_count, 0u);
  EXPECT_EQ(after.epochs[e].close_calls, 1u);
  EXPECT_GE(after.epochs[e].close_ns, after.epochs[e].open_ns);
  EXPECT_EQ(after.global.epoch_closes, before.global.epoch_closes + 1);
  EXPECT_EQ(after.global.total_slabs_recycled,
            before.global.total_slabs_recycled + pages.size());
  EXPECT_EQ(after.global.net_slabs, before.global.net_slabs - pages.size());
  EXPECT_EQ(madv_.Pages(), pages);
  EXPECT_EQ(madv_.Bytes(), pages.size() * PageSize()) << "a page twice";
  EXPECT_EQ(after.global.total_madvise_calls, madv_.Calls().size());
  for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
    EXPECT_EQ(after.classes[c].epoch_close_scanned_slabs, 3u);
    EXPECT_EQ(after.classes[c].epoch_close_recycled_slabs, 3u);
  }
  ExpectQuiescentInvariants(after);

  // Closing again is harmless: counted, nothing more recycled.
  ASSERT_EQ(tslab_epoch_close(a(), e), TSLAB_OK);
  TslabSnapshot again = TakeSnapshot(a());
  EXPECT_EQ(State(e), TSLAB_EPOCH_DRAINED);
  EXPECT_EQ(again.epochs[e].close_calls, 2u);
  EXPECT_EQ(again.global.epoch_closes, after.global.epoch_closes + 1);
  EXPECT_EQ(again.global.total_slabs_recycled, after.global.total_slabs_recycled);
  EXPECT_EQ(again.global.total_madvise_calls, madv_.Calls().size());
  EXPECT_EQ(madv_.Bytes(), pages.size() * PageSize());
  ExpectQuiescentInvariants(again);
}

// A closed epoch's slab that still holds objects is recycled (and its page
// madvised) when, and only when, its last object is freed; the epoch is
// CLOSING until the last slab goes, then DRAINED.
TEST_F(Epochs, SlabRecycledWhenItsLastObjectIsFreed) {
  const tslab_epoch_id e = tslab_epoch_advance(a());
  std::vector<LiveObject> objs;
  AllocMany(0, e, ExpectedObjectsPerSlab(0) * 2 + 5, &objs);
  AllocMany(6, e, ExpectedObjectsPerSlab(6) + 2, &objs);
  std::map<uintptr_t, uint32_t> left;  // live objects per page
  for (const LiveObject& o : objs) ++left[PageOf(o.p)];
  ASSERT_EQ(left.size(), 5u);

  ASSERT_EQ(tslab_epoch_close(a(), e), TSLAB_OK);
  EXPECT_EQ(State(e), TSLAB_EPOCH_CLOSING);
  EXPECT_TRUE(madv_.Calls().empty()) << "no slab was empty at close";
  EXPECT_EQ(tslab_malloc(a(), 64, e), nullptr);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_EPOCH_CLOSED);

  // Free round-robin over the pages so that slabs empty one at a time,
  // late; check the recycling after every free.
  std::map<uintptr_t, std::vector<LiveObject>> by_page;
  for (const LiveObject& o : objs) by_page[PageOf(o.p)].push_back(o);
  uint64_t recycled = TakeSnapshot(a()).global.total_slabs_recycled;
  std::set<uintptr_t> emptied;
  bool more = true;
  while (more) {
    more = false;
    for (auto& [page, list] : by_page) {
      if (list.empty()) continue;
      LiveObject o = list.back();
      list.pop_back();
      more = true;
      ASSERT_EQ(CheckPattern(o.p, o.size, o.seed), o.size);
      ASSERT_EQ(tslab_free_handle(a(), o.h), TSLAB_OK);
      if (--left[page] == 0) {
        emptied.insert(page);
        ++recycled;
      }
      TslabSnapshot s = TakeSnapshot(a());
      ASSERT_EQ(s.global.total_slabs_recycled, recycled);
      ASSERT_EQ(madv_.Pages(), emptied);
      ASSERT_EQ(s.epochs[e].slab_count, left.size() - emptied.size());
      const bool all = emptied.size() == left.size();
      ASSERT_EQ(State(e), all ? TSLAB_EPOCH_DRAINED : TSLAB_EPOCH_CLOSING);
    }
  }
  ExpectQuiescentInvariants(a());
}

// The ring wraps onto a CLOSING slot that still holds objects: the slot
// reopens (new era), the old life's slabs drain and are recycled as their
// objects are freed, the old objects stay intact and freeable.
TEST_F(Epochs, WrapOntoAClosingSlotWithLiveObjects) {
  const tslab_epoch_id e = tslab_epoch_advance(a());
  std::vector<LiveObject> old_life;
  AllocMany(1, e, ExpectedObjectsPerSlab(1) + 3, &old_life);   // 2 slabs
  AllocMany(7, e, ExpectedObjectsPerSlab(7) * 2, &old_life);   // 2 slabs
  const std::set<uintptr_t> old_pages = PagesOf(old_life);
  ASSERT_EQ(tslab_epoch_close(a(), e), TSLAB_OK);
  ASSERT_EQ(State(e), TSLAB_EPOCH_CLOSING);
  TslabSnapshot before = TakeSnapshot(a());

  EXPECT_EQ(AdvanceTo(e), uint32_t{TSLAB_NUM_EPOCHS});
  EXPECT_EQ(State(e), TSLAB_EPOCH_ACTIVE);
  TslabSnapshot wrapped = TakeSnapshot(a());
  EXPECT_EQ(wrapped.global.epoch_wraps_live,
            before.global.epoch_wraps_live + 1);
  EXPECT_EQ(wrapped.epochs[e].era, before.epochs[e].era + 1);
  EXPECT_EQ(wrapped.epochs[e].slab_count, 0u) << "the new life owns nothing";
  EXPECT_EQ(wrapped.classes[1].draining_slabs, 2u);
  EXPECT_EQ(wrapped.classes[7].draining_slabs, 2u);
  EXPECT_EQ(wrapped.epochs[e].live_objects, old_life.size());
  ExpectQuiescentInvariants(wrapped);
  ExpectIntact(old_life);

  // The new life allocates on fresh slabs, never on the draining ones.
  std::vector<LiveObject> new_life;
  AllocMany(1, e, 5, &new_life);
  AllocMany(7, e, 5, &new_life);
  for (const LiveObject& o : new_life) {
    EXPECT_EQ(old_pages.count(PageOf(o.p)), 0u);
  }
  TslabSnapshot mixed = TakeSnapshot(a());
  EXPECT_EQ(mixed.epochs[e].live_objects, old_life.size() + new_life.size());
  ExpectQuiescentInvariants(mixed);

  // Draining slabs are recycled as they empty, and only those pages.
  FreeAll(a(), &old_life);
  TslabSnapshot drained = TakeSnapshot(a());
  EXPECT_EQ(drained.classes[1].draining_slabs, 0u);
  EXPECT_EQ(drained.classes[7].draining_slabs, 0u);
  EXPECT_EQ(drained.global.total_slabs_recycled,
            mixed.global.total_slabs_recycled + old_pages.size());
  EXPECT_EQ(madv_.Pages(), old_pages);
  EXPECT_EQ(State(e), TSLAB_EPOCH_ACTIVE) << "the new life is still open";
  EXPECT_EQ(drained.epochs[e].live_objects, new_life.size());
  ExpectQuiescentInvariants(drained);
  ExpectIntact(new_life);

  // The new life closes and drains like any epoch.
  FreeAll(a(), &new_life);
  ASSERT_EQ(tslab_epoch_close(a(), e), TSLAB_OK);
  EXPECT_EQ(State(e), TSLAB_EPOCH_DRAINED);
  ExpectQuiescentInvariants(a());
}

// The ring wraps onto a slot that was never closed: it stays open, keeps
// its objects and its era, and the wrap is counted.
TEST_F(Epochs, WrapOntoAnActiveSlotWithLiveObjects) {
  const tslab_epoch_id e = tslab_epoch_current(a());
  std::vector<LiveObject> objs;
  AllocMany(3, e, 4, &objs);
  TslabSnapshot before = TakeSnapshot(a());
  EXPECT_EQ(AdvanceTo(e), uint32_t{TSLAB_NUM_EPOCHS});
  TslabSnapshot after = TakeSnapshot(a());
  EXPECT_EQ(State(e), TSLAB_EPOCH_ACTIVE);
  EXPECT_EQ(after.global.epoch_wraps_live, before.global.epoch_wraps_live + 1);
  EXPECT_EQ(after.epochs[e].era, before.epochs[e].era);
  EXPECT_EQ(after.epochs[e].slab_count, before.epochs[e].slab_count);
  EXPECT_EQ(after.epochs[e].live_objects, objs.size());
  ExpectIntact(objs);
  // Same lifetime: new objects share the old slab.
  AllocMany(3, e, 1, &objs);
  EXPECT_EQ(PageOf(objs.back().p), PageOf(objs.front().p));
  ExpectQuiescentInvariants(a());
  FreeAll(a(), &objs);
  ASSERT_EQ(tslab_epoch_close(a(), e), TSLAB_OK);
  EXPECT_EQ(State(e), TSLAB_EPOCH_DRAINED);
}

// A never-closed slot whose objects were all freed holds no objects: the
// wrap onto it is not a live one.
TEST_F(Epochs, WrapOntoAnActiveSlotWhoseObjectsWereFreed) {
  const tslab_epoch_id e = tslab_epoch_current(a());
  std::vector<LiveObject> objs;
  AllocMany(3, e, 4, &objs);
  FreeAll(a(), &objs);
  TslabSnapshot before = TakeSnapshot(a());
  ASSERT_EQ(before.epochs[e].live_objects, 0u);
  AdvanceTo(e);
  TslabSnapshot after = TakeSnapshot(a());
  EXPECT_EQ(State(e), TSLAB_EPOCH_ACTIVE);
  EXPECT_EQ(after.global.epoch_wraps_live, before.global.epoch_wraps_live);
  ExpectQuiescentInvariants(after);
}

// A DRAINED slot is reopened by the wrap: new era, no wrap counted.
TEST_F(Epochs, WrapOntoADrainedSlot) {
  const tslab_epoch_id e = tslab_epoch_advance(a());
  std::vector<LiveObject> objs;
  AllocMany(4, e, 3, &objs);
  FreeAll(a(), &objs);
  ASSERT_EQ(tslab_epoch_close(a(), e), TSLAB_OK);
  ASSERT_EQ(State(e), TSLAB_EPOCH_DRAINED);
  TslabSnapshot before = TakeSnapshot(a());
  AdvanceTo(e);
  TslabSnapshot after = TakeSnapshot(a());
  EXPECT_EQ(State(e), TSLAB_EPOCH_ACTIVE);
  EXPECT_EQ(after.epochs[e].era, before.epochs[e].era + 1);
  EXPECT_EQ(after.global.epoch_wraps_live, before.global.epoch_wraps_live);
  EXPECT_EQ(after.epochs[e].close_ns, 0u);
  ASSERT_NE(tslab_malloc(a(), 256, e), nullptr);
}

// Many laps of the ring over slots in every state, with objects left in
// several closed lives of the same slots: everything stays freeable and
// counted, and at the end everything is recycled.
TEST_F(Epochs, ManyLapsWithObjectsLeftBehind) {
  std::vector<LiveObject> objs;
  uint64_t wraps_live = 0;
  for (uint32_t step = 0; step < 5 * TSLAB_NUM_EPOCHS; ++step) {
    const tslab_epoch_id e = tslab_epoch_current(a());
    AllocMany(step % TSLAB_NUM_CLASSES, e, 1 + step % 4, &objs);
    if (step % 3 != 2) {
      ASSERT_EQ(tslab_epoch_close(a(), e), TSLAB_OK);
    }
    // Whether the next slot still holds objects decides the wrap count.
    const tslab_epoch_id next = (e + 1) % TSLAB_NUM_EPOCHS;
    TslabEpochStats es;
    ASSERT_EQ(tslab_stats_epoch(a(), next, &es), TSLAB_OK);
    wraps_live += es.state != TSLAB_EPOCH_IDLE && es.live_objects > 0;
    ASSERT_EQ(tslab_epoch_advance(a()), next);
    EXPECT_EQ(State(next), TSLAB_EPOCH_ACTIVE);
    if (step % 7 == 0 && !objs.empty()) {  // free a few old ones meanwhile
      LiveObject o = objs.front();
      objs.erase(objs.begin());
      ASSERT_EQ(CheckPattern(o.p, o.size, o.seed), o.size);
      ASSERT_EQ(tslab_free(a(), o.p), TSLAB_OK);
    }
    ExpectQuiescentInvariants(a());
  }
  TslabSnapshot s = TakeSnapshot(a());
  EXPECT_GT(wraps_live, 0u);
  EXPECT_EQ(s.global.epoch_wraps_live, wraps_live);
  EXPECT_EQ(s.global.live_objects, objs.size());
  ExpectIntact(objs);
  FreeAll(a(), &objs);
  for (tslab_epoch_id e = 0; e < TSLAB_NUM_EPOCHS; ++e) {
    ASSERT_EQ(tslab_epoch_close(a(), e), TSLAB_OK);
    EXPECT_EQ(State(e), TSLAB_EPOCH_DRAINED) << e;
  }
  s = TakeSnapshot(a());
  EXPECT_EQ(s.global.net_slabs, 0u);
  EXPECT_EQ(s.global.live_objects, 0u);
  EXPECT_EQ(s.global.drained_epoch_count, uint32_t{TSLAB_NUM_EPOCHS});
  EXPECT_EQ(madv_.Calls().size(), s.global.total_madvise_calls);
  EXPECT_EQ(madv_.Bytes(), s.global.total_slabs_recycled * PageSize());
  ExpectQuiescentInvariants(s);
}

// A close that races with the first allocation into an IDLE slot must not
// be lost: once both returned (and nothing reopened the slot), the slot is
// CLOSING or DRAINED, never ACTIVE; the allocation either succeeded
// (before the close) or was refused as closed.
TEST(EpochRaces, CloseRacingTheFirstAllocationIsNotLost) {
  constexpr int kRounds = 1000;
  int lost = 0;
  for (int round = 0; round < kRounds && lost == 0; ++round) {
    AllocatorPtr a = MakeAllocator();
    ASSERT_NE(a, nullptr);
    std::atomic<int> go{0};
    std::vector<void*> got(TSLAB_NUM_EPOCHS - 1, nullptr);
    std::thread closer([&] {
      while (go.load() == 0) {
      }
      for (tslab_epoch_id e = 1; e < TSLAB_NUM_EPOCHS; ++e) {
        EXPECT_EQ(tslab_epoch_close(a.get(), e), TSLAB_OK);
      }
    });
    go.store(1);
    for (tslab_epoch_id e = 1; e < TSLAB_NUM_EPOCHS; ++e) {
      got[e - 1] = tslab_malloc(a.get(), 64 * (1 + e % 8), e);
      if (got[e - 1] == nullptr) {
        EXPECT_EQ(tslab_last_error(), TSLAB_E_EPOCH_CLOSED);
      }
    }
    closer.join();
    for (tslab_epoch_id e = 1; e < TSLAB_NUM_EPOCHS; ++e) {
      const tslab_epoch_state st = tslab_epoch_get_state(a.get(), e);
      if (st == TSLAB_EPOCH_ACTIVE) ++lost;
      EXPECT_NE(st, TSLAB_EPOCH_ACTIVE)
          << "round " << round << ": epoch " << e << " closed but open";
      EXPECT_EQ(st, got[e - 1] != nullptr ? TSLAB_EPOCH_CLOSING
                                          : TSLAB_EPOCH_DRAINED)
          << "round " << round << ": epoch " << e;
    }
    ExpectQuiescentInvariants(a.get());
  }
}

}  // namespace
}  // namespace tslab::test
