// The C API's allocation and pointer-free paths: every bad argument is
// refused with its status (and last error) and counted where tslab says;
// every bad pointer free (foreign, interior, slab header, stack, NULL,
// double) is refused, counted in its SlabGlobalStats field, and changes
// nothing else.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/test_util.h"
#include "tslab/tslab.h"

namespace tslab::test {
namespace {

class AllocFree : public ::testing::Test {
 protected:
  // A few live objects in every class, whose bytes must survive every
  // refused free.
  void SetUp() override {
    ASSERT_NE(a_, nullptr);
    for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
      for (int i = 0; i < 3; ++i) {
        live_.push_back(AllocFilled(a_.get(), kSpecClassSizes[c], 0, seed_++));
        ASSERT_NE(live_.back().p, nullptr);
      }
    }
  }
  tslab_allocator* a() { return a_.get(); }

  AllocatorPtr a_ = MakeAllocator();
  std::vector<LiveObject> live_;
  uint64_t seed_ = 100;
};

// ---- allocation: bad arguments ----

// Argument errors are caught before the allocator and counted nowhere.
TEST_F(AllocFree, BadAllocArgumentsAreRefusedAndNotCounted) {
  TslabSnapshot before = TakeSnapshot(a());
  tslab_handle h = 12345;
  struct Case {
    const char* what;
    tslab_allocator* a;
    uint32_t size;
    tslab_epoch_id e;
    tslab_status want;
  } cases[] = {
      {"NULL allocator", nullptr, 64, 0, TSLAB_E_INVALID_ARG},
      {"size 0", a(), 0, 0, TSLAB_E_INVALID_ARG},
      {"size 769", a(), 769, 0, TSLAB_E_TOO_LARGE},
      {"size UINT32_MAX", a(), UINT32_MAX, 0, TSLAB_E_TOO_LARGE},
      {"epoch 16", a(), 64, TSLAB_NUM_EPOCHS, TSLAB_E_EPOCH_RANGE},
      {"TSLAB_INVALID_EPOCH", a(), 64, TSLAB_INVALID_EPOCH,
       TSLAB_E_EPOCH_RANGE},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_EQ(tslab_alloc(c.a, c.size, c.e, &h), nullptr);
    EXPECT_EQ(tslab_last_error(), c.want);
    EXPECT_EQ(h, 12345u) << "a failed alloc wrote the handle";
    EXPECT_EQ(tslab_malloc(c.a, c.size, c.e), nullptr);
    EXPECT_EQ(tslab_last_error(), c.want);
  }
  EXPECT_EQ(tslab_malloc(a(), size_t{1} << 33, 0), nullptr);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_TOO_LARGE);
  EXPECT_EQ(tslab_malloc(nullptr, size_t{1} << 33, 0), nullptr);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_INVALID_ARG);

  TslabSnapshot after = TakeSnapshot(a());
  EXPECT_EQ(std::memcmp(&after.global, &before.global, sizeof(before.global)), 0);
  EXPECT_EQ(std::memcmp(after.classes, before.classes, sizeof(before.classes)), 0);
  ExpectIntact(live_);
}

