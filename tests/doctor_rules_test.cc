// The doctor's rules as pure logic: Diagnose() on synthetic samples, no
// process and no timing (tests/doctor_test.cc drives the same checks end
// to end with misbehaving demos). Each case builds the two snapshots a
// window would see and checks the verdict, the scope and the threshold
// crossed, against the shipped defaults (configs/doctor.yaml).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "tools/stats_dump/doctor.h"
#include "tools/stats_dump/doctor_config.h"
#include "tools/stats_dump/doctor_trace.h"

namespace tslab::stats_dump {
namespace {

constexpr uint64_t kSecond = 1000000000ull;

// Two samples one second apart, of an allocator that did nothing.
struct Window {
  Sample a, b;
  Window() {
    for (Sample* s : {&a, &b}) {
      s->snap.global.epoch_count = TSLAB_NUM_EPOCHS;
      for (int c = 0; c < TSLAB_NUM_CLASSES; ++c) {
        s->snap.classes[c].objects_per_slab = 63;
        s->snap.classes[c].object_size = 64;
        s->snap.classes[c].cache_capacity = 32;
      }
    }
    a.mono_ns = 10 * kSecond;
    b.mono_ns = 11 * kSecond;
  }
  Diagnosis Run(const DoctorConfig& cfg = DefaultDoctorConfig()) const {
    RegionIdentity id;
    id.allocator_id = 1;
    id.name = "synthetic";
    return Diagnose({a, b}, id, cfg);
  }
};

const Finding* Find(const Diagnosis& d, const std::string& check) {
  for (const Finding& f : d.findings) {
    if (f.check == check) return &f;
  }
  return nullptr;
}

bool Judged(const Diagnosis& d, const std::string& check) {
  for (const std::string& j : d.judged) {
    if (j == check) return true;
  }
  return false;
}

// Class 0 allocates `allocs` in the window with `slow` slow paths.
void Allocate(Window* w, uint64_t allocs, uint64_t slow) {
  w->b.snap.classes[0].bitmap_alloc_attempts =
      w->a.snap.classes[0].bitmap_alloc_attempts + allocs;
  w->b.snap.classes[0].slow_path_hits =
      w->a.snap.classes[0].slow_path_hits + slow;
  w->b.snap.global.total_allocs = w->a.snap.global.total_allocs + allocs;
}

TEST(DoctorRules, IdleAllocatorIsHealthyAndSaysSo) {
  const Diagnosis d = Window().Run();
  EXPECT_EQ(Worst(d.findings), Severity::kInfo);
  EXPECT_EQ(ExitFor(Worst(d.findings)), Exit::kOk);
  ASSERT_NE(Find(d, "idle"), nullptr);
  // Too little activity for the ratios: not judged, and listed so.
  EXPECT_FALSE(Judged(d, "slow_path_rate"));
  EXPECT_NE(std::find(d.not_judged.begin(), d.not_judged.end(),
                      "slow_path_rate"),
            d.not_judged.end());
}

TEST(DoctorRules, SlowPathRateJudgesOnlyTheExcessOverSlabRefills) {
  Window w;
  // 63,000 allocations refill 1,000 slabs: 1,000 slow paths are the floor.
  Allocate(&w, 63000, 1000);
  Diagnosis d = w.Run();
  EXPECT_TRUE(Judged(d, "slow_path_rate"));
  EXPECT_EQ(Find(d, "slow_path_rate"), nullptr);
  // 10% beyond the floor: above the warning (5%), below critical (20%).
  Allocate(&w, 63000, 1000 + 6300);
  d = w.Run();
  const Finding* f = Find(d, "slow_path_rate");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kWarning);
  EXPECT_EQ(f->scope, "window");
  EXPECT_NEAR(f->measured, 0.10, 1e-9);
  EXPECT_EQ(f->threshold, 0.05);
  Allocate(&w, 63000, 1000 + 15750);  // 25%: critical
  EXPECT_EQ(Find(w.Run(), "slow_path_rate")->severity, Severity::kCritical);
}

TEST(DoctorRules, RatioFallsBackToSinceStartWhenTheWindowSawTooLittle) {
  Window w;
  // The window saw 10 allocations (min_allocs is 1,000); the run 100,000
  // with 30% slow paths.
  w.a.snap.classes[0].bitmap_alloc_attempts = 99990;
  w.a.snap.classes[0].slow_path_hits = 30000;
  Allocate(&w, 10, 0);
  const Diagnosis d = w.Run();
  const Finding* f = Find(d, "slow_path_rate");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->scope, "since start");
  EXPECT_EQ(f->severity, Severity::kCritical);
}

