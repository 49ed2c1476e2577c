#include "src/allocator/arena.h"

#include <sys/mman.h>

#include <bitset>
#include <cerrno>
#include <new>

namespace tslab::internal {
namespace {

// Slabs made read-write at a time: 2 MiB of 4 KiB pages. Larger chunks mean
// fewer mprotect calls; the commit charge is paid only for touched pages.
constexpr uint64_t kChunkSlabs = 512;

uint64_t RoundUp(uint64_t v, uint64_t align) {
  return (v + align - 1) / align * align;
}

}  // namespace

Arena::~Arena() {
  if (base_) munmap(reinterpret_cast<void*>(base_), reserved_bytes_);
  if (meta_) munmap(meta_, meta_reserved_bytes_);
}

bool Arena::Init(uint64_t max_bytes, uint64_t page_size) {
  page_size_ = page_size;
  page_shift_ = static_cast<uint32_t>(__builtin_ctzll(page_size));
  reserved_bytes_ = RoundUp(max_bytes, page_size * kChunkSlabs);
  uint64_t slabs = reserved_bytes_ / page_size;
  meta_reserved_bytes_ = RoundUp(slabs * sizeof(SlabMeta), page_size);
  void* b = mmap(nullptr, reserved_bytes_, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (b == MAP_FAILED) return false;
  base_ = reinterpret_cast<uintptr_t>(b);
  void* m = mmap(nullptr, meta_reserved_bytes_, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return false;
  meta_ = static_cast<SlabMeta*>(m);
  return true;
}

bool Arena::GrowLocked() {
  uint64_t chunk = kChunkSlabs * page_size_;
  if (committed_bytes_ + chunk > reserved_bytes_) return false;
  void* at = reinterpret_cast<void*>(base_ + committed_bytes_);
  if (mprotect(at, chunk, PROT_READ | PROT_WRITE) != 0) return false;
  // Descriptors of the new chunk: page-aligned window covering them.
  uint64_t first = committed_bytes_ / page_size_;
  uint64_t mbeg = first * sizeof(SlabMeta) / page_size_ * page_size_;
  uint64_t mend = RoundUp((first + kChunkSlabs) * sizeof(SlabMeta), page_size_);
  if (mprotect(reinterpret_cast<char*>(meta_) + mbeg, mend - mbeg,
               PROT_READ | PROT_WRITE) != 0) {
    return false;
  }
  committed_bytes_ += chunk;
  return true;
}

SlabMeta* Arena::NewSlab() {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t used = used_bytes_.load(std::memory_order_relaxed);
  if (used == committed_bytes_ && !GrowLocked()) {
    errno = ENOMEM;
    return nullptr;
  }
  uint64_t index = used / page_size_;
  SlabMeta* s = new (&meta_[index]) SlabMeta();
  s->index = static_cast<uint32_t>(index);
  s->base = reinterpret_cast<char*>(base_ + (index << page_shift_));
  for (auto& g : s->gen) g.store(0, std::memory_order_relaxed);
  // Publish the descriptor before the page counts as "ours".
  used_bytes_.store(used + page_size_, std::memory_order_release);
  return s;
}

// ---- process-wide registries ----
namespace {

struct ArenaEntry {
  const Arena* arena;
  uint32_t id;
};

std::mutex& RegistryMutex() {
  static std::mutex mu;
  return mu;
}
// Fixed-size table: at most kMaxAllocatorId live allocators, so no
// allocation under the lock and nothing to tear down at exit.
ArenaEntry g_arenas[kMaxAllocatorId + 1];
std::bitset<kMaxAllocatorId + 1> g_ids_live;
uint32_t g_next_id = 1;

}  // namespace

void RegisterArena(const Arena* arena, uint32_t id) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  g_arenas[id] = {arena, id};
}

void UnregisterArena(const Arena* arena) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  for (auto& e : g_arenas) {
    if (e.arena == arena) e = {nullptr, 0};
  }
}

uint32_t FindArenaOwner(const void* p) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  for (const auto& e : g_arenas) {
    if (e.arena && e.arena->Contains(p)) return e.id;
  }
  return 0;
}

uint32_t AcquireAllocatorId() {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  // Round robin so that a destroyed allocator's id is reused as late as
  // possible: its stale handles then meet no live owner for longest.
  for (uint32_t n = 0; n < kMaxAllocatorId; ++n) {
    uint32_t id = g_next_id;
    g_next_id = g_next_id == kMaxAllocatorId ? 1 : g_next_id + 1;
    if (!g_ids_live.test(id)) {
      g_ids_live.set(id);
      return id;
    }
  }
  return 0;
}

void ReleaseAllocatorId(uint32_t id) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  g_ids_live.reset(id);
}

void LockArenaRegistryForFork() { RegistryMutex().lock(); }
void UnlockArenaRegistryForFork() { RegistryMutex().unlock(); }

bool AllocatorIdLive(uint32_t id) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  return id <= kMaxAllocatorId && g_ids_live.test(id);
}

}  // namespace tslab::internal
