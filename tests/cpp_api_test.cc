// The C++ API (tslab/tslab.hpp): RAII ownership and moves, Options, the
// Status mapping, and every member's pass-through of the C API's results,
// bad inputs included. Domains and DomainGuard: domain_test.cc.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "tests/test_util.h"
#include "tslab/stats_region.h"
#include "tslab/tslab.hpp"

namespace tslab::test {
namespace {

using tslab::Status;

tslab::Options Quiet() { return tslab::Options().RegionOff(); }

TEST(CppStatus, MirrorsTheCCodes) {
  const std::pair<Status, tslab_status> pairs[] = {
      {Status::kOk, TSLAB_OK},
      {Status::kInvalidArg, TSLAB_E_INVALID_ARG},
      {Status::kTooLarge, TSLAB_E_TOO_LARGE},
      {Status::kEpochRange, TSLAB_E_EPOCH_RANGE},
      {Status::kEpochClosed, TSLAB_E_EPOCH_CLOSED},
      {Status::kNoMemory, TSLAB_E_NO_MEMORY},
      {Status::kFreeInvalid, TSLAB_E_FREE_INVALID},
      {Status::kFreeStale, TSLAB_E_FREE_STALE},
      {Status::kFreeDouble, TSLAB_E_FREE_DOUBLE},
      {Status::kFreeForeign, TSLAB_E_FREE_FOREIGN},
      {Status::kStaleDomain, TSLAB_E_STALE_DOMAIN},
      {Status::kRegionCorrupt, TSLAB_E_REGION_CORRUPT},
      {Status::kRegionVersion, TSLAB_E_REGION_VERSION},
      {Status::kRegionTruncated, TSLAB_E_REGION_TRUNCATED},
      {Status::kSystem, TSLAB_E_SYSTEM},
      {Status::kTooMany, TSLAB_E_TOO_MANY},
  };
  std::set<std::string> messages;
  for (const auto& [cpp, c] : pairs) {
    EXPECT_EQ(static_cast<int>(cpp), static_cast<int>(c));
    const char* msg = tslab::ToString(cpp);
    ASSERT_NE(msg, nullptr);
    EXPECT_STREQ(msg, tslab_strerror(c));
    EXPECT_TRUE(messages.insert(msg).second) << "two codes, one message: " << msg;
  }
  EXPECT_NE(tslab_strerror(static_cast<tslab_status>(999)), nullptr);
}

TEST(CppAllocator, AllocFreeAndGet) {
  tslab::Allocator alloc(Quiet());
  ASSERT_TRUE(alloc.ok());
  ASSERT_NE(alloc.raw(), nullptr);
  tslab::Handle h = 0;
  void* p = alloc.Alloc(200, alloc.CurrentEpoch(), &h);
  ASSERT_NE(p, nullptr);
  EXPECT_NE(h, 0u);
  EXPECT_EQ(alloc.Get(h), p);
  void* q = alloc.Malloc(500, alloc.CurrentEpoch());
  ASSERT_NE(q, nullptr);
  void* r = alloc.Alloc(64, alloc.CurrentEpoch());  // no handle wanted
  ASSERT_NE(r, nullptr);
  SlabGlobalStats g;
  ASSERT_EQ(alloc.GlobalStats(&g), Status::kOk);
  EXPECT_EQ(g.total_allocs, 3u);
  EXPECT_EQ(alloc.Free(h), Status::kOk);
  EXPECT_EQ(alloc.Get(h), nullptr);
  EXPECT_EQ(alloc.Free(h), Status::kFreeDouble);
  EXPECT_EQ(alloc.Free(q), Status::kOk);
  EXPECT_EQ(alloc.Free(q), Status::kFreeDouble);
  EXPECT_EQ(alloc.Free(r), Status::kOk);
  ASSERT_EQ(alloc.GlobalStats(&g), Status::kOk);
  EXPECT_EQ(g.total_frees, 3u);
  EXPECT_EQ(g.double_frees, 2u);
}

TEST(CppAllocator, BadInputs) {
  tslab::Allocator alloc(Quiet());
  ASSERT_TRUE(alloc.ok());
  EXPECT_EQ(alloc.Alloc(0, 0), nullptr);
  EXPECT_EQ(tslab::LastError(), Status::kInvalidArg);
  EXPECT_EQ(alloc.Malloc(769, 0), nullptr);
  EXPECT_EQ(tslab::LastError(), Status::kTooLarge);
  EXPECT_EQ(alloc.Alloc(64, TSLAB_NUM_EPOCHS), nullptr);
  EXPECT_EQ(tslab::LastError(), Status::kEpochRange);
  EXPECT_EQ(alloc.Free(tslab::Handle{0}), Status::kFreeInvalid);
  EXPECT_EQ(alloc.Free(static_cast<void*>(nullptr)), Status::kFreeInvalid);
  int on_stack = 0;
  EXPECT_EQ(alloc.Free(&on_stack), Status::kFreeInvalid);
  EXPECT_EQ(alloc.CloseEpoch(TSLAB_NUM_EPOCHS), Status::kEpochRange);
  SlabClassStats k;
  EXPECT_EQ(alloc.ClassStats(TSLAB_NUM_CLASSES, &k), Status::kInvalidArg);
  TslabEpochStats es;
  EXPECT_EQ(alloc.EpochStats(TSLAB_NUM_EPOCHS, &es), Status::kEpochRange);
  EXPECT_EQ(alloc.Snapshot(nullptr), Status::kInvalidArg);
  SlabGlobalStats g;
  ASSERT_EQ(alloc.GlobalStats(&g), Status::kOk);
  EXPECT_EQ(g.invalid_frees, 3u);
  EXPECT_EQ(g.total_allocs, 0u);
}

TEST(CppAllocator, EpochsThroughTheWrapper) {
  tslab::Allocator alloc(Quiet());
  ASSERT_TRUE(alloc.ok());
  EXPECT_EQ(alloc.CurrentEpoch(), 0u);
  const tslab::EpochId e = alloc.AdvanceEpoch();
  EXPECT_EQ(e, 1u);
  EXPECT_EQ(alloc.CurrentEpoch(), e);
  EXPECT_EQ(alloc.EpochState(e), TSLAB_EPOCH_ACTIVE);
  void* p = alloc.Malloc(64, e);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(alloc.CloseEpoch(e), Status::kOk);
  EXPECT_EQ(alloc.EpochState(e), TSLAB_EPOCH_CLOSING);
  EXPECT_EQ(alloc.Malloc(64, e), nullptr);
  EXPECT_EQ(tslab::LastError(), Status::kEpochClosed);
  EXPECT_EQ(alloc.Free(p), Status::kOk);
  EXPECT_EQ(alloc.EpochState(e), TSLAB_EPOCH_DRAINED);
  TslabEpochStats es;
  ASSERT_EQ(alloc.EpochStats(e, &es), Status::kOk);
  EXPECT_EQ(es.allocs, 1u);
  EXPECT_EQ(es.frees, 1u);
  EXPECT_EQ(es.close_calls, 1u);
  TslabSnapshot s;
  ASSERT_EQ(alloc.Snapshot(&s), Status::kOk);
  EXPECT_EQ(s.global.epoch_advances, 1u);
  ExpectQuiescentInvariants(s);
}

// A moved-from allocator is empty: every call is refused, none crashes;
// move assignment destroys the allocator it replaces (its handles become
// nobody's: INVALID, no longer FOREIGN).
TEST(CppAllocator, Moves) {
  tslab::Allocator a(Quiet());
  ASSERT_TRUE(a.ok());
  tslab::Handle h = 0;
  void* p = a.Alloc(64, 0, &h);
  ASSERT_NE(p, nullptr);
  tslab::Allocator b(std::move(a));
  EXPECT_FALSE(a.ok());  // NOLINT: checking the moved-from state
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.Get(h), p);
  EXPECT_EQ(a.Alloc(64, 0), nullptr);
  EXPECT_EQ(tslab::LastError(), Status::kInvalidArg);
  EXPECT_EQ(a.Free(h), Status::kInvalidArg);
  EXPECT_EQ(a.Get(h), nullptr);
  EXPECT_EQ(a.CurrentEpoch(), TSLAB_INVALID_EPOCH);
  EXPECT_EQ(a.AdvanceEpoch(), TSLAB_INVALID_EPOCH);
  EXPECT_EQ(a.CloseEpoch(0), Status::kInvalidArg);
  EXPECT_FALSE(a.NewDomain(true).ok());
  SlabGlobalStats g;
  EXPECT_EQ(a.GlobalStats(&g), Status::kInvalidArg);

