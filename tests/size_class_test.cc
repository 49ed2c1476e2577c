// Size classes and slab geometry: the size -> class map at its
// boundaries, objects per one-page slab, and 16-byte alignment, checked on
// real allocations (which page each object lands on).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <vector>

#include "tests/test_util.h"
#include "tslab/tslab.h"

namespace tslab::test {
namespace {

TEST(SizeClassTable, MatchesTheSpec) {
  ASSERT_EQ(tslab_class_count(), uint32_t{TSLAB_NUM_CLASSES});
  for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
    EXPECT_EQ(tslab_class_size(c), kSpecClassSizes[c]) << "class " << c;
  }
  EXPECT_EQ(tslab_class_size(TSLAB_NUM_CLASSES), 0u);
  EXPECT_EQ(tslab_class_size(UINT32_MAX), 0u);
  EXPECT_EQ(tslab_page_size(), PageSize());
}

TEST(SizeClassTable, BoundariesOfTheMap) {
  EXPECT_EQ(tslab_size_to_class(0), -1);
  EXPECT_EQ(tslab_size_to_class(1), 0);
  EXPECT_EQ(tslab_size_to_class(64), 0);
  EXPECT_EQ(tslab_size_to_class(65), 1);
  EXPECT_EQ(tslab_size_to_class(768), 7);
  EXPECT_EQ(tslab_size_to_class(769), -1);
  EXPECT_EQ(tslab_size_to_class(SIZE_MAX), -1);
  EXPECT_EQ(tslab_size_to_class(size_t{1} << 32), -1);
}

TEST(SizeClassTable, EverySizeGetsTheSmallestClassThatFits) {
  for (size_t size = 1; size <= TSLAB_MAX_OBJECT_SIZE; ++size) {
    int got = tslab_size_to_class(size);
    ASSERT_GE(got, 0) << size;
    const auto* end = kSpecClassSizes + TSLAB_NUM_CLASSES;
    int want = static_cast<int>(
        std::lower_bound(kSpecClassSizes, end, size) - kSpecClassSizes);
    ASSERT_EQ(got, want) << "size " << size;
  }
}

TEST(SizeClassTable, SpecObjectsPerSlabWith4KPages) {
  if (PageSize() != 4096) GTEST_SKIP() << "page size is " << PageSize();
  for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
    EXPECT_EQ(ExpectedObjectsPerSlab(c), kSpecObjectsPerSlab4K[c]);
  }
}

class ClassGeometry : public ::testing::TestWithParam<uint32_t> {
 protected:
  uint32_t cls() const { return GetParam(); }
  uint32_t size() const { return kSpecClassSizes[cls()]; }
  uint32_t smallest() const {
    return cls() == 0 ? 1 : kSpecClassSizes[cls() - 1] + 1;
  }
  AllocatorPtr a_ = MakeAllocator();
};

TEST_P(ClassGeometry, ClassBoundariesMapHere) {
  EXPECT_EQ(tslab_size_to_class(size()), static_cast<int>(cls()));
  EXPECT_EQ(tslab_size_to_class(smallest()), static_cast<int>(cls()));
  if (cls() > 0) {
    EXPECT_EQ(tslab_size_to_class(smallest() - 1),
              static_cast<int>(cls()) - 1);
  }
  if (cls() + 1 < TSLAB_NUM_CLASSES) {
    EXPECT_EQ(tslab_size_to_class(size() + 1), static_cast<int>(cls()) + 1);
  }
}

// The objects of a fresh epoch fill one page before the next is used:
// count how many land on each page.
TEST_P(ClassGeometry, ObjectsPerSlabOnRealPages) {
  const uint32_t per_slab = ExpectedObjectsPerSlab(cls());
  const uint32_t slabs = 3;
  std::map<uintptr_t, uint32_t> per_page;
  std::vector<uintptr_t> order;
  for (uint32_t i = 0; i < per_slab * slabs; ++i) {
    void* p = tslab_malloc(a_.get(), size(), 0);
    ASSERT_NE(p, nullptr);
    uintptr_t page = PageOf(p);
    if (per_page[page]++ == 0) order.push_back(page);
  }
  ASSERT_EQ(per_page.size(), slabs);
  for (const auto& [page, n] : per_page) EXPECT_EQ(n, per_slab) << page;
  // The next object needs a fourth page.
  void* p = tslab_malloc(a_.get(), size(), 0);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(per_page.count(PageOf(p)), 0u);

  SlabClassStats k;
  ASSERT_EQ(tslab_stats_class(a_.get(), cls(), &k), TSLAB_OK);
  EXPECT_EQ(k.objects_per_slab, per_slab);
  EXPECT_EQ(k.new_slab_count, slabs + 1);
  EXPECT_EQ(k.object_size, size());
}

// Every pointer, for every size the class serves, is 16-byte aligned; the
// objects do not overlap and stay clear of the page's first 64 bytes.
TEST_P(ClassGeometry, AlignedNonOverlappingObjects) {
  std::vector<LiveObject> objs;
  uint64_t seed = 1;
  for (uint32_t s = smallest(); s <= size(); ++s) {
    LiveObject o = AllocFilled(a_.get(), s, 0, seed++);
    ASSERT_NE(o.p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(o.p) % 16, 0u) << "size " << s;
    EXPECT_GE(reinterpret_cast<uintptr_t>(o.p) - PageOf(o.p), 64u);
    EXPECT_LE(reinterpret_cast<uintptr_t>(o.p) - PageOf(o.p) + size(),
              PageSize());
    objs.push_back(o);
  }
  std::vector<uintptr_t> addrs;
  for (const LiveObject& o : objs) addrs.push_back(reinterpret_cast<uintptr_t>(o.p));
  std::sort(addrs.begin(), addrs.end());
  for (size_t i = 1; i < addrs.size(); ++i) {
    ASSERT_GE(addrs[i] - addrs[i - 1], size()) << "objects overlap";
  }
  ExpectIntact(objs);
  FreeAll(a_.get(), &objs);
  ExpectQuiescentInvariants(a_.get());
}

INSTANTIATE_TEST_SUITE_P(AllClasses, ClassGeometry,
                         ::testing::Range(0u, uint32_t{TSLAB_NUM_CLASSES}),
                         [](const ::testing::TestParamInfo<uint32_t>& i) {
                           return std::to_string(kSpecClassSizes[i.param]) + "B";
                         });

}  // namespace
}  // namespace tslab::test
