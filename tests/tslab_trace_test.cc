// tslab-trace against real tslab-demo processes (BPF: runs as root, skips
// otherwise, saying why).
//
//   - Its event counts equal the allocator's own counter deltas over the
//     same work (read from the demo's stats region with the public
//     tslab_region_snapshot, and as `stats_dump -p PID --json` reports
//     them), probe by probe, per class, per reason/kind, bytes and slabs:
//     with the probes in the executable (libtslab.a), in libtslab.so
//     found through /proc/PID/maps, with failing madvise calls;
//     tslab_trace_detach_test.cc does --binary and a process in a
//     container (other mount namespace, reached through /proc/PID/root).
//   - Output: bcc-style histograms, -u/-m, --per-class, --probe, --json,
//     --list, count, the target's exit.
// Detach (tslab_trace_detach_test.cc) and the error paths, exit codes 2..7
// (tslab_trace_errors_test.cc) have their own files.
//
// Each demo runs from a private copy of its files, so no other tracer on
// the machine can have uprobes on them, and with its own stats directory.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/trace_test_util.h"
#include "tools/tslab-trace/probes.h"
#include "tools/tslab-trace/report.h"
#include "tslab/tslab.h"

namespace {

using Json = nlohmann::json;
using tslab::trace_test::BuildDir;
using tslab::trace_test::CopyFile;
using tslab::trace_test::Demo;
using tslab::trace_test::ExpectedProbes;
using tslab::trace_test::kTimeout;
using tslab::trace_test::ReadProbeSites;
using tslab::trace_test::ReadRegion;
using tslab::trace_test::ReadSemaphores;
using tslab::trace_test::SiteByte;
using tslab::trace_test::StartDemo;
using tslab::trace_test::StartTracer;
using tslab::trace_test::Subprocess;
using tslab::trace_test::TempDir;
using tslab::trace_test::WaitUntil;

std::string Fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof(b), "%g", v);
  return b;
}

std::vector<Json> ParseDocs(const std::string& out) {
  return tslab::trace_test::ParseJsonLines(out);
}

// Sum over the documents of probes.<probe>.<key>[.<sub>].
uint64_t Sum(const std::vector<Json>& docs, const std::string& probe,
             const std::string& key, const std::string& sub = "") {
  uint64_t s = 0;
  for (const Json& d : docs) {
    const Json& v = d.at("probes").at(probe).at(key);
    s += sub.empty() ? v.get<uint64_t>() : v.at(sub).get<uint64_t>();
  }
  return s;
}

uint64_t ClassSum(const std::vector<Json>& docs, const std::string& probe,
                  int cls) {
  uint64_t s = 0;
  for (const Json& d : docs) {
    s += d.at("probes").at(probe).at("classes").at(cls).at("count").get<uint64_t>();
  }
  return s;
}

// Where a private copy of a demo lives: the program, the file that
// carries the probes (the program, or its libtslab.so), its environment.
struct DemoFiles {
  std::string exe;
  std::string probes_file;
  std::vector<std::string> env;
};

// shared: tslab-demo linked with libtslab.so (copied next to it).
bool PrepareDemo(bool shared, const TempDir& tmp, DemoFiles* f) {
  const std::string b = BuildDir();
  f->env.push_back("TSLAB_STATS_DIR=" + tmp.path() + "/stats");
  if (!shared) {
    f->exe = tmp.path() + "/tslab-demo";
    f->probes_file = f->exe;
    return CopyFile(b + "/bin/tslab-demo", f->exe);
  }
  mkdir((tmp.path() + "/lib").c_str(), 0755);
  f->exe = tmp.path() + "/tslab-demo-dyn";
  // The name the program asks for: the soname (mk/lib.mk).
  f->probes_file = tmp.path() + "/lib/" TSLAB_SONAME;
  f->env.push_back("LD_LIBRARY_PATH=" + tmp.path() + "/lib");
  return CopyFile(b + "/bin/tests/tslab-demo-dyn", f->exe) &&
         CopyFile(b + "/lib/libtslab.so", f->probes_file);
}

