// Counters checked against what the test really did: madvise calls (seen
// by a fake madvise, also one that fails), the cache and its overflow list,
// list moves, slow paths, live objects per epoch and per class, epoch
// advances and closes, and the snapshot API itself.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>
#include <vector>

#include "tests/test_util.h"
#include "tslab/stats_region.h"
#include "tslab/tslab.h"

namespace tslab::test {
namespace {

class Counters : public ::testing::Test {
 protected:
  void Make(uint32_t cache_capacity = 32) {
    a_ = MakeAllocator(RecorderOptions(&madv_, cache_capacity));
    ASSERT_NE(a_, nullptr);
  }
  tslab_allocator* a() { return a_.get(); }
  void AllocMany(uint32_t cls, tslab_epoch_id e, uint32_t n,
                 std::vector<LiveObject>* out) {
    test::AllocMany(a(), cls, e, n, out, &seed_);
  }
  // n full slabs' worth of class cls objects in epoch e.
  void FillSlabs(uint32_t cls, tslab_epoch_id e, uint32_t n,
                 std::vector<LiveObject>* out) {
    AllocMany(cls, e, n * ExpectedObjectsPerSlab(cls), out);
  }
  // n slabs of class cls filled in a fresh epoch, emptied, and recycled
  // by that epoch's close; returns their pages.
  std::set<uintptr_t> RecycleSlabs(uint32_t cls, uint32_t n) {
    std::vector<LiveObject> objs;
    const tslab_epoch_id e = tslab_epoch_advance(a());
    FillSlabs(cls, e, n, &objs);
    const std::set<uintptr_t> pages = PagesOf(objs);
    FreeAll(a(), &objs);
    EXPECT_EQ(tslab_epoch_close(a(), e), TSLAB_OK);
    return pages;
  }
  SlabClassStats Class(uint32_t cls) {
    SlabClassStats k;
    EXPECT_EQ(tslab_stats_class(a(), cls, &k), TSLAB_OK);
    return k;
  }

  MadviseRecorder madv_;
  AllocatorPtr a_;
  uint64_t seed_ = 1;
};

// Every recycled slab's page is madvised once, with MADV_DONTNEED, in
// whole pages (a call may cover a run of adjacent pages); the counters
// equal the calls and bytes the fake saw, per class.
TEST_F(Counters, MadviseCountersEqualTheCallsMade) {
  Make();
  std::map<uintptr_t, uint32_t> class_of_page;
  uint64_t recycled_pages = 0;
  for (int round = 0; round < 3; ++round) {
    const tslab_epoch_id e = tslab_epoch_advance(a());
    std::vector<LiveObject> objs;
    for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
      AllocMany(c, e, ExpectedObjectsPerSlab(c) * (1 + (c + round) % 3), &objs);
    }
    for (const LiveObject& o : objs) {
      class_of_page[PageOf(o.p)] = tslab_size_to_class(o.size);
    }
    const std::set<uintptr_t> pages = PagesOf(objs);
    recycled_pages += pages.size();
    FreeAll(a(), &objs);
    const size_t calls_before = madv_.Calls().size();
    ASSERT_EQ(tslab_epoch_close(a(), e), TSLAB_OK);
    // This close madvised exactly this epoch's pages, each once.
    std::vector<MadviseRecorder::Call> now = madv_.Calls();
    std::multiset<uintptr_t> covered;
    for (size_t i = calls_before; i < now.size(); ++i) {
      for (size_t off = 0; off < now[i].len; off += PageSize()) {
        covered.insert(now[i].addr + off);
      }
    }
    EXPECT_EQ(std::set<uintptr_t>(covered.begin(), covered.end()), pages);
    EXPECT_EQ(covered.size(), pages.size()) << "a page madvised twice";
  }
  const std::vector<MadviseRecorder::Call> calls = madv_.Calls();
  uint64_t calls_per_class[TSLAB_NUM_CLASSES] = {};
  uint64_t bytes_per_class[TSLAB_NUM_CLASSES] = {};
  for (const auto& c : calls) {
    EXPECT_EQ(c.advice, MADV_DONTNEED);
    EXPECT_GT(c.len, 0u);
    EXPECT_EQ(c.len % PageSize(), 0u);
    EXPECT_EQ(c.addr % PageSize(), 0u);
    ASSERT_EQ(class_of_page.count(c.addr), 1u) << "madvise of a page never used";
    const uint32_t cls = class_of_page[c.addr];
    for (size_t off = 0; off < c.len; off += PageSize()) {
      ASSERT_EQ(class_of_page.count(c.addr + off), 1u);
      EXPECT_EQ(class_of_page[c.addr + off], cls) << "one call, two classes";
    }
    ++calls_per_class[cls];
    bytes_per_class[cls] += c.len;
  }
  TslabSnapshot s = TakeSnapshot(a());
  for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
    EXPECT_EQ(s.classes[c].madvise_calls, calls_per_class[c]) << c;
    EXPECT_EQ(s.classes[c].madvise_bytes, bytes_per_class[c]) << c;
    EXPECT_EQ(s.classes[c].madvise_failures, 0u);
  }
  EXPECT_EQ(s.global.total_madvise_calls, calls.size());
  EXPECT_EQ(s.global.total_madvise_bytes, madv_.Bytes());
  EXPECT_EQ(s.global.total_madvise_bytes, recycled_pages * PageSize());
  EXPECT_EQ(s.global.total_slabs_recycled, recycled_pages);
  ExpectQuiescentInvariants(s);
}

