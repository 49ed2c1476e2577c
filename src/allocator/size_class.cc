// size_class.h is header-only; this file keeps a compile-time check of the
// lookup table against the class sizes.
#include "src/allocator/size_class.h"

namespace tslab::internal {

static_assert(kSizeLookup.cls[1] == 0 && kSizeLookup.cls[4] == 0 &&
                  kSizeLookup.cls[5] == 1 && kSizeLookup.cls[48] == 7,
              "size lookup: 1..64 -> class 0, 65 -> 1, 768 -> 7");

}  // namespace tslab::internal