// The probe/counter pairs of docs/probes.md, on the counters' deltas.
void ExpectCountsMatch(const std::vector<Json>& docs, const TslabSnapshot& b,
                       const TslabSnapshot& a) {
  ASSERT_FALSE(docs.empty());
  const SlabGlobalStats& g = a.global;
  const SlabGlobalStats& g0 = b.global;
  auto cls = [&](int c, uint64_t SlabClassStats::*f) {
    return a.classes[c].*f - b.classes[c].*f;
  };
  auto all = [&](uint64_t SlabClassStats::*f) {
    uint64_t s = 0;
    for (int c = 0; c < TSLAB_NUM_CLASSES; ++c) s += cls(c, f);
    return s;
  };
  // Interval counts add up to the running total of the last document.
  for (const auto& p : ExpectedProbes()) {
    EXPECT_EQ(Sum(docs, p.name, "count"),
              docs.back().at("probes").at(p.name).at("total").get<uint64_t>())
        << p.name;
  }
  EXPECT_EQ(Sum(docs, "slow_path", "count"),
            g.total_slow_path_hits - g0.total_slow_path_hits);
  EXPECT_EQ(Sum(docs, "slow_path", "reasons", "current_null"),
            all(&SlabClassStats::current_partial_null));
  EXPECT_EQ(Sum(docs, "slow_path", "reasons", "current_full"),
            all(&SlabClassStats::current_partial_full));
  EXPECT_EQ(Sum(docs, "slow_path", "reasons", "epoch_closed"),
            g.total_slow_epoch_closed - g0.total_slow_epoch_closed);
  EXPECT_EQ(Sum(docs, "slab_new", "count"),
            g.total_slabs_allocated - g0.total_slabs_allocated +
                g.total_slabs_reused - g0.total_slabs_reused);
  EXPECT_EQ(Sum(docs, "slab_new", "from_cache"),
            g.total_slabs_reused - g0.total_slabs_reused);
  EXPECT_EQ(Sum(docs, "epoch_advance", "count"),
            g.epoch_advances - g0.epoch_advances);
  EXPECT_EQ(Sum(docs, "epoch_close", "count"),
            g.epoch_closes - g0.epoch_closes);
  EXPECT_EQ(Sum(docs, "epoch_close", "scanned"),
            all(&SlabClassStats::epoch_close_scanned_slabs));
  EXPECT_EQ(Sum(docs, "epoch_close", "recycled"),
            all(&SlabClassStats::epoch_close_recycled_slabs));
  EXPECT_EQ(Sum(docs, "madvise", "count"),
            g.total_madvise_calls - g0.total_madvise_calls);
  EXPECT_EQ(Sum(docs, "madvise", "bytes"),
            g.total_madvise_bytes - g0.total_madvise_bytes);
  EXPECT_EQ(Sum(docs, "madvise", "errors"),
            g.total_madvise_failures - g0.total_madvise_failures);
  EXPECT_EQ(Sum(docs, "cache_overflow", "count"),
            g.total_cache_overflows - g0.total_cache_overflows);
  EXPECT_EQ(Sum(docs, "invalid_free", "kinds", "invalid"),
            g.invalid_frees - g0.invalid_frees);
  EXPECT_EQ(Sum(docs, "invalid_free", "kinds", "stale"),
            g.stale_frees - g0.stale_frees);
  EXPECT_EQ(Sum(docs, "invalid_free", "kinds", "double"),
            g.double_frees - g0.double_frees);
  EXPECT_EQ(Sum(docs, "invalid_free", "kinds", "foreign"),
            g.foreign_frees - g0.foreign_frees);
  EXPECT_EQ(Sum(docs, "epoch_closed_alloc", "count"),
            g.total_slow_epoch_closed - g0.total_slow_epoch_closed);
  // The evidence, in the test's log.
  std::printf(
      "  traced/counted: slow_path %llu/%llu slab_new %llu/%llu "
      "epoch_advance %llu/%llu epoch_close %llu/%llu madvise %llu/%llu "
      "cache_overflow %llu/%llu invalid_free %llu/%llu epoch_closed_alloc "
      "%llu/%llu\n",
      (unsigned long long)Sum(docs, "slow_path", "count"),
      (unsigned long long)(g.total_slow_path_hits - g0.total_slow_path_hits),
      (unsigned long long)Sum(docs, "slab_new", "count"),
      (unsigned long long)(g.total_slabs_allocated - g0.total_slabs_allocated +
                           g.total_slabs_reused - g0.total_slabs_reused),
      (unsigned long long)Sum(docs, "epoch_advance", "count"),
      (unsigned long long)(g.epoch_advances - g0.epoch_advances),
      (unsigned long long)Sum(docs, "epoch_close", "count"),
      (unsigned long long)(g.epoch_closes - g0.epoch_closes),
      (unsigned long long)Sum(docs, "madvise", "count"),
      (unsigned long long)(g.total_madvise_calls - g0.total_madvise_calls),
      (unsigned long long)Sum(docs, "cache_overflow", "count"),
      (unsigned long long)(g.total_cache_overflows - g0.total_cache_overflows),
      (unsigned long long)Sum(docs, "invalid_free", "count"),
      (unsigned long long)(g.invalid_frees - g0.invalid_frees + g.stale_frees -
                           g0.stale_frees + g.double_frees - g0.double_frees +
                           g.foreign_frees - g0.foreign_frees),
      (unsigned long long)Sum(docs, "epoch_closed_alloc", "count"),
      (unsigned long long)(g.total_slow_epoch_closed -
                           g0.total_slow_epoch_closed));
  // Per class (--per-class).
  if (!docs.front().at("per_class").get<bool>()) return;
  for (int c = 0; c < TSLAB_NUM_CLASSES; ++c) {
    SCOPED_TRACE("class " + std::to_string(c));
    EXPECT_EQ(ClassSum(docs, "slow_path", c),
              cls(c, &SlabClassStats::slow_path_hits));
    EXPECT_EQ(ClassSum(docs, "slab_new", c),
              cls(c, &SlabClassStats::new_slab_count) +
                  cls(c, &SlabClassStats::slabs_reused));
    EXPECT_EQ(ClassSum(docs, "madvise", c),
              cls(c, &SlabClassStats::madvise_calls));
    EXPECT_EQ(ClassSum(docs, "cache_overflow", c),
              cls(c, &SlabClassStats::empty_slab_overflowed));
    EXPECT_EQ(ClassSum(docs, "epoch_closed_alloc", c),
              cls(c, &SlabClassStats::slow_path_epoch_closed));
  }
}

