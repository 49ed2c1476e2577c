// tests/test_util.h: helpers shared by the allocator core's test suites.
//
// Purpose: one place for what every suite needs: an owning allocator
// pointer, snapshots, the quiescent counter invariants (stats.h), a fake
// madvise that records its calls, byte patterns that prove an object was
// not overwritten, and the "a refused free changes nothing" check.
// Expectations are computed from what a test did, never copied from the
// implementation.
//
// Invariants: helpers use the public API only (tslab.h, tslab.hpp).
// Thread-safety: MadviseRecorder is thread-safe (the allocator may call it
// from any thread); the rest is for one test thread at a time.
#ifndef TSLAB_TESTS_TEST_UTIL_H_
#define TSLAB_TESTS_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "tslab/stats.h"
#include "tslab/tslab.h"

namespace tslab::test {

// The spec's size-class table (stats_dump_reference.md, "Size Classes").
inline constexpr uint32_t kSpecClassSizes[TSLAB_NUM_CLASSES] = {
    64, 96, 128, 192, 256, 384, 512, 768};
inline constexpr uint32_t kSpecObjectsPerSlab4K[TSLAB_NUM_CLASSES] = {
    63, 42, 31, 21, 15, 10, 7, 5};

struct AllocatorCloser {
  void operator()(tslab_allocator* a) const { tslab_destroy(a); }
};
using AllocatorPtr = std::unique_ptr<tslab_allocator, AllocatorCloser>;

// Defaults, but no stats file: tests must not leave files behind.
inline tslab_options TestOptions() {
  tslab_options o;
  tslab_options_init(&o);
  o.region_mode = TSLAB_REGION_OFF;
  return o;
}

inline AllocatorPtr MakeAllocator(const tslab_options& o = TestOptions()) {
  AllocatorPtr a(tslab_create(&o));
  EXPECT_NE(a, nullptr) << tslab_strerror(tslab_last_error());
  return a;
}

inline TslabSnapshot TakeSnapshot(tslab_allocator* a) {
  TslabSnapshot s;
  std::memset(&s, 0, sizeof(s));
  EXPECT_EQ(tslab_snapshot(a, &s), TSLAB_OK);
  return s;
}

inline uint64_t PageSize() { return static_cast<uint64_t>(sysconf(_SC_PAGESIZE)); }

inline uintptr_t PageOf(const void* p) {
  return reinterpret_cast<uintptr_t>(p) & ~(PageSize() - 1);
}

// Objects per one-page slab, from the rule: the page less a 64-byte
// header, in objects of the class, at most 63 (one 64-bit bitmap word).
inline uint32_t ExpectedObjectsPerSlab(uint32_t cls) {
  uint64_t n = (PageSize() - 64) / kSpecClassSizes[cls];
  return n > 63 ? 63 : static_cast<uint32_t>(n);
}

// Every invariant stats.h promises for a quiescent allocator, plus the
// bookkeeping identities that follow from the fields' definitions.
inline void ExpectQuiescentInvariants(const TslabSnapshot& s) {
  SCOPED_TRACE("quiescent invariants");
  const SlabGlobalStats& g = s.global;
  const uint64_t page = s.page_size;
  ASSERT_EQ(page, PageSize());
  EXPECT_EQ(g.page_size, page);
  EXPECT_EQ(g.version, uint32_t{TSLAB_STATS_VERSION});
  EXPECT_EQ(g.epoch_count, uint32_t{TSLAB_NUM_EPOCHS});

  SlabGlobalStats sum;
  std::memset(&sum, 0, sizeof(sum));
  uint64_t draining = 0;
  for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
    const SlabClassStats& k = s.classes[c];
    SCOPED_TRACE("class " + std::to_string(c));
    EXPECT_EQ(k.class_index, c);
    EXPECT_EQ(k.object_size, kSpecClassSizes[c]);
    EXPECT_EQ(k.net_slabs, uint64_t{k.total_partial_slabs} + k.total_full_slabs);
    EXPECT_EQ(k.net_slabs + k.empty_slab_recycled,
              k.new_slab_count + k.slabs_reused);
    EXPECT_EQ(k.estimated_rss_bytes, k.net_slabs * page);
    EXPECT_EQ(k.madvise_bytes % page, 0u);
    EXPECT_LE(k.madvise_failures, k.madvise_calls);
    // Empty slabs sit in the cache or the overflow list until reused.
    EXPECT_EQ(uint64_t{k.cache_size} + k.cache_overflow_len,
              k.empty_slab_recycled - k.slabs_reused);
    EXPECT_LE(k.cache_size, k.cache_capacity);
    EXPECT_LE(k.empty_slab_overflowed, k.empty_slab_recycled);
    EXPECT_EQ(k.live_objects, k.bitmap_alloc_attempts - k.bitmap_free_attempts);
    EXPECT_EQ(k.live_bytes, k.live_objects * k.object_size);
    // Live objects fit in the slabs in use; every slab in use holds one
    // (empty ones are recycled by close, or wait in an open epoch).
    EXPECT_LE(k.live_objects, k.net_slabs * k.objects_per_slab);
    EXPECT_LE(k.draining_slabs, k.net_slabs);
    EXPECT_LE(k.slow_path_epoch_closed, k.slow_path_hits);
    EXPECT_EQ(k.slow_path_hits, k.current_partial_null +
                                    k.current_partial_full +
                                    k.slow_path_epoch_closed);
    EXPECT_LE(k.new_slab_count, k.slow_path_cache_miss);
    EXPECT_LE(k.epoch_close_recycled_slabs, k.epoch_close_scanned_slabs);
    EXPECT_LE(k.epoch_close_recycled_slabs, k.empty_slab_recycled);
    EXPECT_LE(k.current_partial_cas_failures, k.current_partial_cas_attempts);
    EXPECT_EQ(k.epoch_close_calls, g.epoch_closes);
    // Resident empty slabs are cached or overflowed ones (stats_region.h).
    EXPECT_LE(k.resident_empty_slabs,
              uint64_t{k.cache_size} + k.cache_overflow_len);
    // Every total stats.h pairs with a per-class field (TSLAB_GLOBAL_SUMS).
#define TSLAB_TEST_ADD_UP_(global_field, class_field) \
  sum.global_field += k.class_field;
    TSLAB_GLOBAL_SUMS(TSLAB_TEST_ADD_UP_)
#undef TSLAB_TEST_ADD_UP_
    draining += k.draining_slabs;
  }
#define TSLAB_TEST_EXPECT_SUM_(global_field, class_field) \
  EXPECT_EQ(g.global_field, sum.global_field)             \
      << #global_field " != sum of " #class_field;
  TSLAB_GLOBAL_SUMS(TSLAB_TEST_EXPECT_SUM_)
#undef TSLAB_TEST_EXPECT_SUM_
  EXPECT_EQ(g.estimated_slab_rss_bytes, g.net_slabs * page);
  EXPECT_EQ(g.total_allocs - g.total_frees, g.live_objects);
  EXPECT_LE(g.total_slow_epoch_closed, g.alloc_failures);

