// Handles: round trips, and every bad handle free (invalid, stale, double,
// foreign) refused, counted in its SlabGlobalStats field, changing nothing
// else, in particular not the object that reused a stale handle's slot.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <vector>

#include "tests/test_util.h"
#include "tslab/tslab.h"

namespace tslab::test {
namespace {

class Handles : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(a_, nullptr);
    for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
      live_.push_back(AllocFilled(a(), kSpecClassSizes[c], 0, seed_++));
      ASSERT_NE(live_.back().p, nullptr);
    }
  }
  tslab_allocator* a() { return a_.get(); }

  // Allocates in class `cls` of epoch e until it gets `want`'s address
  // back (the slot a free just released); bounded by one slab's slots.
  LiveObject ReuseSlot(uint32_t cls, tslab_epoch_id e, void* want) {
    for (uint32_t i = 0; i <= 63; ++i) {
      LiveObject o = AllocFilled(a(), kSpecClassSizes[cls], e, seed_++);
      if (o.p == nullptr || o.p == want) return o;
      extra_.push_back(o);
    }
    ADD_FAILURE() << "the freed slot was not handed out again";
    return {};
  }

  AllocatorPtr a_ = MakeAllocator();
  std::vector<LiveObject> live_;
  std::vector<LiveObject> extra_;
  uint64_t seed_ = 1;
};

TEST_F(Handles, RoundTrip) {
  std::set<tslab_handle> seen;
  for (const LiveObject& o : live_) {
    EXPECT_NE(o.h, 0u);
    EXPECT_TRUE(seen.insert(o.h).second) << "handle reused while live";
    EXPECT_EQ(tslab_handle_ptr(a(), o.h), o.p);
  }
  TslabSnapshot before = TakeSnapshot(a());
  LiveObject o = live_.back();
  live_.pop_back();
  ASSERT_EQ(tslab_free_handle(a(), o.h), TSLAB_OK);
  EXPECT_EQ(tslab_handle_ptr(a(), o.h), nullptr);
  TslabSnapshot after = TakeSnapshot(a());
  EXPECT_EQ(after.global.total_frees, before.global.total_frees + 1);
  const int cls = tslab_size_to_class(o.size);
  EXPECT_EQ(after.classes[cls].live_objects,
            before.classes[cls].live_objects - 1);
  ExpectQuiescentInvariants(after);
  ExpectIntact(live_);
}

TEST_F(Handles, AllocWithoutHandleOut) {
  void* p = tslab_alloc(a(), 100, 0, nullptr);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(tslab_free(a(), p), TSLAB_OK);
}

TEST_F(Handles, HandlePtrOfBadHandlesIsNull) {
  EXPECT_EQ(tslab_handle_ptr(nullptr, live_[0].h), nullptr);
  EXPECT_EQ(tslab_handle_ptr(a(), 0), nullptr);
  AllocatorPtr other = MakeAllocator();
  tslab_handle theirs = 0;
  ASSERT_NE(tslab_alloc(other.get(), 64, 0, &theirs), nullptr);
  EXPECT_EQ(tslab_handle_ptr(a(), theirs), nullptr);
  EXPECT_NE(tslab_handle_ptr(other.get(), theirs), nullptr);
}

TEST_F(Handles, ZeroIsInvalid) {
  ExpectFreeRefused(a(), live_, TSLAB_E_FREE_INVALID,
                    &SlabGlobalStats::invalid_frees, -1,
                    [&] { return tslab_free_handle(a(), 0); });
}

TEST_F(Handles, DestroyedAllocatorsHandleIsInvalid) {
  tslab_handle dead = 0;
  {
    AllocatorPtr other = MakeAllocator();
    ASSERT_NE(tslab_alloc(other.get(), 64, 0, &dead), nullptr);
  }
  ExpectFreeRefused(a(), live_, TSLAB_E_FREE_INVALID,
                    &SlabGlobalStats::invalid_frees, -1,
                    [&] { return tslab_free_handle(a(), dead); });
}

TEST_F(Handles, DoubleFreeIsRefused) {
  for (size_t i = 0; i < 3; ++i) {
    LiveObject o = live_.back();
    live_.pop_back();
    const int cls = tslab_size_to_class(o.size);
    ASSERT_EQ(tslab_free_handle(a(), o.h), TSLAB_OK);
    for (int again = 0; again < 2; ++again) {
      ExpectFreeRefused(a(), live_, TSLAB_E_FREE_DOUBLE,
                        &SlabGlobalStats::double_frees, cls,
                        [&] { return tslab_free_handle(a(), o.h); });
    }
  }
}

// Freed by pointer, then by handle: the second is a double free.
TEST_F(Handles, PointerThenHandleIsDouble) {
  LiveObject o = live_.back();
  live_.pop_back();
  ASSERT_EQ(tslab_free(a(), o.p), TSLAB_OK);
  ExpectFreeRefused(a(), live_, TSLAB_E_FREE_DOUBLE,
                    &SlabGlobalStats::double_frees, tslab_size_to_class(o.size),
                    [&] { return tslab_free_handle(a(), o.h); });
}

