// The bpftrace one-liners of docs/bpftrace.md, run as written there
// against a running tslab-demo, each output checked (root only: bpftrace
// loads BPF programs; skipped otherwise, saying why).
//
// The one-liners are read from the document itself (the first `bpftrace`
// line of each numbered section), so the page cannot drift from what was
// tested. They run at the same time, against one demo that allocates into
// closed epochs, frees twice and has no slab cache, so that every probe
// fires; afterwards the demo's semaphores must be back to 0.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/trace_test_util.h"

namespace {

using tslab::trace_test::Demo;
using tslab::trace_test::kTimeout;
using tslab::trace_test::ReadSemaphores;
using tslab::trace_test::SourceDir;
using tslab::trace_test::StartDemoCopy;
using tslab::trace_test::Subprocess;
using tslab::trace_test::TempDir;
using tslab::trace_test::WaitUntil;

struct OneLiner {
  std::string title;  // "1. Slow-path latency by size class"
  std::string command;
};

std::vector<OneLiner> ReadOneLiners(const std::string& path) {
  std::ifstream in(path);
  std::vector<OneLiner> out;
  std::string line, title;
  bool in_sh = false, taken = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) {
      title = line.substr(3);
      taken = false;
      continue;
    }
    if (line.rfind("```", 0) == 0) {
      in_sh = !in_sh && line == "```sh";
      continue;
    }
    if (in_sh && !taken && !title.empty() && isdigit(title[0]) &&
        line.rfind("bpftrace ", 0) == 0) {
      out.push_back({title, line});
      taken = true;
    }
  }
  return out;
}

// bpftrace's hist() row: "[256, 512)   638 |@@@@   |".
const std::regex kHistRow(R"(\[\d+[KMG]?, \d+[KMG]?\)\s+\d+ \|@*\s*\|)");

int Count(const std::string& s, const std::regex& re) {
  return static_cast<int>(std::distance(
      std::sregex_iterator(s.begin(), s.end(), re), std::sregex_iterator()));
}

// What each section's output must show, by its number.
void CheckOutput(int n, const std::string& out) {
  switch (n) {
    case 1:  // slow-path latency by class
      EXPECT_GT(Count(out, std::regex(R"(@ns\[[0-7]\]:)")), 0);
      EXPECT_GT(Count(out, kHistRow), 0);
      break;
    case 2:  // epoch_close durations
      EXPECT_GT(Count(out, std::regex(R"(@recycled: count [1-9]\d*, average \d+, total \d+)")), 0);
      EXPECT_GT(Count(out, std::regex(R"(@us:)")), 0);
      EXPECT_GT(Count(out, kHistRow), 0);
      break;
    case 3: {  // madvise bytes per second: whole pages
      const std::regex re(R"(\d\d:\d\d:\d\d @bytes: (\d+))");
      int lines = 0;
      for (auto it = std::sregex_iterator(out.begin(), out.end(), re);
           it != std::sregex_iterator(); ++it, ++lines) {
        uint64_t bytes = std::stoull((*it)[1]);
        EXPECT_EQ(bytes % static_cast<uint64_t>(sysconf(_SC_PAGESIZE)), 0u);
      }
      EXPECT_GE(lines, 2);
      EXPECT_GT(Count(out, std::regex(R"(@bytes: [1-9])")), 0);
      break;
    }
    case 4:  // closed-epoch allocations with stacks: the demo's are class 0
      EXPECT_NE(out.find("AllocSlow"), std::string::npos);
      EXPECT_GT(Count(out, std::regex(R"(, 0\]: [1-9]\d*)")), 0);
      break;
    case 5:  // refused frees by kind: the demo's are double frees
      EXPECT_GT(Count(out, std::regex(R"(@frees\[double\]: [1-9]\d*)")), 0);
      EXPECT_EQ(out.find("@kind["), std::string::npos);
      break;
    case 6:  // slab sources per class (no cache: all reused from overflow)
      EXPECT_GT(Count(out, std::regex(R"(@slabs\[[0-7], (cache|os)\]: [1-9]\d*)")), 0);
      break;
    case 7:  // epoch lifetime
      EXPECT_GT(Count(out, std::regex(R"(@life_us:)")), 0);
      EXPECT_GT(Count(out, kHistRow), 0);
      EXPECT_EQ(out.find("@open["), std::string::npos);
      break;
    default:
      ADD_FAILURE() << "no check for section " << n << ": add one here";
  }
}

TEST(BpftraceOneLiners, EveryDocumentedOneLinerRuns) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "bpftrace loads BPF programs: needs root; running as uid "
                 << geteuid();
  }
  if (access("/usr/bin/bpftrace", X_OK) != 0 &&
      access("/usr/local/bin/bpftrace", X_OK) != 0) {
    GTEST_SKIP() << "bpftrace is not installed (Debian package bpftrace)";
  }
  const std::vector<OneLiner> lines =
      ReadOneLiners(SourceDir() + "/docs/bpftrace.md");
  ASSERT_GE(lines.size(), 6u) << "docs/bpftrace.md needs six one-liners";
  std::printf("  %zu one-liners from docs/bpftrace.md\n", lines.size());

  TempDir tmp;
  Demo d;
  std::string exe, err;
  ASSERT_TRUE(StartDemoCopy(tmp.path(),
                            {"--duration", "600", "--threads", "2",
                             "--pause-ms", "1", "--alloc-closed",
                             "--bad-frees", "--cache-capacity", "0"},
                            &d, &exe, &err))
      << err;
  const std::string pid = std::to_string(d.proc.pid());

  std::vector<Subprocess> runs(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    Subprocess::Options o;
    o.argv = {"sh", "-c", lines[i].command};
    o.env = {"PID=" + pid, "BIN=/proc/" + pid + "/exe"};
    ASSERT_TRUE(runs[i].Start(o, &err)) << err;
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE(lines[i].title + "\n" + lines[i].command);
    // Each stops itself after 5 s once attached; bpftrace's start (LLVM)
    // is slow on a loaded machine, hence the long bound.
    ASSERT_TRUE(runs[i].Wait(2 * kTimeout));
    const std::string out = runs[i].Rest(Subprocess::kOut);
    const std::string errs = runs[i].Rest(Subprocess::kErr);
    EXPECT_EQ(runs[i].ExitCode(), 0) << errs;
    EXPECT_NE(out.find("Attaching "), std::string::npos) << out << errs;
    CheckOutput(std::atoi(lines[i].title.c_str()), out);
    if (HasFailure()) {
      std::printf("stdout:\n%s\nstderr:\n%s\n", out.c_str(), errs.c_str());
    }
  }
  // Gone with bpftrace: every semaphore back to 0.
  std::map<std::string, uint16_t> sem;
  EXPECT_TRUE(WaitUntil(
      [&] {
        sem.clear();
        if (!ReadSemaphores(d.proc.pid(), exe, &sem, &err)) return false;
        for (const auto& [name, v] : sem) {
          if (v != 0) return false;
        }
        return true;
      },
      kTimeout));
  for (const auto& [name, v] : sem) EXPECT_EQ(v, 0) << name;
}

}  // namespace
