// Allocator construction and the free paths.
#include "src/allocator/allocator.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include "src/usdt/tslab_usdt.h"

namespace tslab::internal {

namespace {
thread_local tslab_status tl_last_error
    __attribute__((tls_model("initial-exec"))) = TSLAB_OK;

constexpr uint64_t kDefaultMaxBytes = 16ull << 30;
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
  uint64_t max_bytes = opts.max_bytes ? opts.max_bytes : kDefaultMaxBytes;
  if (max_bytes / page_size_ > kMaxSlabs) max_bytes = kMaxSlabs * page_size_;

  id_ = AcquireAllocatorId();
  if (id_ == 0) {
    *err = TSLAB_E_NO_MEMORY;
    return false;
  }
  if (!arena_.Init(max_bytes, page_size_)) {
    *err = TSLAB_E_NO_MEMORY;
    return false;
  }
  // The cache array is sized by the capacity: a capacity above the slabs
  // the arena can ever hold only costs memory (and UINT32_MAX + 1 wrapped
  // to a zero-length array that ReturnSlabs then overran).
  const uint64_t arena_slabs = arena_.reserved_bytes() / page_size_;
  if (cache_capacity_ > arena_slabs) {
    cache_capacity_ = static_cast<uint32_t>(arena_slabs);
  }
  for (uint32_t c = 0; c < kNumClasses; ++c) {
    ClassState& cs = classes_[c];
    cs.size = kClassSizes[c];
    cs.slots = SlotsPerSlab(c, page_size_);
    cs.empty_bits = EmptyBits(cs.slots);
    // ceil(2^32 / size): exact division for offsets below one page.
    cs.div_mul = ((1ull << 32) + cs.size - 1) / cs.size;
    cs.cache = new (std::nothrow) SlabMeta*[size_t{cache_capacity_} + 1];
    if (cs.cache == nullptr) {
      *err = TSLAB_E_NO_MEMORY;
      return false;
    }
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
  for (uint32_t c = 0; c < kNumClasses; ++c) {
    h->object_size[c] = classes_[c].size;
    h->objects_per_slab[c] = classes_[c].slots;
  }
  RegisterArena(&arena_, id_);
  OpenEpoch(0);
  return true;
}

Allocator::~Allocator() {
  // The region file first: its name holds our id, which a concurrent
  // tslab_create may take as soon as it is released below.
  region_.Destroy();
  if (id_ != 0) {
    UnregisterArena(&arena_);
    ReleaseAllocatorId(id_);
  }
  for (auto& cs : classes_) delete[] cs.cache;
  // arena_ and region_ unmap in their destructors (reverse order).
}

tslab_status Allocator::RefuseFree(int kind, int cls) {
  TslabRegionGlobal& g = region_.global();
  tslab_status st = TSLAB_E_FREE_INVALID;
  switch (kind) {
    case TSLAB_FREE_KIND_STALE:
      TSLAB_STAT_INC(g.stale_frees);
      st = TSLAB_E_FREE_STALE;
      break;
    case TSLAB_FREE_KIND_DOUBLE:
      TSLAB_STAT_INC(g.double_frees);
      st = TSLAB_E_FREE_DOUBLE;
      break;
    case TSLAB_FREE_KIND_FOREIGN:
      TSLAB_STAT_INC(g.foreign_frees);
      st = TSLAB_E_FREE_FOREIGN;
      break;
    default:
      TSLAB_STAT_INC(g.invalid_frees);
      break;
  }
  if (cls >= 0) TSLAB_STAT_INC(region_.cls(cls).invalid_frees);
  TSLAB_PROBE1(invalid_free, kind);
  SetLastError(st);
  return st;
}

void Allocator::UndoClaim(SlabMeta* s, uint64_t tag, uint32_t slot) {
  ReleaseSlot(s, tag, slot, false);
}

tslab_status Allocator::FreeHandle(uint64_t h) {
  uint32_t id = HandleId(h);
  if (__builtin_expect(id != id_, 0)) {
    return RefuseFree(id != 0 && AllocatorIdLive(id) ? TSLAB_FREE_KIND_FOREIGN
                                                      : TSLAB_FREE_KIND_INVALID,
                      -1);
  }
  uint64_t index = HandleSlab(h);
  uint32_t slot = HandleSlot(h);
  uint16_t gen = HandleGen(h);
  if (__builtin_expect(index >= arena_.slabs_used(), 0)) {
    return RefuseFree(TSLAB_FREE_KIND_INVALID, -1);
  }
  SlabMeta* s = arena_.Meta(index);
  uint64_t tag = s->tag.load(std::memory_order_acquire);
  uint32_t cls = TagClass(tag);
  if (__builtin_expect(slot >= classes_[cls].slots, 0)) {
    return RefuseFree(TSLAB_FREE_KIND_INVALID, cls);
  }
  uint64_t bits = s->bits.load(std::memory_order_acquire);
  uint16_t cur = gen;
  if (__builtin_expect((bits & kSealed) || !(bits & (1ull << slot)), 0) ||
      !s->gen[slot].compare_exchange_strong(cur, uint16_t(gen + 1),
                                            std::memory_order_acq_rel)) {
    cur = s->gen[slot].load(std::memory_order_acquire);
    int kind;
    if (cur == gen) {
      kind = TSLAB_FREE_KIND_INVALID;  // never handed out with this gen
    } else if (cur == uint16_t(gen + 1) &&
               !(s->bits.load(std::memory_order_acquire) & (1ull << slot))) {
      kind = TSLAB_FREE_KIND_DOUBLE;
    } else {
      kind = TSLAB_FREE_KIND_STALE;
    }
    return RefuseFree(kind, cls);
  }
  if (__builtin_expect(!ReleaseSlot(s, tag, slot, true), 0)) {
    return RefuseFree(TSLAB_FREE_KIND_DOUBLE, cls);  // a pointer free won
  }
  return TSLAB_OK;
}

tslab_status Allocator::FreePtr(void* p) {
  if (__builtin_expect(!arena_.Contains(p), 0)) {
    return RefuseFree(p != nullptr && FindArenaOwner(p) != 0
                          ? TSLAB_FREE_KIND_FOREIGN
                          : TSLAB_FREE_KIND_INVALID,
                      -1);
  }
  uint64_t index = arena_.SlabIndexOf(p);
  uint64_t off = arena_.OffsetInSlab(p);
  SlabMeta* s = arena_.Meta(index);
  uint64_t tag = s->tag.load(std::memory_order_acquire);
  uint32_t cls = TagClass(tag);
  const ClassState& cs = classes_[cls];
  if (__builtin_expect(off < kSlabHeaderBytes, 0)) {
    return RefuseFree(TSLAB_FREE_KIND_INVALID, cls);
  }
  uint64_t rel = off - kSlabHeaderBytes;
  uint32_t slot = static_cast<uint32_t>((rel * cs.div_mul) >> 32);
  if (__builtin_expect(uint64_t{slot} * cs.size != rel || slot >= cs.slots,
                       0)) {
    return RefuseFree(TSLAB_FREE_KIND_INVALID, cls);  // interior pointer
  }
  uint64_t bits = s->bits.load(std::memory_order_acquire);
  if (__builtin_expect(!(bits & kSealed) && (bits & (1ull << slot)), 1)) {
    // Invalidate the slot's handle before the slot can be handed out
    // again. A plain store, not a CAS: the bit CAS in ReleaseSlot decides
    // which of two racing frees wins; two racing stores write the same
    // value (or skip a generation, which is harmless).
    uint16_t gen = s->gen[slot].load(std::memory_order_relaxed);
    s->gen[slot].store(uint16_t(gen + 1), std::memory_order_relaxed);
    if (__builtin_expect(ReleaseSlot(s, tag, slot, true), 1)) return TSLAB_OK;
  }
  // A slot never handed out has generation 0 and a clear bit.
  bool never = s->gen[slot].load(std::memory_order_acquire) == 0;
  return RefuseFree(never ? TSLAB_FREE_KIND_INVALID : TSLAB_FREE_KIND_DOUBLE,
                    cls);
}

void* Allocator::HandlePtr(uint64_t h) const {
  if (HandleId(h) != id_) return nullptr;
  uint64_t index = HandleSlab(h);
  if (index >= arena_.slabs_used()) return nullptr;
  SlabMeta* s = arena_.Meta(index);
  uint32_t slot = HandleSlot(h);
  uint32_t cls = TagClass(s->tag.load(std::memory_order_acquire));
  if (slot >= classes_[cls].slots) return nullptr;
  uint64_t bits = s->bits.load(std::memory_order_acquire);
  if ((bits & kSealed) || !(bits & (1ull << slot))) return nullptr;
  if (s->gen[slot].load(std::memory_order_acquire) != HandleGen(h)) {
    return nullptr;
  }
  return arena_.SlabBase(s) + kSlabHeaderBytes +
         uint64_t{slot} * classes_[cls].size;
}

}  // namespace tslab::internal
