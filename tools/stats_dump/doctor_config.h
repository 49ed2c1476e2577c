// Thresholds of stats_dump --doctor, from configs/doctor.yaml (yaml-cpp).
//
// Purpose: every check of the doctor (doctor.h) has a warning and a
// critical threshold (either may be null: that band is off), an enabled
// switch and one parameter of its own (a minimum of activity below which
// the check is not judged, or the number of samples). The built-in
// defaults are the values of the shipped configs/doctor.yaml; a key left
// out of a file keeps its default.
// Invariants: a loaded config is valid: known keys only, numbers where
// numbers go, thresholds >= 0, warning not beyond critical. Any error
// names the file, the line and the key.
// Thread-safety: plain values.
#ifndef TSLAB_TOOLS_STATS_DUMP_DOCTOR_CONFIG_H_
#define TSLAB_TOOLS_STATS_DUMP_DOCTOR_CONFIG_H_

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/stats_dump/status.h"

namespace tslab::stats_dump {

enum class Direction { kAbove, kBelow };  // which side of a threshold is bad

struct CheckConfig {
  std::string id;
  std::string unit;        // "ratio", "count", "slabs", "ms", "s", ...
  Direction direction = Direction::kAbove;
  bool enabled = true;
  std::optional<double> warning;
  std::optional<double> critical;
  std::string param_key;   // e.g. "min_allocs"; empty if none
  double param = 0;
  std::string help;        // what the check measures, one line
  // Judged only by --doctor --trace, from the BPF probes' latencies
  // (doctor_trace.h); a counters-only run names it among those the trace
  // would have judged, never as "too little activity".
  bool needs_trace = false;
};

struct DoctorConfig {
  double window_seconds = 1.0;  // default of --window
  std::vector<CheckConfig> checks;
  std::string source = "built-in defaults";

  const CheckConfig& Get(const std::string& id) const;
};

DoctorConfig DefaultDoctorConfig();
// Loads path over the defaults. kConfig with "PATH:LINE: key: problem".
Status LoadDoctorConfig(const std::string& path, DoctorConfig* out);
// The config a doctor run uses when --config is not given: the first of
// $TSLAB_DOCTOR_CONFIG, <exe>/../share/tslab/doctor.yaml (an install),
// <exe>/../../configs/doctor.yaml (a build tree) that exists, else the
// built-in defaults.
Status LoadDefaultDoctorConfig(DoctorConfig* out);
// The effective thresholds, for --show-config.
nlohmann::ordered_json DoctorConfigJson(const DoctorConfig& c);

}  // namespace tslab::stats_dump

#endif  // TSLAB_TOOLS_STATS_DUMP_DOCTOR_CONFIG_H_
