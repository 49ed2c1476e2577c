// The file-backed part of StatsRegion. Placeholder until the stats_dump
// issue: always anonymous memory.
#include "src/allocator/region.h"

namespace tslab::internal {

void* StatsRegion::MapFile(const RegionParams& /*params*/, size_t /*size*/) {
  return nullptr;
}

void StatsRegion::UnlinkFile() {}

}  // namespace tslab::internal
