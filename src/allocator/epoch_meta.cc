// Epoch metadata that is not a counter: the label of an epoch's life and
// the number of domain scopes holding it (allocator.h). Cold paths only:
// nothing here runs on an allocation or a free.
#include "src/allocator/allocator.h"
#include "src/allocator/epoch_label.h"

namespace tslab::internal {

namespace {
// era_check as EpochClose: 0 matches any life; 1 also matches a slot never
// opened (era 0), the life a domain bound to it belongs to.
bool SameLife(uint64_t era, uint64_t era_check) {
  return era_check == 0 || era == era_check || (era == 0 && era_check == 1);
}
}  // namespace

void Allocator::SetEpochLabel(uint32_t e, const char* label) {
  char text[TSLAB_EPOCH_LABEL_MAX];
  TruncateLabel(label, text);
  std::lock_guard<std::mutex> lock(meta_mu_);
  WriteLabel(region_.label(e), text);
}

void Allocator::EpochLabel(uint32_t e, char* out) const {
  (void)ReadLabel(region_.label(e), out);
}

bool Allocator::EpochRefAdd(uint32_t e, uint64_t era_check, int delta) {
  std::lock_guard<std::mutex> lock(meta_mu_);
  if (!SameLife(epochs_[e].era.load(std::memory_order_acquire), era_check)) {
    return false;
  }
  uint64_t& rc = region_.epoch(e).refcount;
  const uint64_t n = AtomicLoad(rc);
  if (delta < 0 && n == 0) return false;
  AtomicStore(rc, delta < 0 ? n - 1 : n + 1);
  return true;
}

uint64_t Allocator::EpochRefcount(uint32_t e) const {
  return AtomicLoad(region_.epoch(e).refcount);
}

}  // namespace tslab::internal
