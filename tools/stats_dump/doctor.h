// stats_dump --doctor: findings from samples of one allocator.
//
// Purpose: turns a series of snapshots taken over a window (the first and
// last give rates; the ones between show whether net_slabs grew at every
// step) plus the current state into findings, each with its severity, the
// measured value, the threshold it crossed and what to do. Checks and
// thresholds: doctor_config.h, configs/doctor.yaml, docs/stats_dump.md.
// Invariants: a ratio is judged over the window when the window saw enough
// activity (the check's min_* parameter), else over the whole run ("since
// start") when that did, else not judged. Severity kInfo never changes the
// exit code.
// Thread-safety: pure functions.
#ifndef TSLAB_TOOLS_STATS_DUMP_DOCTOR_H_
#define TSLAB_TOOLS_STATS_DUMP_DOCTOR_H_

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/stats_dump/doctor_config.h"
#include "tools/stats_dump/region_reader.h"

namespace tslab::stats_dump {

enum class Severity { kOk = 0, kInfo = 1, kWarning = 2, kCritical = 3 };
const char* SeverityName(Severity s);  // "ok", "info", "warning", "critical"

struct Finding {
  std::string check;
  Severity severity = Severity::kInfo;
  uint64_t allocator_id = 0;
  std::string allocator_name;
  int class_index = -1;  // -1: not about one class
  double measured = 0;
  std::optional<double> threshold;  // the one crossed (none for info)
  Direction direction = Direction::kAbove;
  std::string unit;
  std::string scope;     // "window", "since start", "now"
  std::string message;   // what was seen, one sentence
  std::string action;    // what to do
  // --trace: what the probes saw behind the finding (latency, call
  // sites), one line; empty without --trace or without a probe for it.
  std::string evidence;
};

struct Diagnosis {
  std::vector<Finding> findings;
  std::vector<std::string> judged;      // checks that had data to judge
  std::vector<std::string> not_judged;  // enabled, but too little to judge
  // Why each not-judged check was not: the minimum it lacked, with the
  // measured value and the config key that sets it ("12 new slabs since
  // start, fewer than min_slabs 64"). Keyed by check id; every id of
  // not_judged has one.
  std::map<std::string, std::string> not_judged_why;
};

// samples: at least two snapshots of one allocator, oldest first.
Diagnosis Diagnose(const std::vector<Sample>& samples, const RegionIdentity& id,
                   const DoctorConfig& cfg);

Severity Worst(const std::vector<Finding>& f);
Exit ExitFor(Severity worst);

// The report: text for humans, or JSON (--doctor --json).
struct DoctorRun {
  int pid = 0;
  std::string command;
  double window_seconds = 0;
  uint64_t timestamp_ns = 0;
  std::string config_source;
  std::vector<RegionIdentity> allocators;
  Diagnosis diagnosis;  // all allocators' findings together
  // --trace: the trace's section of the text (before the status line) and
  // the JSON's "trace" member (doctor_trace.h); empty / null without it.
  std::string trace_text;
  nlohmann::ordered_json trace_json;
};
std::string DoctorText(const DoctorRun& r, bool verbose);
nlohmann::ordered_json DoctorJson(const DoctorRun& r);

}  // namespace tslab::stats_dump

#endif  // TSLAB_TOOLS_STATS_DUMP_DOCTOR_H_