// A failing madvise is counted as a failure (and as a call); the slab is
// still recycled and reused, and the allocator keeps working.
TEST_F(Counters, MadviseFailuresAreCounted) {
  Make();
  const uint32_t cls = 4;
  RecycleSlabs(cls, 2);
  const uint64_t good_calls = madv_.Calls().size();
  ASSERT_GT(good_calls, 0u);

  madv_.fail_errno = EINVAL;
  RecycleSlabs(cls, 5);  // 2 reused from the cache, 3 new
  const uint64_t failed_calls = madv_.Calls().size() - good_calls;
  ASSERT_GT(failed_calls, 0u);

  SlabClassStats k = Class(cls);
  EXPECT_EQ(k.madvise_calls, good_calls + failed_calls);
  EXPECT_EQ(k.madvise_failures, failed_calls);
  EXPECT_EQ(k.madvise_bytes, madv_.Bytes());
  EXPECT_EQ(k.madvise_bytes, 7 * PageSize());
  EXPECT_EQ(k.empty_slab_recycled, 7u);
  EXPECT_EQ(k.cache_size, 5u);
  SlabGlobalStats g;
  ASSERT_EQ(tslab_stats_global(a(), &g), TSLAB_OK);
  EXPECT_EQ(g.total_madvise_failures, failed_calls);

  madv_.fail_errno = 0;
  std::vector<LiveObject> objs;
  FillSlabs(cls, tslab_epoch_advance(a()), 5, &objs);
  EXPECT_EQ(Class(cls).slabs_reused, k.slabs_reused + 5);
  EXPECT_EQ(Class(cls).new_slab_count, k.new_slab_count);
  ExpectIntact(objs);
  ExpectQuiescentInvariants(a());
}

// With a cache of 2, the third and later empty slabs go to the overflow
// list; reuse drains the cache, then the overflow list, then takes new
// pages.
TEST_F(Counters, CacheCapacityAndOverflow) {
  Make(/*cache_capacity=*/2);
  const uint32_t cls = 5;
  const std::set<uintptr_t> pages = RecycleSlabs(cls, 5);
  ASSERT_EQ(pages.size(), 5u);
  std::vector<LiveObject> objs;

  SlabClassStats k = Class(cls);
  EXPECT_EQ(k.cache_capacity, 2u);
  EXPECT_EQ(k.empty_slab_recycled, 5u);
  EXPECT_EQ(k.cache_size, 2u);
  EXPECT_EQ(k.cache_overflow_len, 3u);
  EXPECT_EQ(k.empty_slab_overflowed, 3u);
  SlabGlobalStats g;
  ASSERT_EQ(tslab_stats_global(a(), &g), TSLAB_OK);
  EXPECT_EQ(g.total_cache_overflows, 3u);
  // Other classes were not touched.
  EXPECT_EQ(Class(cls + 1).cache_size, 0u);
  EXPECT_EQ(Class(cls + 1).cache_capacity, 2u);

  const tslab_epoch_id e2 = tslab_epoch_advance(a());
  for (uint32_t n = 1; n <= 5; ++n) {
    FillSlabs(cls, e2, 1, &objs);
    k = Class(cls);
    EXPECT_EQ(k.slabs_reused, n);
    EXPECT_EQ(k.new_slab_count, 5u) << "a new page while the cache had slabs";
    EXPECT_EQ(uint64_t{k.cache_size} + k.cache_overflow_len, 5 - n);
    // One pool of empty slabs: cache_size counts up to the capacity,
    // cache_overflow_len what the pool holds beyond it.
    EXPECT_EQ(k.cache_size, std::min<uint64_t>(5 - n, 2));
    EXPECT_EQ(k.cache_overflow_len, 5 - n - std::min<uint64_t>(5 - n, 2));
  }
  EXPECT_EQ(PagesOf(objs), pages) << "reused slabs are the recycled pages";
  FillSlabs(cls, e2, 1, &objs);
  k = Class(cls);
  EXPECT_EQ(k.new_slab_count, 6u);
  EXPECT_EQ(k.slow_path_cache_miss, 6u);
  ExpectQuiescentInvariants(a());
}

