// bench/snapshot_bench.h: how long a snapshot of a LIVE process's stats
// region takes (issue target: at most 1 ms).
//
// Purpose: starts a tslab worker in the hold workload (it churns until told
// to stop), maps the region file it announces read-only, as stats_dump
// does, and times tslab_region_snapshot() alone (warm mapping), plus the
// whole open+mmap+snapshot+munmap for reference. Process start-up is not
// timed. When the worker's region is anonymous (no file), nothing is
// measured and info.snapshot_skip says why.
//
// Thread-safety: single-threaded driver only.
#ifndef TSLAB_BENCH_SNAPSHOT_BENCH_H_
#define TSLAB_BENCH_SNAPSHOT_BENCH_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/runner.h"

namespace tslab::bench {

// hold_cmd: a tslab worker with "--workload hold". On success *doc is a
// worker-style document ({"metrics":{snapshot_p50_us,...},"info":{...}}).
bool MeasureSnapshot(const WorkerCommand& hold_cmd, uint32_t samples, double timeout_s,
                     nlohmann::json* doc, std::string* err);

}  // namespace tslab::bench

#endif  // TSLAB_BENCH_SNAPSHOT_BENCH_H_