// A handle whose slot was handed out again is stale: refused, and the new
// object (same address) stays live and intact.
TEST_F(Handles, StaleHandleDoesNotFreeTheSlotsNewObject) {
  const LiveObject old = live_[3];
  live_.erase(live_.begin() + 3);
  const uint32_t cls = tslab_size_to_class(old.size);
  ASSERT_EQ(tslab_free_handle(a(), old.h), TSLAB_OK);
  LiveObject now = ReuseSlot(cls, 0, old.p);
  ASSERT_EQ(now.p, old.p);
  ASSERT_NE(now.h, old.h);
  live_.push_back(now);
  ExpectFreeRefused(a(), live_, TSLAB_E_FREE_STALE,
                    &SlabGlobalStats::stale_frees, static_cast<int>(cls),
                    [&] { return tslab_free_handle(a(), old.h); });
  EXPECT_EQ(tslab_handle_ptr(a(), old.h), nullptr);
  EXPECT_EQ(tslab_handle_ptr(a(), now.h), now.p);
  // The new owner frees normally; the old handle stays refused.
  live_.pop_back();
  ASSERT_EQ(tslab_free_handle(a(), now.h), TSLAB_OK);
  tslab_status st = tslab_free_handle(a(), old.h);
  EXPECT_TRUE(st == TSLAB_E_FREE_STALE || st == TSLAB_E_FREE_DOUBLE)
      << tslab_strerror(st);
  EXPECT_EQ(tslab_free_handle(a(), now.h), TSLAB_E_FREE_DOUBLE);
}

// A slab recycled by epoch_close and reused by a later epoch: the old
// handle is DOUBLE while the slab sits in the cache, STALE once the slot
// has a new object.
TEST_F(Handles, HandlesIntoARecycledSlab) {
  const uint32_t cls = 2;
  const tslab_epoch_id e = tslab_epoch_advance(a());
  LiveObject o = AllocFilled(a(), kSpecClassSizes[cls], e, seed_++);
  ASSERT_NE(o.p, nullptr);
  ASSERT_EQ(tslab_free_handle(a(), o.h), TSLAB_OK);
  TslabSnapshot pre = TakeSnapshot(a());
  ASSERT_EQ(tslab_epoch_close(a(), e), TSLAB_OK);
  TslabSnapshot closed = TakeSnapshot(a());
  ASSERT_EQ(closed.classes[cls].empty_slab_recycled,
            pre.classes[cls].empty_slab_recycled + 1);
  ExpectFreeRefused(a(), live_, TSLAB_E_FREE_DOUBLE,
                    &SlabGlobalStats::double_frees, static_cast<int>(cls),
                    [&] { return tslab_free_handle(a(), o.h); });
  ExpectFreeRefused(a(), live_, TSLAB_E_FREE_DOUBLE,
                    &SlabGlobalStats::double_frees, static_cast<int>(cls),
                    [&] { return tslab_free(a(), o.p); });

  const tslab_epoch_id e2 = tslab_epoch_advance(a());
  LiveObject now = ReuseSlot(cls, e2, o.p);
  ASSERT_EQ(now.p, o.p) << "the cached slab was not reused";
  live_.push_back(now);
  ExpectFreeRefused(a(), live_, TSLAB_E_FREE_STALE,
                    &SlabGlobalStats::stale_frees, static_cast<int>(cls),
                    [&] { return tslab_free_handle(a(), o.h); });
  TslabSnapshot s = TakeSnapshot(a());
  EXPECT_EQ(s.classes[cls].slabs_reused, closed.classes[cls].slabs_reused + 1);
  ExpectQuiescentInvariants(s);
}

// Another live allocator's handle is FOREIGN, both ways; each object stays
// live in its own allocator.
TEST_F(Handles, ForeignHandleIsRefused) {
  AllocatorPtr other = MakeAllocator();
  ASSERT_NE(other, nullptr);
  std::vector<LiveObject> theirs = {AllocFilled(other.get(), 256, 0, 77)};
  ASSERT_NE(theirs[0].p, nullptr);
  ExpectFreeRefused(a(), live_, TSLAB_E_FREE_FOREIGN,
                    &SlabGlobalStats::foreign_frees, -1,
                    [&] { return tslab_free_handle(a(), theirs[0].h); });
  ExpectFreeRefused(other.get(), theirs, TSLAB_E_FREE_FOREIGN,
                    &SlabGlobalStats::foreign_frees, -1,
                    [&] { return tslab_free_handle(other.get(), live_[0].h); });
  EXPECT_EQ(tslab_handle_ptr(other.get(), theirs[0].h), theirs[0].p);
  EXPECT_EQ(tslab_handle_ptr(a(), live_[0].h), live_[0].p);
  FreeAll(other.get(), &theirs);
}

}  // namespace
}  // namespace tslab::test
