// Arena: one contiguous address range per allocator, carved into slabs.
//
// Purpose: a pointer free must tell "ours" from anything else without
// touching memory it does not own. Reserving one range up front makes that a
// bounds check, and makes the slab number (ptr - base) >> page_shift.
//
// The range is reserved PROT_NONE (no commit charge) and made read-write a
// chunk at a time as slabs are first needed; descriptors get a parallel
// reservation. Pages returned with madvise stay mapped.
//
// Thread-safety: Grow() takes the arena's own mutex; SlabAt/Contains/
// slabs_used read atomics and may run concurrently with Grow.
#ifndef TSLAB_SRC_ALLOCATOR_ARENA_H_
#define TSLAB_SRC_ALLOCATOR_ARENA_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "src/allocator/slab.h"

namespace tslab::internal {

class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena();

  // Reserves room for max_bytes of slabs. False (errno set) on failure.
  bool Init(uint64_t max_bytes, uint64_t page_size);

  // A fresh, never used slab; nullptr when the reservation is exhausted.
  // Its descriptor is zeroed except index. Cold: called once per new page.
  SlabMeta* NewSlab();

  bool Contains(const void* p) const {
    // One unsigned compare: below base_ wraps to a huge offset.
    return reinterpret_cast<uintptr_t>(p) - base_ <
           used_bytes_.load(std::memory_order_acquire);
  }
  uint64_t SlabIndexOf(const void* p) const {
    return (reinterpret_cast<uintptr_t>(p) - base_) >> page_shift_;
  }
  uint64_t OffsetInSlab(const void* p) const {
    return (reinterpret_cast<uintptr_t>(p) - base_) & (page_size_ - 1);
  }
  // REQUIRES: index < slabs_used().
  SlabMeta* Meta(uint64_t index) const { return &meta_[index]; }
  char* SlabBase(const SlabMeta* s) const {
    return reinterpret_cast<char*>(base_ + (uint64_t{s->index} << page_shift_));
  }
  uint64_t slabs_used() const {
    return used_bytes_.load(std::memory_order_acquire) >> page_shift_;
  }
  uint64_t page_size() const { return page_size_; }
  uintptr_t base() const { return base_; }
  uint64_t reserved_bytes() const { return reserved_bytes_; }

  // fork.cc: held across fork() so that the child finds it free.
  void LockForFork() { mu_.lock(); }
  void UnlockForFork() { mu_.unlock(); }

 private:
  bool GrowLocked();  // REQUIRES: mu_ held.

  uintptr_t base_ = 0;
  uint64_t reserved_bytes_ = 0;
  uint64_t page_size_ = 4096;
  uint32_t page_shift_ = 12;
  SlabMeta* meta_ = nullptr;
  uint64_t meta_reserved_bytes_ = 0;

  std::mutex mu_;
  uint64_t committed_bytes_ = 0;   // guarded by mu_
  std::atomic<uint64_t> used_bytes_{0};  // slabs handed out * page size
};

// Process-wide registry of live arenas, so that a pointer free can tell a
// foreign allocator's pointer from garbage. Error path only.
void RegisterArena(const Arena* arena, uint32_t allocator_id);
void UnregisterArena(const Arena* arena);
// Id of the live allocator whose arena holds p, or 0.
uint32_t FindArenaOwner(const void* p);

// Allocator ids: 12 bits, unique among live allocators, 0 never used.
inline constexpr uint32_t kMaxAllocatorId = 4095;
uint32_t AcquireAllocatorId();  // 0 when all are taken
void ReleaseAllocatorId(uint32_t id);
bool AllocatorIdLive(uint32_t id);
// fork.cc: the registry's lock, held across fork().
void LockArenaRegistryForFork();
void UnlockArenaRegistryForFork();

}  // namespace tslab::internal

#endif  // TSLAB_SRC_ALLOCATOR_ARENA_H_
