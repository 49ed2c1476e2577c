// stats_dump --doctor --trace against real, misbehaving tslab-demo
// processes (BPF: runs as root, skips otherwise): the call sites of
// allocations into closed epochs and of double frees name the demo's own
// never-inlined functions (demo::AllocIntoClosedEpoch, demo::FreeTwice);
// one test per trace-only check (slow_path_p99, epoch_close_p99,
// madvise_p99, thresholds lowered by a test config so a real process
// crosses them); BPF counts reconciled with the counter deltas; the
// unprivileged path and a kernel without BTF or without uprobe semaphore
// support (a counters-only doctor, one line, the same exit code); and
// nothing left in the target after stats_dump is killed.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tests/tool_test_util.h"
#include "tests/trace_test_util.h"

namespace {

using namespace tslab::tool_test;  // NOLINT: test helpers

constexpr int kNobody = 65534;

class DoctorTraceTest : public ::testing::Test {
 protected:
  void SetUp() override { TSLAB_SKIP_UNLESS_ROOT(); }

  // --doctor --trace --json over a 0.5 s window; the parsed report.
  Json Trace(pid_t pid, const std::string& config, RunResult* r,
             std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"--doctor", "--trace", "--json", "--window", "0.5",
                                     "-p", std::to_string(pid)};
    if (!config.empty()) {
      const std::string path = dir_ / "doctor.yaml";
      EXPECT_TRUE(WriteFile(path, config));
      args.insert(args.end(), {"--config", path});
    }
    args.insert(args.end(), more.begin(), more.end());
    *r = StatsDump(dir_.path(), args);
    if (r->code < 0 || r->code > 2) return Json();
    return Json::parse(r->out);
  }

  ScratchDir dir_;
};

const Json* FindingOf(const Json& report, const std::string& check) {
  for (const Json& f : report["findings"]) {
    if (f["check"] == check) return &f;
  }
  return nullptr;
}