// Allocation into a CLOSING (and into a DRAINED) epoch fails with
// TSLAB_E_EPOCH_CLOSED, counted per class in slow_path_epoch_closed.
TEST_F(AllocFree, AllocIntoClosedEpochIsRefusedAndCounted) {
  const tslab_epoch_id e0 = tslab_epoch_current(a());
  ASSERT_EQ(tslab_epoch_close(a(), e0), TSLAB_OK);
  ASSERT_EQ(tslab_epoch_get_state(a(), e0), TSLAB_EPOCH_CLOSING);  // live_

  // An epoch closed while empty: DRAINED.
  const tslab_epoch_id e1 = tslab_epoch_advance(a());
  ASSERT_EQ(tslab_epoch_close(a(), e1), TSLAB_OK);
  ASSERT_EQ(tslab_epoch_get_state(a(), e1), TSLAB_EPOCH_DRAINED);

  TslabSnapshot before = TakeSnapshot(a());
  uint64_t refused[TSLAB_NUM_CLASSES] = {};
  uint64_t n = 0;
  for (tslab_epoch_id e : {e0, e1}) {
    for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
      for (uint32_t k = 0; k <= c; ++k) {  // c+1 refusals in class c
        tslab_handle h = 7;
        bool by_handle = (k % 2) == 0;
        void* p = by_handle ? tslab_alloc(a(), kSpecClassSizes[c], e, &h)
                            : tslab_malloc(a(), kSpecClassSizes[c], e);
        EXPECT_EQ(p, nullptr);
        EXPECT_EQ(tslab_last_error(), TSLAB_E_EPOCH_CLOSED);
        EXPECT_EQ(h, 7u);
        ++refused[c];
        ++n;
      }
    }
  }
  TslabSnapshot after = TakeSnapshot(a());
  for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
    EXPECT_EQ(after.classes[c].slow_path_epoch_closed,
              before.classes[c].slow_path_epoch_closed + refused[c]);
    EXPECT_EQ(after.classes[c].slow_path_hits,
              before.classes[c].slow_path_hits + refused[c]);
  }
  EXPECT_EQ(after.global.total_slow_epoch_closed,
            before.global.total_slow_epoch_closed + n);
  EXPECT_EQ(after.global.alloc_failures, before.global.alloc_failures + n);
  EXPECT_EQ(after.global.total_allocs, before.global.total_allocs);
  EXPECT_EQ(after.global.net_slabs, before.global.net_slabs);
  EXPECT_EQ(after.epochs[e0].state, uint32_t{TSLAB_EPOCH_CLOSING});
  EXPECT_EQ(after.epochs[e1].state, uint32_t{TSLAB_EPOCH_DRAINED});
  ExpectQuiescentInvariants(after);
  ExpectIntact(live_);
  FreeAll(a(), &live_);
}

// Once the address space given by max_bytes is used up, allocation fails
// with TSLAB_E_NO_MEMORY (counted) and works again after a free.
TEST(AllocLimits, AddressSpaceExhaustion) {
  tslab_options o = TestOptions();
  o.max_bytes = 2u << 20;
  AllocatorPtr a = MakeAllocator(o);
  ASSERT_NE(a, nullptr);
  const uint32_t cls = TSLAB_NUM_CLASSES - 1;
  const uint32_t size = kSpecClassSizes[cls];
  std::vector<void*> ptrs;
  const uint64_t bound = (o.max_bytes / PageSize()) * 63 + 1;
  void* p = nullptr;
  while ((p = tslab_malloc(a.get(), size, 0)) != nullptr) {
    ptrs.push_back(p);
    ASSERT_LE(ptrs.size(), bound) << "max_bytes is not enforced";
  }
  EXPECT_EQ(tslab_last_error(), TSLAB_E_NO_MEMORY);
  TslabSnapshot s = TakeSnapshot(a.get());
  const SlabClassStats& k = s.classes[cls];
  EXPECT_GT(k.new_slab_count, 0u);
  EXPECT_LE(k.new_slab_count * PageSize(), o.max_bytes);
  // Every slab was filled before the allocator gave up.
  EXPECT_EQ(ptrs.size(), k.new_slab_count * ExpectedObjectsPerSlab(cls));
  EXPECT_EQ(s.global.alloc_failures, 1u);
  EXPECT_EQ(s.global.total_slow_epoch_closed, 0u);
  EXPECT_EQ(k.slow_path_cache_miss, k.new_slab_count + 1);
  ExpectQuiescentInvariants(s);
  // Other classes are out of pages too.
  EXPECT_EQ(tslab_malloc(a.get(), 1, 0), nullptr);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_NO_MEMORY);

  void* victim = ptrs.back();
  ptrs.pop_back();
  ASSERT_EQ(tslab_free(a.get(), victim), TSLAB_OK);
  EXPECT_EQ(tslab_malloc(a.get(), size, 0), victim);
}

