// Slab descriptors and the intrusive lists that hold them.
//
// A slab is one page of the arena; its descriptor (SlabMeta) lives out of
// line, in a parallel array indexed by slab number, so that madvise() on the
// page never touches metadata and a stale handle can be checked without
// reading the (possibly returned) page.
//
// Ownership. A slab of an ACTIVE epoch belongs to one thread heap (heap.h):
// `owner` is that heap's shard number. Only the owner allocates from it and
// the owner frees into it without atomic read-modify-write instructions.
// Any other thread frees into it by one CAS on `remote`; the owner folds
// `remote` into `alloc` on its slow path ("collecting"). A slab of a closed
// epoch (or of a reopened epoch's old life) has no owner (kNoOwner): every
// free is a `remote` CAS, and the free that empties it recycles it.
//
// The two bitmap words:
//   alloc:  bit i set = slot i handed out and not freed by the owner (or
//           collected), for i < slots; bits [slots, 64) are always set, so
//           ~alloc is exactly the slots the owner may hand out. Written only
//           by the owner (relaxed stores: plain moves), read by anyone.
//   remote: bit i set = slot i freed by another thread, not yet collected;
//           bit 63 (kSealed) marks a slab being recycled or in the cache:
//           no free may land in a sealed slab. Sealing is a CAS on `remote`
//           that requires alloc & ~remote to hold no live slot, so a remote
//           free and a recycle can never both win.
// A slot is live iff its bit is set in alloc and clear in remote.
//
// `tag` packs (incarnation, heap, epoch, class) of the current owner life.
// It changes only while the slab is sealed, before `remote` is unsealed
// (release), so a reader that sees an unsealed `remote` (acquire) sees the
// tag of that life.
//
// Per-slot 16-bit generations (`gen`) make handles checkable: a free of a
// slot handed out with a handle advances gen[slot] (the owner by a plain
// store, another thread by CAS; another thread always advances it); a
// handle carries the generation its slot had when it was handed out.
//
// Thread-safety: see each field.
#ifndef TSLAB_SRC_ALLOCATOR_SLAB_H_
#define TSLAB_SRC_ALLOCATOR_SLAB_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "src/allocator/size_class.h"

namespace tslab::internal {

inline constexpr uint64_t kSealed = 1ull << 63;
inline constexpr uint64_t kSlotMask = ~kSealed;
inline constexpr uint64_t kFull = ~0ull;  // alloc of a slab with no free slot
inline constexpr uint32_t kNoOwner = 0xffffffffu;

// alloc value of an empty slab with `slots` slots (bit 63 always set).
inline constexpr uint64_t EmptyBits(uint32_t slots) {
  return ~((1ull << slots) - 1);
}
// The slot bits of a slab with `slots` slots.
inline constexpr uint64_t SlotBits(uint32_t slots) {
  return (1ull << slots) - 1;
}

// tag = incarnation:40 | heap:8 | epoch:8 | class:8.
inline constexpr uint64_t MakeTag(uint64_t incarnation, uint32_t heap,
                                  uint32_t epoch, uint32_t cls) {
  return (incarnation << 24) | (uint64_t{heap} << 16) |
         (uint64_t{epoch} << 8) | cls;
}
inline constexpr uint64_t TagIncarnation(uint64_t tag) { return tag >> 24; }
inline constexpr uint32_t TagHeap(uint64_t tag) { return (tag >> 16) & 0xff; }
inline constexpr uint32_t TagEpoch(uint64_t tag) { return (tag >> 8) & 0xff; }
inline constexpr uint32_t TagClass(uint64_t tag) { return tag & 0xff; }

enum class ListKind : uint8_t {
  kNone = 0,  // never used, or in flight (sealed, being recycled or purged)
  kEpoch,     // on its heap's (epoch, class) bin `all` list
  kDrain,     // a reopened epoch's old slab, on its heap's drain list
  kDirty,     // empty, sealed, pages resident: the class's dirty list
  kClean,     // empty, sealed, pages returned: the class's clean list
};

struct alignas(64) SlabMeta {
  // --- line 0: everything the owner's allocation and free touch ---
  std::atomic<uint64_t> alloc{0};   // owner-written (see above)
  std::atomic<uint64_t> remote{0};  // CAS by other threads; exchange by owner
  std::atomic<uint64_t> tag{0};     // written while sealed
  // Slots handed out with a handle since their last free (owner-written):
  // only their frees must advance gen, so a pointer-only caller's frees
  // never touch the generation lines.
  std::atomic<uint64_t> handles{0};
  std::atomic<uint32_t> owner{kNoOwner};  // shard of the owning heap
  uint32_t index = 0;  // slab number in the arena; immutable
  // The life's class geometry, copied from the class at re-own (while
  // sealed) so the owner's paths need no other line: relaxed atomics only
  // because a stale remote reader may look; the remote path uses tag.
  std::atomic<uint32_t> div_mul{0};  // slot = (off * div_mul) >> 32
  std::atomic<uint16_t> obj_size{0};
  std::atomic<uint8_t> cls{0};
  std::atomic<uint8_t> epoch{0};
  // On a ready stack (remote frees arrived): set by the pusher's exchange,
  // cleared by whoever pops it. Makes the push once-only.
  std::atomic<uint8_t> in_ready{0};
  bool in_avail = false;  // owner-private: on its bin's avail stack
  std::atomic<uint8_t> slots{0};  // the life's slot count (with div_mul)
  // Slots are claimed lowest first, so the slots this life ever handed out
  // are [0, high): tells a never-handed-out slot from a freed one.
  std::atomic<uint8_t> high{0};
  // Which list (guarded by the lock of that list; atomic so that a reader
  // holding another lock may look without a data race).
  std::atomic<ListKind> list{ListKind::kNone};
  char* base = nullptr;            // the slab's page; immutable
  // --- lines 1-2: slot generations ---
  alignas(64) std::atomic<uint16_t> gen[kMaxSlotsPerSlab + 1];
  // --- line 3: list links of the slab's one list (ListKind), that list's
  // lock; when its pages were last freed (kDirty, class lock); the ready
  // link, written by the pusher before its CAS ---
  alignas(64) SlabMeta* prev = nullptr;
  SlabMeta* next = nullptr;
  uint64_t dirty_since_ns = 0;
  SlabMeta* ready_next = nullptr;
  SlabMeta* avail_next = nullptr;  // owner-private
};
static_assert(sizeof(SlabMeta) == 256, "descriptor stride");
static_assert(offsetof(SlabMeta, gen) == 64, "the fast paths' fields on line 0");

// Intrusive doubly linked list with a count and a tail, over prev/next.
// REQUIRES: the lock of whoever owns the list, for every call.
struct SlabList {
  SlabMeta* head = nullptr;
  SlabMeta* tail = nullptr;
  uint64_t size = 0;

  void PushFront(SlabMeta* s) {
    s->prev = nullptr;
    s->next = head;
    if (head) head->prev = s; else tail = s;
    head = s;
    ++size;
  }
  void Remove(SlabMeta* s) {
    if (s->prev) s->prev->next = s->next; else head = s->next;
    if (s->next) s->next->prev = s->prev; else tail = s->prev;
    s->prev = s->next = nullptr;
    --size;
  }
  SlabMeta* PopFront() {
    SlabMeta* s = head;
    if (s) Remove(s);
    return s;
  }
  SlabMeta* PopBack() {
    SlabMeta* s = tail;
    if (s) Remove(s);
    return s;
  }
};

}  // namespace tslab::internal

#endif  // TSLAB_SRC_ALLOCATOR_SLAB_H_