TEST_F(Counters, CacheCapacityZeroOverflowsEverything) {
  Make(/*cache_capacity=*/0);
  RecycleSlabs(7, 3);
  SlabClassStats k = Class(7);
  EXPECT_EQ(k.cache_size, 0u);
  EXPECT_EQ(k.cache_overflow_len, 3u);
  EXPECT_EQ(k.empty_slab_overflowed, 3u);
  ExpectQuiescentInvariants(a());
}

// A capacity above anything the arena could hold is no reason to corrupt
// memory: the cache works, and reports a capacity it can really hold.
TEST_F(Counters, HugeCacheCapacityIsSafe) {
  MadviseRecorder unused;
  tslab_options o = RecorderOptions(&unused, UINT32_MAX);
  o.max_bytes = 2u << 20;
  a_ = MakeAllocator(o);
  ASSERT_NE(a_, nullptr);
  RecycleSlabs(2, 40);
  SlabClassStats k = Class(2);
  EXPECT_EQ(k.cache_size, 40u);
  EXPECT_EQ(k.cache_overflow_len, 0u);
  EXPECT_GE(k.cache_capacity, 40u);
  EXPECT_LE(uint64_t{k.cache_capacity} * PageSize(), o.max_bytes);
  std::vector<LiveObject> objs;
  FillSlabs(2, tslab_epoch_advance(a()), 40, &objs);
  EXPECT_EQ(Class(2).slabs_reused, 40u);
  ExpectIntact(objs);
  ExpectQuiescentInvariants(a());
}

TEST(CountersDefaults, CacheCapacityIs32) {
  AllocatorPtr a = MakeAllocator();
  for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
    SlabClassStats k;
    ASSERT_EQ(tslab_stats_class(a.get(), c, &k), TSLAB_OK);
    EXPECT_EQ(k.cache_capacity, 32u);
  }
}

// Filling slabs moves them to the full list; a free on a full slab moves
// it back; the gauges follow.
TEST_F(Counters, ListMovesAndGauges) {
  Make();
  const uint32_t cls = 3, slabs = 4;
  const tslab_epoch_id e = tslab_epoch_current(a());
  std::vector<LiveObject> objs;
  FillSlabs(cls, e, slabs, &objs);
  SlabClassStats k = Class(cls);
  EXPECT_EQ(k.list_move_partial_to_full, slabs);
  EXPECT_EQ(k.list_move_full_to_partial, 0u);
  EXPECT_EQ(k.total_full_slabs, slabs);
  EXPECT_EQ(k.total_partial_slabs, 0u);
  EXPECT_EQ(k.new_slab_count, slabs);
  EXPECT_EQ(k.net_slabs, slabs);

  // One free on each slab.
  std::map<uintptr_t, LiveObject> one_per_page;
  for (const LiveObject& o : objs) one_per_page.emplace(PageOf(o.p), o);
  ASSERT_EQ(one_per_page.size(), slabs);
  for (const auto& [page, o] : one_per_page) {
    ASSERT_EQ(tslab_free_handle(a(), o.h), TSLAB_OK);
  }
  k = Class(cls);
  EXPECT_EQ(k.list_move_full_to_partial, slabs);
  EXPECT_EQ(k.total_full_slabs, 0u);
  EXPECT_EQ(k.total_partial_slabs, slabs);
  EXPECT_EQ(k.live_objects, objs.size() - slabs);
  ExpectQuiescentInvariants(a());

  // Refilling the holes moves them to full again, without a new page.
  std::vector<LiveObject> refill;
  AllocMany(cls, e, slabs, &refill);
  k = Class(cls);
  EXPECT_EQ(k.new_slab_count, slabs);
  EXPECT_EQ(k.list_move_partial_to_full, 2u * slabs);
  EXPECT_EQ(k.total_full_slabs, slabs);
  ExpectQuiescentInvariants(a());
}