// One traced run of a demo: the tracer attaches during the demo's --delay
// (before any allocation), the demo works, its counters are read, then the
// tracer is stopped with Ctrl-C.
struct TracedRun {
  std::vector<Json> docs;
  TslabSnapshot before{}, after{};
  Json stats_dump;  // `stats_dump -p PID --json` after the work
  std::map<std::string, uint16_t> semaphores;  // while attached
};

void RunTraced(const DemoFiles& f, const std::vector<std::string>& demo_args,
               const std::vector<std::string>& tracer_args, TracedRun* r) {
  // The tracer must be attached before the demo's delay runs out: if a
  // loaded machine made it later, start again with a longer delay.
  for (int attempt = 0; attempt < 3; ++attempt) {
    const double delay = 2.0 * std::pow(3.0, attempt);
    std::vector<std::string> args = {"--delay", Fmt(delay), "--linger", "300"};
    args.insert(args.end(), demo_args.begin(), demo_args.end());
    Demo d;
    std::string err;
    ASSERT_TRUE(StartDemo(f.exe, args, &d, &err, f.env)) << err;
    ASSERT_FALSE(d.region.empty());
    ASSERT_TRUE(ReadRegion(d.region, &r->before)) << d.region;
    Subprocess t;
    std::vector<std::string> targs = {"-p", std::to_string(d.proc.pid())};
    targs.insert(targs.end(), tracer_args.begin(), tracer_args.end());
    ASSERT_TRUE(StartTracer(targs, &t, &err)) << err;
    TslabSnapshot now{};
    ASSERT_TRUE(ReadRegion(d.region, &now));
    if (now.global.total_allocs != r->before.global.total_allocs) continue;
    r->semaphores.clear();
    ASSERT_TRUE(ReadSemaphores(d.proc.pid(), f.probes_file, &r->semaphores,
                               &err))
        << err;
    // The work; the tracer's output is read meanwhile (its pipe never
    // fills).
    ASSERT_TRUE(tslab::trace_test::WaitForLineWhile(&d.proc, "done ", &t,
                                                    delay + kTimeout))
        << "tslab-demo did not finish: " << d.proc.Rest(Subprocess::kErr);
    // The purge thread's last madvise calls come after "done": they are
    // in the trace, so they must be in "after" too.
    ASSERT_TRUE(tslab::trace_test::ReadSettledRegion(d.region, &r->after, kTimeout));
    Subprocess sd;
    Subprocess::Options so;
    so.argv = {BuildDir() + "/bin/stats_dump", "-p",
               std::to_string(d.proc.pid()), "--json", "--dir",
               d.region.substr(0, d.region.rfind('/'))};
    ASSERT_TRUE(sd.Start(so, &err)) << err;
    ASSERT_TRUE(sd.Wait(kTimeout));
    ASSERT_EQ(sd.ExitCode(), 0) << sd.Rest(Subprocess::kErr);
    r->stats_dump = Json::parse(sd.Rest(Subprocess::kOut));
    ASSERT_TRUE(t.Signal(SIGINT));
    ASSERT_TRUE(t.Wait(kTimeout));
    EXPECT_EQ(t.ExitCode(), 0) << t.Rest(Subprocess::kErr);
    r->docs = ParseDocs(t.Rest(Subprocess::kOut));
    return;
  }
  FAIL() << "tslab-trace never attached before tslab-demo's --delay ran out";
}

