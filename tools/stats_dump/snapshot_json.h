// The stats_dump JSON document (schema_version 1) of one snapshot.
//
// Purpose: the contract of shared/spec/stats_dump_reference.md: every
// top-level and per-class field of the spec, with its name and type, in
// the spec's order (nlohmann::ordered_json keeps insertion order), then
// tslab's additive fields (allocator identity, live objects, invalid-free
// counters, a per-epoch "epochs" array) after the spec's last field. The
// members, their order and types come from the field lists of
// tslab/stats.h (TSLAB_*_STATS_FIELDS).
// Invariants: schema_version is 1; unsigned fields are JSON integers,
// derived ratios are JSON numbers with a fraction (never NaN).
// Thread-safety: pure functions.
#ifndef TSLAB_TOOLS_STATS_DUMP_SNAPSHOT_JSON_H_
#define TSLAB_TOOLS_STATS_DUMP_SNAPSHOT_JSON_H_

#include <nlohmann/json.hpp>

#include "tools/stats_dump/region_reader.h"

namespace tslab::stats_dump {

inline constexpr int kSchemaVersion = 1;

nlohmann::ordered_json SnapshotJson(const Sample& s, const RegionIdentity& id);

// "IDLE", "ACTIVE", "CLOSING", "DRAINED" (or "UNKNOWN").
const char* EpochStateName(uint32_t state);

}  // namespace tslab::stats_dump

#endif  // TSLAB_TOOLS_STATS_DUMP_SNAPSHOT_JSON_H_
