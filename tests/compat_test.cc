// The compat API (tslab/compat/slab_alloc.h): its scenarios are written in
// C11 (tests/compat_c11.c, compiled -std=c11 -pedantic); this file runs
// them and also proves the header compiles as C++.
#include <gtest/gtest.h>

#include "tslab/compat/slab_alloc.h"

extern "C" {
struct CompatReport {
  int failures;
  char first[256];
};
void compat_alloc_and_free(CompatReport* r);
void compat_bad_frees(CompatReport* r);
void compat_epochs(CompatReport* r);
void compat_domains(CompatReport* r);
void compat_stale_domain(CompatReport* r);
}

namespace {

void RunScenario(void (*scenario)(CompatReport*)) {
  CompatReport r{};
  scenario(&r);
  EXPECT_EQ(r.failures, 0) << "first failed check: " << r.first;
}

TEST(CompatC11, AllocAndFree) { RunScenario(compat_alloc_and_free); }
TEST(CompatC11, BadFreesAreRefusedAndCounted) { RunScenario(compat_bad_frees); }
TEST(CompatC11, Epochs) { RunScenario(compat_epochs); }
TEST(CompatC11, Domains) { RunScenario(compat_domains); }
TEST(CompatC11, StaleDomain) { RunScenario(compat_stale_domain); }

// The C++ side of the same header: the typedefs are the C API's.
TEST(CompatCpp, TypesAreTheCApis) {
  static_assert(sizeof(EpochId) == sizeof(uint32_t));
  static_assert(sizeof(SlabHandle) == sizeof(uint64_t));
  SlabAllocator* a = slab_allocator_create();
  ASSERT_NE(a, nullptr);
  SlabHandle h = 0;
  void* p = alloc_obj_epoch(a, 64, epoch_current(a), &h);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(tslab_handle_ptr(a, h), p);  // the same allocator as tslab.h's
  EXPECT_TRUE(free_obj(a, h));
  EXPECT_FALSE(free_obj(a, h));
  slab_allocator_free(a);
}

}  // namespace
