// Benchmark results: storage, derived ratios, text/markdown tables and the
// CSV (see report.h). The target checks are in targets.cc.
#include "bench/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <tuple>

#include "bench/stats_util.h"
#include "bench/usdt_cost.h"

namespace tslab::bench {

namespace {

const char* const kThroughputWorkloads[] = {"churn", "churn-2t", "pairs", "epoch"};

std::string Fmt(double v, int prec) {
  char b[64];
  std::snprintf(b, sizeof(b), "%.*f", prec, v);
  return b;
}
std::string Fmt(const std::optional<double>& v, int prec, double scale = 1.0) {
  return FormatFixed(v, prec, scale);
}

// Aligned columns (text) or a GitHub table (markdown).
class Table {
 public:
  // The first left_cols columns are left-aligned (text), the rest right.
  explicit Table(std::vector<std::string> header, size_t left_cols = 1) : left_(left_cols) {
    rows_.push_back(std::move(header));
  }
  void Row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  std::string Render(bool markdown) const {
    std::vector<size_t> w(rows_[0].size(), 0);
    for (const auto& r : rows_)
      for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
    std::ostringstream o;
    for (size_t ri = 0; ri < rows_.size(); ++ri) {
      const auto& r = rows_[ri];
      for (size_t i = 0; i < w.size(); ++i) {
        std::string c = i < r.size() ? r[i] : "";
        if (markdown) {
          o << "| " << c << " ";
        } else {
          // first column left-aligned, numbers right-aligned
          std::string pad(w[i] - c.size(), ' ');
          std::string cell = i < left_ ? c + (i + 1 < w.size() ? pad : "") : pad + c;
          o << cell << (i + 1 < w.size() ? "  " : "");
        }
      }
      o << (markdown ? "|\n" : "\n");
      if (markdown && ri == 0) {
        for (size_t i = 0; i < w.size(); ++i) o << (i < left_ ? "|---" : "|---:");
        o << "|\n";
      }
    }
    return o.str();
  }

