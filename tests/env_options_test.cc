// tests/env_options_test.cc: TSLAB_OPTIONS (src/allocator/env_options.h)
// and show_stats (src/allocator/show_stats.h).
//
// The parser and the renderer are tested in this process; the variable
// itself is read once per process, so what it does (precedence over the
// code's options, the once-only reports, verbose's fallback line,
// show_stats at destroy) is tested on tslab-demo, run as a user would.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "src/allocator/env_options.h"
#include "src/allocator/show_stats.h"
#include "tests/test_util.h"
#include "tests/tool_test_util.h"

namespace {

using tslab::internal::EnvOptionValues;
using tslab::internal::ParseEnvOptions;
namespace tt = tslab::tool_test;

struct Parsed {
  EnvOptionValues v;
  std::vector<std::string> errors;
  std::string text;  // the parse's storage (v's strings point into it)
};

Parsed Parse(const std::string& text) {
  Parsed p;
  p.text = text;
  ParseEnvOptions(
      p.text.data(), &p.v,
      [](const char* line, void* ctx) {
        static_cast<std::vector<std::string>*>(ctx)->push_back(line);
      },
      &p.errors);
  return p;
}

size_t Count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

TEST(EnvOptions, EveryKeyParses) {
  Parsed p = Parse(
      "cache_capacity=64,max_bytes=1048576,purge_delay_ms=10,stats_dir=/run/tslab,"
      "region_mode=off,show_stats=1,verbose=1");
  EXPECT_TRUE(p.errors.empty()) << p.errors.front();
  EXPECT_TRUE(p.v.has_cache_capacity);
  EXPECT_EQ(p.v.cache_capacity, 64u);
  EXPECT_EQ(p.v.max_bytes, 1048576u);
  EXPECT_EQ(p.v.purge_delay_ms, 10);
  ASSERT_NE(p.v.stats_dir, nullptr);
  EXPECT_STREQ(p.v.stats_dir, "/run/tslab");
  EXPECT_EQ(p.v.region_mode, TSLAB_REGION_OFF);
  EXPECT_TRUE(p.v.show_stats);
  EXPECT_TRUE(p.v.verbose);
}

TEST(EnvOptions, UnknownKeyAndBadValuesAreNamedAndIgnored) {
  Parsed p = Parse("bogus=1,cache_capacity=abc,purge_delay_ms=-5,show_stats=yes,"
                   "region_mode=on,nokey,max_bytes=99999999999999999999,verbose=1");
  ASSERT_EQ(p.errors.size(), 7u);
  EXPECT_NE(p.errors[0].find("unknown key 'bogus'"), std::string::npos) << p.errors[0];
  EXPECT_NE(p.errors[0].find("cache_capacity"), std::string::npos) << "lists the keys";
  EXPECT_NE(p.errors[1].find("bad value for cache_capacity: 'abc'"), std::string::npos);
  EXPECT_NE(p.errors[2].find("bad value for purge_delay_ms: '-5'"), std::string::npos);
  EXPECT_NE(p.errors[3].find("bad value for show_stats: 'yes'"), std::string::npos);
  EXPECT_NE(p.errors[4].find("bad value for region_mode: 'on'"), std::string::npos);
  EXPECT_NE(p.errors[5].find("'nokey' is not key=value"), std::string::npos);
  EXPECT_NE(p.errors[6].find("bad value for max_bytes"), std::string::npos);
  // Nothing bad was taken; the good one after them was.
  EXPECT_FALSE(p.v.has_cache_capacity);
  EXPECT_FALSE(p.v.has_purge_delay_ms);
  EXPECT_FALSE(p.v.has_show_stats);
  EXPECT_FALSE(p.v.has_region_mode);
  EXPECT_FALSE(p.v.has_max_bytes);
  EXPECT_TRUE(p.v.verbose);
}

TEST(EnvOptions, PurgeDelayIsBoundedToAnHour) {
  EXPECT_TRUE(Parse("purge_delay_ms=3600000").errors.empty());
  EXPECT_EQ(Parse("purge_delay_ms=3600001").errors.size(), 1u);
}

TEST(ShowStats, RendersTheAllocatorsNumbers) {
  auto a = tslab::test::MakeAllocator();
  tslab_handle h[3];
  for (tslab_handle& x : h) ASSERT_NE(tslab_alloc(a.get(), 100, 0, &x), nullptr);
  ASSERT_EQ(tslab_free_handle(a.get(), h[0]), TSLAB_OK);
  EXPECT_NE(tslab_free_handle(a.get(), h[0]), TSLAB_OK);  // a double free
  TslabSnapshot s = tslab::test::TakeSnapshot(a.get());
  char buf[2048];
  const size_t n =
      tslab::internal::RenderShowStats(s, 7, "sessions", "exit", buf, sizeof(buf));
  const std::string out(buf, n);
  EXPECT_NE(out.find("allocator 7 \"sessions\" (exit): 3 allocs, 1 frees, 2 live objects"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("1 double"), std::string::npos) << out;
  EXPECT_NE(out.find("  128 "), std::string::npos) << "the 128 B class's row\n" << out;
  // A short buffer is cut, never overrun, and stays a string.
  char small[40];
  const size_t m = tslab::internal::RenderShowStats(s, 7, "sessions", "exit", small, sizeof(small));
  EXPECT_LT(m, sizeof(small));
  EXPECT_EQ(std::strlen(small), m);
}

// The demo, run to completion with TSLAB_OPTIONS.
tt::RunResult Demo(const std::string& options, std::vector<std::string> args = {}) {
  std::vector<std::string> argv = {tt::BinDir() + "/tslab-demo", "--threads", "1",
                                   "--duration", "0.2"};
  argv.insert(argv.end(), args.begin(), args.end());
  return tt::Run(argv, {"TSLAB_OPTIONS=" + options, "TSLAB_STATS_DIR=off"});
}

TEST(EnvOptionsProcess, ProblemsAreReportedOnceForAllAllocators) {
  tt::RunResult r = Demo("bogus=1,cache_capacity=x", {"--allocators", "3"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Count(r.err, "unknown key 'bogus'"), 1u) << r.err;
  EXPECT_EQ(Count(r.err, "bad value for cache_capacity: 'x'"), 1u) << r.err;
}

TEST(EnvOptionsProcess, EnvironmentWinsOverTheCodesOptions) {
  tt::ScratchDir dir;
  // The demo sets cache_capacity 5 in code; TSLAB_OPTIONS says 7.
  tt::Process p({{tt::BinDir() + "/tslab-demo", "--threads", "1", "--duration", "0",
                  "--linger", "30", "--cache-capacity", "5", "--ready-file", dir / "ready"},
                 {"TSLAB_OPTIONS=cache_capacity=7", "TSLAB_STATS_DIR=" + dir.path()},
                 dir / "out", dir / "err"});
  ASSERT_TRUE(tt::WaitFor([&] { return !tt::ReadFile(dir / "ready").empty(); }, 30));
  tt::RunResult r = tt::StatsDump(dir.path(), {"-p", std::to_string(p.pid()), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto docs = tt::JsonLines(r.out);
  ASSERT_EQ(docs.size(), 1u);
  for (const auto& c : docs[0]["classes"]) EXPECT_EQ(c["cache_capacity"], 7);
}

TEST(EnvOptionsProcess, VerboseReportsTheStatsFileFallback) {
  std::vector<std::string> argv = {tt::BinDir() + "/tslab-demo", "--threads", "1",
                                   "--duration", "0"};
  tt::RunResult r = tt::Run(argv, {"TSLAB_OPTIONS=verbose=1,stats_dir=/proc/no-such-dir"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("tslab: stats file could not be created in /proc/no-such-dir: "),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("using anonymous memory (stats_dump cannot see this process)"),
            std::string::npos)
      << r.err;
  // Without verbose the fallback stays silent, as before.
  r = tt::Run(argv, {"TSLAB_OPTIONS=stats_dir=/proc/no-such-dir"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("stats file could not be created"), std::string::npos) << r.err;
}

TEST(EnvOptionsProcess, ShowStatsPrintsEachAllocatorAtItsEnd) {
  tt::RunResult r = Demo("show_stats=1", {"--allocators", "2", "--name", "shown"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Count(r.err, "\"shown"), 2u) << r.err;
  EXPECT_EQ(Count(r.err, "(destroyed): "), 2u) << r.err;
  // Its numbers are the demo's: every allocation was freed.
  EXPECT_NE(r.err.find(", 0 live objects"), std::string::npos) << r.err;
  r = Demo("show_stats=0");
  EXPECT_EQ(r.err.find("(destroyed): "), std::string::npos) << r.err;
}

}  // namespace
