#include "tools/stats_dump/doctor.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "tools/common/terminal_text.h"
#include "tools/stats_dump/label_text.h"
#include "tools/stats_dump/snapshot_json.h"

namespace tslab::stats_dump {
namespace {

double D(uint64_t v) { return static_cast<double>(v); }
double Dl(uint64_t now, uint64_t before) {
  return now >= before ? D(now - before) : 0.0;
}

std::string Num(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

std::string FormatValue(double v, const std::string& unit) {
  if (unit == "ratio") return Num("%.3g%%", v * 100);
  if (unit == "retries/op") return Num("%.4f", v);
  if (unit == "ms") return Num("%.3f ms", v);
  if (unit == "us") return Num("%.1f us", v);
  if (unit == "s") return Num("%.1f s", v);
  return Num("%.0f", v);
}

bool Crosses(double v, double t, Direction d) {
  return d == Direction::kAbove ? v > t : v < t;
}

class Doctor {
 public:
  Doctor(const std::vector<Sample>& samples, const RegionIdentity& id,
         const DoctorConfig& cfg)
      : all_(samples), a_(samples.front()), b_(samples.back()), id_(id),
        cfg_(cfg) {
    secs_ = b_.mono_ns > a_.mono_ns ? D(b_.mono_ns - a_.mono_ns) / 1e9 : 0;
  }

  Diagnosis Run() {
    SlowPathRate();
    CacheOverflowRate();
    CountWindowOrTotal("epoch_closed_allocs",
                       b_.snap.global.total_slow_epoch_closed,
                       a_.snap.global.total_slow_epoch_closed,
                       "allocations into closed epochs",
                       "Application bug: code allocates into an epoch after "
                       "closing it. Allocate in tslab_epoch_current() or in a "
                       "domain that is still open; find the caller with "
                       "tslab-trace or bpftrace on the tslab:epoch_closed_alloc "
                       "probe (with ustack).");
    CountWindowOrTotal("madvise_failures", b_.snap.global.total_madvise_failures,
                       a_.snap.global.total_madvise_failures,
                       "failed madvise(MADV_DONTNEED) calls",
                       "The kernel refuses to take pages back: memory is not "
                       "returned to the OS. Check seccomp/SELinux policies and "
                       "the kernel's madvise support.");
    CountWindowOrTotal("alloc_failures", OtherFailures(b_), OtherFailures(a_),
                       "allocations refused for lack of memory",
                       "The allocator's address space is exhausted: raise "
                       "tslab_options.max_bytes, or find what holds so many "
                       "slabs (net_slabs_growth, closing_epochs).");
    EpochCounts();
    NetSlabsGrowth();
    RecycleRatio();
    ReclamationYield();
    EpochCloseLatency();
    PerClassContention();
    InvalidFrees();
    EpochStall();
    ClosingEpochAge();
    EpochRefcountAge();
    EpochWrapsLive();
    if (Dl(b_.snap.global.total_allocs, a_.snap.global.total_allocs) == 0) {
      Info("idle", "no allocations in the window: rates were judged since "
                   "start where possible",
           "Run --doctor while the process works, or widen --window.");
    }
    for (const std::string& j : judged_) d_.judged.push_back(j);
    for (const CheckConfig& c : cfg_.checks) {
      if (c.enabled && !c.needs_trace && !judged_.count(c.id)) {
        d_.not_judged.push_back(c.id);
        auto w = why_.find(c.id);
        d_.not_judged_why[c.id] = w != why_.end() ? w->second : "too little activity";
      }
    }
    return std::move(d_);
  }

 private:
  const CheckConfig* Enabled(const char* id) {
    const CheckConfig& c = cfg_.Get(id);
    return c.enabled ? &c : nullptr;
  }

  Finding Base(const CheckConfig& c, double measured, const std::string& scope,
               int cls, std::string message, std::string action) {
    Finding f;
    f.check = c.id;
    f.allocator_id = id_.allocator_id;
    f.allocator_name = id_.name;
    f.class_index = cls;
    f.measured = measured;
    f.direction = c.direction;
    f.unit = c.unit;
    f.scope = scope;
    f.message = std::move(message);
    f.action = std::move(action);
    return f;
  }

  // Judges value against c's bands; a finding if it crosses one.
  void Judge(const CheckConfig& c, double value, const std::string& scope,
             int cls, std::string message, std::string action) {
    judged_.insert(c.id);
    Severity sev = Severity::kOk;
    std::optional<double> t;
    if (c.critical && Crosses(value, *c.critical, c.direction)) {
      sev = Severity::kCritical;
      t = c.critical;
    } else if (c.warning && Crosses(value, *c.warning, c.direction)) {
      sev = Severity::kWarning;
      t = c.warning;
    }
    if (sev == Severity::kOk) return;
    Finding f = Base(c, value, scope, cls, std::move(message), std::move(action));
    f.severity = sev;
    f.threshold = t;
    d_.findings.push_back(std::move(f));
  }

  void Info(const std::string& check, std::string message, std::string action) {
    Finding f;
    f.check = check;
    f.severity = Severity::kInfo;
    f.allocator_id = id_.allocator_id;
    f.allocator_name = id_.name;
    f.unit = "count";
    f.scope = "window";
    f.message = std::move(message);
    f.action = std::move(action);
    d_.findings.push_back(std::move(f));
  }

  // Why check c was not judged: `have` of `what` since start (or in the
  // window), below the minimum its config key sets.
  void Lacked(const CheckConfig& c, double have, const std::string& what) {
    why_.emplace(c.id, Num("%.0f ", have) + what + ", fewer than " +
                           (c.param_key.empty() ? "the minimum" : c.param_key) + " " +
                           Num("%g", std::max(c.param, 1.0)));
  }

  // A ratio over the window if it saw at least min of the denominator,
  // else since start; false if neither (last_den_: the since-start
  // denominator, for the reason).
  bool PickRatio(double num_w, double den_w, double num_t, double den_t,
                 double min, double* v, std::string* scope) {
    last_den_ = den_t;
    min = std::max(min, 1.0);
    if (den_w >= min) {
      *v = num_w / den_w;
      *scope = "window";
      return true;
    }
    if (den_t >= min) {
      *v = num_t / den_t;
      *scope = "since start";
      return true;
    }
    return false;
  }

  static uint64_t OtherFailures(const Sample& s) {
    const SlabGlobalStats& g = s.snap.global;
    return g.alloc_failures > g.total_slow_epoch_closed
               ? g.alloc_failures - g.total_slow_epoch_closed
               : 0;
  }

  // Slow paths that ended in an allocation (refused ones, into closed
  // epochs or for lack of memory, are other checks' business), and the
  // floor of one slow path per slab filled.
  static void SlowAndFloor(const Sample& s, double* slow, double* floor,
                           double* allocs) {
    *slow = *floor = *allocs = 0;
    for (const SlabClassStats& c : s.snap.classes) {
      *slow += D(c.slow_path_hits);
      *allocs += D(c.bitmap_alloc_attempts);
      if (c.objects_per_slab) *floor += D(c.bitmap_alloc_attempts) / D(c.objects_per_slab);
    }
    *slow = std::max(0.0, *slow - D(s.snap.global.alloc_failures));
  }

  void SlowPathRate() {
    const CheckConfig* c = Enabled("slow_path_rate");
    if (!c) return;
    double sa, fa, aa, sb, fb, ab;
    SlowAndFloor(a_, &sa, &fa, &aa);
    SlowAndFloor(b_, &sb, &fb, &ab);
    double rate = 0, floor = 0;
    std::string scope;
    if (!PickRatio(sb - sa, ab - aa, sb, ab, c->param, &rate, &scope)) {
      Lacked(*c, ab, "allocations since start");
      return;
    }
    PickRatio(fb - fa, ab - aa, fb, ab, c->param, &floor, &scope);
    const double excess = std::max(0.0, rate - floor);
    Judge(*c, excess, scope, -1,
          Num("%.2f%%", rate * 100) + " of allocations took the slow path (" +
              scope + "); refilling a slab explains " + Num("%.2f%%", floor * 100) +
              ", the excess is " + Num("%.2f%%", excess * 100),
          "Slow paths beyond slab refills come from contention or an empty "
          "cache: see lock_contention and cache_overflow_rate; give each "
          "thread group its own allocator or raise cache_capacity.");
  }

  void CacheOverflowRate() {
    const CheckConfig* c = Enabled("cache_overflow_rate");
    if (!c) return;
    const SlabGlobalStats &ga = a_.snap.global, &gb = b_.snap.global;
    double v = 0;
    std::string scope;
    if (!PickRatio(Dl(gb.total_cache_overflows, ga.total_cache_overflows),
                   Dl(gb.total_slabs_recycled, ga.total_slabs_recycled),
                   D(gb.total_cache_overflows), D(gb.total_slabs_recycled),
                   c->param, &v, &scope)) {
      Lacked(*c, last_den_, "slabs recycled since start");
      return;
    }
    const uint32_t cap = b_.snap.classes[0].cache_capacity;
    Judge(*c, v, scope, -1,
          Num("%.1f%%", v * 100) + " of recycled slabs overflowed the per-class "
              "cache of " + std::to_string(cap) + " (" + scope + ")",
          "Raise tslab_options.cache_capacity (now " + std::to_string(cap) +
              ") above the number of empty slabs one epoch close returns.");
  }

  // warning: any since start (above the warning threshold); critical: any
  // in the window (above the critical threshold).
  void CountWindowOrTotal(const char* id, uint64_t total, uint64_t before,
                          const std::string& what, const std::string& action) {
    const CheckConfig* c = Enabled(id);
    if (!c) return;
    judged_.insert(c->id);
    const double w = Dl(total, before), t = D(total);
    Finding f;
    if (c->critical && w > *c->critical) {
      f = Base(*c, w, "window", -1,
               Num("%.0f ", w) + what + " in the window (" + Num("%.0f", t) +
                   " since start)",
               action);
      f.severity = Severity::kCritical;
      f.threshold = c->critical;
    } else if (c->warning && t > *c->warning) {
      f = Base(*c, t, "since start", -1,
               Num("%.0f ", t) + what + " since start (none in the window)",
               action);
      f.severity = Severity::kWarning;
      f.threshold = c->warning;
    } else {
      return;
    }
    d_.findings.push_back(std::move(f));
  }

  void EpochCounts() {
    const SlabGlobalStats& g = b_.snap.global;
    uint64_t closing_live = 0;
    for (const TslabEpochStats& e : b_.snap.epochs) {
      if (e.state == TSLAB_EPOCH_CLOSING) closing_live += e.live_objects;
    }
    if (const CheckConfig* c = Enabled("closing_epochs")) {
      Judge(*c, g.closing_epoch_count, "now", -1,
            std::to_string(g.closing_epoch_count) + " of " +
                std::to_string(g.epoch_count) +
                " epochs are CLOSING (closed but still holding " +
                std::to_string(closing_live) + " objects)",
            "Objects outlive the epoch they were allocated in: free them "
            "before the epoch closes, or find the leak (see "
            "net_slabs_growth and the per-epoch live_objects in the JSON).");
    }
    if (const CheckConfig* c = Enabled("active_epochs")) {
      Judge(*c, g.active_epoch_count, "now", -1,
            std::to_string(g.active_epoch_count) + " of " +
                std::to_string(g.epoch_count) + " epochs are ACTIVE",
            "Epochs are opened but not closed: close each epoch "
            "(tslab_epoch_close or an auto-closing domain) when its work "
            "is done; when the ring is full, lifetimes merge and nothing "
            "is reclaimed.");
    }
  }

  void NetSlabsGrowth() {
    const CheckConfig* c = Enabled("net_slabs_growth");
    if (!c) return;
    if (all_.size() < 2) {
      why_.emplace(c->id, std::to_string(all_.size()) + " sample, 2 needed (samples " +
                              Num("%g", c->param) + " are taken over a --doctor window)");
      return;
    }
    bool rising = true;
    for (size_t i = 1; i < all_.size(); ++i) {
      rising &= all_[i].snap.global.net_slabs > all_[i - 1].snap.global.net_slabs;
    }
    const double growth =
        rising ? Dl(b_.snap.global.net_slabs, a_.snap.global.net_slabs) : 0;
    Judge(*c, growth, "window", -1,
          "net_slabs rose at each of " + std::to_string(all_.size()) +
              " samples over " + Num("%.2f s", secs_) + ": " +
              std::to_string(a_.snap.global.net_slabs) + " -> " +
              std::to_string(b_.snap.global.net_slabs) + " (" +
              Num("%.0f", secs_ > 0 ? growth / secs_ : 0) + " slabs/s)",
          "Leak suspect: objects are allocated and never freed. The JSON's "
          "per-epoch live_objects shows which epochs keep them; check frees "
          "on every error path.");
  }

  void RecycleRatio() {
    const CheckConfig* c = Enabled("recycle_ratio");
    const SlabGlobalStats& g = b_.snap.global;
    if (!c) return;
    if (D(g.total_slabs_allocated) < std::max(c->param, 1.0)) {
      Lacked(*c, D(g.total_slabs_allocated), "new slabs since start");
      return;
    }
    if (g.epoch_closes == 0) {
      why_.emplace(c->id, "no epoch closed yet (judged once epochs close)");
      return;
    }
    const double v = D(g.total_slabs_recycled) / D(g.total_slabs_allocated);
    Judge(*c, v, "since start", -1,
          "only " + Num("%.2f", v) + " slabs recycled per slab allocated (" +
              std::to_string(g.total_slabs_recycled) + " / " +
              std::to_string(g.total_slabs_allocated) + ")",
          "Few slabs ever become empty: long-lived objects share epochs "
          "with short-lived ones, or leak. Allocate short-lived objects in "
          "short epochs; check net_slabs_growth.");
  }

  using Field = uint64_t SlabClassStats::*;

  // num / (den + den2) of one class (cls >= 0) or summed over all classes,
  // picked as PickRatio does.
  bool FieldRatio(int cls, Field num, Field den, Field den2, double min,
                  double* v, std::string* scope) {
    auto sum = [cls](const Sample& s, Field f) {
      double t = 0;
      for (int i = 0; f != nullptr && i < TSLAB_NUM_CLASSES; ++i) {
        if (cls < 0 || cls == i) t += D(s.snap.classes[i].*f);
      }
      return t;
    };
    const double nb = sum(b_, num), db = sum(b_, den) + sum(b_, den2);
    const double na = sum(a_, num), da = sum(a_, den) + sum(a_, den2);
    return PickRatio(std::max(0.0, nb - na), std::max(0.0, db - da), nb, db,
                     min, v, scope);
  }

  void ReclamationYield() {
    const CheckConfig* c = Enabled("reclamation_yield");
    double v = 0;
    std::string scope;
    if (!c) return;
    if (!FieldRatio(-1, &SlabClassStats::epoch_close_recycled_slabs,
                    &SlabClassStats::epoch_close_scanned_slabs, nullptr, c->param, &v,
                    &scope)) {
      Lacked(*c, last_den_, "slabs scanned by epoch_close since start");
      return;
    }
    Judge(*c, v, scope, -1,
          "epoch_close recycled " + Num("%.1f%%", v * 100) +
              " of the slabs it scanned (" + scope + ")",
          "Objects survive the close of their epoch: free request objects "
          "before closing the epoch, or close it later.");
  }

  void EpochCloseLatency() {
    const CheckConfig* c = Enabled("epoch_close_latency");
    double v = 0;
    std::string scope;
    if (!c) return;
    if (!FieldRatio(-1, &SlabClassStats::epoch_close_total_ns,
                    &SlabClassStats::epoch_close_calls, nullptr, c->param, &v, &scope)) {
      Lacked(*c, last_den_, "epoch_close calls (per class, summed) since start");
      return;
    }
    v /= 1e6;
    Judge(*c, v, scope, -1,
          "epoch_close took " + Num("%.3f ms", v) + " on average per class (" +
              scope + ")",
          "Each close scans many slabs: close epochs more often so each holds "
          "fewer slabs, and free objects before closing.");
  }

  void PerClassContention() {
    struct PerClass {
      const char* id;
      Field num, den, den2;
      const char* what;  // after "class N B: <value>"
      const char* action;
      const char* noun;  // the denominator, for the not-judged reason
    };
    static const PerClass kChecks[] = {
        {"lock_contention", &SlabClassStats::lock_contended,
         &SlabClassStats::lock_contended, &SlabClassStats::lock_fast_acquire,
         " of class-lock acquisitions had to wait",
         "Threads queue on this class's lock: give each thread group its own "
         "allocator, or spread objects over other sizes.",
         "class-lock acquisitions"},
        {"alloc_cas_retries", &SlabClassStats::bitmap_alloc_cas_retries,
         &SlabClassStats::bitmap_alloc_attempts, nullptr,
         " CAS retries per allocation",
         "Many threads allocate from the same slab at once: fewer threads "
         "per allocator, or an allocator per thread group.",
         "allocation attempts"},
        {"free_cas_retries", &SlabClassStats::bitmap_free_cas_retries,
         &SlabClassStats::bitmap_free_attempts, nullptr, " CAS retries per free",
         "Threads free objects of one slab at the same moment: free objects "
         "in the thread that allocated them, or batch frees.",
         "free attempts"},
    };
    for (const PerClass& k : kChecks) {
      const CheckConfig* c = Enabled(k.id);
      double most = 0;  // the busiest class's denominator, for the reason
      int busiest = 0;
      for (int i = 0; c != nullptr && i < TSLAB_NUM_CLASSES; ++i) {
        double v = 0;
        std::string scope;
        if (!FieldRatio(i, k.num, k.den, k.den2, c->param, &v, &scope)) {
          if (last_den_ > most) {
            most = last_den_;
            busiest = i;
          }
          continue;
        }
        Judge(*c, v, scope, i,
              "class " + std::to_string(b_.snap.classes[i].object_size) +
                  " B: " + FormatValue(v, c->unit) + k.what + " (" + scope + ")",
              k.action);
      }
      if (c != nullptr) {
        Lacked(*c, most,
               std::string(k.noun) + " since start in the busiest class (" +
                   std::to_string(b_.snap.classes[busiest].object_size) + " B)");
      }
    }
  }

  static uint64_t RefusedFrees(const Sample& s) {
    const SlabGlobalStats& g = s.snap.global;
    return g.invalid_frees + g.stale_frees + g.double_frees + g.foreign_frees;
  }

  void InvalidFrees() {
    const CheckConfig* c = Enabled("invalid_frees");
    if (!c) return;
    const SlabGlobalStats &ga = a_.snap.global, &gb = b_.snap.global;
    const double w = Dl(RefusedFrees(b_), RefusedFrees(a_));
    const std::string action =
        "The application frees handles or pointers that are not live: a "
        "double free or use-after-free bug. Find the caller with bpftrace "
        "on the tslab:invalid_free probe (with ustack).";
    Judge(*c, w, "window", -1,
          Num("%.0f", w) + " frees refused in the window: " +
              Num("%.0f", Dl(gb.invalid_frees, ga.invalid_frees)) + " invalid, " +
              Num("%.0f", Dl(gb.stale_frees, ga.stale_frees)) + " stale, " +
              Num("%.0f", Dl(gb.double_frees, ga.double_frees)) + " double, " +
              Num("%.0f", Dl(gb.foreign_frees, ga.foreign_frees)) + " foreign",
          action);
    if (w == 0 && RefusedFrees(b_) > 0) {
      Info("invalid_frees", std::to_string(RefusedFrees(b_)) +
                                " frees were refused since start (none in the window)",
           action);
    }
  }

  void EpochStall() {
    const CheckConfig* c = Enabled("epoch_stall");
    if (!c) return;
    const double allocs = Dl(b_.snap.global.total_allocs, a_.snap.global.total_allocs);
    if (allocs < std::max(c->param, 1.0)) {
      Lacked(*c, allocs, "allocations in the window");
      return;
    }
    const uint32_t cur = b_.snap.global.current_epoch % TSLAB_NUM_EPOCHS;
    const TslabEpochStats& e = b_.snap.epochs[cur];
    const double age = D(e.age_ns) / 1e9;
    Judge(*c, age, "now", -1,
          EpochName(cur, e.label, sizeof(e.label)) + " has been open " +
              Num("%.1f s", age) +
              " while allocations continue (" + Num("%.0f", allocs) +
              " in the window)",
          "Nothing allocated in an open epoch is reclaimed until it closes: "
          "advance and close epochs at request or batch boundaries.");
  }

  void ClosingEpochAge() {
    const CheckConfig* c = Enabled("closing_epoch_age");
    if (!c) return;
    double oldest = 0;
    const TslabEpochStats* which = nullptr;
    for (const TslabEpochStats& e : b_.snap.epochs) {
      if (e.state != TSLAB_EPOCH_CLOSING || e.close_ns < e.open_ns || e.close_ns == 0) {
        continue;
      }
      const double closed_for = Dl(e.age_ns, e.close_ns - e.open_ns) / 1e9;
      if (closed_for >= oldest) {
        oldest = closed_for;
        which = &e;
      }
    }
    if (which == nullptr) {
      judged_.insert(c->id);
      return;
    }
    Judge(*c, oldest, "now", -1,
          EpochName(which->epoch_id, which->label, sizeof(which->label)) +
              " has been CLOSING for " + Num("%.1f s", oldest) + " holding " +
              GroupedCount(which->live_objects) + " objects",
          "Objects outlive their request by far: find who keeps them (the "
          "epoch's live_objects and label in the JSON) and free them, or "
          "allocate long-lived objects in an allocator or epoch of their own.");
  }

  // The original's domain-leak signal: an epoch some domain scope still
  // holds (entered, never exited) although it opened long ago.
  void EpochRefcountAge() {
    const CheckConfig* c = Enabled("epoch_refcount_age");
    if (!c) return;
    const TslabEpochStats* which = nullptr;
    for (const TslabEpochStats& e : b_.snap.epochs) {
      if (e.refcount == 0 || e.state == TSLAB_EPOCH_IDLE) continue;
      if (which == nullptr || e.age_ns > which->age_ns) which = &e;
    }
    judged_.insert(c->id);
    if (which == nullptr) return;
    const double age = D(which->age_ns) / 1e9;
    Judge(*c, age, "now", -1,
          EpochName(which->epoch_id, which->label, sizeof(which->label)) + " (" +
              EpochStateName(which->state) + ") has been open " + Num("%.1f s", age) +
              " and is still held by " + GroupedCount(which->refcount) +
              " domain scope(s) (refcount " + std::to_string(which->refcount) + ")",
          "A domain was entered and never exited (an early return or an error "
          "path that skips the exit): with auto_close its epoch never closes. "
          "Exit every scope (tslab::DomainGuard), or find the label's code path.");
  }

  void EpochWrapsLive() {
    const CheckConfig* c = Enabled("epoch_wraps_live");
    if (!c) return;
    const double w = Dl(b_.snap.global.epoch_wraps_live, a_.snap.global.epoch_wraps_live);
    Judge(*c, w, "window", -1,
          Num("%.0f", w) + " epoch advances in the window landed on a slot "
                           "still holding objects",
          "Objects live longer than 16 epochs, so the ring reuses their "
          "slots: free objects sooner, or advance epochs less often.");
  }

  const std::vector<Sample>& all_;
  const Sample& a_;
  const Sample& b_;
  const RegionIdentity& id_;
  const DoctorConfig& cfg_;
  double secs_ = 0;
  Diagnosis d_;
  std::set<std::string> judged_;
  std::map<std::string, std::string> why_;  // check id -> why not judged (first)
  double last_den_ = 0;                     // PickRatio's since-start denominator
};

std::string Upper(const char* s) {
  std::string u(s);
  for (char& ch : u) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return u;
}

}  // namespace

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kOk: return "ok";
    case Severity::kInfo: return "info";
    case Severity::kWarning: return "warning";
    case Severity::kCritical: return "critical";
  }
  return "ok";
}

