// Attach (libtslab_trace.a), read, reconcile, symbolise, judge.
#include "tools/stats_dump/doctor_trace.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "tools/stats_dump/label_text.h"
#include "tools/tslab-trace/checks.h"
#include "tools/tslab-trace/probes.h"
#include "tools/tslab-trace/report.h"
#include "tools/tslab-trace/symbolize.h"
#include "tools/tslab-trace/target.h"
#include "tools/tslab-trace/tracer.h"

namespace tslab::stats_dump {
namespace {

uint64_t Mono() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

uint64_t Delta(uint64_t now, uint64_t before) {
  return now >= before ? now - before : 0;
}

// A timed probe's histogram, summed over its cells (or one cell).
Latency ProbeLatency(const tt_totals& d, const tt_extra& x, int probe,
                     int only_sub) {
  const int h = trace::kProbes[probe].hist;
  __u64 buckets[TT_NBUCKETS] = {};
  uint64_t max = 0, sum = 0;
  for (int sub = 0; sub < TT_NSUB; ++sub) {
    if (only_sub >= 0 && sub != only_sub) continue;
    for (int b = 0; b < TT_NBUCKETS; ++b) buckets[b] += d.hist[h][sub][b];
    max = std::max<uint64_t>(max, x.max[h][sub]);
    sum += d.cells[probe][sub].sum;
  }
  return LatencyFromHist(buckets, TT_NBUCKETS, max, sum);
}

uint64_t ProbeCount(const tt_totals& d, int probe) {
  uint64_t n = 0;
  for (int sub = 0; sub < TT_NSUB; ++sub) n += d.cells[probe][sub].count;
  return n;
}

// The target's threads (/proc/PID/task), 0 if it cannot be read.
uint64_t CountThreads(pid_t pid) {
  std::error_code ec;
  uint64_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/task", ec), end;
       !ec && it != end; it.increment(ec)) {
    ++n;
  }
  return n;
}

// The counter each probe's events are counted by, summed over the
// process's allocators (docs/probes.md, "Counter it matches").
uint64_t CounterOf(int probe, const SlabGlobalStats& g, std::string* name) {
  switch (probe) {
    case TT_SLOW_PATH: *name = "total_slow_path_hits"; return g.total_slow_path_hits;
    case TT_SLAB_NEW:
      *name = "total_slabs_allocated + total_slabs_reused";
      return g.total_slabs_allocated + g.total_slabs_reused;
    case TT_EPOCH_ADVANCE: *name = "epoch_advances"; return g.epoch_advances;
    case TT_EPOCH_CLOSE: *name = "epoch_closes"; return g.epoch_closes;
    case TT_MADVISE: *name = "total_madvise_calls"; return g.total_madvise_calls;
    case TT_CACHE_OVERFLOW: *name = "total_cache_overflows"; return g.total_cache_overflows;
    case TT_INVALID_FREE:
      *name = "invalid_frees + stale_frees + double_frees + foreign_frees";
      return g.invalid_frees + g.stale_frees + g.double_frees + g.foreign_frees;
    case TT_EPOCH_CLOSED_ALLOC:
      *name = "total_slow_epoch_closed";
      return g.total_slow_epoch_closed;
    default: *name = "?"; return 0;
  }
}

// libtslab's own frames (static or shared): its C API and namespace.
bool InLibtslab(const std::string& frame) {
  return frame.rfind("tslab_", 0) == 0 || frame.rfind("tslab::", 0) == 0 ||
         frame.rfind("libtslab", 0) == 0;
}

std::string KindOf(int probe, uint32_t sub) {
  if (probe != TT_INVALID_FREE) return "";
  return sub < TSLAB_FREE_KIND_COUNT ? trace::kFreeKinds[sub] : "unknown";
}

// Up to `stacks` call sites per (probe, kind), most frequent first. A call
// site is the first two frames outside libtslab: stacks that differ only
// inside libtslab (the class, the path taken) or further out (a frame
// chain that a runtime without frame pointers, such as a sanitizer's,
// leaves unreliable) are merged.
std::vector<CallSite> TopSites(pid_t pid, const std::vector<trace::StackCount>& raw,
                               int stacks) {
  trace::Symbolizer sym(pid);
  constexpr size_t kFramesKept = 2;
  // (probe, kind) -> frames -> count
  std::map<std::pair<int, std::string>, std::map<std::vector<std::string>, uint64_t>> groups;
  for (const trace::StackCount& s : raw) {
    std::vector<std::string> frames;
    bool outside = false;
    for (size_t i = 0; i < s.frames.size() && frames.size() < kFramesKept; ++i) {
      std::string f = sym.Name(s.frames[i], i > 0);
      if (!outside && InLibtslab(f)) continue;
      outside = true;
      frames.push_back(std::move(f));
    }
    if (frames.empty() && !s.frames.empty()) frames.push_back(sym.Name(s.frames[0], false));
    groups[{s.probe, KindOf(s.probe, s.sub)}][frames] += s.count;
  }
  std::vector<CallSite> out;
  for (const auto& [key, by_frames] : groups) {
    uint64_t total = 0;
    std::vector<CallSite> g;
    for (const auto& [frames, n] : by_frames) {
      total += n;
      CallSite c;
      c.probe = trace::kProbes[key.first].name;
      c.kind = key.second;
      c.count = n;
      c.frames = frames;
      g.push_back(std::move(c));
    }
    std::sort(g.begin(), g.end(), [](const CallSite& a, const CallSite& b) {
      return a.count != b.count ? a.count > b.count : a.frames < b.frames;
    });
    if (g.size() > static_cast<size_t>(stacks)) g.resize(static_cast<size_t>(stacks));
    for (CallSite& c : g) {
      c.share = total ? static_cast<double>(c.count) / static_cast<double>(total) : 0;
      out.push_back(std::move(c));
    }
  }
  return out;
}

std::string Pct(double f) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%.0f%%", f * 100);
  return buf;
}