TEST(DoctorRules, CountChecksWarnOnHistoryAndAreCriticalInTheWindow) {
  Window w;
  w.a.snap.global.total_slow_epoch_closed = 5;
  w.b.snap.global.total_slow_epoch_closed = 5;
  const Diagnosis history = w.Run();
  const Finding* f = Find(history, "epoch_closed_allocs");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kWarning);
  EXPECT_EQ(f->scope, "since start");
  EXPECT_EQ(f->measured, 5);
  w.b.snap.global.total_slow_epoch_closed = 7;
  const Diagnosis d = w.Run();
  f = Find(d, "epoch_closed_allocs");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kCritical);
  EXPECT_EQ(f->scope, "window");
  EXPECT_EQ(f->measured, 2);
  EXPECT_EQ(ExitFor(Worst(d.findings)), Exit::kCritical);
}

TEST(DoctorRules, NetSlabsGrowthNeedsARiseAtEverySample) {
  RegionIdentity id;
  std::vector<Sample> samples(5);
  for (size_t i = 0; i < samples.size(); ++i) {
    samples[i].mono_ns = (10 + i) * kSecond;
    samples[i].snap.global.net_slabs = 100 + 10 * i;  // +40 over the window
  }
  const DoctorConfig cfg = DefaultDoctorConfig();
  Diagnosis d = Diagnose(samples, id, cfg);
  const Finding* f = Find(d, "net_slabs_growth");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->measured, 40);
  EXPECT_EQ(f->threshold, 16);
  samples[2].snap.global.net_slabs = samples[1].snap.global.net_slabs;  // a pause
  d = Diagnose(samples, id, cfg);
  EXPECT_EQ(Find(d, "net_slabs_growth"), nullptr);
  EXPECT_TRUE(Judged(d, "net_slabs_growth"));
}

TEST(DoctorRules, ClosingEpochAgeReportsTheOldestWithItsObjects) {
  Window w;
  TslabEpochStats& e = w.b.snap.epochs[3];
  e.epoch_id = 3;
  e.state = TSLAB_EPOCH_CLOSING;
  e.open_ns = 1 * kSecond;
  e.close_ns = 2 * kSecond;
  e.age_ns = 42 * kSecond;  // closed 41 s ago
  e.live_objects = 1764;
  std::snprintf(e.label, sizeof(e.label), "request:checkout");
  const Diagnosis d = w.Run();
  const Finding* f = Find(d, "closing_epoch_age");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kWarning);
  EXPECT_NEAR(f->measured, 41.0, 1e-9);
  EXPECT_NE(f->message.find("epoch 3 `request:checkout`"), std::string::npos)
      << f->message;
  EXPECT_NE(f->message.find("1,764 objects"), std::string::npos) << f->message;
}

TEST(DoctorRules, RecycleRatioIsBadBelowItsThreshold) {
  Window w;
  w.b.snap.global.epoch_closes = 10;
  w.b.snap.global.total_slabs_allocated = 1000;
  w.b.snap.global.total_slabs_recycled = 100;  // 0.1 < 0.5
  const Diagnosis d = w.Run();
  const Finding* f = Find(d, "recycle_ratio");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->direction, Direction::kBelow);
  EXPECT_NEAR(f->measured, 0.1, 1e-9);
  w.b.snap.global.total_slabs_recycled = 900;
  EXPECT_EQ(Find(w.Run(), "recycle_ratio"), nullptr);
}

TEST(DoctorRules, ADisabledCheckIsNeitherJudgedNorListed) {
  Window w;
  w.b.snap.global.total_slow_epoch_closed = 7;
  DoctorConfig cfg = DefaultDoctorConfig();
  for (CheckConfig& c : cfg.checks) {
    if (c.id == "epoch_closed_allocs") c.enabled = false;
  }
  const Diagnosis d = w.Run(cfg);
  EXPECT_EQ(Find(d, "epoch_closed_allocs"), nullptr);
  EXPECT_FALSE(Judged(d, "epoch_closed_allocs"));
  EXPECT_EQ(std::find(d.not_judged.begin(), d.not_judged.end(),
                      "epoch_closed_allocs"),
            d.not_judged.end());
}

