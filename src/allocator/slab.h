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
// `tag` packs (incarnation, heap, epoch, class) of the current owner. It changes
// only while the slab is sealed; the lock-free allocator reads it before and
// after its CAS on `bits` to detect that the slab changed hands meanwhile.
//
// Finding slabs with free slots without a lock on the free path: a free
// that takes a slab from full to not-full pushes it on its (epoch, class,
// heap)'s `pending` stack (a Treiber stack: lock-free pushes, and the slow path
// takes the whole stack at once under the class lock, so there is no ABA).
// `queued` makes the push once-only; the push happens before the freeing
// CAS, while the freer still holds a slot, so a slab on a pending stack is
// never empty and never sealed. The slow path moves pending slabs to the
// `avail` list (class lock) and installs them as current.
//
// Per-slot 16-bit generations (`gen`) make handles checkable: a free
// advances gen[slot] by CAS, which is the free's linearisation point.
//
// Thread-safety: bits, tag, gen, queued and reclaim_on_empty are atomics;
// pending_next is written by the one pusher before its CAS publishes it;
// the list links, `list`, `in_avail` and the rest are guarded by the owning
// heap's lock (see allocator.h).
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

// tag = incarnation:40 | heap:8 | epoch:8 | class:8.
inline constexpr uint64_t MakeTag(uint64_t incarnation, uint32_t heap,
                                  uint32_t epoch, uint32_t cls) {
  return (incarnation << 24) | (uint64_t{heap} << 16) |
         (uint64_t{epoch} << 8) | cls;
}
inline constexpr uint64_t TagIncarnation(uint64_t tag) { return tag >> 24; }
inline constexpr uint32_t TagOwner(uint64_t tag) { return tag & 0xffff; }
inline constexpr uint32_t TagHeap(uint64_t tag) { return (tag >> 16) & 0xff; }
inline constexpr uint32_t TagEpoch(uint64_t tag) { return (tag >> 8) & 0xff; }
inline constexpr uint32_t TagClass(uint64_t tag) { return tag & 0xff; }
inline constexpr uint32_t OwnerKey(uint32_t epoch, uint32_t cls) {
  return (epoch << 8) | cls;
}

enum class ListKind : uint8_t {
  kNone = 0,  // never used, or in flight (sealed, being recycled)
  kEpoch,     // on its (epoch, class, heap)'s `all` list
  kDrain,     // a reopened epoch's old slab, on its heap's drain list
  kCache,     // empty, sealed, in the per-class cache array
  kOverflow,  // empty, sealed, on the per-class overflow list
};

struct alignas(64) SlabMeta {
  // --- line 0: what the fast paths and the pending/avail moves touch ---
  std::atomic<uint64_t> bits{0};
  std::atomic<uint64_t> tag{0};
  std::atomic<uint8_t> reclaim_on_empty{0};
  std::atomic<uint8_t> queued{0};
  // Guarded by the class lock (read only by lock holders):
  ListKind list = ListKind::kNone;
  uint8_t cls = 0;
  uint8_t epoch = 0;
  uint8_t heap = 0;
  bool in_avail = false;
  uint32_t index = 0;  // slab number in the arena
  SlabMeta* pending_next = nullptr;
  SlabMeta* avail_next = nullptr;
  // --- lines 1-2: slot generations ---
  alignas(64) std::atomic<uint16_t> gen[kMaxSlotsPerSlab + 1];
  // --- line 3: list links used when a slab changes hands; class lock ---
  alignas(64) SlabMeta* prev = nullptr;  // `all`, drain or overflow list
  SlabMeta* next = nullptr;
};
static_assert(sizeof(SlabMeta) == 256, "descriptor stride");

// Intrusive doubly linked list with a count, over one pair of link fields.
// REQUIRES: the lock of whoever owns the list, for every call.
template <SlabMeta* SlabMeta::*Prev, SlabMeta* SlabMeta::*Next>
struct BasicSlabList {
  SlabMeta* head = nullptr;
  uint64_t size = 0;

  void PushFront(SlabMeta* s) {
    s->*Prev = nullptr;
    s->*Next = head;
    if (head) head->*Prev = s;
    head = s;
    ++size;
  }
  void Remove(SlabMeta* s) {
    if (s->*Prev) (s->*Prev)->*Next = s->*Next; else head = s->*Next;
    if (s->*Next) (s->*Next)->*Prev = s->*Prev;
    s->*Prev = s->*Next = nullptr;
    --size;
  }
  SlabMeta* PopFront() {
    SlabMeta* s = head;
    if (s) Remove(s);
    return s;
  }
};

using SlabList = BasicSlabList<&SlabMeta::prev, &SlabMeta::next>;
// Slabs of an ACTIVE epoch's heap with free slots: a LIFO stack, so a push
// or pop touches only the slab itself (no neighbour's cache line). Never
// needs removal from the middle: it is emptied when the epoch closes or
// reopens, and only closed epochs' slabs are recycled.
// REQUIRES: the heap lock for every call.
struct AvailStack {
  SlabMeta* head = nullptr;

  void Push(SlabMeta* s) {
    s->avail_next = head;
    head = s;
    s->in_avail = true;
  }
  SlabMeta* Pop() {
    SlabMeta* s = head;
    if (s) {
      head = s->avail_next;
      s->avail_next = nullptr;
      s->in_avail = false;
    }
    return s;
  }
  void Clear() {
    while (Pop() != nullptr) {
    }
  }
};

}  // namespace tslab::internal

#endif  // TSLAB_SRC_ALLOCATOR_SLAB_H_