  // Epochs: states counted, objects attributed to exactly one slot, slabs
  // on an epoch's lists or on a draining list.
  uint32_t active = 0, closing = 0, drained = 0;
  uint64_t allocs = 0, frees = 0, live = 0, live_bytes = 0, slabs = 0;
  for (uint32_t e = 0; e < TSLAB_NUM_EPOCHS; ++e) {
    const TslabEpochStats& es = s.epochs[e];
    SCOPED_TRACE("epoch " + std::to_string(e));
    EXPECT_EQ(es.epoch_id, e);
    active += es.state == TSLAB_EPOCH_ACTIVE;
    closing += es.state == TSLAB_EPOCH_CLOSING;
    drained += es.state == TSLAB_EPOCH_DRAINED;
    if (es.state == TSLAB_EPOCH_DRAINED) {
      EXPECT_EQ(es.slab_count, 0u);
    }
    if (es.state == TSLAB_EPOCH_CLOSING) {
      EXPECT_GT(es.slab_count, 0u);  // else it would be DRAINED
    }
    if (es.state == TSLAB_EPOCH_IDLE) {
      EXPECT_EQ(es.era, 0u);
      EXPECT_EQ(es.allocs, 0u);
    }
    EXPECT_EQ(es.live_objects, es.allocs - es.frees);
    allocs += es.allocs;
    frees += es.frees;
    live += es.live_objects;
    live_bytes += es.live_bytes;
    slabs += es.slab_count;
  }
  EXPECT_EQ(g.active_epoch_count, active);
  EXPECT_EQ(g.closing_epoch_count, closing);
  EXPECT_EQ(g.drained_epoch_count, drained);
  EXPECT_EQ(allocs, g.total_allocs);
  EXPECT_EQ(frees, g.total_frees);
  EXPECT_EQ(live, g.live_objects);
  EXPECT_EQ(live_bytes, g.live_bytes);
  EXPECT_EQ(slabs + draining, g.net_slabs);
  EXPECT_LT(g.current_epoch, uint32_t{TSLAB_NUM_EPOCHS});
  EXPECT_NE(s.epochs[g.current_epoch].state, uint32_t{TSLAB_EPOCH_IDLE});
}

