// Text (bcc-style histograms) and JSON output of one interval.
#include "tools/tslab-trace/report.h"

#include <cmath>
#include <ctime>

#include <nlohmann/json.hpp>

#include "tools/common/json_text.h"
#include "tools/tslab-trace/probes.h"

namespace tslab::trace {
namespace {

using Json = nlohmann::ordered_json;

constexpr int kStars = 40;

// One probe's interval, all classes (or kinds) summed.
struct Sums {
  uint64_t count = 0, sum = 0, a = 0, b = 0;
  uint64_t hist[TT_NBUCKETS] = {};
};

Sums SumOf(const tt_totals& t, int p, int only_sub = -1) {
  Sums s;
  for (int sub = 0; sub < TT_NSUB; ++sub) {
    if (only_sub >= 0 && sub != only_sub) continue;
    const tt_cell& c = t.cells[p][sub];
    s.count += c.count;
    s.sum += c.sum;
    s.a += c.a;
    s.b += c.b;
    if (kProbes[p].hist >= 0) {
      for (int i = 0; i < TT_NBUCKETS; ++i) {
        s.hist[i] += t.hist[kProbes[p].hist][sub][i];
      }
    }
  }
  return s;
}

std::string Label(const std::string& unit) {
  return unit == "ms" ? "msecs" : unit == "us" ? "usecs" : "nsecs";
}

double Rate(uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0.0;
}

std::string Bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

// The probe-specific part of a summary line.
std::string Extras(int p, const Sums& s, double seconds) {
  char buf[256] = "";
  switch (p) {
    case TT_SLOW_PATH:
      std::snprintf(buf, sizeof(buf),
                    "  [current null %llu, current full %llu, epoch closed "
                    "%llu]",
                    (unsigned long long)(s.count - s.a - s.b),
                    (unsigned long long)s.a, (unsigned long long)s.b);
      break;
    case TT_SLAB_NEW:
      std::snprintf(buf, sizeof(buf), "  [from cache %llu, from OS %llu]",
                    (unsigned long long)s.a,
                    (unsigned long long)(s.count - s.a));
      break;
    case TT_EPOCH_CLOSE:
      std::snprintf(buf, sizeof(buf), "  [slabs scanned %llu, recycled %llu]",
                    (unsigned long long)s.a, (unsigned long long)s.b);
      break;
    case TT_MADVISE:
      std::snprintf(buf, sizeof(buf), "  [%s, %s/s, errors %llu]",
                    Bytes(static_cast<double>(s.a)).c_str(),
                    Bytes(Rate(s.a, seconds)).c_str(),
                    (unsigned long long)s.b);
      break;
    default:
      break;
  }
  return buf;
}

}  // namespace

double NsPerUnit(const std::string& unit) {
  return unit == "ms" ? 1e6 : unit == "us" ? 1e3 : 1.0;
}

std::string TwoDigits(double v) {
  char buf[64];
  if (v >= 10 || v == 0) {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  } else {
    // Decimals enough for two significant digits: 1.3, 0.013.
    const int decimals = 1 - static_cast<int>(std::floor(std::log10(v)));
    std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  }
  return buf;
}

namespace {

void PrintSummary(FILE* out, const char* name, int p, const Sums& s,
                  double seconds, const std::string& unit, int indent) {
  std::fprintf(out, "%*s%-*s %10llu events %12.1f/s", indent, "", 20 - indent,
               name, (unsigned long long)s.count, Rate(s.count, seconds));
  if (kProbes[p].hist >= 0 && s.count > 0) {
    // The sums are in ns (bpf/tslab_trace.h): two significant digits in
    // the unit, so 13 us events are "avg 0.013 ms", not "avg 0 ms".
    const double avg = static_cast<double>(s.sum) / static_cast<double>(s.count) /
                       NsPerUnit(unit);
    std::fprintf(out, "   avg %s %s", TwoDigits(avg).c_str(), unit.c_str());
  }
  std::fprintf(out, "%s\n", Extras(p, s, seconds).c_str());
}

void PrintText(const ReportConfig& cfg, const tt_totals& delta,
               const IntervalInfo& info, FILE* out) {
  char when[32] = "";
  time_t secs = static_cast<time_t>(info.realtime_ns / 1000000000ull);
  struct tm tm;
  if (localtime_r(&secs, &tm) != nullptr) {
    std::strftime(when, sizeof(when), "%H:%M:%S", &tm);
  }
  // A blank line between intervals, none before the first (stdout's
  // first line is the first interval's header).
  std::fprintf(out, "%s%s  interval %d, %.3f s", info.index > 1 ? "\n" : "", when,
               info.index, info.seconds);
  if (cfg.pid > 0) std::fprintf(out, ", pid %d", static_cast<int>(cfg.pid));
  if (!cfg.binary.empty()) std::fprintf(out, ", %s", cfg.binary.c_str());
  std::fprintf(out, "%s\n", info.final ? " (last)" : "");
  const std::string label = Label(cfg.unit);
  for (int p : cfg.probes) {
    const ProbeInfo& pi = kProbes[p];
    Sums s = SumOf(delta, p);
    PrintSummary(out, pi.name, p, s, info.seconds, cfg.unit, 0);
    if (p == TT_INVALID_FREE && s.count > 0) {
      std::fprintf(out, "  by kind:");
      for (int k = 0; k < TSLAB_FREE_KIND_COUNT; ++k) {
        std::fprintf(out, " %s %llu", kFreeKinds[k],
                     (unsigned long long)delta.cells[p][k].count);
      }
      std::fprintf(out, "\n");
    }
    if (s.count == 0) continue;
    if (cfg.per_class && pi.by_class) {
      for (int c = 0; c < TT_NSUB; ++c) {
        Sums cs = SumOf(delta, p, c);
        if (cs.count == 0) continue;
        char name[32];
        std::snprintf(name, sizeof(name), "class %d (%u B)", c,
                      kClassSizes[c]);
        PrintSummary(out, name, p, cs, info.seconds, cfg.unit, 2);
        if (pi.hist >= 0) PrintLog2Hist(out, cs.hist, TT_NBUCKETS, label, 2);
      }
    } else if (pi.hist >= 0) {
      PrintLog2Hist(out, s.hist, TT_NBUCKETS, label, 0);
    }
  }
  std::fflush(out);
}

Json HistJson(const uint64_t* hist) {
  Json a = Json::array();
  for (int i = 0; i < TT_NBUCKETS; ++i) {
    if (hist[i] == 0) continue;
    const uint64_t low = i == 0 ? 0 : 1ull << i;
    const uint64_t high = i == 63 ? ~0ull : (2ull << i) - 1;
    a.push_back({{"low", low}, {"high", high}, {"count", hist[i]}});
  }
  return a;
}

Json SumsJson(int p, const Sums& s, double seconds, const std::string& unit) {
  Json j;
  j["count"] = s.count;
  j["rate"] = Rate(s.count, seconds);
  if (kProbes[p].hist >= 0) {
    j["sum"] = static_cast<uint64_t>(static_cast<double>(s.sum) / NsPerUnit(unit));
    j["hist"] = HistJson(s.hist);
  }
  switch (p) {
    case TT_SLOW_PATH:
      j["reasons"] = {{"current_null", s.count - s.a - s.b},
                      {"current_full", s.a},
                      {"epoch_closed", s.b}};
      break;
    case TT_SLAB_NEW:
      j["from_cache"] = s.a;
      j["from_os"] = s.count - s.a;
      break;
    case TT_EPOCH_CLOSE:
      j["scanned"] = s.a;
      j["recycled"] = s.b;
      break;
    case TT_MADVISE:
      j["bytes"] = s.a;
      j["bytes_per_s"] = Rate(s.a, seconds);
      j["errors"] = s.b;
      break;
    default:
      break;
  }
  return j;
}

void PrintJson(const ReportConfig& cfg, const tt_totals& delta,
               const tt_totals& total, const IntervalInfo& info, FILE* out) {
  Json doc;
  doc["tool"] = "tslab-trace";
  doc["schema_version"] = 1;
  doc["time_ns"] = info.realtime_ns;
  doc["index"] = info.index;
  doc["interval_s"] = info.seconds;
  doc["final"] = info.final;
  doc["target_exited"] = info.target_exited;
  doc["pid"] = cfg.pid > 0 ? Json(static_cast<int>(cfg.pid)) : Json(nullptr);
  doc["binary"] = cfg.binary.empty() ? Json(nullptr) : Json(cfg.binary);
  doc["unit"] = cfg.unit;
  doc["per_class"] = cfg.per_class;
  Json probes = Json::object();
  for (int p : cfg.probes) {
    const ProbeInfo& pi = kProbes[p];
    Json j = SumsJson(p, SumOf(delta, p), info.seconds, cfg.unit);
    j["total"] = SumOf(total, p).count;
    if (p == TT_INVALID_FREE) {
      Json kinds;
      for (int k = 0; k < TSLAB_FREE_KIND_COUNT; ++k) kinds[kFreeKinds[k]] = delta.cells[p][k].count;
      j["kinds"] = kinds;
    }
    if (cfg.per_class && pi.by_class) {
      Json classes = Json::array();
      for (int c = 0; c < TT_NSUB; ++c) {
        Sums cs = SumOf(delta, p, c);
        Json cj = {{"class", c}, {"size", kClassSizes[c]}};
        const Json sj = SumsJson(p, cs, info.seconds, cfg.unit);
        for (auto it = sj.begin(); it != sj.end(); ++it) cj[it.key()] = *it;
        cj["total"] = SumOf(total, p, c).count;
        classes.push_back(cj);
      }
      j["classes"] = classes;
    }
    probes[pi.name] = j;
  }
  doc["probes"] = probes;
  std::fprintf(out, "%s\n", tools::JsonText(doc).c_str());
  std::fflush(out);
}

}  // namespace

tt_totals Subtract(const tt_totals& a, const tt_totals& b) {
  tt_totals d;
  const uint64_t* pa = reinterpret_cast<const uint64_t*>(&a);
  const uint64_t* pb = reinterpret_cast<const uint64_t*>(&b);
  uint64_t* pd = reinterpret_cast<uint64_t*>(&d);
  for (size_t i = 0; i < sizeof(tt_totals) / sizeof(uint64_t); ++i) {
    pd[i] = pa[i] - pb[i];
  }
  return d;
}

void PrintLog2Hist(FILE* out, const uint64_t* buckets, int n,
                   const std::string& label, int indent) {
  int lo = -1, hi = -1;
  uint64_t max = 0;
  for (int i = 0; i < n; ++i) {
    if (buckets[i] == 0) continue;
    if (lo < 0) lo = i;
    hi = i;
    if (buckets[i] > max) max = buckets[i];
  }
  if (hi < 0) return;
  // Same layout as bcc's print_log2_hist: wider columns past 2^32.
  const bool wide = hi > 31;
  const int num_w = wide ? 20 : 10;
  std::fprintf(out, "%*s%*s%-*s : count    distribution\n", indent, "",
               wide ? 15 : 5, "", wide ? 29 : 19, label.c_str());
  for (int i = lo; i <= hi; ++i) {
    const unsigned long long low = i == 0 ? 0 : 1ull << i;
    const unsigned long long high = i == 63 ? ~0ull : (2ull << i) - 1;
    const int stars = static_cast<int>(buckets[i] * kStars / max);
    std::fprintf(out, "%*s%*llu -> %-*llu : %-8llu |%s%*s|\n", indent, "",
                 num_w, low, num_w, high, (unsigned long long)buckets[i],
                 std::string(stars, '*').c_str(), kStars - stars, "");
  }
}

void PrintInterval(const ReportConfig& cfg, const tt_totals& delta,
                   const tt_totals& total, const IntervalInfo& info,
                   FILE* out) {
  if (cfg.json) {
    PrintJson(cfg, delta, total, info, out);
  } else {
    PrintText(cfg, delta, info, out);
  }
}

}  // namespace tslab::trace