// "92% from `A+0x4c` <- `B+0x1a0`; 8% from ..." for one (probe, kind).
std::string SitesLine(const TraceReport& t, const std::string& probe,
                      const std::string& kind) {
  std::string out;
  for (const CallSite& c : t.sites) {
    if (c.probe != probe || c.kind != kind) continue;
    std::string chain;
    for (size_t i = 0; i < c.frames.size() && i < 2; ++i) {
      chain += (i ? " <- `" : "`") + c.frames[i] + "`";
    }
    out += (out.empty() ? "" : "; ") + Pct(c.share) + " from " + chain;
  }
  return out;
}

std::string LatencyLine(const char* what, const Latency& l) {
  return std::string(what) + " p50 " + DurationText(l.p50_ns) + ", p99 " + DurationText(l.p99_ns) +
         ", max " + DurationText(l.max_ns) + " over " + GroupedCount(l.count) + " traced";
}

}  // namespace

Latency LatencyFromHist(const __u64* buckets, int n, uint64_t max_ns,
                        uint64_t sum_ns) {
  Latency l;
  for (int i = 0; i < n; ++i) l.count += buckets[i];
  l.max_ns = static_cast<double>(max_ns);
  l.sum_ns = static_cast<double>(sum_ns);
  if (l.count == 0) return l;
  auto quantile = [&](double q) {
    const double rank = q * static_cast<double>(l.count);
    double cum = 0;
    for (int i = 0; i < n; ++i) {
      if (buckets[i] == 0) continue;
      const double c = static_cast<double>(buckets[i]);
      if (cum + c >= rank) {
        const double lo = i == 0 ? 0 : static_cast<double>(1ull << i);
        const double hi = static_cast<double>(i + 1 < 64 ? (1ull << (i + 1)) : ~0ull);
        const double v = lo + (hi - lo) * (rank - cum) / c;
        return max_ns > 0 ? std::min(v, l.max_ns) : v;
      }
      cum += c;
    }
    return l.max_ns;
  };
  l.p50_ns = quantile(0.50);
  l.p99_ns = quantile(0.99);
  return l;
}

std::unique_ptr<DoctorTrace> DoctorTrace::Start(pid_t pid, std::string* why) {
  using trace::Status;
  trace::SetLibbpfVerbose(false);  // its reasons are ours, in one line
  Status s = trace::CheckPrivileges();
  if (s.ok()) s = trace::CheckBtf();
  if (s.ok()) s = trace::CheckRefCtrSupport();
  trace::TraceConfig cfg;
  if (s.ok()) s = trace::ResolvePidTargets(pid, &cfg.targets);
  std::unique_ptr<DoctorTrace> t(new DoctorTrace());
  if (s.ok()) {
    cfg.pid = pid;
    for (int p = 0; p < TT_NPROBES; ++p) cfg.probes.push_back(p);
    cfg.per_class = true;
    cfg.doctor = true;
    s = trace::Tracer::Start(cfg, &t->tracer_);
  }
  if (!s.ok()) {
    // tslab-trace's own words, but for its advice to run it with sudo.
    *why = s.code == trace::kExitNoPrivilege
               ? "not root, nor CAP_BPF and CAP_PERFMON (loading BPF programs needs them)"
               : s.message;
    return nullptr;
  }
  t->pid_ = pid;
  return t;
}