// Issue 12: "not judged (too little activity)" hid the real reason. Each
// check not judged carries the minimum it lacked, the value measured and
// the config key that sets it.
TEST(DoctorRules, EachCheckNotJudgedSaysWhichMinimumItLacked) {
  Window w;
  Allocate(&w, 10, 1);  // 10 allocations, in the window and since start
  w.b.snap.global.total_slabs_allocated = 12;
  w.b.snap.global.epoch_closes = 3;
  w.b.snap.classes[0].epoch_close_scanned_slabs = 5;
  w.b.snap.classes[0].lock_fast_acquire = 40;
  w.b.snap.classes[0].lock_contended = 2;
  const Diagnosis d = w.Run();
  auto why = [&](const std::string& check) {
    EXPECT_FALSE(Judged(d, check)) << check;
    EXPECT_NE(std::find(d.not_judged.begin(), d.not_judged.end(), check), d.not_judged.end())
        << check;
    auto it = d.not_judged_why.find(check);
    return it == d.not_judged_why.end() ? std::string("(none)") : it->second;
  };
  EXPECT_EQ(why("recycle_ratio"), "12 new slabs since start, fewer than min_slabs 64");
  EXPECT_EQ(why("slow_path_rate"), "10 allocations since start, fewer than min_allocs 1000");
  EXPECT_EQ(why("epoch_stall"), "10 allocations in the window, fewer than min_allocs 1000");
  EXPECT_EQ(why("cache_overflow_rate"), "0 slabs recycled since start, fewer than min_recycled 10");
  EXPECT_EQ(why("reclamation_yield"),
            "5 slabs scanned by epoch_close since start, fewer than min_scanned 16");
  EXPECT_EQ(why("lock_contention"),
            "42 class-lock acquisitions since start in the busiest class (64 B), fewer than "
            "min_acquisitions 100");
  // Every id of not_judged has its reason, and none is the old catch-all.
  EXPECT_EQ(d.not_judged_why.size(), d.not_judged.size());
  for (const auto& [check, reason] : d.not_judged_why) {
    EXPECT_EQ(reason.find("too little activity"), std::string::npos) << check << ": " << reason;
  }

  // Enough slabs but no epoch closed yet: that is the reason then.
  Window closed;
  closed.b.snap.global.total_slabs_allocated = 100;
  const Diagnosis d2 = closed.Run();
  ASSERT_EQ(d2.not_judged_why.count("recycle_ratio"), 1u);
  EXPECT_EQ(d2.not_judged_why.at("recycle_ratio"),
            "no epoch closed yet (judged once epochs close)");

  // A config's own minimum is the one named.
  DoctorConfig cfg = DefaultDoctorConfig();
  for (CheckConfig& c : cfg.checks) {
    if (c.id == "recycle_ratio") c.param = 8;
  }
  Window few;
  few.b.snap.global.total_slabs_allocated = 5;
  few.b.snap.global.epoch_closes = 1;
  EXPECT_EQ(few.Run(cfg).not_judged_why.at("recycle_ratio"),
            "5 new slabs since start, fewer than min_slabs 8");

  // The report: one line per check in the text (-v), and a JSON object.
  DoctorRun run;
  run.diagnosis = d;
  const std::string text = DoctorText(run, true);
  EXPECT_NE(text.find("not judged:\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\n  recycle_ratio: 12 new slabs since start, fewer than min_slabs 64\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("too little activity"), std::string::npos) << text;
  const nlohmann::ordered_json j = DoctorJson(run);
  EXPECT_EQ(j["not_judged_why"]["recycle_ratio"],
            "12 new slabs since start, fewer than min_slabs 64");
  EXPECT_EQ(j["not_judged_why"].size(), j["not_judged"].size());
}

// --doctor --trace's reconciliation: a difference between BPF's count and
// the counter's delta is explained only within the events that fired while
// the counters were read plus one event under way per thread per edge.
TEST(DoctorRules, ReconciliationExplainsOnlyTheWindowsEdges) {
  using tslab::stats_dump::Reconciled;
  using tslab::stats_dump::TraceReport;
  TraceReport t;
  t.threads = 3;
  t.reconciliation = {
      {"slow_path", "total_slow_path_hits", 100, 100, 0},      // equal
      {"invalid_free", "invalid_frees", 131, 100, 25},         // 31 <= 25 + 6
      {"epoch_close", "epoch_closes", 100, 132, 25},           // 32 > 25 + 6
  };
  EXPECT_TRUE(t.reconciliation[0].Explained(t.threads));
  EXPECT_TRUE(t.reconciliation[1].Explained(t.threads));
  EXPECT_FALSE(t.reconciliation[2].Explained(t.threads));

  const std::string text = tslab::stats_dump::TraceText(t);
  EXPECT_NE(text.find("equal the counter deltas over the window for 1; 2 differ, some beyond"),
            std::string::npos) << text;
  EXPECT_NE(text.find("invalid_free: BPF 131, invalid_frees +100; 25 fired while the counters "
                      "were read\n"), std::string::npos) << text;
  EXPECT_NE(text.find("epoch_close: BPF 100, epoch_closes +132; 25 fired while the counters "
                      "were read: NOT explained"), std::string::npos) << text;

  const auto json = tslab::stats_dump::TraceJson(t, 3);
  EXPECT_FALSE(json["explained"].get<bool>());
  EXPECT_FALSE(json["reconciled"].get<bool>());
  EXPECT_EQ(json["reconciliation"][1]["difference"].get<int64_t>(), 31);
  EXPECT_EQ(json["reconciliation"][1]["read_skew_events"].get<uint64_t>(), 25u);
  EXPECT_TRUE(json["reconciliation"][1]["explained"].get<bool>());
  EXPECT_EQ(json["reconciliation"][2]["difference"].get<int64_t>(), -32);

  t.reconciliation.pop_back();
  EXPECT_TRUE(tslab::stats_dump::TraceJson(t, 3)["explained"].get<bool>());
  EXPECT_FALSE(tslab::stats_dump::TraceJson(t, 3)["reconciled"].get<bool>());
  EXPECT_NE(tslab::stats_dump::TraceText(t).find("1 differ, all within what that explains"),
            std::string::npos);
}

}  // namespace
}  // namespace tslab::stats_dump
