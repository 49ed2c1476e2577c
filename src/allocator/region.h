// StatsRegion: the memory block that holds one allocator's counters, laid
// out as include/tslab/stats_region.h says, plus the per-thread shard index.
//
// Purpose: counters are written in place, so publishing them to another
// process is a matter of where the block lives: anonymous memory, or a
// file under the stats directory that stats_dump maps read-only
// (region_file.cc does the file part).
//
// Thread-safety: Create/Destroy are not thread-safe (allocator create and
// destroy). Everything else is lock-free. ThreadShard() is process-wide:
// the same shard number serves a thread in every allocator.
#ifndef TSLAB_SRC_ALLOCATOR_REGION_H_
#define TSLAB_SRC_ALLOCATOR_REGION_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "tslab/stats_region.h"
#include "tslab/tslab.h"

namespace tslab::internal {

inline constexpr uint32_t kSharedShard = TSLAB_REGION_SHARDS - 1;

struct RegionParams {
  uint32_t allocator_id = 0;
  uint64_t page_size = 4096;
  uint64_t cache_capacity = 32;
  const char* name = nullptr;
  tslab_region_mode mode = TSLAB_REGION_DEFAULT;
  const char* stats_dir = nullptr;  // overrides $TSLAB_STATS_DIR
};

class StatsRegion {
 public:
  StatsRegion() = default;
  StatsRegion(const StatsRegion&) = delete;
  StatsRegion& operator=(const StatsRegion&) = delete;
  ~StatsRegion() { Destroy(); }

  // Maps the region (file-backed when the params and environment allow,
  // else anonymous) and writes its header. False only if no memory at all.
  bool Create(const RegionParams& params);
  // Marks the region destroyed, unlinks its file, unmaps it.
  void Destroy();

  TslabRegionHeader* header() const { return header_; }
  TslabRegionGlobal& global() const { return *global_; }
  TslabRegionClass& cls(uint32_t c) const { return classes_[c]; }
  TslabRegionEpoch& epoch(uint32_t e) const { return epochs_[e]; }
  TslabRegionShard& shard(uint32_t i) const { return shards_[i]; }
  TslabRegionLabel& label(uint32_t e) const { return labels_[e]; }
  const void* base() const { return base_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  // Region file helpers (region_file.cc). MapFile returns nullptr (and
  // leaves path_ empty) when the file cannot or should not be made; the
  // file it makes has a hidden name until PublishFile (called once the
  // header is whole) renames it. False if the rename failed: the region
  // then lives on in the unlinked mapping, invisible, and path_ is empty.
  void* MapFile(const RegionParams& params, size_t size);
  bool PublishFile();
  void UnlinkFile();
  // keep_stats=1: instead of unlinking and unmapping at destroy, hands the
  // file's mapping to the exit handler (which marks it EXITED). True if it
  // did: the caller must then neither unlink nor unmap.
  bool KeepFileAtDestroy();
  // region_file.cc's registry of live file-backed regions (for the exit
  // handler, which unlinks them, and the fork handler, which gives the
  // child private copies). Links guarded by the registry's mutex.
  friend struct RegionFileRegistry;
  StatsRegion* file_next_ = nullptr;
  StatsRegion* file_prev_ = nullptr;
  bool file_registered_ = false;

  void* base_ = nullptr;
  size_t size_ = 0;
  std::string path_;
  TslabRegionHeader* header_ = nullptr;
  TslabRegionGlobal* global_ = nullptr;
  TslabRegionClass* classes_ = nullptr;
  TslabRegionEpoch* epochs_ = nullptr;
  TslabRegionShard* shards_ = nullptr;
  TslabRegionLabel* labels_ = nullptr;
};

// The calling thread's shard number, assigned on first use and released
// at thread exit. Threads beyond the exclusive shards share kSharedShard.
uint32_t AssignThreadShard();
extern constinit thread_local uint32_t tl_shard_plus_one
    __attribute__((tls_model("initial-exec")));
inline uint32_t ThreadShard() {
  uint32_t s = tl_shard_plus_one;
  if (__builtin_expect(s != 0, 1)) return s - 1;
  return AssignThreadShard();
}

// fork.cc: the shard table's lock, held across fork(). In the child the
// shards of the threads that did not survive the fork are free again (a
// new thread takes one with its idle heap and its counters).
void LockShardsForFork();
void UnlockShardsForFork(bool in_child);

uint64_t MonotonicNs();
uint64_t RealtimeNs();
// Field 22 of /proc/self/stat (start time in clock ticks), 0 if unreadable.
uint64_t ProcessStartTicks();
// The inode of /proc/self/ns/pid (the PID namespace), 0 if unreadable.
uint64_t PidNamespaceInode();

}  // namespace tslab::internal

#endif  // TSLAB_SRC_ALLOCATOR_REGION_H_