struct CountCase {
  const char* name;
  bool shared;  // probes in libtslab.so rather than in the executable
  std::vector<std::string> demo_args;
};

class TraceCounts : public ::testing::TestWithParam<CountCase> {};

TEST_P(TraceCounts, EventCountsEqualCounterDeltas) {
  TSLAB_SKIP_UNLESS_ROOT();
  const CountCase& c = GetParam();
  TempDir tmp;
  DemoFiles f;
  ASSERT_TRUE(PrepareDemo(c.shared, tmp, &f));
  TracedRun r;
  ASSERT_NO_FATAL_FAILURE(
      RunTraced(f, c.demo_args, {"--json", "--per-class", "0.25"}, &r));
  for (const auto& p : ExpectedProbes()) {
    EXPECT_GE(r.semaphores[p.name], 1) << "semaphore of " << p.name
                                       << " while attached";
  }
  ASSERT_NO_FATAL_FAILURE(ExpectCountsMatch(r.docs, r.before, r.after));
  // The workload produced every kind of event, so the equalities above
  // compared real numbers.
  for (const auto& p : ExpectedProbes()) {
    EXPECT_GT(Sum(r.docs, p.name, "count"), 0u) << p.name;
  }
  // The same counters, as stats_dump reads them from outside (the
  // allocator was idle: its --linger), against the traced totals.
  const Json& sd = r.stats_dump;
  EXPECT_EQ(Sum(r.docs, "slow_path", "count"), sd.at("total_slow_path_hits"));
  EXPECT_EQ(Sum(r.docs, "slab_new", "count"),
            sd.at("total_slabs_allocated").get<uint64_t>() +
                sd.at("total_slabs_reused").get<uint64_t>());
  EXPECT_EQ(Sum(r.docs, "epoch_advance", "count"), sd.at("epoch_advances"));
  EXPECT_EQ(Sum(r.docs, "epoch_close", "count"), sd.at("epoch_closes"));
  EXPECT_EQ(Sum(r.docs, "madvise", "count"), sd.at("total_madvise_calls"));
  EXPECT_EQ(Sum(r.docs, "madvise", "bytes"), sd.at("total_madvise_bytes"));
  EXPECT_EQ(Sum(r.docs, "cache_overflow", "count"),
            sd.at("total_cache_overflows"));
  EXPECT_EQ(Sum(r.docs, "invalid_free", "count"),
            sd.at("invalid_frees").get<uint64_t>() +
                sd.at("stale_frees").get<uint64_t>() +
                sd.at("double_frees").get<uint64_t>() +
                sd.at("foreign_frees").get<uint64_t>());
  EXPECT_EQ(Sum(r.docs, "epoch_closed_alloc", "count"),
            sd.at("total_slow_epoch_closed"));
  // Every slow path and madvise was timed (the tracer attached before).
  EXPECT_GT(Sum(r.docs, "slow_path", "sum"), 0u);
  EXPECT_GT(Sum(r.docs, "madvise", "sum"), 0u);
}

