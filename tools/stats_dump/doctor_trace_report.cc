// The trace's section of the doctor's report: text and JSON.
#include <cstdio>

#include "tools/common/terminal_text.h"
#include "tools/stats_dump/doctor_trace.h"
#include "tools/stats_dump/label_text.h"

namespace tslab::stats_dump {
namespace {

using Json = nlohmann::ordered_json;

std::string Row(const char* name, const Latency& l, const char* note) {
  char buf[256];
  if (l.count == 0) {
    std::snprintf(buf, sizeof(buf), "    %-24s %10s events\n", name, "0");
  } else {
    std::snprintf(buf, sizeof(buf), "    %-24s %10s events  p50 %-9s p99 %-9s max %-9s%s\n",
                  name, GroupedCount(l.count).c_str(), DurationText(l.p50_ns).c_str(),
                  DurationText(l.p99_ns).c_str(), DurationText(l.max_ns).c_str(), note);
  }
  std::string row = buf;
  while (row.size() > 1 && row[row.size() - 2] == ' ') row.erase(row.size() - 2, 1);
  return row;
}

Json LatencyJson(const Latency& l) {
  Json j;
  j["count"] = l.count;
  j["p50_ns"] = l.p50_ns;
  j["p99_ns"] = l.p99_ns;
  j["max_ns"] = l.max_ns;
  j["sum_ns"] = l.sum_ns;
  return j;
}

double MadviseShare(const TraceReport& t) {
  const double total = t.epoch_close_own.sum_ns + t.close_nested_madvise_ns;
  return total > 0 ? t.close_nested_madvise_ns / total : 0;
}

}  // namespace

std::string DurationText(double ns) {
  char buf[32];
  if (ns >= 1e6) {
    std::snprintf(buf, sizeof(buf), "%.2f ms", ns / 1e6);
  } else if (ns >= 1e3) {
    std::snprintf(buf, sizeof(buf), "%.1f us", ns / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%.0f ns", ns);
  }
  return buf;
}

std::string TraceText(const TraceReport& t) {
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "trace (BPF on tslab's USDT probes over the same %.2f s window; "
                "percentiles interpolated within log2 buckets):\n",
                t.seconds);
  std::string out = buf;
  out += Row("slow_path", t.slow_path, "");
  out += Row("epoch_close", t.epoch_close, "  (includes nested madvise)");
  std::snprintf(buf, sizeof(buf), "  (madvise: %.0f%% of close time)",
                MadviseShare(t) * 100);
  out += Row("epoch_close w/o madvise", t.epoch_close_own, buf);
  out += Row("madvise", t.madvise, "");
  out += "    durations: epoch_close's runs from the close's start to its probe and "
         "includes the madvise calls made on the closing thread (none with a purge "
         "delay: they run later on the tslab-purge thread); the counters' "
         "epoch_close_total_ns times each class's scan only, so its per-class "
         "average is smaller. slow_path includes a nested slab_new.\n";
  uint64_t equal = 0, unexplained = 0;
  std::string diffs;
  for (const Reconciled& r : t.reconciliation) {
    if (r.Equal()) {
      ++equal;
      continue;
    }
    const bool explained = r.Explained(t.threads);
    unexplained += !explained;
    diffs += "      " + r.probe + ": BPF " + GroupedCount(r.bpf) + ", " + r.counter + " +" +
             GroupedCount(r.counter_delta) + "; " + GroupedCount(r.skew) +
             " fired while the counters were read" +
             (explained ? "" : ": NOT explained by the window's edges") + "\n";
  }
  std::snprintf(buf, sizeof(buf), "  reconciliation: %zu probes; BPF event counts equal "
                "the counter deltas over the window for %llu",
                t.reconciliation.size(), static_cast<unsigned long long>(equal));
  out += buf;
  if (diffs.empty()) {
    out += "\n";
  } else {
    const uint64_t differ = t.reconciliation.size() - equal;
    char threads[48] = "each thread";
    if (t.threads > 0) {
      std::snprintf(threads, sizeof(threads), "each of the %llu threads",
                    static_cast<unsigned long long>(t.threads));
    }
    std::snprintf(buf, sizeof(buf), "; %llu differ%s (a snapshot and a BPF reading are "
                  "not one instant: events fire while the counters are read, and a "
                  "counter is bumped before its probe fires, so %s can have one event "
                  "under way at each edge):\n",
                  static_cast<unsigned long long>(differ),
                  unexplained == 0 ? ", all within what that explains"
                                   : ", some beyond what that explains",
                  threads);
    out += buf + diffs;
  }
  bool any = false;
  for (const CallSite& c : t.sites) {
    if (!any) {
      out += "  call sites (user stacks since attach, first frame outside libtslab; past " +
             std::to_string(TT_STACK_ALL) + " events of a probe, one stack in " +
             std::to_string(TT_STACK_EVERY) + " at random: counts are estimates):\n";
    }
    any = true;
    std::string chain;
    for (size_t i = 0; i < c.frames.size() && i < 3; ++i) {
      chain += (i ? " <- " : "") + tools::TerminalSafe(c.frames[i]);
    }
    std::snprintf(buf, sizeof(buf), "    %-20s %-8s %8s  %3.0f%%  ", c.probe.c_str(),
                  c.kind.c_str(), GroupedCount(c.count).c_str(), c.share * 100);
    out += buf + chain + "\n";
  }
  if (t.stack_errors > 0) {
    out += "  about " + GroupedCount(t.stack_errors) +
           " events had no stack (map full or none; estimated as the counts)\n";
  }
  return out;
}

Json TraceJson(const TraceReport& t, int stacks) {
  Json j;
  j["attached"] = true;
  j["window_seconds"] = t.seconds;
  j["percentiles"] = "log2 histogram, interpolated linearly within the bucket";
  Json lat;
  lat["slow_path"] = LatencyJson(t.slow_path);
  lat["epoch_close"] = LatencyJson(t.epoch_close);
  lat["epoch_close_without_madvise"] = LatencyJson(t.epoch_close_own);
  lat["madvise"] = LatencyJson(t.madvise);
  j["latency"] = std::move(lat);
  Json per_class = Json::array();
  for (int c = 0; c < TT_NSUB; ++c) {
    if (t.slow_path_cls[c].count == 0 && t.madvise_cls[c].count == 0) continue;
    per_class.push_back({{"class_index", c},
                         {"slow_path", LatencyJson(t.slow_path_cls[c])},
                         {"madvise", LatencyJson(t.madvise_cls[c])}});
  }
  j["per_class"] = std::move(per_class);
  j["epoch_close_madvise_share"] = MadviseShare(t);
  j["madvise_failed"] = t.madvise_failed;
  Json rec = Json::array();
  bool all_equal = true, all_explained = true;
  for (const Reconciled& r : t.reconciliation) {
    all_equal &= r.Equal();
    all_explained &= r.Explained(t.threads);
    rec.push_back({{"probe", r.probe},
                   {"counter", r.counter},
                   {"bpf_events", r.bpf},
                   {"counter_delta", r.counter_delta},
                   {"difference", static_cast<int64_t>(r.bpf - r.counter_delta)},
                   {"read_skew_events", r.skew},
                   {"explained", r.Explained(t.threads)}});
  }
  j["reconciled"] = all_equal;  // every difference is 0
  j["explained"] = all_explained;
  j["threads"] = t.threads;
  j["reconciliation"] = std::move(rec);
  j["stacks"] = stacks;
  j["call_site_sampling"] = {{"every_event_up_to", TT_STACK_ALL},
                             {"then_one_in", TT_STACK_EVERY}};
  Json sites = Json::array();
  for (const CallSite& c : t.sites) {
    sites.push_back({{"probe", c.probe},
                     {"kind", c.kind.empty() ? Json(nullptr) : Json(c.kind)},
                     {"count", c.count},
                     {"share", c.share},
                     {"frames", c.frames}});
  }
  j["call_sites"] = std::move(sites);
  j["stack_errors"] = t.stack_errors;
  return j;
}

std::string TraceOnlyChecks(const DoctorConfig& cfg) {
  std::string out;
  for (const CheckConfig& c : cfg.checks) {
    if (c.needs_trace && c.enabled) out += (out.empty() ? "" : ", ") + c.id;
  }
  return out + (out.empty() ? "" : ", ") + "latency and call-site evidence";
}

std::string NoTraceText(const std::string& why, const DoctorConfig& cfg) {
  return "trace: not judged (" + TraceOnlyChecks(cfg) + "): " + why + "\n";
}

Json NoTraceJson(const std::string& why, const DoctorConfig& cfg) {
  Json j;
  j["attached"] = false;
  j["reason"] = why;
  Json nj = Json::array();
  for (const CheckConfig& c : cfg.checks) {
    if (c.needs_trace && c.enabled) nj.push_back(c.id);
  }
  j["not_judged"] = std::move(nj);
  return j;
}

}  // namespace tslab::stats_dump
