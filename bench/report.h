// bench/report.h: results of a benchmark run, and what is printed of them.
//
// Purpose: ResultStore holds one value per (allocator, workload, metric)
// and round; everything printed is a median over rounds. Ratios between
// allocators (and 2-thread scaling) are taken per round first, then the
// median of those ratios: runs of one round are close in time (the driver
// interleaves them), so a per-round ratio cancels much of the machine's
// drift. AddDerived() stores those ratios as ordinary keys, so the CSV,
// the tables and the target checks (targets.cc) read one source.
//
// Thread-safety: none (single-threaded driver).
#ifndef TSLAB_BENCH_REPORT_H_
#define TSLAB_BENCH_REPORT_H_

#include <compare>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tslab::bench {

struct Key {
  std::string alloc, workload, metric;
  auto operator<=>(const Key&) const = default;
};

class ResultStore {
 public:
  explicit ResultStore(int rounds) : rounds_(rounds) {}
  int rounds() const { return rounds_; }
  void Add(const Key& k, int round, double v);
  // Every number in doc["metrics"], and doc["info"] and "malloc_from".
  void AddDoc(const std::string& alloc, const std::string& workload, int round,
              const nlohmann::json& doc);
  std::vector<double> Values(const Key& k) const;  // rounds that have one
  std::optional<double> Median(const Key& k) const;
  // The value of one round, if that round has one.
  std::optional<double> At(const Key& k, int round) const;
  // Median over every allocator's values of workload/metric (the timer
  // facts, which are the machine's, not an allocator's).
  std::optional<double> MedianOverAll(const std::string& workload, const std::string& metric) const;
  // Median over rounds of num/den, rounds where both exist.
  std::optional<double> RatioMedian(const Key& num, const Key& den) const;
  std::string Info(const std::string& alloc, const std::string& name) const;
  void SetInfo(const std::string& alloc, const std::string& name, const std::string& v) {
    info_[alloc][name] = v;
  }
  const std::map<Key, std::vector<double>>& cells() const { return cells_; }

 private:
  int rounds_;
  std::map<Key, std::vector<double>> cells_;  // NaN: no value that round
  std::map<std::string, std::map<std::string, std::string>> info_;
};

struct ReportSetup {
  std::vector<std::string> allocators;  // row order
  std::vector<std::string> peers;       // the non-tslab allocators
  std::string subject = "tslab";        // what the ratios and targets are about
  uint32_t live = 0, batch = 0, cycles = 0, size = 0, lat_cycles = 0;
  uint64_t pairs = 0;
  uint64_t purge_min_bytes = 0;  // PurgeMinBytes (proc.h): below it no purge_returned_pct
  bool quick = false;
  std::vector<std::string> notes;  // environment lines, printed first
};

// The best peer of one round for workload/metric (lowest value if
// lower_is_better, else highest) and its value; nullopt if no peer has one.
std::optional<std::pair<std::string, double>> BestPeerAt(const ResultStore& s,
                                                         const ReportSetup& setup,
                                                         const std::string& workload,
                                                         const std::string& metric, int round,
                                                         bool lower_is_better);

// Per-round derived values: {A,"churn-2t","scaling_vs_1t"};
// {"tslab/B",W,"ops_per_s_ratio"} (and by CPU time) for every other
// allocator B and throughput workload W; {"tslab/B","latency",
// "alloc_p999_ns_ratio"} and "alloc_p9999_ns_ratio"; and against the best
// peer of each round, {"best-peer",W,M} and {"tslab/best-peer",W,M+"_ratio"}
// for the epoch throughput and the p99.9 alloc latency.
void AddDerived(ResultStore* s, const ReportSetup& setup);

// One target line (targets.cc). status: PASS (better than the target by
// more than 5% of it), NOISE (within 5% of it either side: "within noise",
// not a pass), MISS (worse by more than 5%), n/a (not measured; detail says
// why) or info (shown, not judged). median: the judged value; rounds: each
// round's value and verdict.
struct TargetCheck {
  std::string status;
  std::string what;
  std::string median;
  std::string rounds;
  std::string detail;
};
std::vector<TargetCheck> CheckTargets(const ResultStore& s, const ReportSetup& setup);

// "-" when v is missing, else v * scale with prec decimals.
std::string FormatFixed(const std::optional<double>& v, int prec, double scale = 1.0);

// The whole report: notes, medians table, ratios, tracing costs (rows
// "untraced", "bare-uprobe", "tslab-trace" of usdt_cost.h), target checks.
std::string FormatReport(const ResultStore& s, const ReportSetup& setup,
                         const std::vector<TargetCheck>& checks, bool markdown);

// One row per key: allocator,workload,metric,median,min,max,rounds.
bool WriteCsv(const std::string& path, const ResultStore& s, std::string* err);
bool WriteText(const std::string& path, const std::string& text, std::string* err);

}  // namespace tslab::bench

#endif  // TSLAB_BENCH_REPORT_H_
