// The human-readable view of a snapshot (stats_dump writes it to stderr).
//
// Purpose: a compact, aligned summary: one header block for the allocator
// and one row per active size class (a class that ever took a slab or holds
// objects). When a previous snapshot of the same allocator is at hand
// (--interval, --doctor), rates over the time between the two are added.
// Thread-safety: pure functions.
#ifndef TSLAB_TOOLS_STATS_DUMP_TEXT_VIEW_H_
#define TSLAB_TOOLS_STATS_DUMP_TEXT_VIEW_H_

#include <cstdint>
#include <string>

#include "tools/stats_dump/region_reader.h"

namespace tslab::stats_dump {

// prev may be null (no rates).
std::string TextView(const Sample& cur, const Sample* prev,
                     const RegionIdentity& id, const std::string& command);

// 1536 -> "1.5 KiB"; 3000000 -> "3.0M" (Count); used by the doctor too.
std::string HumanBytes(double bytes);
std::string HumanCount(double n);

}  // namespace tslab::stats_dump

#endif  // TSLAB_TOOLS_STATS_DUMP_TEXT_VIEW_H_
