#include "src/allocator/size_class.h"

#include <array>

namespace tslab::internal {
namespace {

// kLookup[(size + 15) / 16] = class, for sizes 1..768 (49 entries).
constexpr std::array<int8_t, kMaxObjectSize / 16 + 1> MakeLookup() {
  std::array<int8_t, kMaxObjectSize / 16 + 1> t{};
  uint32_t cls = 0;
  for (uint32_t i = 0; i < t.size(); ++i) {
    while (kClassSizes[cls] < i * 16) ++cls;
    t[i] = static_cast<int8_t>(cls);
  }
  return t;
}
constexpr auto kLookup = MakeLookup();

}  // namespace

int SizeToClass(size_t size) {
  if (size == 0 || size > kMaxObjectSize) return -1;
  return kLookup[(size + 15) >> 4];
}

}  // namespace tslab::internal