  tslab::Allocator c(Quiet());
  ASSERT_TRUE(c.ok());
  tslab::Handle hc = 0;
  ASSERT_NE(c.Alloc(64, 0, &hc), nullptr);
  EXPECT_EQ(b.Free(hc), Status::kFreeForeign);  // c is alive
  c = std::move(b);                              // the old c is destroyed
  EXPECT_EQ(c.Free(hc), Status::kFreeInvalid);
  EXPECT_EQ(c.Get(h), p);
  EXPECT_EQ(c.Free(h), Status::kOk);
  c = std::move(c);  // self-move keeps it
  EXPECT_TRUE(c.ok());
}

TEST(CppAllocator, OptionsReachTheAllocator) {
  MadviseRecorder madv;
  static const char kName[] = "cpp-options-test";
  tslab::Allocator alloc(tslab::Options()
                             .RegionOff()
                             .CacheCapacity(3)
                             .Name(kName)
                             .MaxBytes(2u << 20)
                             .MadviseHook(&MadviseRecorder::Hook, &madv));
  ASSERT_TRUE(alloc.ok());
  EXPECT_STREQ(alloc.RegionPath(), "");
  const auto* hdr =
      static_cast<const TslabRegionHeader*>(tslab_region_base(alloc.raw()));
  ASSERT_NE(hdr, nullptr);
  EXPECT_STREQ(hdr->name, kName);
  SlabClassStats k;
  ASSERT_EQ(alloc.ClassStats(0, &k), Status::kOk);
  EXPECT_EQ(k.cache_capacity, 3u);
  // The hook sees the close's madvise.
  const tslab::EpochId e = alloc.AdvanceEpoch();
  void* p = alloc.Malloc(64, e);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(alloc.Free(p), Status::kOk);
  EXPECT_EQ(alloc.CloseEpoch(e), Status::kOk);
  EXPECT_EQ(madv.Pages(), std::set<uintptr_t>{PageOf(p)});
  // MaxBytes bounds the slabs.
  std::vector<void*> ptrs;
  const tslab::EpochId open = alloc.AdvanceEpoch();
  while (void* q = alloc.Malloc(768, open)) ptrs.push_back(q);
  EXPECT_EQ(tslab::LastError(), Status::kNoMemory);
  EXPECT_LE(ptrs.size() / ExpectedObjectsPerSlab(7) * PageSize(), 2u << 20);
}

// The default constructor works with every default (stats file included).
TEST(CppAllocator, DefaultConstructed) {
  tslab::Allocator alloc;
  ASSERT_TRUE(alloc.ok()) << tslab::ToString(tslab::LastError());
  tslab::Handle h = 0;
  void* p = alloc.Alloc(128, alloc.CurrentEpoch(), &h);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(alloc.Free(h), Status::kOk);
  SlabClassStats k;
  ASSERT_EQ(alloc.ClassStats(2, &k), Status::kOk);
  EXPECT_EQ(k.cache_capacity, 32u);
}

// The C entry points around creation.
TEST(CLifecycle, CreateAndDestroy) {
  tslab_options_init(nullptr);  // no crash
  tslab_destroy(nullptr);       // no-op
  tslab_options o = TestOptions();
  EXPECT_EQ(o.struct_size, sizeof(tslab_options));
  EXPECT_EQ(o.cache_capacity, 32u);
  EXPECT_EQ(o.madvise_fn, nullptr);
  o.struct_size = sizeof(tslab_options) - 4;  // a caller of another layout
  EXPECT_EQ(tslab_create(&o), nullptr);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_INVALID_ARG);
  o.struct_size = sizeof(tslab_options) + 8;
  EXPECT_EQ(tslab_create(&o), nullptr);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_INVALID_ARG);
  // A caller built before purge_delay_ms: accepted, with the default delay.
  o.struct_size = offsetof(tslab_options, purge_delay_ms);
  o.purge_delay_ms = 12345;  // beyond the caller's struct: not read
  AllocatorPtr older(tslab_create(&o));
  ASSERT_NE(older, nullptr);
  AllocatorPtr defaults(tslab_create(nullptr));
  ASSERT_NE(defaults, nullptr);
  EXPECT_NE(tslab_malloc(defaults.get(), 1, 0), nullptr);
  EXPECT_EQ(tslab_region_path(nullptr), std::string());
  EXPECT_EQ(tslab_region_base(nullptr), nullptr);
  EXPECT_NE(tslab_region_base(defaults.get()), nullptr);
}

}  // namespace
}  // namespace tslab::test