 private:
  size_t left_;
  std::vector<std::vector<std::string>> rows_;
};

// The medians table and the subject/other ratios.
std::string FormatAllocatorTables(const ResultStore& s, const ReportSetup& setup, bool markdown) {
  std::ostringstream o;
  const std::string h = markdown ? "### " : "== ";
  o << "\n"
    << h << "Medians over " << s.rounds()
    << " round(s); Mops/s count allocs + frees per wall-clock second (cpu-s: per second of "
       "the process's CPU time)\n";
  if (markdown) o << "\n";
  Table t({"allocator", "churn Mops/s", "range %", "churn Mops/cpu-s", "2 thr Mops/s", "2t/1t",
           "pairs Mops/s", "epoch Mops/s", "churn drift %", "epoch drift %"});
  for (const auto& a : setup.allocators) {
    auto churn = s.Values({a, "churn", "ops_per_s"});
    std::string range = "-";
    if (churn.size() > 1) {
      auto [mn, mx] = std::minmax_element(churn.begin(), churn.end());
      range = Fmt((*mx - *mn) / Median(churn) * 100, 1);
    }
    t.Row({a, Fmt(s.Median({a, "churn", "ops_per_s"}), 2, 1e-6), range,
           Fmt(s.Median({a, "churn", "ops_per_cpu_s"}), 2, 1e-6),
           Fmt(s.Median({a, "churn-2t", "ops_per_s"}), 2, 1e-6),
           Fmt(s.Median({a, "churn-2t", "scaling_vs_1t"}), 2),
           Fmt(s.Median({a, "pairs", "ops_per_s"}), 1, 1e-6),
           Fmt(s.Median({a, "epoch", "ops_per_s"}), 2, 1e-6),
           Fmt(s.Median({a, "churn", "rss_drift_pct"}), 2),
           Fmt(s.Median({a, "epoch", "rss_drift_pct"}), 2)});
  }
  o << t.Render(markdown);

  o << "\n" << h << setup.subject << " / other, throughput (median of per-round ratios)\n";
  if (markdown) o << "\n";
  Table r({"ratio", "churn", "churn by CPU time", "2 threads", "pairs", "epoch"});
  for (const auto& b : setup.allocators) {
    if (b == setup.subject) continue;
    std::vector<std::string> row{setup.subject + "/" + b};
    auto cell = [&](const char* w, const char* metric) {
      auto v = s.Median({setup.subject + "/" + b, w, metric});
      row.push_back(v ? Fmt(*v, 2) + "x" : "-");
    };
    cell("churn", "ops_per_s_ratio");
    cell("churn", "ops_per_cpu_s_ratio");
    for (const char* w : {"churn-2t", "pairs", "epoch"}) cell(w, "ops_per_s_ratio");
    r.Row(row);
  }
  o << r.Render(markdown);
  return o.str();
}

// Latency percentiles, one column each; nothing if latency did not run.
std::string FormatLatency(const ResultStore& s, const ReportSetup& setup, bool markdown) {
  auto samples = s.MedianOverAll("latency", "samples");
  if (!samples) return "";
  std::ostringstream o;
  const std::string h = markdown ? "### " : "== ";
  o << "\n"
    << h << "Latency, ns per call, timer floor included (medians over rounds; " << Fmt(samples, 0)
    << " samples per op per round: " << Fmt(std::floor(*samples / 10000.0), 0)
    << " calls lie above p99.99)\n";
  if (markdown) o << "\n";
  Table t(
      {"allocator", "alloc p50", "p99", "p99.9", "p99.99", "free p50", "p99", "p99.9", "p99.99"});
  for (const auto& a : setup.allocators) {
    if (!s.Median({a, "latency", "alloc_p50_ns"})) continue;
    std::vector<std::string> row{a};
    for (const char* op : {"alloc", "free"})
      for (const char* p : {"_p50_ns", "_p99_ns", "_p999_ns", "_p9999_ns"})
        row.push_back(Fmt(s.Median({a, "latency", std::string(op) + p}), 0));
    t.Row(row);
  }
  o << t.Render(markdown);
  return o.str();
}

// The epoch workload's steady-state madvise calls and the memory given
// back after the last close; nothing if epoch did not run.
std::string FormatEpochMemory(const ResultStore& s, const ReportSetup& setup, bool markdown) {
  auto delay = s.MedianOverAll("epoch", "purge_delay_ms");
  if (!delay) return "";
  std::ostringstream o;
  const std::string h = markdown ? "### " : "== ";
  const std::string source = s.Info(setup.subject, "purge_delay_source");
  const std::string by = s.Info(setup.subject, "rss_sampled_by");
  o << "\n"
    << h << "Epoch workload: madvise calls per close, memory given back after the last close\n";
  if (markdown) o << "\n";
  o << "madvise/close: the allocator's madvise calls / epoch closes from cycle 10 to the end of "
       "the timed loop (tslab's counters). RssAnon: before the first allocation, right after "
       "the last free and close, and "
    << Fmt(s.MedianOverAll("epoch", "purge_wait_ms"), 0) << " ms (purge delay + 100 ms) after "
    << "that close, no allocator call in between; purge delay " << Fmt(delay, 0) << " ms ("
    << (source.empty() ? "?" : source) << "); read by " << (by.empty() ? "?" : by)
    << ". returned % = (at close - after wait) / (at close - before); '-' when less than "
    << setup.purge_min_bytes / 1024
    << " KiB (a quarter batch) was above `before` at the close. close lag: from the close to "
       "the first reading.\n";
  if (markdown) o << "\n";
  Table t({"allocator", "epoch Mops/s", "madvise/close", "RssAnon before MiB", "at close MiB",
           "after wait MiB", "returned %", "close lag ms"});
  for (const auto& a : setup.allocators) {
    if (!s.Median({a, "epoch", "purge_wait_ms"})) continue;
    auto m = [&](const char* metric, int prec, double scale = 1.0) {
      return Fmt(s.Median({a, "epoch", metric}), prec, scale);
    };
    constexpr double kMiB = 1.0 / (1024 * 1024);
    t.Row({a, m("ops_per_s", 2, 1e-6), m("madvise_per_close", 3), m("rss_before_bytes", 2, kMiB),
           m("rss_after_close_bytes", 2, kMiB), m("rss_after_delay_bytes", 2, kMiB),
           m("purge_returned_pct", 1), m("close_sample_lag_ms", 2)});
  }
  o << t.Render(markdown);
  return o.str();
}

// The tracing-cost tables (usdt_cost.h); nothing if none was measured.
std::string FormatTracing(const ResultStore& s, bool markdown) {
  auto has = [&](const char* w) {
    for (const auto& [k, v] : s.cells())
      if (k.workload == w) return true;
    return false;
  };
  std::ostringstream o;
  const std::string h = markdown ? "### " : "== ";
  if (!has("demo") && !has("probe-hit")) {
    const std::string skip = s.Info("tslab-trace", "usdt_skip");
    if (!skip.empty()) o << "\n" << h << "Tracing costs (tslab-trace): " << skip << "\n";
    return o.str();
  }
  o << "\n" << h << "Tracing costs (tslab-trace, stats_dump --doctor --trace), medians over rounds\n";
  if (markdown) o << "\n";
  Table d({"tslab-demo", "Mops/s", "Mops/cpu-s", "probe hits/s"});
  for (int c = 0; c < kDemoConditions; ++c) {
    const char* row = kTracingConditions[c];
    d.Row({row, Fmt(s.Median({row, "demo", "ops_per_s"}), 3, 1e-6),
           Fmt(s.Median({row, "demo", "ops_per_cpu_s"}), 3, 1e-6),
           Fmt(s.Median({row, "demo", "probe_hits_per_s"}), 0)});
  }
  for (const char* row : {"bare-uprobe/untraced", "tslab-trace/untraced"})
    d.Row({row, Fmt(s.Median({row, "demo", "ops_per_s_ratio"}), 3) + "x",
           Fmt(s.Median({row, "demo", "ops_per_cpu_s_ratio"}), 3) + "x", ""});
  o << d.Render(markdown) << "\n";
  for (const auto& [workload, title] :
       {std::pair{"probe-hit", "epoch_advance loop"},
        std::pair{"probe-hit-stack", "invalid_free loop (doctor: user stack)"}}) {
    if (!has(workload)) continue;
    Table p({title, "ns/call", "min chunk", "CPU ns/call", "ns/hit", "CPU ns/hit"});
    for (const char* row : kTracingConditions) {
      auto m = [&](const char* metric, int prec) {
        return Fmt(s.Median({row, workload, metric}), prec);
      };
      p.Row({row, m("ns_per_call", 1), m("ns_per_call_min", 1), m("cpu_ns_per_call", 1),
             m("ns_per_hit", 1), m("cpu_ns_per_hit", 1)});
    }
    for (const char* row : {"tslab-trace/bare-uprobe", "doctor-trace/bare-uprobe"}) {
      p.Row({row, "", "", "", Fmt(s.Median({row, workload, "cost_ratio"}), 2) + "x",
             Fmt(s.Median({row, workload, "cpu_cost_ratio"}), 2) + "x"});
    }
    o << p.Render(markdown) << "\n";
  }
  return o.str();
}

}  // namespace

void ResultStore::Add(const Key& k, int round, double v) {
  auto& cell = cells_[k];
  if (cell.empty()) cell.assign(rounds_, std::nan(""));
  if (round >= 0 && round < rounds_) cell[round] = v;
}

void ResultStore::AddDoc(const std::string& alloc, const std::string& workload, int round,
                         const nlohmann::json& doc) {
  for (const auto& [name, v] : doc["metrics"].items())
    if (v.is_number()) Add({alloc, workload, name}, round, v.get<double>());
  if (doc.contains("info") && doc["info"].is_object())
    for (const auto& [name, v] : doc["info"].items())
      if (v.is_string()) info_[alloc][name] = v.get<std::string>();
  if (doc.contains("malloc_from") && doc["malloc_from"].is_string())
    info_[alloc]["malloc_from"] = doc["malloc_from"].get<std::string>();
}

std::vector<double> ResultStore::Values(const Key& k) const {
  std::vector<double> out;
  auto it = cells_.find(k);
  if (it == cells_.end()) return out;
  for (double v : it->second)
    if (!std::isnan(v)) out.push_back(v);
  return out;
}

std::optional<double> ResultStore::Median(const Key& k) const {
  auto v = Values(k);
  if (v.empty()) return std::nullopt;
  return tslab::bench::Median(v);
}

std::optional<double> ResultStore::At(const Key& k, int round) const {
  auto it = cells_.find(k);
  if (it == cells_.end() || round < 0 || round >= rounds_ || std::isnan(it->second[round]))
    return std::nullopt;
  return it->second[round];
}

std::optional<double> ResultStore::MedianOverAll(const std::string& workload,
                                                 const std::string& metric) const {
  std::vector<double> all;
  for (const auto& [k, v] : cells_)
    if (k.workload == workload && k.metric == metric)
      for (double x : v)
        if (!std::isnan(x)) all.push_back(x);
  if (all.empty()) return std::nullopt;
  return tslab::bench::Median(all);
}

std::optional<double> ResultStore::RatioMedian(const Key& num, const Key& den) const {
  auto a = cells_.find(num), b = cells_.find(den);
  if (a == cells_.end() || b == cells_.end()) return std::nullopt;
  std::vector<double> r;
  for (int i = 0; i < rounds_; ++i)
    if (!std::isnan(a->second[i]) && !std::isnan(b->second[i]) && b->second[i] != 0)
      r.push_back(a->second[i] / b->second[i]);
  if (r.empty()) return std::nullopt;
  return tslab::bench::Median(r);
}

std::string ResultStore::Info(const std::string& alloc, const std::string& name) const {
  auto a = info_.find(alloc);
  if (a == info_.end()) return "";
  auto n = a->second.find(name);
  return n == a->second.end() ? "" : n->second;
}

std::string FormatFixed(const std::optional<double>& v, int prec, double scale) {
  return v ? Fmt(*v * scale, prec) : "-";
}

std::optional<std::pair<std::string, double>> BestPeerAt(const ResultStore& s,
                                                         const ReportSetup& setup,
                                                         const std::string& workload,
                                                         const std::string& metric, int round,
                                                         bool lower_is_better) {
  std::optional<std::pair<std::string, double>> best;
  for (const auto& p : setup.peers) {
    auto v = s.At({p, workload, metric}, round);
    if (v && (!best || (lower_is_better ? *v < best->second : *v > best->second)))
      best = std::pair{p, *v};
  }
  return best;
}

void AddDerived(ResultStore* s, const ReportSetup& setup) {
  auto per_round = [s](const Key& num, const Key& den, const Key& out) {
    auto a = s->cells().find(num), b = s->cells().find(den);
    if (a == s->cells().end() || b == s->cells().end()) return;
    std::vector<double> an = a->second, bn = b->second;  // copies: Add writes the map
    for (int i = 0; i < s->rounds(); ++i)
      if (!std::isnan(an[i]) && !std::isnan(bn[i]) && bn[i] != 0) s->Add(out, i, an[i] / bn[i]);
  };
  for (const auto& a : setup.allocators)
    per_round({a, "churn-2t", "ops_per_s"}, {a, "churn", "ops_per_s"},
              {a, "churn-2t", "scaling_vs_1t"});
  for (const auto& b : setup.allocators) {
    if (b == setup.subject) continue;
    for (const char* w : kThroughputWorkloads) {
      per_round({setup.subject, w, "ops_per_s"}, {b, w, "ops_per_s"},
                {setup.subject + "/" + b, w, "ops_per_s_ratio"});
      per_round({setup.subject, w, "ops_per_cpu_s"}, {b, w, "ops_per_cpu_s"},
                {setup.subject + "/" + b, w, "ops_per_cpu_s_ratio"});
    }
    for (const char* m : {"alloc_p999_ns", "alloc_p9999_ns"})
      per_round({setup.subject, "latency", m}, {b, "latency", m},
                {setup.subject + "/" + b, "latency", std::string(m) + "_ratio"});
  }
  // Against the best peer of each round: lowest p99.9, highest epoch
  // throughput (the "best peer's").
  for (auto [w, m, lower] :
       {std::tuple{"latency", "alloc_p999_ns", true}, std::tuple{"epoch", "ops_per_s", false}}) {
    for (int r = 0; r < s->rounds(); ++r) {
      auto best = BestPeerAt(*s, setup, w, m, r, lower);
      auto mine = s->At({setup.subject, w, m}, r);
      if (!best) continue;
      s->Add({"best-peer", w, m}, r, best->second);
      if (mine && best->second != 0)
        s->Add({setup.subject + "/best-peer", w, std::string(m) + "_ratio"}, r,
               *mine / best->second);
    }
  }
}

std::string FormatReport(const ResultStore& s, const ReportSetup& setup,
                         const std::vector<TargetCheck>& checks, bool markdown) {
  std::ostringstream o;
  const std::string h = markdown ? "### " : "== ";
  for (const auto& n : setup.notes) o << (markdown ? "- " : "") << n << "\n";
  auto floor50 = s.MedianOverAll("latency", "timer_floor_p50_ns");
  auto floor99 = s.MedianOverAll("latency", "timer_floor_p99_ns");
  auto tpn = s.MedianOverAll("latency", "tsc_ticks_per_ns");
  auto gran = s.MedianOverAll("latency", "timer_granularity_ns");
  if (floor50)
    o << (markdown ? "- " : "") << "TSC: " << Fmt(tpn, 4)
      << " ticks/ns (calibrated against CLOCK_MONOTONIC, 100 ms); timer floor (empty timed "
         "region): p50 "
      << Fmt(floor50, 1) << " ns, p99 " << Fmt(floor99, 1) << " ns; resolution " << Fmt(gran, 1)
      << " ns; the latencies below INCLUDE the floor\n";
  if (!setup.allocators.empty())
    o << FormatAllocatorTables(s, setup, markdown) << FormatLatency(s, setup, markdown)
      << FormatEpochMemory(s, setup, markdown);

  if (auto p50 = s.Median({setup.subject, "snapshot", "snapshot_p50_us"})) {
    o << "\nsnapshot of a live " << setup.subject
      << " process's region (tslab_region_snapshot on a read-only mapping): p50 " << Fmt(p50, 1)
      << " us, p99 " << Fmt(s.Median({setup.subject, "snapshot", "snapshot_p99_us"}), 1)
      << " us, max " << Fmt(s.Median({setup.subject, "snapshot", "snapshot_max_us"}), 1)
      << " us; open+map+snapshot+unmap p50 "
      << Fmt(s.Median({setup.subject, "snapshot", "snapshot_cold_p50_us"}), 1) << " us\n";
  }

  o << FormatTracing(s, markdown);

  o << "\n" << h << "Targets (issue)\n";
  if (markdown) o << "\n";
  o << (markdown ? "" : "  ")
    << "Judged on the median of the per-round values (ratios taken per round). PASS: better "
       "than the target by more than 5% of it; NOISE: within 5% of it either side (within "
       "noise, not a pass); MISS: worse by more than 5%; info: shown, not judged. Throughput "
       "on wall time, the CPU-time reading beside.\n";
  if (markdown) o << "\n";
  Table c({"", "target", "median", "per round", "measured"}, 5);
  for (const auto& x : checks) c.Row({x.status, x.what, x.median, x.rounds, x.detail});
  o << c.Render(markdown);
  return o.str();
}

bool WriteCsv(const std::string& path, const ResultStore& s, std::string* err) {
  std::ostringstream o;
  o << "allocator,workload,metric,median,min,max,rounds\n";
  for (const auto& [k, cell] : s.cells()) {
    auto v = s.Values(k);
    if (v.empty()) continue;
    auto [mn, mx] = std::minmax_element(v.begin(), v.end());
    char b[128];
    std::snprintf(b, sizeof(b), "%.10g,%.10g,%.10g,%zu", Median(v), *mn, *mx, v.size());
    o << k.alloc << "," << k.workload << "," << k.metric << "," << b << "\n";
  }
  return WriteText(path, o.str(), err);
}

bool WriteText(const std::string& path, const std::string& text, std::string* err) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  f.close();
  if (!f) {
    *err = "cannot write " + path;
    return false;
  }
  return true;
}

}  // namespace tslab::bench