DoctorTrace::~DoctorTrace() = default;

void DoctorTrace::ReadTotals(tt_totals* out) const { tracer_->Read(out); }

void DoctorTrace::BeforeSample(int edge) { tracer_->Read(&before_[edge]); }

void DoctorTrace::AfterSample(int edge) {
  tracer_->Read(&after_[edge]);
  (edge == 0 ? mono0_ : mono1_) = Mono();
  // At both edges: threads may start or end during the window.
  threads_ = std::max(threads_, CountThreads(pid_));
}

TraceReport DoctorTrace::Finish(const std::vector<const Sample*>& first,
                                const std::vector<const Sample*>& last,
                                int stacks) {
  TraceReport r;
  r.seconds = static_cast<double>(Delta(mono1_, mono0_)) / 1e9;
  tt_extra x{};
  tracer_->ReadExtra(&x);
  const tt_totals d = trace::Subtract(after_[1], after_[0]);
  const tt_totals skew0 = trace::Subtract(after_[0], before_[0]);
  const tt_totals skew1 = trace::Subtract(after_[1], before_[1]);
  r.threads = threads_;
  r.slow_path = ProbeLatency(d, x, TT_SLOW_PATH, -1);
  r.epoch_close = ProbeLatency(d, x, TT_EPOCH_CLOSE, -1);
  r.madvise = ProbeLatency(d, x, TT_MADVISE, -1);
  for (int c = 0; c < TT_NSUB; ++c) {
    r.slow_path_cls[c] = ProbeLatency(d, x, TT_SLOW_PATH, c);
    r.madvise_cls[c] = ProbeLatency(d, x, TT_MADVISE, c);
    r.madvise_failed += d.cells[TT_MADVISE][c].b;
  }
  // epoch_close without madvise: since attach (its histogram is not part
  // of tt_totals), a few events more than the window at most.
  r.epoch_close_own = LatencyFromHist(x.close_own_hist, TT_NBUCKETS, x.close_own_max,
                                      x.close_own_sum);
  r.close_nested_madvise_ns = static_cast<double>(x.close_nested_sum);
  r.stack_errors = x.stack_errors;
  for (int p = 0; p < TT_NPROBES; ++p) {
    Reconciled rc;
    rc.probe = trace::kProbes[p].name;
    uint64_t before = 0, after = 0;
    for (const Sample* s : first) before += CounterOf(p, s->snap.global, &rc.counter);
    for (const Sample* s : last) after += CounterOf(p, s->snap.global, &rc.counter);
    rc.counter_delta = Delta(after, before);
    rc.bpf = ProbeCount(d, p);
    rc.skew = ProbeCount(skew0, p) + ProbeCount(skew1, p);
    r.reconciliation.push_back(std::move(rc));
  }
  r.sites = TopSites(pid_, tracer_->ReadStacks(), stacks);
  tracer_.reset();  // detach
  return r;
}