Diagnosis Diagnose(const std::vector<Sample>& samples, const RegionIdentity& id,
                   const DoctorConfig& cfg) {
  if (samples.size() < 2) return {};
  return Doctor(samples, id, cfg).Run();
}

Severity Worst(const std::vector<Finding>& f) {
  Severity w = Severity::kOk;
  for (const Finding& x : f) w = std::max(w, x.severity);
  return w;
}

Exit ExitFor(Severity worst) {
  return worst == Severity::kCritical  ? Exit::kCritical
         : worst == Severity::kWarning ? Exit::kWarning
                                       : Exit::kOk;
}

std::string DoctorText(const DoctorRun& r, bool verbose) {
  std::string out = "tslab doctor: pid " + std::to_string(r.pid) + " (" +
                    tools::TerminalSafe(r.command) + "), window " + Num("%.2f s", r.window_seconds) +
                    ", thresholds: " + r.config_source + "\n";
  int counts[4] = {0, 0, 0, 0};
  for (const RegionIdentity& a : r.allocators) {
    out += "allocator " + std::to_string(a.allocator_id) + " \"" +
           tools::TerminalSafe(a.name) + "\":\n";
    int shown = 0;
    for (Severity s : {Severity::kCritical, Severity::kWarning, Severity::kInfo}) {
      for (const Finding& f : r.diagnosis.findings) {
        if (f.allocator_id != a.allocator_id || f.severity != s) continue;
        ++counts[static_cast<int>(s)];
        ++shown;
        char head[32];
        std::snprintf(head, sizeof(head), "  %-9s", Upper(SeverityName(s)).c_str());
        out += head + f.check + ": " + tools::TerminalSafe(f.message);
        if (f.threshold) {
          out += " [measured " + FormatValue(f.measured, f.unit) + ", threshold " +
                 (f.direction == Direction::kAbove ? "> " : "< ") +
                 FormatValue(*f.threshold, f.unit) + "]";
        }
        out += "\n             what to do: " + f.action + "\n";
        if (!f.evidence.empty()) {
          out += "             evidence: " + tools::TerminalSafe(f.evidence) + "\n";
        }
      }
    }
    if (shown == 0) out += "  no problem found\n";
  }
  if (verbose) {
    std::string ok, nj;
    for (const std::string& j : r.diagnosis.judged) ok += " " + j;
    // One line per check, with the minimum it lacked.
    for (const std::string& j : r.diagnosis.not_judged) {
      auto w = r.diagnosis.not_judged_why.find(j);
      nj += "  " + j + ": " +
            (w != r.diagnosis.not_judged_why.end() ? tools::TerminalSafe(w->second)
                                                   : std::string("too little activity")) +
            "\n";
    }
    out += "judged:" + ok + "\n";
    if (!nj.empty()) out += "not judged:\n" + nj;
  }
  out += r.trace_text;
  const Severity worst = Worst(r.diagnosis.findings);
  out += "status: " + Upper(SeverityName(worst == Severity::kInfo ? Severity::kOk : worst)) +
         " (" + std::to_string(counts[3]) + " critical, " + std::to_string(counts[2]) +
         " warning, " + std::to_string(counts[1]) + " info; " +
         std::to_string(r.diagnosis.judged.size()) + " checks judged, " +
         std::to_string(r.diagnosis.not_judged.size()) + " not judged)\n";
  return out;
}