// One thread filling slabs one after the other leaves the lock-free path
// once per slab, to install it (the slab before it is full, or its current
// pointer was cleared when it filled). A slab from the cache is not a
// cache miss.
TEST_F(Counters, SlowPathsPerSlab) {
  Make();
  const uint32_t cls = 6, slabs = 3;
  const tslab_epoch_id e = tslab_epoch_advance(a());
  std::vector<LiveObject> objs;
  FillSlabs(cls, e, slabs, &objs);
  SlabClassStats k = Class(cls);
  EXPECT_EQ(k.slow_path_hits, slabs);
  EXPECT_EQ(k.current_partial_null + k.current_partial_full, slabs);
  EXPECT_GE(k.current_partial_null, 1u);  // the very first allocation
  EXPECT_EQ(k.slow_path_cache_miss, slabs);
  EXPECT_EQ(k.slow_path_epoch_closed, 0u);
  // Single thread: no contention, no CAS retries.
  EXPECT_EQ(k.lock_contended, 0u);
  EXPECT_GT(k.lock_fast_acquire, 0u);
  EXPECT_EQ(k.bitmap_alloc_cas_retries, 0u);
  EXPECT_EQ(k.bitmap_alloc_attempts, objs.size());

  FreeAll(a(), &objs);
  ASSERT_EQ(tslab_epoch_close(a(), e), TSLAB_OK);
  const tslab_epoch_id e2 = tslab_epoch_advance(a());
  FillSlabs(cls, e2, slabs, &objs);
  SlabClassStats k2 = Class(cls);
  EXPECT_EQ(k2.slow_path_hits, k.slow_path_hits + slabs);
  EXPECT_EQ(k2.slow_path_cache_miss, k.slow_path_cache_miss);
  EXPECT_EQ(k2.slabs_reused, slabs);
  EXPECT_EQ(k2.bitmap_free_attempts, objs.size());
  EXPECT_EQ(k2.bitmap_free_cas_retries, 0u);
  ExpectQuiescentInvariants(a());
}

// Live objects and bytes, per epoch and per class, follow each alloc/free.
TEST_F(Counters, LiveObjectsPerEpochAndClass) {
  Make();
  // counts[e][c]: what the test holds.
  std::map<tslab_epoch_id, std::map<uint32_t, std::vector<LiveObject>>> held;
  auto check = [&] {
    TslabSnapshot s = TakeSnapshot(a());
    uint64_t cls_live[TSLAB_NUM_CLASSES] = {};
    for (tslab_epoch_id e = 0; e < TSLAB_NUM_EPOCHS; ++e) {
      uint64_t n = 0, bytes = 0;
      for (const auto& [c, v] : held[e]) {
        n += v.size();
        bytes += v.size() * kSpecClassSizes[c];
        cls_live[c] += v.size();
      }
      EXPECT_EQ(s.epochs[e].live_objects, n) << "epoch " << e;
      EXPECT_EQ(s.epochs[e].live_bytes, bytes) << "epoch " << e;
    }
    uint64_t total = 0;
    for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
      EXPECT_EQ(s.classes[c].live_objects, cls_live[c]) << "class " << c;
      EXPECT_EQ(s.classes[c].live_bytes, cls_live[c] * kSpecClassSizes[c]);
      total += cls_live[c];
    }
    EXPECT_EQ(s.global.live_objects, total);
    ExpectQuiescentInvariants(s);
  };
  for (tslab_epoch_id e : {0u, 3u, 4u, 15u}) {
    for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; c += 1 + e % 3) {
      AllocMany(c, e, 1 + (e + c) % 5, &held[e][c]);
    }
  }
  check();
  // Free half of each list, by pointer.
  for (auto& [e, by_cls] : held) {
    for (auto& [c, v] : by_cls) {
      for (size_t i = 0; i < v.size() / 2 + 1 && !v.empty(); ++i) {
        ASSERT_EQ(tslab_free(a(), v.back().p), TSLAB_OK);
        v.pop_back();
      }
    }
  }
  check();
  TslabEpochStats es;
  ASSERT_EQ(tslab_stats_epoch(a(), 3, &es), TSLAB_OK);
  EXPECT_EQ(es.allocs - es.frees, es.live_objects);
  for (auto& [e, by_cls] : held) {
    for (auto& [c, v] : by_cls) FreeAll(a(), &v);
  }
  check();
}