void JudgeTrace(const TraceReport& t, const DoctorConfig& cfg,
                const std::vector<RegionIdentity>& allocators, Diagnosis* d) {
  const std::string whole =
      allocators.size() > 1 ? " (the whole process: the probes do not tell allocators apart)"
                            : "";
  const double close_share =
      t.epoch_close.sum_ns > 0
          ? std::min(1.0, t.close_nested_madvise_ns /
                              std::max(1.0, t.epoch_close_own.sum_ns + t.close_nested_madvise_ns))
          : 0;
  struct TraceCheck {
    const char* id;
    const Latency* l;
    double scale;  // ns per unit of the threshold
    std::string message;
    const char* action;
  };
  const TraceCheck checks[] = {
      {"slow_path_p99", &t.slow_path, 1e3,
       LatencyLine("allocation slow path:", t.slow_path) + whole,
       "Slow paths wait for the class lock or take a slab from the OS: see "
       "lock_contention and the slab_new call sites; give thread groups their "
       "own allocator or raise cache_capacity."},
      {"epoch_close_p99", &t.epoch_close, 1e6,
       LatencyLine("epoch_close (madvise included):", t.epoch_close) + "; " +
           Pct(close_share) + " of close time was madvise on the closing thread" + whole,
       "Long closes scan many slabs or give many pages back: close epochs more "
       "often; if madvise dominates, a purge delay (the default 10 ms) moves it "
       "to the tslab-purge thread."},
      {"madvise_p99", &t.madvise, 1e3, LatencyLine("madvise:", t.madvise) + whole,
       "Giving pages back is slow on this machine (TLB shootdowns across many "
       "CPUs): keep a purge delay so madvise runs on the tslab-purge thread, "
       "in larger runs."},
  };
  for (const TraceCheck& k : checks) {
    const CheckConfig& c = cfg.Get(k.id);
    if (!c.enabled) continue;
    if (static_cast<double>(k.l->count) < std::max(c.param, 1.0)) {
      d->not_judged.push_back(c.id);
      d->not_judged_why[c.id] = std::to_string(k.l->count) + " events traced, fewer than " +
                                c.param_key + " " +
                                std::to_string(static_cast<long long>(std::max(c.param, 1.0)));
      continue;
    }
    d->judged.push_back(c.id);
    const double v = k.l->p99_ns / k.scale;
    std::optional<double> th;
    Severity sev = Severity::kOk;
    if (c.critical && v > *c.critical) {
      sev = Severity::kCritical;
      th = c.critical;
    } else if (c.warning && v > *c.warning) {
      sev = Severity::kWarning;
      th = c.warning;
    }
    if (sev == Severity::kOk || allocators.empty()) continue;
    Finding f;
    f.check = c.id;
    f.severity = sev;
    f.allocator_id = allocators[0].allocator_id;
    f.allocator_name = allocators[0].name;
    f.measured = v;
    f.threshold = th;
    f.unit = c.unit;
    f.scope = "window";
    f.message = k.message + " (p99 interpolated within log2 buckets)";
    f.action = k.action;
    d->findings.push_back(std::move(f));
  }
  // Evidence on the counters' findings.
  const auto count = [&t](const char* probe) {
    for (const Reconciled& r : t.reconciliation) {
      if (r.probe == probe) return r.bpf;
    }
    return uint64_t{0};
  };
  for (Finding& f : d->findings) {
    std::string e;
    const std::string close_line =
        LatencyLine("epoch_close", t.epoch_close) + " (madvise " + Pct(close_share) +
        " of it)";
    if (f.check == "epoch_closed_allocs") {
      e = GroupedCount(count("epoch_closed_alloc")) +
          " allocations into closed epochs traced in the window";
      const std::string s = SitesLine(t, "epoch_closed_alloc", "");
      if (!s.empty()) e += "; " + s;
      e += "; each is refused in the slow path: " + LatencyLine("slow path", t.slow_path);
    } else if (f.check == "closing_epochs" || f.check == "epoch_wraps_live" ||
               f.check == "reclamation_yield") {
      e = close_line;
    } else if (f.check == "invalid_frees") {
      e = GroupedCount(count("invalid_free")) + " refused frees traced";
      for (const char* kind : trace::kFreeKinds) {
        const std::string s = SitesLine(t, "invalid_free", kind);
        if (!s.empty()) e += "; " + std::string(kind) + ": " + s;
      }
    } else if (f.check == "net_slabs_growth" || f.check == "recycle_ratio") {
      const std::string s = SitesLine(t, "slab_new", "");
      if (!s.empty()) {
        e = "fresh slabs from the arena (slab_new) since attach: " + s +
            "; each in a slow path: " + LatencyLine("slow path", t.slow_path);
      }
    } else if (f.check == "slow_path_rate") {
      e = LatencyLine("slow path", t.slow_path);
    } else if (f.check == "epoch_close_latency") {
      e = LatencyLine("epoch_close (madvise included)", t.epoch_close) + "; without it " +
          LatencyLine("", t.epoch_close_own).substr(1) +
          " (the counters' epoch_close_total_ns times each class's scan only)";
    } else if (f.check == "madvise_failures") {
      e = GroupedCount(t.madvise_failed) + " of " + GroupedCount(t.madvise.count) +
          " traced madvise calls failed; " + LatencyLine("madvise", t.madvise);
    }
    if (!e.empty()) f.evidence = e;
  }
}

}  // namespace tslab::stats_dump
