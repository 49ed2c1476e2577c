// tslab_region_snapshot on hostile regions: a region file is any user's
// bytes (the shared stats directory), so no header may make the reader
// touch memory outside the region. Offsets near 2^64 used to wrap the
// bounds checks and read outside the mapping (issue 9, finding 2).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "tests/test_util.h"
#include "tslab/stats_region.h"
#include "tslab/tslab.h"

namespace tslab::test {
namespace {

// A real region's bytes (of an allocator that did some work), in memory
// of exactly the region's size: ASan flags any read beyond it.
std::vector<uint64_t> RealRegion() {
  AllocatorPtr a = MakeAllocator();  // anonymous memory: no file
  void* p = tslab_malloc(a.get(), 100, 0);
  EXPECT_NE(p, nullptr);
  std::vector<uint64_t> words(tslab_region_size() / 8);
  std::memcpy(words.data(), tslab_region_base(a.get()), tslab_region_size());
  return words;
}

TslabRegionHeader& Header(std::vector<uint64_t>& w) {
  return *reinterpret_cast<TslabRegionHeader*>(w.data());
}

int Snapshot(const std::vector<uint64_t>& w) {
  TslabSnapshot s;
  return tslab_region_snapshot(w.data(), w.size() * 8, 1, &s);
}

TEST(RegionReader, RealRegionReads) {
  std::vector<uint64_t> w = RealRegion();
  EXPECT_EQ(Snapshot(w), TSLAB_OK);
}

TEST(RegionReader, OffsetsThatWouldWrapAreCorrupt) {
  const std::vector<uint64_t> good = RealRegion();
  const uint64_t huge[] = {UINT64_MAX, UINT64_MAX - 7, UINT64_MAX - 4095,
                           uint64_t{1} << 63, UINT64_MAX - 511};
  for (uint64_t v : huge) {
    for (int field = 0; field < 5; ++field) {
      std::vector<uint64_t> w = good;
      TslabRegionHeader& h = Header(w);
      uint64_t* targets[] = {&h.off_global, &h.off_classes, &h.off_epochs,
                             &h.off_shards, &h.region_size};
      *targets[field] = v;
      // A region_size beyond the bytes there: truncated (a file still
      // growing reads so), not corrupt.
      EXPECT_EQ(Snapshot(w), field == 4 ? TSLAB_E_REGION_TRUNCATED
                                        : TSLAB_E_REGION_CORRUPT)
          << "field " << field << " = " << v;
    }
  }
}

TEST(RegionReader, MisalignedOrOverlappingSectionsAreCorrupt) {
  const std::vector<uint64_t> good = RealRegion();
  std::vector<uint64_t> w = good;
  Header(w).off_epochs += 4;  // not a multiple of 8
  EXPECT_EQ(Snapshot(w), TSLAB_E_REGION_CORRUPT);
  w = good;
  Header(w).off_classes = Header(w).off_global;  // overlaps the global one
  EXPECT_EQ(Snapshot(w), TSLAB_E_REGION_CORRUPT);
  w = good;
  Header(w).off_global = 8;  // inside the header
  EXPECT_EQ(Snapshot(w), TSLAB_E_REGION_CORRUPT);
  w = good;
  Header(w).region_size += 4096;  // promises more than there is
  EXPECT_EQ(Snapshot(w), TSLAB_E_REGION_TRUNCATED);
}

// Random corruption of the header (where every bound comes from): the
// reader answers with a status, never a crash or a read outside the
// region (ASan in the sanitizer build). Deterministic seed.
TEST(RegionReader, RandomHeaderCorruptionNeverReadsOutside) {
  std::vector<uint64_t> w = RealRegion();
  const TslabRegionHeader good = Header(w);
  std::mt19937_64 rng(12345);
  int ok = 0, refused = 0;
  for (int i = 0; i < 20000; ++i) {
    Header(w) = good;
    auto* bytes = reinterpret_cast<unsigned char*>(w.data());
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      const size_t at = rng() % sizeof(TslabRegionHeader);
      if (rng() % 2) {
        bytes[at] ^= static_cast<unsigned char>(1u << (rng() % 8));
      } else {
        bytes[at] = static_cast<unsigned char>(rng());
      }
    }
    const int rc = Snapshot(w);
    if (rc == TSLAB_OK) {
      ++ok;
    } else {
      EXPECT_TRUE(rc == TSLAB_E_REGION_CORRUPT ||
                  rc == TSLAB_E_REGION_VERSION ||
                  rc == TSLAB_E_REGION_TRUNCATED)
          << rc;
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(ok, 0);  // flips in names and counters are harmless
}

}  // namespace
}  // namespace tslab::test
