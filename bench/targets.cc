// The targets (see report.h, TargetCheck): each judged on the
// median of its per-round values, every round's value and verdict beside.
//
// Why a noise band: on this shared 2-CPU machine rounds of one build
// spread by several percent (bench/README.md), so a value within 5% of its
// target either side is "within noise" (NOISE): neither a pass nor a clear
// miss. A PASS has to beat the target by more than that.
//
// Thread-safety: pure functions of the store.
#include <algorithm>
#include <cmath>
#include <map>

#include "bench/report.h"

namespace tslab::bench {

namespace {

constexpr double kNoiseBand = 0.05;

enum class Goal { kAtLeast, kAtMost };

struct Rule {
  std::string what;
  Goal goal;
  double limit;
  int prec;          // decimals of the values shown
  std::string unit;  // after each value: "x", "%", " us"
  // Readings this close to the limit are the same reading whatever the
  // band (the timer's half step for latencies), in the value's unit.
  double same_within = 0;
};

std::string F(const std::optional<double>& v, int prec, double scale = 1.0) {
  return FormatFixed(v, prec, scale);
}
// With its unit, or "-" alone.
std::string FU(const std::optional<double>& v, int prec, const std::string& unit) {
  return v ? F(v, prec) + unit : "-";
}

std::string Verdict(double v, const Rule& r) {
  const double better = r.goal == Goal::kAtLeast ? v - r.limit : r.limit - v;
  const double band = std::max(kNoiseBand * std::fabs(r.limit), r.same_within);
  if (better > band) return "PASS";
  if (better < -band) return "MISS";
  return "NOISE";
}

// "cost 3.2%" or "no measurable cost (the variant slower by 1.0%)".
std::string CostWords(double ratio, const std::string& variant) {
  return ratio >= 1.0
             ? "no measurable cost (" + variant + " slower by " + F((ratio - 1) * 100, 1) + "%)"
             : "cost " + F((1 - ratio) * 100, 1) + "%";
}

class Checker {
 public:
  explicit Checker(const ResultStore& s) : s_(s) {}

  // Judges the median of k's rounds against r; n/a with why_missing if k
  // has no value.
  void Judge(const Rule& r, const Key& k, std::string detail, std::string why_missing) {
    auto m = s_.Median(k);
    if (!m) {
      out_.push_back({"n/a", r.what, "-", "", std::move(why_missing)});
      return;
    }
    out_.push_back(
        {Verdict(*m, r), r.what, FU(m, r.prec, r.unit), Rounds(k, r, true), std::move(detail)});
  }
  // Shown, not judged.
  void Info(std::string what, const Key& k, int prec, std::string unit, std::string detail) {
    auto m = s_.Median(k);
    if (!m) {
      out_.push_back({"info", std::move(what), "-", "", "not measured"});
      return;
    }
    Rule r{std::move(what), Goal::kAtLeast, 0, prec, std::move(unit)};
    out_.push_back({"info", r.what, FU(m, prec, r.unit), Rounds(k, r, false), std::move(detail)});
  }
  void NotApplicable(std::string what, std::string why) {
    out_.push_back({"n/a", std::move(what), "-", "", std::move(why)});
  }
  std::vector<TargetCheck> Take() { return std::move(out_); }