// Allocator ids are 12 bits of every handle: 4,095 may be live at once.
// The next create said "out of memory" (issue 9, finding 13); it says
// why now, and a destroy makes room again.
TEST(AllocLimits, TooManyAllocatorsSaysSo) {
  tslab_options o = TestOptions();
  o.max_bytes = 1u << 20;  // a small reservation each
  o.purge_delay_ms = 0;
  std::vector<AllocatorPtr> live;
  for (;;) {
    tslab_allocator* a = tslab_create(&o);
    if (a == nullptr) break;
    live.emplace_back(a);
    ASSERT_LE(live.size(), 4095u);
  }
  EXPECT_EQ(tslab_last_error(), TSLAB_E_TOO_MANY);
  // Other tests' allocators may be live in this process: at most 4,095.
  EXPECT_GE(live.size(), 4000u);
  live.pop_back();
  AllocatorPtr again(tslab_create(&o));
  EXPECT_NE(again, nullptr);
}

// ---- pointer frees ----

TEST_F(AllocFree, PointerRoundTrip) {
  const tslab_epoch_id e = tslab_epoch_current(a());
  TslabSnapshot before = TakeSnapshot(a());
  std::vector<LiveObject> mine;
  for (uint32_t size : {1u, 17u, 64u, 65u, 200u, 767u, 768u}) {
    LiveObject o;
    o.p = tslab_malloc(a(), size, e);
    ASSERT_NE(o.p, nullptr) << size;
    o.size = size;
    o.seed = seed_++;
    FillPattern(o.p, size, o.seed);
    mine.push_back(o);
  }
  TslabSnapshot mid = TakeSnapshot(a());
  EXPECT_EQ(mid.global.total_allocs, before.global.total_allocs + mine.size());
  EXPECT_EQ(mid.epochs[e].live_objects,
            before.epochs[e].live_objects + mine.size());
  FreeAll(a(), &mine);
  TslabSnapshot after = TakeSnapshot(a());
  EXPECT_EQ(after.global.total_frees, before.global.total_frees + 7);
  EXPECT_EQ(after.global.live_objects, before.global.live_objects);
  ExpectQuiescentInvariants(after);
  ExpectIntact(live_);
}

TEST_F(AllocFree, FreeWithNullAllocatorIsRefused) {
  EXPECT_EQ(tslab_free(nullptr, live_[0].p), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_free_handle(nullptr, live_[0].h), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_INVALID_ARG);
  // The object is still live: its own allocator frees it.
  ExpectIntact(live_);
  EXPECT_EQ(tslab_free(a(), live_[0].p), TSLAB_OK);
  live_.erase(live_.begin());
}

TEST_F(AllocFree, NullPointerIsInvalid) {
  ExpectFreeRefused(a(), live_, TSLAB_E_FREE_INVALID,
                    &SlabGlobalStats::invalid_frees, -1,
                    [&] { return tslab_free(a(), nullptr); });
}

TEST_F(AllocFree, StackPointerIsInvalid) {
  uint64_t on_stack[8] = {};
  ExpectFreeRefused(a(), live_, TSLAB_E_FREE_INVALID,
                    &SlabGlobalStats::invalid_frees, -1,
                    [&] { return tslab_free(a(), &on_stack[2]); });
}

TEST_F(AllocFree, HeapPointerIsInvalid) {
  auto heap = std::make_unique<char[]>(256);
  ExpectFreeRefused(a(), live_, TSLAB_E_FREE_INVALID,
                    &SlabGlobalStats::invalid_frees, -1,
                    [&] { return tslab_free(a(), heap.get() + 64); });
}

// Interior pointers (every byte offset that is not an object start) are
// invalid, counted against the object's class.
TEST_F(AllocFree, InteriorPointersAreInvalid) {
  for (const LiveObject& o : live_) {
    const int cls = tslab_size_to_class(o.size);
    for (uint32_t off : {1u, 8u, 16u, o.size / 2, o.size - 1}) {
      SCOPED_TRACE(testing::Message() << "size " << o.size << " +" << off);
      ExpectFreeRefused(a(), live_, TSLAB_E_FREE_INVALID,
                        &SlabGlobalStats::invalid_frees, cls, [&] {
                          return tslab_free(a(), static_cast<char*>(o.p) + off);
                        });
    }
  }
}

// The first 64 bytes of every slab page hold no object.
TEST_F(AllocFree, SlabHeaderPointersAreInvalid) {
  for (const LiveObject& o : live_) {
    const int cls = tslab_size_to_class(o.size);
    for (uintptr_t off : {0u, 16u, 48u, 63u}) {
      auto* hdr = reinterpret_cast<void*>(PageOf(o.p) + off);
      SCOPED_TRACE(testing::Message() << "page +" << off);
      ExpectFreeRefused(a(), live_, TSLAB_E_FREE_INVALID,
                        &SlabGlobalStats::invalid_frees, cls,
                        [&] { return tslab_free(a(), hdr); });
    }
  }
}

