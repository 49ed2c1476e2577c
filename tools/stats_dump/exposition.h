// The Prometheus exposition of a fleet collection (fleet.h): what
// tslab-exporter serves on /metrics and `stats_dump --format openmetrics`
// (or prometheus) prints, from one code path.
//
// Purpose: every counter and gauge of the snapshot, per allocator (labels
// pid, comm, start_time, allocator, name), per size class (+ class,
// object_size) and per epoch state (+ state), named by Prometheus
// conventions (base units, _total for counters, _bytes/_seconds) and
// generated from the field lists of tslab/stats.h: a field added there is
// exported with no edit here, or is named in kNotExported with a reason.
// Then tslab_up, tslab_scrape_duration_seconds, tslab_exporter_build_info,
// tslab_exporter_errors_total{reason} and the doctor's verdicts
// tslab_doctor_finding{check,severity}.
// Invariants: the output is valid Prometheus text format 0.0.4 or
// OpenMetrics 1.0.0 (promtool-checked in tests); every family has HELP and
// TYPE; label values are valid UTF-8 (invalid bytes become U+FFFD) and
// escaped; integers are printed exactly (no rounding through double).
// Thread-safety: pure functions.
// Cost: one pass over the collection per family; ~40 KiB of text per
// allocator (the per-class families dominate).
#ifndef TSLAB_TOOLS_STATS_DUMP_EXPOSITION_H_
#define TSLAB_TOOLS_STATS_DUMP_EXPOSITION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tools/stats_dump/fleet.h"

namespace tslab::stats_dump {

enum class ExpoFormat { kPrometheus, kOpenMetrics };

// The Content-Type of a format.
const char* ContentType(ExpoFormat f);
// OpenMetrics if the Accept header asks for application/openmetrics-text
// (with a q above 0), else the Prometheus text format.
ExpoFormat NegotiateFormat(const std::string& accept);

// One metric family as documented (docs/exporter.md) and emitted.
struct ExpoFamily {
  std::string name;    // as in the Prometheus text format (counters end _total)
  std::string type;    // counter, gauge
  std::string help;
  std::string labels;  // comma-separated label names
  std::string source;  // the stats.h field it comes from, or "" (exporter's own)
};
// Every family, in output order.
const std::vector<ExpoFamily>& MetricCatalog();

// Fields of the lists that are deliberately not exported, and why.
struct NotExported {
  const char* scope;  // "global", "class", "epoch"
  const char* field;
  const char* why;
};
const std::vector<NotExported>& NotExportedFields();

// What the exporter adds to a collection.
struct ExporterInfo {
  std::string version = "unknown";   // tslab's git describe at build time
  const uint64_t* errors_total = nullptr;  // kNumErrorReasons counters; null: the collection's
};

std::string RenderExposition(const Collection& c, const ExporterInfo& info,
                             ExpoFormat f);

// The catalog as a Markdown table, then the fields not exported (the
// metric list of docs/exporter.md).
std::string CatalogMarkdown();

// Label value escaping of the text formats (\\, \", \n), after SanitizeUtf8.
std::string EscapeLabelValue(const std::string& v);

}  // namespace tslab::stats_dump

#endif  // TSLAB_TOOLS_STATS_DUMP_EXPOSITION_H_