inline void ExpectQuiescentInvariants(tslab_allocator* a) {
  ExpectQuiescentInvariants(TakeSnapshot(a));
}

// ---- byte patterns: prove that nobody else wrote into an object ----

inline uint8_t PatternByte(uint64_t seed, size_t i) {
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + i;
  x ^= x >> 29;
  return static_cast<uint8_t>(x * 0xbf58476d1ce4e5b9ull >> 56);
}
inline void FillPattern(void* p, size_t n, uint64_t seed) {
  auto* b = static_cast<uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) b[i] = PatternByte(seed, i);
}
// Index of the first wrong byte, or n when the pattern is intact.
inline size_t CheckPattern(const void* p, size_t n, uint64_t seed) {
  const auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) {
    if (b[i] != PatternByte(seed, i)) return i;
  }
  return n;
}

// A live object a test owns: where, how big, its handle (0 if none) and
// the seed of the pattern written into all of its bytes.
struct LiveObject {
  void* p = nullptr;
  tslab_handle h = 0;
  uint32_t size = 0;
  uint64_t seed = 0;
};

// Allocates `size` bytes in `e` with a handle and fills them; p is NULL
// (and the failure recorded) if the allocation failed.
inline LiveObject AllocFilled(tslab_allocator* a, uint32_t size,
                              tslab_epoch_id e, uint64_t seed) {
  LiveObject o;
  o.size = size;
  o.seed = seed;
  o.p = tslab_alloc(a, size, e, &o.h);
  EXPECT_NE(o.p, nullptr) << "size " << size << " epoch " << e << ": "
                          << tslab_strerror(tslab_last_error());
  if (o.p != nullptr) FillPattern(o.p, size, seed);
  return o;
}

// n filled objects of class cls in epoch e, appended to *out; each takes
// the next seed from *seed.
inline void AllocMany(tslab_allocator* a, uint32_t cls, tslab_epoch_id e,
                      uint32_t n, std::vector<LiveObject>* out,
                      uint64_t* seed) {
  for (uint32_t i = 0; i < n; ++i) {
    out->push_back(AllocFilled(a, kSpecClassSizes[cls], e, (*seed)++));
    ASSERT_NE(out->back().p, nullptr);
  }
}

inline void ExpectIntact(const std::vector<LiveObject>& objs) {
  for (const LiveObject& o : objs) {
    ASSERT_EQ(CheckPattern(o.p, o.size, o.seed), o.size)
        << "object " << o.p << " of " << o.size << " bytes was overwritten";
  }
}

// Frees every object (by handle when it has one, else by pointer) after
// checking its pattern.
inline void FreeAll(tslab_allocator* a, std::vector<LiveObject>* objs) {
  for (const LiveObject& o : *objs) {
    ASSERT_EQ(CheckPattern(o.p, o.size, o.seed), o.size) << o.p;
    ASSERT_EQ(o.h != 0 ? tslab_free_handle(a, o.h) : tslab_free(a, o.p),
              TSLAB_OK);
  }
  objs->clear();
}

// ---- refused frees ----