// The unused tail of a page (past the last object) is not an object.
TEST_F(AllocFree, PageTailPointersAreInvalid) {
  for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
    const LiveObject& o = live_[c * 3];
    const uint64_t end = 64 + uint64_t{ExpectedObjectsPerSlab(c)} * o.size;
    if (end + 16 > PageSize()) continue;  // no room for a whole slot
    auto* tail = reinterpret_cast<void*>(PageOf(o.p) + end);
    SCOPED_TRACE(testing::Message() << "class " << c);
    ExpectFreeRefused(a(), live_, TSLAB_E_FREE_INVALID,
                      &SlabGlobalStats::invalid_frees, static_cast<int>(c),
                      [&] { return tslab_free(a(), tail); });
  }
}

// A slot of a live slab that was never handed out is not freeable.
TEST_F(AllocFree, NeverAllocatedSlotIsInvalid) {
  // live_[0..2] are the first three 64-byte objects of a fresh slab: the
  // fourth slot follows them and was never handed out.
  const LiveObject& o = live_[2];
  void* next = static_cast<char*>(o.p) + o.size;
  ASSERT_EQ(PageOf(next), PageOf(o.p));
  for (const LiveObject& l : live_) ASSERT_NE(l.p, next);
  ExpectFreeRefused(a(), live_, TSLAB_E_FREE_INVALID,
                    &SlabGlobalStats::invalid_frees, 0,
                    [&] { return tslab_free(a(), next); });
}

TEST_F(AllocFree, DoublePointerFreeIsRefused) {
  LiveObject o = live_.back();
  live_.pop_back();
  const int cls = tslab_size_to_class(o.size);
  ASSERT_EQ(tslab_free(a(), o.p), TSLAB_OK);
  ExpectFreeRefused(a(), live_, TSLAB_E_FREE_DOUBLE,
                    &SlabGlobalStats::double_frees, cls,
                    [&] { return tslab_free(a(), o.p); });
  // Still refused the third time.
  ExpectFreeRefused(a(), live_, TSLAB_E_FREE_DOUBLE,
                    &SlabGlobalStats::double_frees, cls,
                    [&] { return tslab_free(a(), o.p); });
}

// Another live allocator's pointers are FOREIGN, both ways, and the
// object stays live in its own allocator.
TEST_F(AllocFree, ForeignPointerIsRefused) {
  AllocatorPtr other = MakeAllocator();
  ASSERT_NE(other, nullptr);
  LiveObject theirs = AllocFilled(other.get(), 128, 0, 999);
  ASSERT_NE(theirs.p, nullptr);
  std::vector<LiveObject> their_live = {theirs};
  ExpectFreeRefused(a(), live_, TSLAB_E_FREE_FOREIGN,
                    &SlabGlobalStats::foreign_frees, -1,
                    [&] { return tslab_free(a(), theirs.p); });
  ExpectFreeRefused(other.get(), their_live, TSLAB_E_FREE_FOREIGN,
                    &SlabGlobalStats::foreign_frees, -1,
                    [&] { return tslab_free(other.get(), live_[5].p); });
  ExpectIntact(their_live);
  EXPECT_EQ(tslab_free(other.get(), theirs.p), TSLAB_OK);
}

// A destroyed allocator's pointer is nobody's: INVALID, not FOREIGN.
TEST_F(AllocFree, DestroyedAllocatorsPointerIsInvalid) {
  void* dangling = nullptr;
  {
    AllocatorPtr other = MakeAllocator();
    ASSERT_NE(other, nullptr);
    dangling = tslab_malloc(other.get(), 64, 0);
    ASSERT_NE(dangling, nullptr);
  }
  ExpectFreeRefused(a(), live_, TSLAB_E_FREE_INVALID,
                    &SlabGlobalStats::invalid_frees, -1,
                    [&] { return tslab_free(a(), dangling); });
}

}  // namespace
}  // namespace tslab::test
