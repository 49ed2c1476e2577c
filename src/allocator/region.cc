#include "src/allocator/region.h"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <bitset>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace tslab::internal {

static_assert(sizeof(TslabRegionHeader) == 512, "header layout");
static_assert(sizeof(TslabRegionShard) % 64 == 0, "shards on cache lines");

namespace {

constexpr size_t RoundUp(size_t v, size_t a) { return (v + a - 1) / a * a; }

constexpr size_t kOffGlobal = sizeof(TslabRegionHeader);
constexpr size_t kOffClasses = kOffGlobal + sizeof(TslabRegionGlobal);
constexpr size_t kOffEpochs =
    kOffClasses + sizeof(TslabRegionClass) * TSLAB_NUM_CLASSES;
// Shards start on their own cache line: a shard is written by one thread.
constexpr size_t kOffShards =
    RoundUp(kOffEpochs + sizeof(TslabRegionEpoch) * TSLAB_NUM_EPOCHS, 64);
constexpr size_t kOffLabels =
    kOffShards + sizeof(TslabRegionShard) * TSLAB_REGION_SHARDS;
constexpr size_t kRegionBytes =
    kOffLabels + sizeof(TslabRegionLabel) * TSLAB_NUM_EPOCHS;

}  // namespace

bool StatsRegion::Create(const RegionParams& params) {
  size_ = RoundUp(kRegionBytes, static_cast<size_t>(params.page_size));
  base_ = MapFile(params, size_);
  if (base_ == nullptr) {
    path_.clear();
    void* m = mmap(nullptr, size_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return false;
    base_ = m;
  }
  char* b = static_cast<char*>(base_);
  header_ = reinterpret_cast<TslabRegionHeader*>(b);
  global_ = reinterpret_cast<TslabRegionGlobal*>(b + kOffGlobal);
  classes_ = reinterpret_cast<TslabRegionClass*>(b + kOffClasses);
  epochs_ = reinterpret_cast<TslabRegionEpoch*>(b + kOffEpochs);
  shards_ = reinterpret_cast<TslabRegionShard*>(b + kOffShards);
  labels_ = reinterpret_cast<TslabRegionLabel*>(b + kOffLabels);

  TslabRegionHeader& h = *header_;
  h.header_size = sizeof(TslabRegionHeader);
  h.region_size = size_;
  h.pid = getpid();
  h.start_time_ticks = ProcessStartTicks();
  h.pid_ns_inode = PidNamespaceInode();
  h.create_realtime_ns = RealtimeNs();
  h.page_size = params.page_size;
  h.epoch_count = TSLAB_NUM_EPOCHS;
  h.class_count = TSLAB_NUM_CLASSES;
  h.shard_count = TSLAB_REGION_SHARDS;
  h.state = TSLAB_REGION_STATE_LIVE;
  h.allocator_id = params.allocator_id;
  h.cache_capacity = params.cache_capacity;
  h.off_global = kOffGlobal;
  h.off_classes = kOffClasses;
  h.off_epochs = kOffEpochs;
  h.off_shards = kOffShards;
  h.off_labels = kOffLabels;
  if (params.name) {
    std::snprintf(h.name, sizeof(h.name), "%s", params.name);
  }
  // Written last: a reader that sees the magic sees the header above.
  std::atomic_ref<uint32_t>(h.layout_version)
      .store(TSLAB_REGION_LAYOUT_VERSION, std::memory_order_release);
  std::atomic_ref<uint64_t>(h.magic).store(TSLAB_REGION_MAGIC,
                                           std::memory_order_release);
  if (!path_.empty()) PublishFile();  // the file appears whole, or not at all
  return true;
}

void StatsRegion::Destroy() {
  if (base_ == nullptr) return;
  // LIVE -> DESTROYED only: a region the keep_stats exit handler already
  // marked EXITED (an allocator destroyed by a later exit handler) stays so.
  uint32_t live = TSLAB_REGION_STATE_LIVE;
  std::atomic_ref<uint32_t>(header_->state)
      .compare_exchange_strong(live, TSLAB_REGION_STATE_DESTROYED, std::memory_order_release,
                               std::memory_order_relaxed);
  // keep_stats=1: the file and its mapping stay until exit (region_file.cc).
  if (!KeepFileAtDestroy()) {
    UnlinkFile();
    munmap(base_, size_);
  }
  base_ = nullptr;
  header_ = nullptr;
}

// ---- thread shards ----

// constinit: no dynamic initialisation, so users in other files read the
// variable directly instead of through a TLS wrapper call and its spills.
constinit thread_local uint32_t tl_shard_plus_one
    __attribute__((tls_model("initial-exec"))) = 0;

namespace {

std::mutex g_shard_mu;
std::bitset<TSLAB_REGION_SHARDS> g_shard_used;  // guarded by g_shard_mu
pthread_key_t g_shard_key;
std::once_flag g_shard_key_once;

// Runs in the exiting thread (a pthread key destructor). Other key
// destructors may run after it and free tslab objects: the thread moves to
// the shared shard first (atomic adds, the shared heap's lock), because
// the released shard, its counters and its heap may belong to a new thread
// from the moment it is released.
void ReleaseShard(void* arg) {
  auto shard = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(arg)) - 1;
  tl_shard_plus_one = kSharedShard + 1;
  std::lock_guard<std::mutex> lock(g_shard_mu);
  if (shard < kSharedShard) g_shard_used.reset(shard);
}

}  // namespace

uint32_t AssignThreadShard() {
  std::call_once(g_shard_key_once,
                 [] { pthread_key_create(&g_shard_key, ReleaseShard); });
  uint32_t shard = kSharedShard;
  {
    std::lock_guard<std::mutex> lock(g_shard_mu);
    for (uint32_t i = 0; i < kSharedShard; ++i) {
      if (!g_shard_used.test(i)) {
        g_shard_used.set(i);
        shard = i;
        break;
      }
    }
  }
  tl_shard_plus_one = shard + 1;
  if (shard != kSharedShard) {
    pthread_setspecific(g_shard_key,
                        reinterpret_cast<void*>(uintptr_t{shard} + 1));
  }
  return shard;
}

void LockShardsForFork() { g_shard_mu.lock(); }

void UnlockShardsForFork(bool in_child) {
  if (in_child) {
    const uint32_t self = tl_shard_plus_one;
    g_shard_used.reset();
    if (self != 0 && self - 1 < kSharedShard) g_shard_used.set(self - 1);
  }
  g_shard_mu.unlock();
}

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

uint64_t RealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

uint64_t ProcessStartTicks() {
  FILE* f = std::fopen("/proc/self/stat", "re");
  if (!f) return 0;
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // The command name may hold spaces and parentheses: fields start after
  // the last ')'. Field 3 is the state; the start time is field 22.
  const char* p = std::strrchr(buf, ')');
  if (!p) return 0;
  p += 2;
  for (int field = 3; field < 22 && *p; ++p) {
    if (*p == ' ') ++field;
  }
  return std::strtoull(p, nullptr, 10);
}

uint64_t PidNamespaceInode() {
  struct stat st;
  return stat("/proc/self/ns/pid", &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
}

}  // namespace tslab::internal