TEST_F(Counters, EpochAdvancesAndCloses) {
  Make();
  uint64_t advances = 0, closes = 0;
  for (int i = 0; i < 40; ++i) {
    const tslab_epoch_id e = tslab_epoch_advance(a());
    ++advances;
    if (i % 3 == 0) {
      ASSERT_EQ(tslab_epoch_close(a(), e), TSLAB_OK);
      ++closes;
    }
    if (i % 5 == 0) {
      ASSERT_EQ(tslab_epoch_close(a(), (e + 7) % TSLAB_NUM_EPOCHS), TSLAB_OK);
      ++closes;
    }
  }
  // Refused calls count nothing.
  EXPECT_EQ(tslab_epoch_close(a(), TSLAB_NUM_EPOCHS), TSLAB_E_EPOCH_RANGE);
  TslabSnapshot s = TakeSnapshot(a());
  EXPECT_EQ(s.global.epoch_advances, advances);
  EXPECT_EQ(s.global.epoch_closes, closes);
  uint64_t close_calls = 0;
  for (const TslabEpochStats& es : s.epochs) close_calls += es.close_calls;
  EXPECT_EQ(close_calls, closes);
  ExpectQuiescentInvariants(s);
}

// epoch_close_* telemetry: scanned = the closing epoch's slabs, recycled =
// the empty ones among them.
TEST_F(Counters, EpochCloseTelemetry) {
  Make();
  const uint32_t cls = 1;
  const tslab_epoch_id e = tslab_epoch_advance(a());
  std::vector<LiveObject> keep, drop;
  FillSlabs(cls, e, 2, &keep);  // 2 slabs stay busy
  FillSlabs(cls, e, 3, &drop);  // 3 slabs emptied before the close
  FreeAll(a(), &drop);
  SlabClassStats before = Class(cls);
  ASSERT_EQ(tslab_epoch_close(a(), e), TSLAB_OK);
  SlabClassStats k = Class(cls);
  EXPECT_EQ(k.epoch_close_calls, before.epoch_close_calls + 1);
  EXPECT_EQ(k.epoch_close_scanned_slabs, before.epoch_close_scanned_slabs + 5);
  EXPECT_EQ(k.epoch_close_recycled_slabs, before.epoch_close_recycled_slabs + 3);
  EXPECT_EQ(k.empty_slab_recycled, before.empty_slab_recycled + 3);
  // The other classes were scanned too (nothing to scan).
  EXPECT_EQ(Class(0).epoch_close_calls, k.epoch_close_calls);
  EXPECT_EQ(Class(0).epoch_close_scanned_slabs, 0u);
  // The busy slabs are recycled by their last frees, not by a close.
  FreeAll(a(), &keep);
  SlabClassStats after = Class(cls);
  EXPECT_EQ(after.empty_slab_recycled, k.empty_slab_recycled + 2);
  EXPECT_EQ(after.epoch_close_recycled_slabs, k.epoch_close_recycled_slabs);
  ExpectQuiescentInvariants(a());
}

