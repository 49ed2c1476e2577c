// RSS really drops: RssAnon (/proc/self/status) falls by at least 90% of
// a closed epoch's slab pages, both when the close recycles empty slabs
// and when the last frees of a closed epoch do. 64 MiB of touched slabs
// make the process's other noise irrelevant.
#include <gtest/gtest.h>

#include <vector>

#include "tests/test_util.h"
#include "tslab/tslab.h"

namespace tslab::test {
namespace {

constexpr uint64_t kBytes = 64ull << 20;
constexpr uint32_t kClass = TSLAB_NUM_CLASSES - 1;

class Rss : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(a_, nullptr);
    if (ProcStatusBytes("RssAnon") == 0) GTEST_SKIP() << "no RssAnon";
    slabs_ = kBytes / PageSize();
    e_ = tslab_epoch_advance(a_.get());
    const uint32_t n = slabs_ * ExpectedObjectsPerSlab(kClass);
    ptrs_.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      void* p = tslab_malloc(a_.get(), kSpecClassSizes[kClass], e_);
      ASSERT_NE(p, nullptr);
      FillPattern(p, kSpecClassSizes[kClass], i);  // touches every page
      ptrs_.push_back(p);
    }
    TslabEpochStats es;
    ASSERT_EQ(tslab_stats_epoch(a_.get(), e_, &es), TSLAB_OK);
    ASSERT_EQ(es.slab_count, slabs_);
  }
  void FreeAll() {
    for (size_t i = 0; i < ptrs_.size(); ++i) {
      ASSERT_EQ(CheckPattern(ptrs_[i], kSpecClassSizes[kClass], i),
                kSpecClassSizes[kClass]);
      ASSERT_EQ(tslab_free(a_.get(), ptrs_[i]), TSLAB_OK);
    }
  }
  void ExpectDrop(uint64_t before, uint64_t after) {
    const uint64_t pages_bytes = slabs_ * PageSize();
    ASSERT_GT(before, after) << "RssAnon did not drop";
    EXPECT_GE(before - after, pages_bytes / 10 * 9)
        << "RssAnon " << before << " -> " << after << " for " << pages_bytes
        << " bytes of slabs";
    TslabSnapshot s = TakeSnapshot(a_.get());
    EXPECT_EQ(s.global.total_madvise_bytes, pages_bytes);
    EXPECT_EQ(s.global.estimated_slab_rss_bytes, 0u);
    EXPECT_EQ(s.epochs[e_].state, uint32_t{TSLAB_EPOCH_DRAINED});
    ExpectQuiescentInvariants(s);
  }

  AllocatorPtr a_ = MakeAllocator();
  uint64_t slabs_ = 0;
  tslab_epoch_id e_ = 0;
  std::vector<void*> ptrs_;
};

TEST_F(Rss, CloseOfAnEmptiedEpochGivesItsPagesBack) {
  FreeAll();
  const uint64_t before = ProcStatusBytes("RssAnon");
  ASSERT_GE(before, slabs_ * PageSize());
  ASSERT_EQ(tslab_epoch_close(a_.get(), e_), TSLAB_OK);
  const uint64_t after = ProcStatusBytes("RssAnon");
  ExpectDrop(before, after);
}

TEST_F(Rss, LastFreesOfAClosedEpochGiveItsPagesBack) {
  const uint64_t before = ProcStatusBytes("RssAnon");
  ASSERT_EQ(tslab_epoch_close(a_.get(), e_), TSLAB_OK);
  // Every slab is full: the close itself returns nothing.
  EXPECT_GE(ProcStatusBytes("RssAnon") + (4u << 20), before);
  FreeAll();
  const uint64_t after = ProcStatusBytes("RssAnon");
  ExpectDrop(before, after);
}

}  // namespace
}  // namespace tslab::test
