// Benchmark results: storage, derived ratios, target checks, text/markdown
// tables and the CSV (see report.h).
#include "bench/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "bench/stats_util.h"

namespace tslab::bench {

namespace {

const char* const kThroughputWorkloads[] = {"churn", "churn-2t", "pairs", "epoch"};

std::string Fmt(double v, int prec) {
  char b[64];
  std::snprintf(b, sizeof(b), "%.*f", prec, v);
  return b;
}
std::string Fmt(const std::optional<double>& v, int prec, double scale = 1.0) {
  return v ? Fmt(*v * scale, prec) : "-";
}
std::string Pct(double v) { return (v >= 0 ? "+" : "") + Fmt(v, 2) + "%"; }

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

// "1.12x (12.0% above)"-style wording of a ratio against a floor.
std::string RatioWords(double r) {
  double pct = (r - 1.0) * 100.0;
  return Fmt(r, 3) + "x (" + Fmt(std::fabs(pct), 1) + "% " + (pct >= 0 ? "above" : "below") + ")";
}

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

// Why the tracing costs are missing, for a target line.
std::string TracingMissing(const ResultStore& s) {
  std::string skip = s.Info("tslab-trace", "usdt_skip");
  return skip.empty() ? "no results (every tracing round failed, see stderr)" : skip;
}

// The two targets of usdt_cost.h, judged on wall time like the others,
// the CPU-time reading beside.
void AddTracingTargets(const ResultStore& s, std::vector<TargetCheck>* out) {
  const std::string demo_what = "tslab-demo with tslab-trace attached >= 0.95x unattached";
  if (auto r = s.Median({"tslab-trace/untraced", "demo", "ops_per_s_ratio"})) {
    auto c = s.Median({"tslab-trace/untraced", "demo", "ops_per_cpu_s_ratio"});
    auto hits = s.Median({"tslab-trace", "demo", "probe_hits_per_s"});
    auto v = s.Values({"tslab-trace/untraced", "demo", "ops_per_s_ratio"});
    auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    const std::string cost =
        *r >= 1.0 ? "no measurable cost: traced faster by " + Fmt((*r - 1) * 100, 1) + "%"
                  : "cost " + Fmt((1 - *r) * 100, 1) + "%";
    out->push_back({*r >= 0.95 ? "PASS" : "MISS", demo_what,
                    "tslab-trace/untraced " + Fmt(*r, 3) + "x (" + cost + ", limit 5%; rounds " +
                        Fmt(*lo, 2) + "-" + Fmt(*hi, 2) + "); by CPU time " + Fmt(c, 3) + "x; " +
                        Fmt(hits, 0) + " probe hits/s; empty uprobes on the same sites: " +
                        Fmt(s.Median({"bare-uprobe/untraced", "demo", "ops_per_s_ratio"}), 3) +
                        "x"});
  } else {
    out->push_back({"n/a", demo_what, TracingMissing(s)});
  }
  const std::string hit_what = "cost per probe hit <= 1.5x a bare uprobe + empty BPF program";
  if (auto r = s.Median({"tslab-trace/bare-uprobe", "probe-hit", "cost_ratio"})) {
    auto m = [&](const char* row, const char* metric) {
      return Fmt(s.Median({row, "probe-hit", metric}), 0);
    };
    out->push_back(
        {*r <= 1.5 ? "PASS" : "MISS", hit_what,
         "tslab-trace " + m("tslab-trace", "ns_per_hit") + " ns vs bare " +
             m("bare-uprobe", "ns_per_hit") + " ns per hit: " + Fmt(*r, 2) +
             "x (limit 1.5x); by CPU time " + m("tslab-trace", "cpu_ns_per_hit") + " vs " +
             m("bare-uprobe", "cpu_ns_per_hit") + " ns: " +
             Fmt(s.Median({"tslab-trace/bare-uprobe", "probe-hit", "cpu_cost_ratio"}), 2) + "x"});
  } else {
    out->push_back({"n/a", hit_what, TracingMissing(s)});
  }
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
  o << "\n" << h << "Tracing costs (tslab-trace), medians over rounds\n";
  if (markdown) o << "\n";
  Table d({"tslab-demo", "Mops/s", "Mops/cpu-s", "probe hits/s"});
  for (const char* row : {"untraced", "bare-uprobe", "tslab-trace"})
    d.Row({row, Fmt(s.Median({row, "demo", "ops_per_s"}), 3, 1e-6),
           Fmt(s.Median({row, "demo", "ops_per_cpu_s"}), 3, 1e-6),
           Fmt(s.Median({row, "demo", "probe_hits_per_s"}), 0)});
  for (const char* row : {"bare-uprobe/untraced", "tslab-trace/untraced"})
    d.Row({row, Fmt(s.Median({row, "demo", "ops_per_s_ratio"}), 3) + "x",
           Fmt(s.Median({row, "demo", "ops_per_cpu_s_ratio"}), 3) + "x", ""});
  o << d.Render(markdown) << "\n";
  Table p({"epoch_advance loop", "ns/call", "min chunk", "CPU ns/call", "ns/hit", "CPU ns/hit"});
  for (const char* row : {"untraced", "bare-uprobe", "tslab-trace"}) {
    auto m = [&](const char* metric, int prec) {
      return Fmt(s.Median({row, "probe-hit", metric}), prec);
    };
    p.Row({row, m("ns_per_call", 1), m("ns_per_call_min", 1), m("cpu_ns_per_call", 1),
           m("ns_per_hit", 1), m("cpu_ns_per_hit", 1)});
  }
  p.Row({"tslab-trace/bare-uprobe", "", "", "",
         Fmt(s.Median({"tslab-trace/bare-uprobe", "probe-hit", "cost_ratio"}), 2) + "x",
         Fmt(s.Median({"tslab-trace/bare-uprobe", "probe-hit", "cpu_cost_ratio"}), 2) + "x"});
  o << p.Render(markdown);
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
  }
}

std::vector<TargetCheck> CheckTargets(const ResultStore& s, const ReportSetup& setup) {
  std::vector<TargetCheck> out;
  const std::string& t = setup.subject;
  auto ratio = [&](const std::string& b, const char* w) {
    return s.Median({t + "/" + b, w, "ops_per_s_ratio"});
  };
  // The same ratio by CPU time, shown beside the wall-time one that judges.
  auto by_cpu = [&](const std::string& b) {
    auto c = s.Median({t + "/" + b, "churn", "ops_per_cpu_s_ratio"});
    return c ? "; by CPU time " + Fmt(*c, 3) + "x" : std::string();
  };
  auto add = [&](bool have, bool pass, std::string what, std::string detail) {
    out.push_back({have ? (pass ? "PASS" : "MISS") : "n/a", std::move(what), std::move(detail)});
  };

  if (auto r = ratio("mimalloc", "churn"))
    add(true, *r >= 1.0, "churn throughput (1 thread) >= mimalloc's",
        t + "/mimalloc " + RatioWords(*r) + by_cpu("mimalloc"));
  else
    add(false, false, "churn throughput (1 thread) >= mimalloc's",
        "no mimalloc or tslab churn results");

  {
    std::optional<double> mine = s.Median({t, "latency", "alloc_p999_ns"});
    std::optional<double> best;
    std::string best_name;
    for (const auto& p : setup.peers) {
      auto v = s.Median({p, "latency", "alloc_p999_ns"});
      if (v && (!best || *v < *best)) {
        best = v;
        best_name = p;
      }
    }
    const std::string what = "p99.9 alloc latency <= best peer's";
    if (mine && best) {
      double r = *mine / *best;
      // Two values less than half a timer step apart are the same reading
      // (per-process calibrations differ in the 4th digit).
      const double step = s.MedianOverAll("latency", "timer_granularity_ns").value_or(0);
      const bool same = std::fabs(*mine - *best) < step / 2;
      add(true, same || *mine <= *best, what,
          t + " " + Fmt(*mine, 1) + " ns vs " + best_name + " " + Fmt(*best, 1) + " ns: " +
              (same ? std::string("equal within the timer's resolution")
                    : Fmt(r, 2) + "x (" + Fmt(std::fabs(r - 1) * 100, 1) + "% " +
                          (r <= 1 ? "better" : "worse") + ")") +
              "; both include the timer floor");
    } else {
      add(false, false, what, "missing latency results");
    }
  }

  if (auto sc = s.Median({t, "churn-2t", "scaling_vs_1t"}))
    add(true, *sc >= 1.8, "2 threads >= 1.8x 1 thread (churn)",
        t + " " + Fmt(*sc, 2) + "x (" + Fmt(std::fabs(*sc - 1.8) / 1.8 * 100, 1) + "% " +
            (*sc >= 1.8 ? "above" : "short of") + " 1.8x)");
  else
    add(false, false, "2 threads >= 1.8x 1 thread (churn)", "missing churn or churn-2t results");

  {
    auto d = s.Median({t, "churn", "rss_drift_pct"});
    auto v = s.Values({t, "churn", "rss_drift_pct"});
    const std::string what = "RSS drift <= 1% over " + std::to_string(setup.cycles) + " cycles" +
                             (setup.cycles < 1000 ? " (target is for 1000)" : "");
    if (d)
      add(true, *d <= 1.0, what,
          t + " " + Pct(*d) + " (warm after cycle 10 -> end; worst round " +
              Pct(*std::max_element(v.begin(), v.end())) + ")");
    else
      add(false, false, what, "missing churn results");
  }

  auto overhead = [&](const std::string& variant, double floor, const std::string& what,
                      const std::string& extra) {
    if (auto r = ratio(variant, "churn")) {
      const std::string cost = *r >= 1.0 ? "no measurable cost: " + variant + " slower by " +
                                               Fmt((*r - 1) * 100, 1) + "%"
                                         : "cost " + Fmt((1 - *r) * 100, 1) + "%";
      add(extra.empty(), *r >= floor, what,
          t + "/" + variant + " " + Fmt(*r, 3) + "x (" + cost + ", limit " +
              Fmt((1 - floor) * 100, 0) + "%)" + by_cpu(variant) + extra);
    } else {
      add(false, false, what, "no " + variant + " churn results");
    }
  };
  overhead("tslab-nostats", 0.98, "counters cost <= 2% of churn throughput", "");
  overhead("tslab-nousdt", 0.99, "USDT probes present, not attached: >= 0.99x compiled out (churn)",
           "");
  overhead("tslab-regionoff", 0.99, "stats region file costs <= 1% (vs TSLAB_STATS_DIR=off)",
           s.Info(t, "region_path").empty()
               ? "; not judged: this build's region is anonymous memory either way"
               : "");

  {
    auto p99 = s.Median({t, "snapshot", "snapshot_p99_us"});
    auto p50 = s.Median({t, "snapshot", "snapshot_p50_us"});
    const std::string what = "snapshot of a live process's region <= 1 ms";
    if (p99)
      add(true, *p99 <= 1000.0, what,
          "p50 " + Fmt(p50, 1) + " us, p99 " + Fmt(*p99, 1) + " us (tslab_region_snapshot only)");
    else
      add(false, false, what,
          s.Info(t, "snapshot_skip").empty() ? "not measured" : s.Info(t, "snapshot_skip"));
  }
  AddTracingTargets(s, &out);
  return out;
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
  Table c({"", "target", "measured"}, 3);
  for (const auto& x : checks) c.Row({x.status, x.what, x.detail});
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
