// Size classes: eight fixed object sizes and the slab geometry they imply.
//
// Every slab is one page. Its first kSlabHeaderBytes are left unused so the
// per-slab object counts are those of the original temporal-slab (whose
// header lived in-page): 63, 42, 31, 21, 15, 10, 7, 5 with 4 KiB pages.
// Object offsets are then multiples of 16 (and of 64 for 64/128/256/512 B).
// A slab never holds more than kMaxSlotsPerSlab objects: one 64-bit word
// is the slab's whole bitmap (bit 63 is the "sealed" flag), so larger pages
// leave their tail unused rather than grow the bitmap.
#ifndef TSLAB_SRC_ALLOCATOR_SIZE_CLASS_H_
#define TSLAB_SRC_ALLOCATOR_SIZE_CLASS_H_

#include <cstddef>
#include <cstdint>

namespace tslab::internal {

inline constexpr uint32_t kNumClasses = 8;
inline constexpr uint32_t kNumEpochs = 16;
inline constexpr uint32_t kClassSizes[kNumClasses] = {64,  96,  128, 192,
                                                      256, 384, 512, 768};
inline constexpr uint32_t kMaxObjectSize = 768;
inline constexpr uint32_t kSlabHeaderBytes = 64;
inline constexpr uint32_t kMaxSlotsPerSlab = 63;

// kSizeLookup[(size + 15) / 16] = class, for sizes 1..768 (49 entries).
struct SizeLookup {
  int8_t cls[kMaxObjectSize / 16 + 1];
};
inline constexpr SizeLookup MakeSizeLookup() {
  SizeLookup t{};
  uint32_t c = 0;
  for (uint32_t i = 0; i <= kMaxObjectSize / 16; ++i) {
    while (kClassSizes[c] < i * 16) ++c;
    t.cls[i] = static_cast<int8_t>(c);
  }
  return t;
}
inline constexpr SizeLookup kSizeLookup = MakeSizeLookup();

// Class for a size in [1, 768]; -1 otherwise. A lookup by 16-byte steps:
// one shift, one load (inline: it is on every allocation).
inline int SizeToClass(size_t size) {
  if (size == 0 || size > kMaxObjectSize) return -1;
  return kSizeLookup.cls[(size + 15) >> 4];
}

// The same for a size already known to be in [1, 768]: the lookup alone.
inline int SizeClassOf(size_t size) { return kSizeLookup.cls[(size + 15) >> 4]; }

inline uint32_t SlotsPerSlab(uint32_t cls, uint64_t page_size) {
  uint64_t n = (page_size - kSlabHeaderBytes) / kClassSizes[cls];
  return n > kMaxSlotsPerSlab ? kMaxSlotsPerSlab : static_cast<uint32_t>(n);
}

}  // namespace tslab::internal

#endif  // TSLAB_SRC_ALLOCATOR_SIZE_CLASS_H_
