// Slab descriptors and the intrusive lists that hold them.
//
// A slab is one page of the arena; its descriptor (SlabMeta) lives out of
// line, in a parallel array indexed by slab number, so that madvise() on the
// page never touches metadata and a stale handle can be checked without
// reading the (possibly returned) page.
//
// The bitmap word `bits`: bit i set = slot i allocated, for i < slots; bits
// [slots, 63) are always set, so ~bits & kSlotMask is exactly the free slots
// of whatever class owns the slab; bit 63 (kSealed) marks a slab that is
// being recycled or sits in the cache: no allocation may claim a slot of a
// sealed slab. Recycling is a CAS from "empty" to kSealed, so it and an
// allocation can never both win.
//
// `tag` packs (incarnation, epoch, class) of the current owner. It changes
// only while the slab is sealed; the lock-free allocator reads it before and
// after its CAS on `bits` to detect that the slab changed hands meanwhile.
//
// Per-slot 16-bit generations (`gen`) make handles checkable: a free
// advances gen[slot] by CAS, which is the free's linearisation point.
//
// Thread-safety: bits, tag, gen and reclaim_on_empty are atomics; list
// links, `list` and everything else are guarded by the owning class's lock.
#ifndef TSLAB_SRC_ALLOCATOR_SLAB_H_
#define TSLAB_SRC_ALLOCATOR_SLAB_H_

#include <atomic>
#include <cstdint>

#include "src/allocator/size_class.h"

namespace tslab::internal {

inline constexpr uint64_t kSealed = 1ull << 63;
inline constexpr uint64_t kSlotMask = ~kSealed;

// Bits value of an empty slab with `slots` slots.
inline constexpr uint64_t EmptyBits(uint32_t slots) {
  return kSlotMask & ~((1ull << slots) - 1);
}

inline constexpr uint64_t MakeTag(uint64_t incarnation, uint32_t epoch,
                                  uint32_t cls) {
  return (incarnation << 16) | (uint64_t{epoch} << 8) | cls;
}
inline constexpr uint32_t TagOwner(uint64_t tag) { return tag & 0xffff; }
inline constexpr uint32_t TagEpoch(uint64_t tag) { return (tag >> 8) & 0xff; }
inline constexpr uint32_t TagClass(uint64_t tag) { return tag & 0xff; }
inline constexpr uint32_t OwnerKey(uint32_t epoch, uint32_t cls) {
  return (epoch << 8) | cls;
}

enum class ListKind : uint8_t {
  kNone = 0,     // never used, or in flight between lists
  kPartial,      // an epoch's slab with free slots (or the current one)
  kFull,         // an epoch's slab with no free slot
  kDrainPartial, // a reopened epoch's old slab, recycled when empty
  kDrainFull,
  kCache,        // empty, sealed, in the per-class cache array
  kOverflow,     // empty, sealed, on the per-class overflow list
};

struct SlabList;

struct alignas(64) SlabMeta {
  // --- first cache line: what the fast paths touch ---
  std::atomic<uint64_t> bits{0};
  std::atomic<uint64_t> tag{0};
  std::atomic<uint8_t> reclaim_on_empty{0};
  // Guarded by the class lock:
  ListKind list = ListKind::kNone;
  uint8_t cls = 0;
  uint8_t epoch = 0;
  uint32_t index = 0;  // slab number in the arena
  SlabMeta* prev = nullptr;
  SlabMeta* next = nullptr;
  SlabList* owner_list = nullptr;
  // --- then the slot generations (two cache lines) ---
  std::atomic<uint16_t> gen[kMaxSlotsPerSlab + 1];
};
static_assert(sizeof(SlabMeta) == 192, "descriptor stride");

// Doubly linked, with a count. REQUIRES: the class lock for every call.
struct SlabList {
  SlabMeta* head = nullptr;
  uint64_t size = 0;

  void PushFront(SlabMeta* s) {
    s->prev = nullptr;
    s->next = head;
    if (head) head->prev = s;
    head = s;
    s->owner_list = this;
    ++size;
  }
  void Remove(SlabMeta* s) {
    if (s->prev) s->prev->next = s->next; else head = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = nullptr;
    s->owner_list = nullptr;
    --size;
  }
  SlabMeta* PopFront() {
    SlabMeta* s = head;
    if (s) Remove(s);
    return s;
  }
};

}  // namespace tslab::internal

#endif  // TSLAB_SRC_ALLOCATOR_SLAB_H_