// The most frequent call site of (probe, kind), or null.
const Json* TopSite(const Json& report, const std::string& probe, const char* kind) {
  for (const Json& s : report["trace"]["call_sites"]) {
    if (s["probe"] != probe) continue;
    if (kind != nullptr && s["kind"] != kind) continue;
    return &s;  // sorted, most frequent first
  }
  return nullptr;
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

TEST_F(DoctorTraceTest, AllocationsIntoClosedEpochsNameTheirCaller) {
  Demo demo(dir_.path(), "sick", {"--leak", "--alloc-closed", "--duration", "120"});
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  RunResult r;
  const Json report = Trace(demo.pid(), "", &r);
  ASSERT_TRUE(report.is_object()) << r.code << " " << r.err;
  EXPECT_EQ(r.code, 2) << "epoch_closed_allocs is critical";
  ASSERT_TRUE(report["trace"]["attached"].get<bool>()) << report["trace"].dump();
  const Json* site = TopSite(report, "epoch_closed_alloc", nullptr);
  ASSERT_NE(site, nullptr) << report["trace"].dump(2);
  const std::string frame = (*site)["frames"][0];
  EXPECT_TRUE(StartsWith(frame, "demo::AllocIntoClosedEpoch+0x")) << site->dump();
  EXPECT_GT((*site)["share"].get<double>(), 0.5);
  EXPECT_GT((*site)["count"].get<uint64_t>(), 0u);
  // Past 64 events one stack in 32 (at random) is taken and counted for 32: the
  // estimate stays near BPF's exact count (stacks since attach, a little
  // longer than the window).
  EXPECT_EQ(report["trace"]["call_site_sampling"]["every_event_up_to"], 64);
  EXPECT_EQ(report["trace"]["call_site_sampling"]["then_one_in"], 32);
  uint64_t traced = 0;
  for (const Json& e : report["trace"]["reconciliation"]) {
    if (e["probe"] == "epoch_closed_alloc") traced = e["bpf_events"];
  }
  const double estimate = (*site)["count"].get<double>() / (*site)["share"].get<double>();
  EXPECT_GT(estimate, 0.5 * static_cast<double>(traced)) << site->dump() << " vs " << traced;
  EXPECT_LT(estimate, 2.0 * static_cast<double>(traced) + 64) << site->dump() << " vs " << traced;
  const Json* f = FindingOf(report, "epoch_closed_allocs");
  ASSERT_NE(f, nullptr);
  const std::string evidence = (*f)["evidence"];
  EXPECT_NE(evidence.find("allocations into closed epochs traced"), std::string::npos);
  EXPECT_NE(evidence.find("from `demo::AllocIntoClosedEpoch+0x"), std::string::npos)
      << evidence;

  // The text says the same, and how the percentiles are computed.
  r = StatsDump(dir_.path(), {"--doctor", "--trace", "--window", "0.5", "--stacks", "1",
                              "-p", std::to_string(demo.pid())});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.out.find("evidence: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("percentiles interpolated within log2 buckets"), std::string::npos);
  EXPECT_NE(r.out.find("demo::AllocIntoClosedEpoch+0x"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("reconciliation: "), std::string::npos);
}

TEST_F(DoctorTraceTest, DoubleFreesNameTheirCallerByKind) {
  Demo demo(dir_.path(), "sick", {"--bad-frees", "--pause-ms", "0.5", "--duration", "120"});
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  RunResult r;
  const Json report = Trace(demo.pid(), "", &r);
  ASSERT_TRUE(report.is_object()) << r.code << " " << r.err;
  const Json* site = TopSite(report, "invalid_free", "double");
  ASSERT_NE(site, nullptr) << report["trace"].dump(2);
  EXPECT_TRUE(StartsWith((*site)["frames"][0], "demo::FreeTwice+0x")) << site->dump();
  EXPECT_EQ(TopSite(report, "invalid_free", "stale"), nullptr) << "only double frees";
  const Json* f = FindingOf(report, "invalid_frees");
  ASSERT_NE(f, nullptr) << report.dump(2);
  const std::string evidence = (*f)["evidence"];
  EXPECT_NE(evidence.find("double: 100% from `demo::FreeTwice+0x"), std::string::npos)
      << evidence;
}

// One case per trace-only check: the demo, its environment, the lowered
// threshold, and how many ns the check's unit is.
struct TraceCheckCase {
  const char* check;
  const char* latency;  // the member of trace.latency it judges
  std::vector<std::string> env;
  double unit_ns;
};

class TraceCheckTest : public DoctorTraceTest,
                       public ::testing::WithParamInterface<TraceCheckCase> {};

TEST_P(TraceCheckTest, LoweredThresholdIsCrossed) {
  const TraceCheckCase& c = GetParam();
  Demo demo(dir_.path(), "traced", {"--pause-ms", "0.5", "--duration", "120"}, "", c.env);
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  RunResult r;
  const Json report =
      Trace(demo.pid(),
            std::string("checks:\n  ") + c.check + ": {warning: 0, min_events: 1}\n", &r);
  ASSERT_TRUE(report.is_object()) << r.code << " " << r.err;
  const Json& lat = report["trace"]["latency"][c.latency];
  ASSERT_GT(lat["count"].get<uint64_t>(), 0u) << report["trace"].dump(2);
  EXPECT_LE(lat["p50_ns"].get<double>(), lat["p99_ns"].get<double>());
  EXPECT_LE(lat["p99_ns"].get<double>(), lat["max_ns"].get<double>());
  const Json* f = FindingOf(report, c.check);
  ASSERT_NE(f, nullptr) << report.dump(2);
  EXPECT_EQ((*f)["severity"], "warning");
  EXPECT_DOUBLE_EQ((*f)["measured"].get<double>(), lat["p99_ns"].get<double>() / c.unit_ns);
  EXPECT_NE((*f)["message"].get<std::string>().find("interpolated within log2 buckets"),
            std::string::npos);
  EXPECT_EQ(r.code, 1) << "a warning, nothing critical: " << report.dump(2);
  const std::vector<std::string> judged = report["judged"];
  EXPECT_NE(std::find(judged.begin(), judged.end(), c.check), judged.end());
  if (std::string(c.check) == "epoch_close_p99") {
    // With a purge delay of 0 the closes give pages back themselves: the
    // close without its madvise calls is shorter, and the finding says
    // which share madvise took.
    const Json& own = report["trace"]["latency"]["epoch_close_without_madvise"];
    EXPECT_LT(own["sum_ns"].get<double>(), lat["sum_ns"].get<double>());
    EXPECT_GT(report["trace"]["epoch_close_madvise_share"].get<double>(), 0);
    EXPECT_NE((*f)["message"].get<std::string>().find("was madvise"), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Checks, TraceCheckTest,
    ::testing::Values(TraceCheckCase{"slow_path_p99", "slow_path", {}, 1e3},
                      TraceCheckCase{"epoch_close_p99", "epoch_close",
                                     {"TSLAB_PURGE_DELAY_MS=0"}, 1e6},
                      TraceCheckCase{"madvise_p99", "madvise", {"TSLAB_PURGE_DELAY_MS=0"},
                                     1e3}),
    [](const ::testing::TestParamInfo<TraceCheckCase>& i) { return std::string(i.param.check); });

TEST_F(DoctorTraceTest, BpfCountsReconcileWithCounterDeltas) {
  const int threads = 2;
  Demo demo(dir_.path(), "healthy",
            {"--threads", std::to_string(threads), "--pause-ms", "0.5", "--duration", "120",
             "--bad-frees"});
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  RunResult r;
  const Json report = Trace(demo.pid(), "", &r);
  ASSERT_TRUE(report.is_object()) << r.code << " " << r.err;
  const Json& rec = report["trace"]["reconciliation"];
  ASSERT_EQ(rec.size(), tslab::trace::kProbes.size());
  // The demo's workers and its main thread at least (a purge thread too,
  // unless TSLAB_PURGE_DELAY_MS=0, as tests/run_tests.sh sets it).
  const uint64_t target_threads = report["trace"]["threads"];
  EXPECT_GE(target_threads, static_cast<uint64_t>(threads + 1));
  bool all_equal = true;
  for (size_t i = 0; i < rec.size(); ++i) {
    const Json& e = rec[i];
    EXPECT_EQ(e["probe"], tslab::trace::kProbes[i].name);
    const int64_t diff = e["difference"];
    EXPECT_EQ(diff, static_cast<int64_t>(e["bpf_events"].get<uint64_t>() -
                                         e["counter_delta"].get<uint64_t>()));
    // Only events that fired while the counters were read, and one event
    // per thread under way at each of the window's two edges, may differ.
    const uint64_t skew = e["read_skew_events"];
    EXPECT_LE(static_cast<uint64_t>(std::abs(diff)), skew + 2 * target_threads) << e.dump();
    EXPECT_TRUE(e["explained"].get<bool>()) << e.dump();
    all_equal &= diff == 0;
  }
  EXPECT_TRUE(report["trace"]["explained"].get<bool>());
  EXPECT_EQ(report["trace"]["reconciled"].get<bool>(), all_equal);
  for (const char* busy : {"slow_path", "epoch_close", "invalid_free"}) {
    for (const Json& e : rec) {
      if (e["probe"] == busy) {
        EXPECT_GT(e["bpf_events"].get<uint64_t>(), 0u) << busy;
      }
    }
  }
}

// A doctor that could not trace (traced) against the same run without
// --trace (plain), on a demo allocating into closed epochs: the same
// verdict, the counters' finding without evidence, and one line naming the
// checks not judged. Returns that line's reason ("" and a failure if the
// line is missing).
std::string ExpectCountersOnly(const RunResult& plain, const RunResult& traced) {
  EXPECT_EQ(plain.code, 2) << plain.out << plain.err;
  EXPECT_EQ(traced.code, plain.code) << traced.out << traced.err;
  EXPECT_NE(traced.out.find("epoch_closed_allocs"), std::string::npos) << traced.out;
  EXPECT_EQ(traced.out.find("evidence:"), std::string::npos);
  const std::string line =
      "trace: not judged (slow_path_p99, epoch_close_p99, madvise_p99, latency and "
      "call-site evidence): ";
  const size_t at = traced.out.find(line);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no 'trace: not judged' line in: " << traced.out;
    return "";
  }
  return traced.out.substr(at + line.size(), traced.out.find('\n', at) - at - line.size());
}

// The same in --json: trace.attached false, the reason, the 3 checks.
void ExpectCountersOnlyJson(const RunResult& json, const std::string& why) {
  ASSERT_EQ(json.code, 2) << json.err;
  const Json report = Json::parse(json.out);
  EXPECT_FALSE(report["trace"]["attached"].get<bool>());
  EXPECT_EQ(report["trace"]["reason"], why);
  EXPECT_EQ(report["trace"]["not_judged"].size(), 3u);
  EXPECT_EQ(report["exit_code"], 2);
}

TEST_F(DoctorTraceTest, UnprivilegedRunsOnCountersAndSaysWhy) {
  ASSERT_EQ(chown(dir_.path().c_str(), kNobody, kNobody), 0);
  Demo demo(dir_.path(), "sick", {"--alloc-closed", "--duration", "120"}, "", {}, kNobody);
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  const std::string pid = std::to_string(demo.pid());
  RunResult plain = StatsDump(dir_.path(), {"--doctor", "--window", "0.5", "-p", pid}, 60,
                              kNobody);
  RunResult traced = StatsDump(dir_.path(), {"--doctor", "--trace", "--window", "0.5", "-p",
                                             pid}, 60, kNobody);
  // One line naming the checks not judged, and why.
  const std::string why = ExpectCountersOnly(plain, traced);
  EXPECT_NE(why.find("CAP_BPF"), std::string::npos) << why;

  RunResult json = StatsDump(dir_.path(), {"--doctor", "--trace", "--json", "--window", "0.5",
                                           "-p", pid}, 60, kNobody);
  ExpectCountersOnlyJson(json, why);
}

// Without kernel BTF, or without the uprobe semaphore support, the doctor
// runs on counters alone: the same verdict and exit code as without
// --trace, one line naming the checks not judged and the missing feature.
// The feature is really missing: stats_dump runs in a private mount
// namespace where a tmpfs hides it (tests/trace_test_util.h, HidingArgv).
struct MissingFeature {
  const char* name;
  const char* hide;
  const char* why;  // in the reason
};

class DoctorTraceMissing : public DoctorTraceTest,
                           public ::testing::WithParamInterface<MissingFeature> {};

TEST_P(DoctorTraceMissing, RunsOnCountersAndSaysWhichFeatureIsMissing) {
  const MissingFeature& m = GetParam();
  if (std::string(m.hide) == tslab::trace_test::kHiddenBtf) {
    if (const std::string f = tslab::trace_test::BtfOutsideSys(); !f.empty()) {
      GTEST_SKIP() << f << " provides BTF even with /sys/kernel/btf hidden";
    }
  }
  Demo demo(dir_.path(), "sick", {"--alloc-closed", "--duration", "120"});
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  const std::string pid = std::to_string(demo.pid());
  // stats_dump with the feature hidden (tool_test::Run: the fixture's own
  // Run is gtest's).
  auto hidden = [&](std::vector<std::string> args) {
    args.insert(args.begin(), BinDir() + "/stats_dump");
    return tslab::tool_test::Run(tslab::trace_test::HidingArgv(m.hide, args),
                                 {"TSLAB_STATS_DIR=" + dir_.path()});
  };
  RunResult plain = StatsDump(dir_.path(), {"--doctor", "--window", "0.5", "-p", pid});
  RunResult traced = hidden({"--doctor", "--trace", "--window", "0.5", "-p", pid});
  if (traced.code == 99) GTEST_SKIP() << "cannot mount here: " << traced.err;
  const std::string why = ExpectCountersOnly(plain, traced);
  EXPECT_NE(why.find(m.why), std::string::npos) << why;
  EXPECT_TRUE(traced.err.empty()) << traced.err;

  RunResult json = hidden({"--doctor", "--trace", "--json", "--window", "0.5", "-p", pid});
  ExpectCountersOnlyJson(json, why);
}

INSTANTIATE_TEST_SUITE_P(
    Kernel, DoctorTraceMissing,
    ::testing::Values(MissingFeature{"no_btf", tslab::trace_test::kHiddenBtf, "kernel BTF"},
                      MissingFeature{"no_uprobe_semaphores", tslab::trace_test::kHiddenRefCtr,
                                     "uprobe semaphore support"}),
    [](const ::testing::TestParamInfo<MissingFeature>& i) { return std::string(i.param.name); });

// Killed or interrupted during its window, stats_dump leaves no uprobe, no
// int3 and no raised semaphore in the target (the kernel closes its perf
// events; SIGINT/SIGTERM detach on the way out, exit 128+N).
class DoctorTraceDetach : public DoctorTraceTest,
                          public ::testing::WithParamInterface<int> {};

TEST_P(DoctorTraceDetach, NothingLeftInTheTarget) {
  namespace tt = tslab::trace_test;
  const int sig = GetParam();
  const std::string exe = dir_ / "tslab-demo";
  ASSERT_TRUE(tt::CopyFile(BinDir() + "/tslab-demo", exe));
  Demo demo(dir_.path(), "traced", {"--threads", "1", "--pause-ms", "2", "--duration", "600"},
            exe);
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  const pid_t pid = demo.pid();
  ASSERT_TRUE(tt::AllDetached(tt::ReadState(pid, exe)));

  Process sd({{BinDir() + "/stats_dump", "--doctor", "--trace", "--window", "600", "-p",
               std::to_string(pid)},
              {"TSLAB_STATS_DIR=" + dir_.path()},
              dir_ / "sd.out",
              dir_ / "sd.err"});
  tt::TargetState during;
  ASSERT_TRUE(WaitFor([&] { return tt::AllAttached(during = tt::ReadState(pid, exe)); },
                      tt::kTimeout))
      << during.err << ReadFile(dir_ / "sd.err");
  std::vector<tt::PerfUprobe> ups;
  std::string err;
  ASSERT_TRUE(tt::UprobesOf(sd.pid(), pid, exe, &ups, &err)) << err;
  EXPECT_FALSE(ups.empty());

  EXPECT_EQ(sd.Stop(sig), 128 + sig) << ReadFile(dir_ / "sd.err");
  tt::TargetState after;
  EXPECT_TRUE(WaitFor([&] { return tt::AllDetached(after = tt::ReadState(pid, exe)); },
                      tt::kTimeout));
  for (const auto& [name, v] : after.sem) EXPECT_EQ(v, 0) << name;
  std::vector<tt::PerfUprobe> left;
  ASSERT_TRUE(tt::UprobesOf(sd.pid(), pid, exe, &left, &err)) << err;
  EXPECT_TRUE(left.empty());
  EXPECT_FALSE(demo.process().Exited()) << "the target runs on";
}

INSTANTIATE_TEST_SUITE_P(Signals, DoctorTraceDetach,
                         ::testing::Values(SIGINT, SIGTERM, SIGKILL));

}  // namespace