 private:
  // "0.903x MISS, 1.021x NOISE, -": every round, in order, "-" if none.
  std::string Rounds(const Key& k, const Rule& r, bool judged) const {
    std::string out;
    for (int i = 0; i < s_.rounds(); ++i) {
      auto v = s_.At(k, i);
      if (!out.empty()) out += ", ";
      out += FU(v, r.prec, r.unit) + (v && judged ? " " + Verdict(*v, r) : "");
    }
    return out;
  }
  const ResultStore& s_;
  std::vector<TargetCheck> out_;
};

// "mimalloc x4, jemalloc x1": which peer was best in how many rounds.
std::string BestPeers(const ResultStore& s, const ReportSetup& setup, const char* w,
                      const char* metric, bool lower) {
  std::map<std::string, int> n;
  for (int r = 0; r < s.rounds(); ++r)
    if (auto b = BestPeerAt(s, setup, w, metric, r, lower)) ++n[b->first];
  std::string out;
  for (const auto& [name, count] : n)
    out += (out.empty() ? "" : ", ") + name + " x" + std::to_string(count);
  return out.empty() ? "none" : out;
}

// Why the tracing costs are missing, for a target line.
std::string TracingMissing(const ResultStore& s) {
  std::string skip = s.Info("tslab-trace", "usdt_skip");
  return skip.empty() ? "no results (every tracing round failed, see stderr)" : skip;
}

// The targets of usdt_cost.h, judged on wall time like the others,
// the CPU-time reading beside.
void AddTracingTargets(const ResultStore& s, Checker* c) {
  const Key demo{"tslab-trace/untraced", "demo", "ops_per_s_ratio"};
  std::string detail;
  if (auto r = s.Median(demo))
    detail = CostWords(*r, "traced") + ", limit 5%; by CPU time " +
             F(s.Median({"tslab-trace/untraced", "demo", "ops_per_cpu_s_ratio"}), 3) + "x; " +
             F(s.Median({"tslab-trace", "demo", "probe_hits_per_s"}), 0) +
             " probe hits/s; empty uprobes on the same sites: " +
             F(s.Median({"bare-uprobe/untraced", "demo", "ops_per_s_ratio"}), 3) + "x";
  c->Judge(
      {"tslab-demo with tslab-trace attached >= 0.95x unattached", Goal::kAtLeast, 0.95, 3, "x"},
      demo, detail, TracingMissing(s));
  // Per hit, tracer vs the bare uprobe on the same loop, wall and CPU time.
  auto per_hit = [&](const char* tracer, const char* workload) {
    auto m = [&](const char* row, const char* metric) {
      return F(s.Median({row, workload, metric}), 0);
    };
    const std::string ratio = std::string(tracer) + "/bare-uprobe";
    return std::string(tracer) + " " + m(tracer, "ns_per_hit") + " ns vs bare " +
           m("bare-uprobe", "ns_per_hit") + " ns per hit; by CPU time " +
           m(tracer, "cpu_ns_per_hit") + " vs " + m("bare-uprobe", "cpu_ns_per_hit") +
           " ns: " + F(s.Median({ratio, workload, "cpu_cost_ratio"}), 2) + "x";
  };
  c->Judge(
      {"cost per probe hit <= 1.5x a bare uprobe + empty BPF program", Goal::kAtMost, 1.5, 2, "x"},
      {"tslab-trace/bare-uprobe", "probe-hit", "cost_ratio"}, per_hit("tslab-trace", "probe-hit"),
      TracingMissing(s));
  c->Judge({"--doctor --trace: cost per epoch_advance hit <= 1.2x a bare uprobe", Goal::kAtMost,
            1.2, 2, "x"},
           {"doctor-trace/bare-uprobe", "probe-hit", "cost_ratio"},
           per_hit("doctor-trace", "probe-hit"), TracingMissing(s));
  c->Judge({"--doctor --trace: cost per invalid_free hit (user stack) <= 1.2x a bare uprobe",
            Goal::kAtMost, 1.2, 2, "x"},
           {"doctor-trace/bare-uprobe", "probe-hit-stack", "cost_ratio"},
           per_hit("doctor-trace", "probe-hit-stack"), TracingMissing(s));
}

}  // namespace

std::vector<TargetCheck> CheckTargets(const ResultStore& s, const ReportSetup& setup) {
  Checker c(s);
  const std::string& t = setup.subject;
  auto ratio = [&](const std::string& b, const std::string& w) {
    return Key{t + "/" + b, w, "ops_per_s_ratio"};
  };
  auto by_cpu = [&](const std::string& b, const std::string& w) {
    return "by CPU time " + FU(s.Median({t + "/" + b, w, "ops_per_cpu_s_ratio"}), 3, "x");
  };
  auto mops = [&](const std::string& a, const std::string& w) {
    return a + " " + F(s.Median({a, w, "ops_per_s"}), 2, 1e-6);
  };

  // Throughput against mimalloc; tcmalloc's ratio shown beside.
  for (auto [w, label] : {std::pair{"churn", "churn, 1 thread"}, std::pair{"pairs", "pairs"},
                          std::pair{"churn-2t", "churn, 2 threads"}}) {
    const std::string l = label;
    c.Judge(
        {l + ": " + t + "/mimalloc >= 1.0", Goal::kAtLeast, 1.0, 3, "x"}, ratio("mimalloc", w),
        mops(t, w) + " vs " + mops("mimalloc", w) + " Mops/s (medians); " + by_cpu("mimalloc", w),
        "no mimalloc or " + t + " " + w + " results");
    c.Info(
        l + ": " + t + "/tcmalloc (shown)", ratio("tcmalloc", w), 3, "x",
        by_cpu("tcmalloc", w) + "; tcmalloc/mimalloc " +
            FU(s.RatioMedian({"tcmalloc", w, "ops_per_s"}, {"mimalloc", w, "ops_per_s"}), 3, "x"));
  }
  c.Judge({"churn, 2 threads: " + t + " 2t/1t >= 1.8", Goal::kAtLeast, 1.8, 2, "x"},
          {t, "churn-2t", "scaling_vs_1t"},
          "mimalloc " + FU(s.Median({"mimalloc", "churn-2t", "scaling_vs_1t"}), 2, "x") +
              ", tcmalloc " + FU(s.Median({"tcmalloc", "churn-2t", "scaling_vs_1t"}), 2, "x"),
          "missing churn or churn-2t results");

  // Latency. Both sides include the timer's floor, stated.
  const auto step = s.MedianOverAll("latency", "timer_granularity_ns");
  const std::string floor = "timer floor p50 " +
                            F(s.MedianOverAll("latency", "timer_floor_p50_ns"), 1) + " ns, p99 " +
                            F(s.MedianOverAll("latency", "timer_floor_p99_ns"), 1) +
                            " ns, resolution " + F(step, 1) + " ns, included in both";
  {
    auto samples = s.Median({t, "latency", "samples"});
    std::string n;
    if (samples)
      n = F(samples, 0) + " samples per op per round, " + F(std::floor(*samples / 10000.0), 0) +
          " calls above p99.99" +
          (*samples < 100000 ? " (FEWER than 100,000: not meaningful)" : "") + "; ";
    c.Judge({"alloc p99.99 <= 2x mimalloc's", Goal::kAtMost, 2.0, 2, "x"},
            {t + "/mimalloc", "latency", "alloc_p9999_ns_ratio"},
            t + " " + F(s.Median({t, "latency", "alloc_p9999_ns"}), 0) + " ns vs mimalloc " +
                F(s.Median({"mimalloc", "latency", "alloc_p9999_ns"}), 0) + " ns (medians); " + n +
                floor,
            "missing latency results");
  }
  {
    auto best = s.Median({"best-peer", "latency", "alloc_p999_ns"});
    // Two readings less than half a timer step apart are the same reading
    // (per-process calibrations differ in the 4th digit); as a ratio, half
    // a step over the best peer's value.
    const double same = step && best && *best > 0 ? *step / 2 / *best : 0;
    std::string peers;
    for (const auto& p : setup.peers) peers += (peers.empty() ? "" : ", ") + p;
    c.Judge({"alloc p99.9 <= best peer's (" + peers + ")", Goal::kAtMost, 1.0, 2, "x", same},
            {t + "/best-peer", "latency", "alloc_p999_ns_ratio"},
            t + " " + F(s.Median({t, "latency", "alloc_p999_ns"}), 1) + " ns vs best peer " +
                F(best, 1) + " ns (medians; best per round: " +
                BestPeers(s, setup, "latency", "alloc_p999_ns", true) + "); " + floor,
            "missing latency results");
  }

  // Epoch workload.
  c.Judge({"epoch: " + t + " / best peer >= 1.0", Goal::kAtLeast, 1.0, 3, "x"},
          {t + "/best-peer", "epoch", "ops_per_s_ratio"},
          mops(t, "epoch") + " vs best peer " +
              F(s.Median({"best-peer", "epoch", "ops_per_s"}), 2, 1e-6) +
              " Mops/s (medians; best per round: " +
              BestPeers(s, setup, "epoch", "ops_per_s", false) + ")",
          "missing epoch results");
  {
    auto closes = s.Median({t, "epoch", "epoch_closes_steady"});
    c.Judge({"epoch: madvise calls per close <= 0.01 (steady state)", Goal::kAtMost, 0.01, 3, ""},
            {t, "epoch", "madvise_per_close"},
            F(s.Median({t, "epoch", "madvise_calls_steady"}), 0) + " madvise calls over " +
                F(closes, 0) + " closes, from cycle 10 to the end of the timed loop (medians)",
            closes ? "no epoch close counted after cycle 10 (counters compiled out, or too few "
                     "--epoch-cycles)"
                   : "no " + t + " epoch results");
  }
  {
    auto m = [&](const char* metric) { return s.Median({t, "epoch", metric}); };
    auto before = m("rss_before_bytes"), at = m("rss_after_close_bytes");
    const std::string rss =
        "RssAnon before " + F(before, 2, 1.0 / 1048576) + " MiB, after the last close " +
        F(at, 2, 1.0 / 1048576) + " MiB, " + F(m("purge_wait_ms"), 0) + " ms later " +
        F(m("rss_after_delay_bytes"), 2, 1.0 / 1048576) + " MiB (medians); purge delay " +
        F(m("purge_delay_ms"), 0) + " ms, " + s.Info(t, "purge_delay_source");
    std::string missing = "no " + t + " epoch results";
    if (before && at)
      missing = "not judged: " + F(*at - *before, 0, 1.0 / 1024) +
                " KiB above the start was resident at the last close (under " +
                std::to_string(setup.purge_min_bytes / 1024) +
                " KiB, a quarter batch): the pages went back at the close itself, nothing was "
                "left for a delayed purge; " +
                rss;
    // The driver's "at close" reading is only good if it came well within
    // the purge delay (a busy machine can wake it late).
    auto lag = m("close_sample_lag_ms"), delay = m("purge_delay_ms");
    std::string late;
    if (lag && delay && *lag > *delay / 2)
      late = "WARNING: the first reading came " + F(lag, 1) +
             " ms after the close, over half "
             "the purge delay: it may miss pages already given back (the worker's own reading "
             "at the close: " +
             F(m("rss_after_close_self_bytes"), 2, 1.0 / 1048576) + " MiB); ";
    c.Judge({"epoch: RSS of the emptied slabs given back after purge delay + 100 ms >= 90%",
             Goal::kAtLeast, 90.0, 1, "%"},
            {t, "epoch", "purge_returned_pct"}, late + rss, late + missing);
  }

  // What observability costs: counters and probes, on churn and pairs.
  for (auto [variant, floor_ratio, what] :
       {std::tuple{"tslab-nostats", 0.98, "counters cost <= 2%"},
        std::tuple{"tslab-nousdt", 0.99, "probes present, not attached: cost <= 1%"}}) {
    for (const char* w : {"churn", "pairs"}) {
      auto r = s.Median(ratio(variant, w));
      c.Judge({std::string(what) + ", " + w + ": " + t + "/" + variant + " >= " + F(floor_ratio, 2),
               Goal::kAtLeast, floor_ratio, 3, "x"},
              ratio(variant, w), (r ? CostWords(*r, variant) : "") + "; " + by_cpu(variant, w),
              std::string("no ") + variant + " " + w + " results");
    }
  }

  // Earlier targets of the project.
  c.Judge({"churn RSS drift <= 1% over " + std::to_string(setup.cycles) + " cycles" +
               (setup.cycles < 1000 ? " (target is for 1000)" : ""),
           Goal::kAtMost, 1.0, 2, "%"},
          {t, "churn", "rss_drift_pct"}, "RSS (statm) after cycle 10 -> end",
          "missing churn results");
  {
    const std::string what = "stats region file costs <= 1% (vs TSLAB_STATS_DIR=off), churn";
    auto r = s.Median(ratio("tslab-regionoff", "churn"));
    if (r && s.Info(t, "region_path").empty())
      c.NotApplicable(what, t + "/tslab-regionoff " + F(r, 3) +
                                "x; not judged: this build's region is anonymous memory either "
                                "way");
    else
      c.Judge(
          {what, Goal::kAtLeast, 0.99, 3, "x"}, ratio("tslab-regionoff", "churn"),
          (r ? CostWords(*r, "tslab-regionoff") : "") + "; " + by_cpu("tslab-regionoff", "churn"),
          "no tslab-regionoff churn results");
  }
  c.Judge({"snapshot of a live process's region <= 1 ms (p99)", Goal::kAtMost, 1000.0, 1, " us"},
          {t, "snapshot", "snapshot_p99_us"},
          "p50 " + F(s.Median({t, "snapshot", "snapshot_p50_us"}), 1) +
              " us (tslab_region_snapshot only)",
          s.Info(t, "snapshot_skip").empty() ? "not measured" : s.Info(t, "snapshot_skip"));
  AddTracingTargets(s, &c);
  return c.Take();
}

}  // namespace tslab::bench
