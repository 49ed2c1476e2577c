// Placeholder so the runner has something until the real suites land.
#include <gtest/gtest.h>

#include "tslab/tslab.hpp"

TEST(Smoke, AllocFree) {
  tslab::Allocator a;
  ASSERT_TRUE(a.ok());
  tslab::Handle h = 0;
  void* p = a.Alloc(64, a.CurrentEpoch(), &h);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(a.Free(h), tslab::Status::kOk);
  EXPECT_EQ(a.Free(h), tslab::Status::kFreeDouble);
}