nlohmann::ordered_json DoctorJson(const DoctorRun& r) {
  using Json = nlohmann::ordered_json;
  const Severity worst = Worst(r.diagnosis.findings);
  Json j;
  j["schema_version"] = 1;
  j["pid"] = r.pid;
  j["timestamp_ns"] = r.timestamp_ns;
  j["window_seconds"] = r.window_seconds;
  j["config"] = r.config_source;
  j["status"] = SeverityName(worst == Severity::kInfo ? Severity::kOk : worst);
  j["exit_code"] = static_cast<int>(ExitFor(worst));
  Json allocs = Json::array();
  for (const RegionIdentity& a : r.allocators) {
    allocs.push_back({{"allocator_id", a.allocator_id}, {"allocator_name", a.name}});
  }
  j["allocators"] = std::move(allocs);
  Json findings = Json::array();
  for (const Finding& f : r.diagnosis.findings) {
    Json x;
    x["check"] = f.check;
    x["severity"] = SeverityName(f.severity);
    x["allocator_id"] = f.allocator_id;
    x["allocator_name"] = f.allocator_name;
    x["class_index"] = f.class_index >= 0 ? Json(f.class_index) : Json(nullptr);
    x["measured"] = f.measured;
    x["threshold"] = f.threshold ? Json(*f.threshold) : Json(nullptr);
    x["bad_when"] = f.direction == Direction::kAbove ? "above" : "below";
    x["unit"] = f.unit;
    x["scope"] = f.scope;
    x["message"] = f.message;
    x["action"] = f.action;
    if (!f.evidence.empty()) x["evidence"] = f.evidence;
    findings.push_back(std::move(x));
  }
  j["findings"] = std::move(findings);
  j["judged"] = r.diagnosis.judged;
  j["not_judged"] = r.diagnosis.not_judged;
  // {check: why}, one per id of not_judged (docs/stats_dump.md).
  Json why = Json::object();
  for (const std::string& id : r.diagnosis.not_judged) {
    auto w = r.diagnosis.not_judged_why.find(id);
    why[id] = w != r.diagnosis.not_judged_why.end() ? w->second : "too little activity";
  }
  j["not_judged_why"] = std::move(why);
  if (!r.trace_json.is_null()) j["trace"] = r.trace_json;
  return j;
}

}  // namespace tslab::stats_dump
