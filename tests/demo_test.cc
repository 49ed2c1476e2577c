// tslab-demo, the target every tool test and `make demo` run against: it
// must stop when told, refuse nonsense, and never leave its stats file
// behind (issue 9, findings 11 and 13).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/tool_test_util.h"

namespace tslab::tool_test {
namespace {

std::string DemoBin() { return BinDir() + "/tslab-demo"; }

// Stop and --duration were looked at only between batches: a batch of 16M
// requests of up to 4,096 objects ran for more than 10 minutes past a
// --duration of 0.3 s, deaf to SIGTERM.
TEST(TslabDemo, StopsWithinARequestNotABatch) {
  ScratchDir dir;
  const std::vector<std::string> big = {DemoBin(), "--batch", "16777216", "--objects",
                                        "4096", "--threads", "1"};
  std::vector<std::string> timed = big;
  timed.insert(timed.end(), {"--duration", "0.3"});
  const auto t0 = std::chrono::steady_clock::now();
  RunResult r = tool_test::Run(timed, {"TSLAB_STATS_DIR=" + dir.path()}, 60);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_LT(secs, 10.0);

  std::vector<std::string> long_run = big;
  long_run.insert(long_run.end(), {"--duration", "600"});
  Process p({long_run, {"TSLAB_STATS_DIR=" + dir.path()}, dir / "out", dir / "err"});
  ASSERT_TRUE(WaitFor([&] { return ReadFile(dir / "out").find("ready") != std::string::npos; },
                      30));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(p.Stop(SIGTERM, 10), 0) << "still in its batch 10 s after SIGTERM";
  EXPECT_TRUE(dir.Regions().empty());
}

// `tslab-demo | head -c5` killed it by SIGPIPE, leaving its region file.
TEST(TslabDemo, AReaderThatGoesAwayLeavesNoRegionFile) {
  ScratchDir dir;
  RunResult r = tool_test::Run({"/bin/bash", "-c",
                     "set -o pipefail; \"$0\" --duration 0.5 | head -c5; echo \" rc=$?\"",
                     DemoBin()},
                    {"TSLAB_STATS_DIR=" + dir.path()}, 60);
  EXPECT_NE(r.out.find("ready rc=0"), std::string::npos) << r.out << r.err;
  EXPECT_TRUE(dir.Regions().empty()) << dir.Regions().front();
}

TEST(TslabDemo, NanAndNegativeArgumentsAreRefused) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--duration", "nan"}, {"--pause-ms", "nan"},
        {"--linger", "inf"}, {"--max-bytes", "-1"}}) {
    std::vector<std::string> argv = {DemoBin()};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = tool_test::Run(argv, {}, 30);
    // 2 from the demo's own checks, CLI11's code (105) from its range.
    EXPECT_TRUE(r.code == 2 || r.code == 105) << args[0] << " " << args[1] << ": "
                                              << r.code << " " << r.err;
    EXPECT_EQ(r.out.find("ready"), std::string::npos) << "it started anyway";
  }
}

}  // namespace
}  // namespace tslab::tool_test
