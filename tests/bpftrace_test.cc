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

#include <algorithm>
#include <fstream>
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

std::vector<std::string> Lines(const std::string& out) {
  std::vector<std::string> v;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) {
    l.erase(l.find_last_not_of(' ') + 1);  // bpftrace ends "@map: " lines so
    v.push_back(l);
  }
  return v;
}

bool IsNumber(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return isdigit(c); });
}

// bpftrace's hist() row: "[256, 512)   638 |@@@@   |".
bool IsHistRow(const std::string& l) {
  size_t close = l.find(") ");
  if (l.empty() || l[0] != '[' || close == std::string::npos ||
      l.find(", ") > close || l.back() != '|') {
    return false;
  }
  size_t bar = l.find(" |", close);
  std::string n = l.substr(close + 1, bar - close - 1);
  n.erase(0, n.find_first_not_of(' '));
  return bar != std::string::npos && IsNumber(n);
}

// Lines "<prefix>KEY<mid>N" with N > 0, KEY among keys (any if empty).
int CountPositive(const std::vector<std::string>& lines,
                  const std::string& prefix, const std::string& mid,
                  const std::vector<std::string>& keys = {}) {
  int n = 0;
  for (const std::string& l : lines) {
    if (l.rfind(prefix, 0) != 0) continue;
    size_t m = l.find(mid, prefix.size());
    if (m == std::string::npos) continue;
    std::string key = l.substr(prefix.size(), m - prefix.size());
    std::string value = l.substr(m + mid.size());
    if (!keys.empty() && std::find(keys.begin(), keys.end(), key) == keys.end()) {
      continue;
    }
    if (IsNumber(value) && std::stoull(value) > 0) ++n;
  }
  return n;
}

const std::vector<std::string> kClasses = {"0", "1", "2", "3",
                                           "4", "5", "6", "7"};

// What each section's output must show, by its number.
void CheckOutput(int n, const std::string& out) {
  const std::vector<std::string> lines = Lines(out);
  const int hist_rows =
      static_cast<int>(std::count_if(lines.begin(), lines.end(), IsHistRow));
  auto has = [&](const std::string& line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  };
  switch (n) {
    case 1: {  // slow-path latency by class
      int maps = 0;
      for (const std::string& c : kClasses) maps += has("@ns[" + c + "]:");
      EXPECT_GT(maps, 0);
      EXPECT_GT(hist_rows, 0);
      break;
    }
    case 2: {  // epoch_close durations, slabs recycled per close
      bool stats = false;
      for (const std::string& l : lines) {
        stats |= l.rfind("@recycled: count ", 0) == 0 &&
                 l.find(", average ") != std::string::npos &&
                 l.rfind("@recycled: count 0,", 0) != 0;
      }
      EXPECT_TRUE(stats);
      EXPECT_TRUE(has("@us:"));
      EXPECT_GT(hist_rows, 0);
      break;
    }
    case 3: {  // madvise bytes per second: whole pages, once a second
      const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
      int seconds = 0, positive = 0;
      for (const std::string& l : lines) {
        size_t at = l.find(" @bytes: ");
        if (at != 8 || l[2] != ':' || l[5] != ':') continue;
        const std::string v = l.substr(at + 9);
        ASSERT_TRUE(IsNumber(v)) << l;
        EXPECT_EQ(std::stoull(v) % page, 0u) << l;
        ++seconds;
        positive += std::stoull(v) > 0;
      }
      EXPECT_GE(seconds, 2);
      EXPECT_GT(positive, 0);
      break;
    }
    case 4:  // closed-epoch allocations with stacks: the demo's are class 0
      EXPECT_NE(out.find("AllocSlow"), std::string::npos);
      EXPECT_GT(CountPositive(lines, ", ", "]: ", {"0"}), 0);
      break;
    case 5:  // refused frees by kind: the demo's are double frees
      EXPECT_GT(CountPositive(lines, "@frees[", "]: ", {"double"}), 0);
      EXPECT_EQ(out.find("@kind["), std::string::npos);
      break;
    case 6: {  // slab sources per class
      std::vector<std::string> keys;
      for (const std::string& c : kClasses) {
        keys.push_back(c + ", cache");
        keys.push_back(c + ", os");
      }
      EXPECT_GT(CountPositive(lines, "@slabs[", "]: ", keys), 0);
      break;
    }
    case 7:  // epoch lifetime
      EXPECT_TRUE(has("@life_us:"));
      EXPECT_GT(hist_rows, 0);
      EXPECT_EQ(out.find("@open["), std::string::npos);
      break;
    case 8: {  // closes by epoch label: the demo labels its batches
      int labelled = 0;
      for (const std::string& l : lines) {
        labelled += l.rfind("@closes[batch:", 0) == 0 &&
                    IsNumber(l.substr(l.find("]: ") + 3));
      }
      EXPECT_GT(labelled, 0);
      break;
    }
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