const std::vector<std::string> kBusyDemo = {
    "--duration", "1",     "--threads",        "2", "--bad-frees",
    "--alloc-closed", "--cache-capacity", "0"};

INSTANTIATE_TEST_SUITE_P(
    Demo, TraceCounts,
    ::testing::Values(CountCase{"Static", false, kBusyDemo},
                      CountCase{"SharedLibrary", true, kBusyDemo}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(TraceCountsExtra, MadviseErrorsAreReported) {
  TSLAB_SKIP_UNLESS_ROOT();
  TempDir tmp;
  DemoFiles f;
  ASSERT_TRUE(PrepareDemo(false, tmp, &f));
  TracedRun r;
  ASSERT_NO_FATAL_FAILURE(RunTraced(
      f, {"--duration", "0.5", "--threads", "1", "--madvise-fail"},
      {"--json", "--probe", "madvise", "0.5"}, &r));
  const uint64_t errors = Sum(r.docs, "madvise", "errors");
  EXPECT_GT(errors, 0u);
  EXPECT_EQ(errors, Sum(r.docs, "madvise", "count"));
  EXPECT_EQ(errors, r.after.global.total_madvise_failures -
                        r.before.global.total_madvise_failures);
  // --probe: only that probe in the output.
  for (const Json& d : r.docs) EXPECT_EQ(d.at("probes").size(), 1u);
}

// A demo working with no delay, for the output tests.
class TraceOutput : public ::testing::Test {
 protected:
  void SetUp() override {
    TSLAB_SKIP_UNLESS_ROOT();
    ASSERT_TRUE(PrepareDemo(false, tmp_, &files_));
    std::string err;
    ASSERT_TRUE(StartDemo(files_.exe,
                          {"--duration", "600", "--threads", "1",
                           "--pause-ms", "2", "--alloc-closed"},
                          &demo_, &err, files_.env))
        << err;
  }
  // Runs tslab-trace to its end (count intervals); its stdout.
  std::string RunTracer(const std::vector<std::string>& args, int* code) {
    Subprocess t;
    std::string err;
    std::vector<std::string> a = {"-p", std::to_string(demo_.proc.pid())};
    a.insert(a.end(), args.begin(), args.end());
    EXPECT_TRUE(StartTracer(a, &t, &err)) << err;
    EXPECT_TRUE(t.Wait(kTimeout));
    *code = t.ExitCode();
    return t.Rest(Subprocess::kOut);
  }
  TempDir tmp_;
  DemoFiles files_;
  Demo demo_;
};

TEST_F(TraceOutput, TextHistogramsPerClassInMicroseconds) {
  int code = -1;
  std::string out = RunTracer({"-u", "--per-class", "0.5", "2"}, &code);
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("interval 1,"), std::string::npos) << out;
  EXPECT_NE(out.find("interval 2,"), std::string::npos) << out;
  EXPECT_EQ(out.find("interval 3,"), std::string::npos) << out;
  EXPECT_NE(out.find("(last)"), std::string::npos);
  // bcc's header and rows: "     usecs : count distribution", "a -> b : n |***|".
  EXPECT_NE(out.find("usecs               : count    distribution"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(" -> "), std::string::npos);
  EXPECT_NE(out.find("|****************************************|"),
            std::string::npos);
  EXPECT_NE(out.find("  class 0 (64 B)"), std::string::npos) << out;
  EXPECT_EQ(out.find("nsecs"), std::string::npos);
}

TEST_F(TraceOutput, JsonMillisecondsAndProbeSelection) {
  int code = -1;
  std::string out = RunTracer(
      {"--json", "-m", "--probe", "slow_path,tslab:epoch_closed_alloc", "0.3",
       "3"},
      &code);
  EXPECT_EQ(code, 0);
  std::vector<Json> docs = ParseDocs(out);
  ASSERT_EQ(docs.size(), 3u) << out;
  for (size_t i = 0; i < docs.size(); ++i) {
    const Json& d = docs[i];
    EXPECT_EQ(d.at("index").get<int>(), static_cast<int>(i) + 1);
    EXPECT_EQ(d.at("final").get<bool>(), i == 2);
    EXPECT_FALSE(d.at("target_exited").get<bool>());
    EXPECT_EQ(d.at("unit"), "ms");
    EXPECT_EQ(d.at("pid").get<int>(), demo_.proc.pid());
    ASSERT_EQ(d.at("probes").size(), 2u);
    EXPECT_TRUE(d.at("probes").contains("slow_path"));
    EXPECT_TRUE(d.at("probes").contains("epoch_closed_alloc"));
  }
  EXPECT_GT(Sum(docs, "slow_path", "count"), 0u);
  EXPECT_GT(Sum(docs, "epoch_closed_alloc", "count"), 0u);
}

TEST_F(TraceOutput, ListShowsEveryProbe) {
  Subprocess t;
  std::string err;
  Subprocess::Options o;
  o.argv = {BuildDir() + "/bin/tslab-trace", "--list", "-p",
            std::to_string(demo_.proc.pid())};
  ASSERT_TRUE(t.Start(o, &err)) << err;
  ASSERT_TRUE(t.Wait(kTimeout));
  EXPECT_EQ(t.ExitCode(), 0);
  const std::string out = t.Rest(Subprocess::kOut);
  EXPECT_EQ(out.find(files_.exe), 0u) << out;
  for (const auto& p : ExpectedProbes()) {
    const std::string want = std::string("tslab:") + p.name + " ";
    EXPECT_NE(out.find(want), std::string::npos) << want << "\n" << out;
    // "1 arg", "4 args", and the arguments' names (issue 12): the line
    // shows the probe's list as declared, e.g. "(u32 cls, u32 epoch, ...)".
    const std::string count = std::to_string(p.args.size()) +
                              (p.args.size() == 1 ? " arg (" : " args (");
    std::string padded = p.name;  // printed as %-20s
    if (padded.size() < 20) padded.resize(20, ' ');
    EXPECT_NE(out.find("tslab:" + padded + " " + count), std::string::npos)
        << count << "\n" << out;
  }
  EXPECT_NE(out.find("(u32 cls, u32 epoch, s32 reason, u64 dur_ns)"), std::string::npos) << out;
  EXPECT_NE(out.find(" 1 arg (s32 kind)"), std::string::npos) << out;
}

// Issue 12: -m printed "avg 0 ms" for events of a few microseconds; the
// average keeps two significant digits. And stdout's first line is the
// first interval's header, not an empty line.
TEST_F(TraceOutput, TextMillisecondsKeepTwoDigitsAndNoLeadingBlankLine) {
  int code = -1;
  std::string out = RunTracer({"-m", "--probe", "slow_path", "0.3", "1"}, &code);
  EXPECT_EQ(code, 0);
  ASSERT_FALSE(out.empty());
  EXPECT_NE(out[0], '\n') << out;
  EXPECT_NE(out.find("interval 1,"), std::string::npos) << out;
  EXPECT_EQ(out.find("avg 0 ms"), std::string::npos) << out;
  // "avg 0.0012 ms": a positive number below 1 with its digits.
  const size_t avg = out.find("avg 0.");
  ASSERT_NE(avg, std::string::npos) << out;
  char* end = nullptr;
  const double v = std::strtod(out.c_str() + avg + 4, &end);
  EXPECT_GT(v, 0.0) << out;
  EXPECT_LT(v, 1.0) << out;
  EXPECT_EQ(std::string(end, 3), " ms") << out;
}

// A path (or note string) that is not UTF-8 used to abort --json with
// nlohmann's type_error.316 (rc 134); each invalid byte is now U+FFFD
// (issue 9, finding 1). --list reads the ELF only: no privilege needed.
TEST(TraceJson, PathsThatAreNotUtf8GiveValidJson) {
  TempDir dir;
  const std::string exe = dir.path() + "/demo\xff\xfe";
  ASSERT_TRUE(CopyFile(BuildDir() + "/bin/tslab-demo", exe));
  Subprocess t;
  std::string err;
  Subprocess::Options o;
  o.argv = {BuildDir() + "/bin/tslab-trace", "--list", "--json", "--binary",
            exe};
  ASSERT_TRUE(t.Start(o, &err)) << err;
  ASSERT_TRUE(t.Wait(kTimeout));
  EXPECT_EQ(t.ExitCode(), 0) << t.Rest(Subprocess::kErr);
  const std::vector<Json> docs = ParseDocs(t.Rest(Subprocess::kOut));
  ASSERT_EQ(docs.size(), 1u);
  ASSERT_EQ(docs[0].size(), 1u);
  EXPECT_EQ(docs[0][0].at("path"),
            dir.path() + "/demo\xef\xbf\xbd\xef\xbf\xbd");
  // Every probe at least once (a probe may have several sites).
  EXPECT_GE(docs[0][0].at("probes").size(), ExpectedProbes().size());
}

TEST_F(TraceOutput, TargetExitEndsTheTrace) {
  Subprocess t;
  std::string err;
  ASSERT_TRUE(StartTracer(
      {"-p", std::to_string(demo_.proc.pid()), "--json", "0.2"}, &t, &err))
      << err;
  // Let an interval or two pass, then end the demo (SIGTERM: clean exit).
  ASSERT_TRUE(t.ReadLine(Subprocess::kOut, kTimeout).has_value());
  ASSERT_TRUE(demo_.proc.Signal(SIGTERM));
  ASSERT_TRUE(t.Wait(kTimeout)) << "tslab-trace still running after its "
                                   "target exited";
  EXPECT_EQ(t.ExitCode(), 0);
  EXPECT_NE(t.Rest(Subprocess::kErr).find("exited"), std::string::npos);
  std::vector<Json> docs = ParseDocs(t.Rest(Subprocess::kOut));
  ASSERT_FALSE(docs.empty());
  EXPECT_TRUE(docs.back().at("target_exited").get<bool>());
  EXPECT_TRUE(docs.back().at("final").get<bool>());
}

TEST_F(TraceOutput, VerboseShowsTheLibbpfLog) {
  Subprocess t;
  std::string err;
  ASSERT_TRUE(StartTracer({"-v", "-p", std::to_string(demo_.proc.pid()),
                           "--probe", "slow_path", "0.2", "1"},
                          &t, &err))
      << err;
  ASSERT_TRUE(t.Wait(kTimeout));
  EXPECT_EQ(t.ExitCode(), 0);
  const std::string log = t.Seen(Subprocess::kErr) + t.Rest(Subprocess::kErr);
  EXPECT_NE(log.find("libbpf: "), std::string::npos) << log;
  EXPECT_NE(log.find("CO-RE relocating"), std::string::npos) << log;
}

// tslab-trace's copy of the class sizes matches the library's.
// The averages' format (issue 12): two significant digits in the unit.
TEST(TraceTables, AveragesKeepTwoSignificantDigits) {
  using tslab::trace::TwoDigits;
  EXPECT_EQ(TwoDigits(0.0134), "0.013");
  EXPECT_EQ(TwoDigits(1.34), "1.3");
  EXPECT_EQ(TwoDigits(13.4), "13");
  EXPECT_EQ(TwoDigits(1340.0), "1340");
  EXPECT_EQ(TwoDigits(0), "0");
  EXPECT_EQ(tslab::trace::NsPerUnit("ms"), 1e6);
  EXPECT_EQ(tslab::trace::NsPerUnit("us"), 1e3);
  EXPECT_EQ(tslab::trace::NsPerUnit("ns"), 1.0);
}

TEST(TraceTables, ClassSizesMatchTheLibrary) {
  ASSERT_EQ(tslab_class_count(), static_cast<uint32_t>(TT_NSUB));
  for (uint32_t c = 0; c < tslab_class_count(); ++c) {
    EXPECT_EQ(tslab::trace::kClassSizes[c], tslab_class_size(c)) << c;
  }
  for (const auto& p : ExpectedProbes()) {
    int i = tslab::trace::ProbeIndex(p.name);
    ASSERT_GE(i, 0) << p.name;
    EXPECT_EQ(tslab::trace::kProbes[i].nargs, static_cast<int>(p.args.size()));
  }
}

}  // namespace
