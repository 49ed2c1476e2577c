// Allocator construction and destruction; the thread's last error.
#include "src/allocator/allocator.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

namespace tslab::internal {

namespace {
thread_local tslab_status tl_last_error
    __attribute__((tls_model("initial-exec"))) = TSLAB_OK;

constexpr uint64_t kDefaultMaxBytes = 16ull << 30;
constexpr int32_t kMaxPurgeDelayMs = 3600 * 1000;

// The purge delay: the option if set (>= 0), else $TSLAB_PURGE_DELAY_MS if
// it is a whole number of ms up to an hour, else the default. A malformed
// variable is ignored (a library does not print).
int32_t ResolvePurgeDelay(int32_t opt) {
  if (opt >= 0) return opt < kMaxPurgeDelayMs ? opt : kMaxPurgeDelayMs;
  const char* env = std::getenv("TSLAB_PURGE_DELAY_MS");
  if (env != nullptr && *env != '\0') {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(env, &end, 10);
    if (errno == 0 && *end == '\0' && v >= 0 && v <= kMaxPurgeDelayMs) {
      return static_cast<int32_t>(v);
    }
  }
  return kDefaultPurgeDelayMs;
}
}  // namespace

void SetLastError(tslab_status s) { tl_last_error = s; }
tslab_status LastError() { return tl_last_error; }

Allocator* Allocator::Create(const tslab_options& opts, tslab_status* err) {
  auto* a = new (std::nothrow) Allocator();
  if (a == nullptr) {
    *err = TSLAB_E_NO_MEMORY;
    return nullptr;
  }
  if (!a->Init(opts, err)) {
    delete a;
    return nullptr;
  }
  return a;
}

bool Allocator::Init(const tslab_options& opts, tslab_status* err) {
  long ps = sysconf(_SC_PAGESIZE);
  page_size_ = ps > 0 ? static_cast<uint64_t>(ps) : 4096;
  cache_capacity_ = opts.cache_capacity;
  madvise_fn_ = opts.madvise_fn;
  madvise_ctx_ = opts.madvise_ctx;
  purge_delay_ms_ = ResolvePurgeDelay(opts.purge_delay_ms);
  purge_delay_ns_ = static_cast<uint64_t>(purge_delay_ms_) * 1000000ull;
  uint64_t max_bytes = opts.max_bytes ? opts.max_bytes : kDefaultMaxBytes;
  if (max_bytes / page_size_ > kMaxSlabs) max_bytes = kMaxSlabs * page_size_;

  id_ = AcquireAllocatorId();
  if (id_ == 0) {
    *err = TSLAB_E_TOO_MANY;
    return false;
  }
  if (!arena_.Init(max_bytes, page_size_)) {
    *err = TSLAB_E_NO_MEMORY;
    return false;
  }
  // The capacity only decides what counts as overflow; a capacity above
  // the slabs the arena can ever hold means "never".
  const uint64_t arena_slabs = arena_.reserved_bytes() / page_size_;
  if (cache_capacity_ > arena_slabs) {
    cache_capacity_ = static_cast<uint32_t>(arena_slabs);
  }
  for (uint32_t c = 0; c < kNumClasses; ++c) {
    ClassState& cs = classes_[c];
    cs.size = kClassSizes[c];
    cs.slots = SlotsPerSlab(c, page_size_);
    cs.empty_bits = EmptyBits(cs.slots);
    cs.slot_bits = SlotBits(cs.slots);
    // ceil(2^32 / size): exact division for offsets below one page.
    cs.div_mul = ((1ull << 32) + cs.size - 1) / cs.size;
  }
  RegionParams rp;
  rp.allocator_id = id_;
  rp.page_size = page_size_;
  rp.cache_capacity = cache_capacity_;
  rp.name = opts.name;
  rp.mode = opts.region_mode;
  rp.stats_dir = opts.stats_dir;
  if (!region_.Create(rp)) {
    *err = TSLAB_E_NO_MEMORY;
    return false;
  }
  TslabRegionHeader* h = region_.header();
  AtomicStore(h->purge_delay_ms, static_cast<uint64_t>(purge_delay_ms_));
  for (uint32_t c = 0; c < kNumClasses; ++c) {
    h->object_size[c] = classes_[c].size;
    h->objects_per_slab[c] = classes_[c].slots;
  }
  RegisterArena(&arena_, id_);
  {
    std::lock_guard<std::mutex> advance_lock(advance_mu_);
    OpenEpoch(0);
  }
  if (purge_delay_ns_ != 0) RegisterForPurge(this);
  RegisterForFork(this);
  fork_registered_ = true;
  return true;
}

Allocator::~Allocator() {
  // Waits for a fork in flight (it holds our locks); none after it.
  if (fork_registered_) UnregisterFromFork(this);
  // Waits for a purge of this allocator in flight; no purge after it.
  if (purge_delay_ns_ != 0) {
    UnregisterFromPurge(this);
  }
  // The region file first: its name holds our id, which a concurrent
  // tslab_create may take as soon as it is released below.
  region_.Destroy();
  if (id_ != 0) {
    UnregisterArena(&arena_);
    ReleaseAllocatorId(id_);
  }
  for (auto& h : heaps_) delete h.load(std::memory_order_relaxed);
  // arena_ and region_ unmap in their destructors (reverse order).
}

}  // namespace tslab::internal