// The snapshot API: the per-part calls agree with the whole snapshot, and
// bad arguments are refused.
TEST_F(Counters, SnapshotApi) {
  Make();
  std::vector<LiveObject> objs;
  AllocMany(2, 0, 40, &objs);
  TslabSnapshot s = TakeSnapshot(a());
  EXPECT_EQ(s.pid, static_cast<int32_t>(getpid()));
  EXPECT_EQ(s.page_size, PageSize());
  SlabGlobalStats g;
  ASSERT_EQ(tslab_stats_global(a(), &g), TSLAB_OK);
  EXPECT_EQ(std::memcmp(&g, &s.global, sizeof(g)), 0);
  for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
    SlabClassStats k = Class(c);
    EXPECT_EQ(std::memcmp(&k, &s.classes[c], sizeof(k)), 0) << c;
  }
  TslabEpochStats es;
  ASSERT_EQ(tslab_stats_epoch(a(), 0, &es), TSLAB_OK);
  EXPECT_EQ(es.allocs, 40u);
  EXPECT_EQ(es.slab_count, s.epochs[0].slab_count);
  EXPECT_GE(es.age_ns, s.epochs[0].age_ns);

  // The region read directly, as another process would, with the size
  // the header promises: the same numbers.
  TslabSnapshot direct;
  ASSERT_EQ(tslab_region_snapshot(tslab_region_base(a()), tslab_region_size(),
                                  0, &direct),
            TSLAB_OK);
  EXPECT_EQ(std::memcmp(&direct.global, &s.global, sizeof(s.global)), 0);
  EXPECT_EQ(std::memcmp(direct.classes, s.classes, sizeof(s.classes)), 0);
  EXPECT_EQ(direct.epochs[0].allocs, 40u);
  EXPECT_EQ(tslab_region_snapshot(tslab_region_base(a()),
                                  tslab_region_size() - 1, 0, &direct),
            TSLAB_E_REGION_TRUNCATED);

  EXPECT_EQ(tslab_snapshot(nullptr, &s), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_snapshot(a(), nullptr), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_stats_global(nullptr, &g), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_stats_global(a(), nullptr), TSLAB_E_INVALID_ARG);
  SlabClassStats k;
  EXPECT_EQ(tslab_stats_class(a(), TSLAB_NUM_CLASSES, &k), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_stats_class(nullptr, 0, &k), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_stats_class(a(), 0, nullptr), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_last_error(), TSLAB_E_INVALID_ARG);
}

// recycle_rate_pct is a true percentage (docs/counters.md): the spec's
// recycled / new_slab_count reached 4,052,500% on the healthy demo, whose
// pooled slabs are reused and recycled again and again.
TEST_F(Counters, RecycleRateIsAPercentage) {
  Make(/*cache_capacity=*/2);
  RecycleSlabs(0, 4);  // 2 kept within the capacity, 2 beyond it
  SlabClassStats k = Class(0);
  EXPECT_EQ(k.empty_slab_recycled, 4u);
  EXPECT_EQ(k.empty_slab_overflowed, 2u);
  EXPECT_DOUBLE_EQ(k.recycle_rate_pct, 50.0);
  for (int round = 0; round < 20; ++round) RecycleSlabs(0, 2);  // reused
  k = Class(0);
  EXPECT_EQ(k.new_slab_count, 4u);
  EXPECT_EQ(k.empty_slab_recycled, 44u);
  EXPECT_GE(k.recycle_rate_pct, 0.0);
  EXPECT_LE(k.recycle_rate_pct, 100.0);
  EXPECT_DOUBLE_EQ(k.recycle_rate_pct,
                   100.0 * double(k.empty_slab_recycled -
                                  k.empty_slab_overflowed) /
                       double(k.empty_slab_recycled));
}

// The derived ratios are the spec's formulas over the snapshot's own
// fields.
TEST_F(Counters, DerivedRatios) {
  Make();
  const tslab_epoch_id e = tslab_epoch_advance(a());
  std::vector<LiveObject> objs;
  FillSlabs(0, e, 4, &objs);
  FreeAll(a(), &objs);
  ASSERT_EQ(tslab_epoch_close(a(), e), TSLAB_OK);
  FillSlabs(0, tslab_epoch_advance(a()), 2, &objs);
  TslabSnapshot s = TakeSnapshot(a());
  for (const SlabClassStats& k : s.classes) {
    const double want_rate =
        k.empty_slab_recycled == 0
            ? 0.0
            : 100.0 * double(k.empty_slab_recycled - k.empty_slab_overflowed) /
                  double(k.empty_slab_recycled);
    EXPECT_DOUBLE_EQ(k.recycle_rate_pct, want_rate);
    EXPECT_GE(k.recycle_rate_pct, 0.0);
    EXPECT_LE(k.recycle_rate_pct, 100.0);
    const double want_alloc =
        k.bitmap_alloc_attempts == 0
            ? 0.0
            : double(k.bitmap_alloc_cas_retries) / double(k.bitmap_alloc_attempts);
    EXPECT_DOUBLE_EQ(k.avg_alloc_cas_retries_per_attempt, want_alloc);
    const uint64_t locks = k.lock_fast_acquire + k.lock_contended;
    EXPECT_DOUBLE_EQ(k.lock_contention_rate,
                     locks == 0 ? 0.0 : double(k.lock_contended) / double(locks));
  }
  EXPECT_DOUBLE_EQ(s.classes[0].recycle_rate_pct, 100.0);
  EXPECT_EQ(s.classes[0].net_slabs, 2u);
}

}  // namespace
}  // namespace tslab::test