// Runs `bad_free`, which must be refused with `want`: the status and the
// thread's last error are `want`; the global counter `field` (and, when
// cls >= 0, that class's invalid_frees) went up by one; nothing else in the
// global or class stats changed; every object of `live` is intact.
template <typename Fn>
void ExpectFreeRefused(tslab_allocator* a, const std::vector<LiveObject>& live,
                       tslab_status want, uint64_t SlabGlobalStats::*field,
                       int cls, Fn&& bad_free) {
  TslabSnapshot before = TakeSnapshot(a);
  tslab_status got = bad_free();
  EXPECT_EQ(got, want) << tslab_strerror(got) << " vs " << tslab_strerror(want);
  EXPECT_EQ(tslab_last_error(), want);
  TslabSnapshot after = TakeSnapshot(a);
  EXPECT_EQ(after.global.*field, before.global.*field + 1);
  after.global.*field -= 1;
  EXPECT_EQ(std::memcmp(&after.global, &before.global, sizeof(before.global)), 0)
      << "a refused free changed other global counters";
  if (cls >= 0 && cls < TSLAB_NUM_CLASSES) {
    SlabClassStats& k = after.classes[cls];
    EXPECT_EQ(k.invalid_frees, before.classes[cls].invalid_frees + 1);
    k.invalid_frees -= 1;
  }
  for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
    EXPECT_EQ(std::memcmp(&after.classes[c], &before.classes[c],
                          sizeof(SlabClassStats)), 0)
        << "a refused free changed class " << c << "'s counters";
  }
  for (int e = 0; e < TSLAB_NUM_EPOCHS; ++e) {
    EXPECT_EQ(after.epochs[e].allocs, before.epochs[e].allocs);
    EXPECT_EQ(after.epochs[e].frees, before.epochs[e].frees);
    EXPECT_EQ(after.epochs[e].state, before.epochs[e].state);
    EXPECT_EQ(after.epochs[e].slab_count, before.epochs[e].slab_count);
  }
  ExpectIntact(live);
}

// ---- a fake madvise ----

// Records every call; fails each with fail_errno when that is non-zero;
// forwards successful calls to the real madvise when forward is set.
struct MadviseRecorder {
  struct Call {
    uintptr_t addr;
    size_t len;
    int advice;
  };
  std::mutex mu;
  std::vector<Call> calls;
  int fail_errno = 0;
  bool forward = false;

  static int Hook(void* addr, size_t len, int advice, void* ctx) {
    auto* r = static_cast<MadviseRecorder*>(ctx);
    {
      std::lock_guard<std::mutex> lock(r->mu);
      r->calls.push_back({reinterpret_cast<uintptr_t>(addr), len, advice});
    }
    if (r->fail_errno != 0) {
      errno = r->fail_errno;
      return -1;
    }
    return r->forward ? madvise(addr, len, advice) : 0;
  }
  std::vector<Call> Calls() {
    std::lock_guard<std::mutex> lock(mu);
    return calls;
  }
  // The pages the calls covered (a call may cover a run of pages).
  std::set<uintptr_t> Pages() {
    std::set<uintptr_t> out;
    for (const Call& c : Calls()) {
      for (size_t off = 0; off < c.len; off += PageSize()) out.insert(c.addr + off);
    }
    return out;
  }
  uint64_t Bytes() {
    uint64_t n = 0;
    for (const Call& c : Calls()) n += c.len;
    return n;
  }
};

inline tslab_options RecorderOptions(MadviseRecorder* r,
                                     uint32_t cache_capacity = 32) {
  tslab_options o = TestOptions();
  o.madvise_fn = &MadviseRecorder::Hook;
  o.madvise_ctx = r;
  o.cache_capacity = cache_capacity;
  return o;
}

// Distinct pages holding the objects.
inline std::set<uintptr_t> PagesOf(const std::vector<LiveObject>& objs) {
  std::set<uintptr_t> out;
  for (const LiveObject& o : objs) out.insert(PageOf(o.p));
  return out;
}

// ---- /proc ----

// A "Name:   N kB" line of /proc/self/status, in bytes; 0 if absent.
inline uint64_t ProcStatusBytes(const char* name) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(name) + ":";
  while (std::getline(f, line)) {
    if (line.rfind(prefix, 0) == 0) {
      return std::stoull(line.substr(prefix.size())) * 1024;
    }
  }
  return 0;
}

}  // namespace tslab::test

#endif  // TSLAB_TESTS_TEST_UTIL_H_
