// tslab-trace leaves nothing behind (BPF: runs as root, skips otherwise).
//
// After tslab-trace exits, by Ctrl-C (SIGINT), SIGTERM or SIGKILL, the
// traced process must be as before: every USDT semaphore back to 0 (read
// from /proc/PID/mem at the address of its ELF symbol), every probe site
// holding the byte of the file again (a uprobe is an int3 written into the
// process's copy of the page: while attached the site reads 0xcc), no
// uprobe perf event on the target's file left in `bpftool perf list`
// (tracefs is not mounted here, so uprobe_events cannot be read; uprobes
// made through perf_event_open live exactly as long as their perf event),
// and the process keeps working through the sites.
//
// Also here: --binary (every process of a file, including one started
// after tslab-trace) and a process in a container (its own mount
// namespace and root: its maps name files by paths that exist only
// there, reached through /proc/PID/root).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/trace_test_util.h"

namespace {

using Json = nlohmann::json;
using tslab::trace_test::AllAttached;
using tslab::trace_test::AllDetached;
using tslab::trace_test::BuildDir;
using tslab::trace_test::CopyFile;
using tslab::trace_test::Demo;
using tslab::trace_test::ExpectedProbes;
using tslab::trace_test::kTimeout;
using tslab::trace_test::ParseJsonLines;
using tslab::trace_test::PerfUprobe;
using tslab::trace_test::ReadState;
using tslab::trace_test::TargetState;
using tslab::trace_test::UprobesOf;
using tslab::trace_test::ReadProbeSites;
using tslab::trace_test::ReadRegion;
using tslab::trace_test::ReadSemaphores;
using tslab::trace_test::SiteByte;
using tslab::trace_test::StartDemo;
using tslab::trace_test::StartDemoCopy;
using tslab::trace_test::StartTracer;
using tslab::trace_test::WaitForLineWhile;
using tslab::trace_test::Subprocess;
using tslab::trace_test::TempDir;
using tslab::trace_test::WaitUntil;

bool StartProc(const std::vector<std::string>& argv, Subprocess* p,
               std::string* err) {
  Subprocess::Options o;
  o.argv = argv;
  return p->Start(o, err);
}

class Detach : public ::testing::TestWithParam<int> {};

TEST_P(Detach, NothingLeftInTheTarget) {
  TSLAB_SKIP_UNLESS_ROOT();
  const int sig = GetParam();
  TempDir tmp;
  Demo d;
  std::string exe, err;
  ASSERT_TRUE(StartDemoCopy(
      tmp.path(), {"--duration", "600", "--threads", "1", "--pause-ms", "2"},
      &d, &exe, &err))
      << err;
  const pid_t pid = d.proc.pid();
  TargetState before = ReadState(pid, exe);
  ASSERT_TRUE(AllDetached(before)) << "traced before tslab-trace started";
  for (const SiteByte& b : before.sites) EXPECT_EQ(b.in_file, 0x90) << b.probe;

  Subprocess t;
  ASSERT_TRUE(StartTracer({"-p", std::to_string(pid), "1"}, &t, &err)) << err;
  // Attached: the kernel raised every semaphore and wrote an int3 at every
  // site, and the uprobes show as perf events of the tracer.
  TargetState during;
  EXPECT_TRUE(WaitUntil(
      [&] {
        t.Poll();
        return AllAttached(during = ReadState(pid, exe));
      },
      kTimeout));
  std::vector<PerfUprobe> ups;
  ASSERT_TRUE(UprobesOf(t.pid(), pid, exe, &ups, &err)) << err;
  std::set<uint64_t> offsets;
  for (const PerfUprobe& u : ups) {
    EXPECT_EQ(u.pid, t.pid());
    offsets.insert(u.offset);
  }
  std::set<uint64_t> site_offsets;
  std::vector<tslab::trace::UsdtNote> notes;
  ASSERT_TRUE(tslab::trace::ReadUsdtNotes(exe, &notes, &err)) << err;
  for (const auto& n : notes) {
    if (n.provider == "tslab") {
      site_offsets.insert(*tslab::trace::VaddrToFileOffset(exe, n.pc));
    }
  }
  EXPECT_EQ(offsets, site_offsets) << "one uprobe per probe site";

  ASSERT_TRUE(t.Signal(sig));
  ASSERT_TRUE(t.Wait(kTimeout));
  if (sig == SIGKILL) {
    EXPECT_EQ(t.ExitCode(), 128 + SIGKILL);
  } else {
    EXPECT_EQ(t.ExitCode(), 0) << t.Rest(Subprocess::kErr);
    EXPECT_NE(t.Rest(Subprocess::kOut).find("(last)"), std::string::npos)
        << "no last interval printed";
  }
  TargetState after;
  EXPECT_TRUE(WaitUntil([&] { return AllDetached(after = ReadState(pid, exe)); },
                        kTimeout));
  for (const auto& [name, v] : after.sem) EXPECT_EQ(v, 0) << name;
  for (const SiteByte& b : after.sites) {
    EXPECT_EQ(b.in_memory, b.in_file) << "site of " << b.probe;
  }
  std::vector<PerfUprobe> left;
  ASSERT_TRUE(UprobesOf(t.pid(), pid, exe, &left, &err)) << err;
  EXPECT_TRUE(left.empty());
  // The demo runs on through its probe sites.
  TslabSnapshot s1{}, s2{};
  ASSERT_TRUE(ReadRegion(d.region, &s1));
  EXPECT_TRUE(WaitUntil(
      [&] {
        return ReadRegion(d.region, &s2) &&
               s2.global.total_slow_path_hits > s1.global.total_slow_path_hits;
      },
      kTimeout));
  d.proc.Poll();
  EXPECT_FALSE(d.proc.exited());
}

INSTANTIATE_TEST_SUITE_P(Signals, Detach,
                         ::testing::Values(SIGINT, SIGTERM, SIGKILL),
                         [](const auto& info) {
                           return std::string(sigabbrev_np(info.param));
                         });

// A reader that stops reading (a full pipe) kept tslab-trace blocked in a
// write, deaf to SIGINT/SIGTERM (read through a signalfd), with the target
// still trapping on every probe site; write errors were ignored and a
// closed pipe killed it by SIGPIPE (issue 9, finding 7). Here its stdout is
// a FIFO the test holds open and never reads.
class TraceOutputErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    TSLAB_SKIP_UNLESS_ROOT();
    std::string err;
    ASSERT_TRUE(StartDemoCopy(
        tmp.path(), {"--duration", "600", "--threads", "1", "--pause-ms", "1"},
        &d, &exe, &err))
        << err;
  }
  TempDir tmp;
  Demo d;
  std::string exe;
};

TEST_F(TraceOutputErrors, SignalOnAFullPipeStillDetaches) {
  std::string err;
  const pid_t pid = d.proc.pid();
  const std::string fifo = tmp.path() + "/out.fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const int hold = open(fifo.c_str(), O_RDWR | O_CLOEXEC);  // never read
  ASSERT_GE(hold, 0);
  Subprocess t;
  ASSERT_TRUE(StartProc({"/bin/sh", "-c", "exec \"$0\" \"$@\" > " + fifo,
                         BuildDir() + "/bin/tslab-trace", "-p",
                         std::to_string(pid), "--per-class", "--json", "0.01"},
                        &t, &err))
      << err;
  TargetState during;
  ASSERT_TRUE(WaitUntil([&] { return AllAttached(during = ReadState(pid, exe)); },
                        kTimeout));
  // 100 documents a second of several KiB: the pipe fills within a second;
  // full once what it holds stops growing.
  int queued = -1, before = -2;
  EXPECT_TRUE(WaitUntil(
      [&] {
        before = queued;
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        return ioctl(hold, FIONREAD, &queued) == 0 && queued > 16384 &&
               queued == before;
      },
      kTimeout))
      << "the pipe never filled: " << queued << " bytes";
  ASSERT_TRUE(t.Signal(SIGINT));
  ASSERT_TRUE(t.Wait(15)) << "tslab-trace blocked on the full pipe ignored SIGINT";
  EXPECT_EQ(t.ExitCode(), 0) << t.Rest(Subprocess::kErr);
  TargetState after;
  EXPECT_TRUE(WaitUntil([&] { return AllDetached(after = ReadState(pid, exe)); },
                        kTimeout));
  close(hold);
}

TEST_F(TraceOutputErrors, WriteErrorsFailAndAClosedReaderEndsCleanly) {
  std::string err;
  const std::string trace = BuildDir() + "/bin/tslab-trace -p " +
                            std::to_string(d.proc.pid());
  Subprocess full;
  ASSERT_TRUE(StartProc({"/bin/sh", "-c", "exec " + trace + " 0.1 3 > /dev/full"},
                        &full, &err));
  ASSERT_TRUE(full.Wait(kTimeout));
  EXPECT_EQ(full.ExitCode(), 1);
  EXPECT_NE(full.Rest(Subprocess::kErr).find("tslab-trace: writing stdout: No space"),
            std::string::npos)
      << full.Rest(Subprocess::kErr);
  // `| head -1`: the reader goes away after one line; not a SIGPIPE death.
  Subprocess head;
  ASSERT_TRUE(StartProc({"/bin/bash", "-c",
                         "set -o pipefail; " + trace + " 0.05 | head -1"},
                        &head, &err));
  ASSERT_TRUE(head.Wait(kTimeout));
  EXPECT_EQ(head.ExitCode(), 0) << head.Rest(Subprocess::kErr);
  TargetState after;
  EXPECT_TRUE(WaitUntil([&] { return AllDetached(after = ReadState(d.proc.pid(), exe)); },
                        kTimeout));
}

// --binary: every process that runs the file, even one that starts after
// tslab-trace (the kernel raises its semaphores when it maps the file).
TEST(TraceBinary, CountsAProcessStartedLater) {
  TSLAB_SKIP_UNLESS_ROOT();
  TempDir tmp;
  const std::string exe = tmp.path() + "/tslab-demo";
  ASSERT_TRUE(CopyFile(BuildDir() + "/bin/tslab-demo", exe));
  Subprocess t;
  std::string err;
  ASSERT_TRUE(StartTracer({"--binary", exe, "--json", "0.5"}, &t, &err))
      << err;
  Demo d;
  ASSERT_TRUE(StartDemo(exe,
                        {"--duration", "0.5", "--threads", "2",
                         "--bad-frees", "--linger", "300"},
                        &d, &err, {"TSLAB_STATS_DIR=" + tmp.path()}))
      << err;
  ASSERT_TRUE(WaitForLineWhile(&d.proc, "done ", &t, kTimeout));
  TslabSnapshot s{};
  ASSERT_TRUE(ReadRegion(d.region, &s));
  ASSERT_TRUE(t.Signal(SIGTERM));
  ASSERT_TRUE(t.Wait(kTimeout));
  EXPECT_EQ(t.ExitCode(), 0);
  uint64_t slow = 0, frees = 0, closes = 0;
  for (const Json& doc : ParseJsonLines(t.Rest(Subprocess::kOut))) {
    EXPECT_TRUE(doc.at("pid").is_null());
    EXPECT_EQ(doc.at("binary"), exe);
    slow += doc.at("probes").at("slow_path").at("count").get<uint64_t>();
    frees += doc.at("probes").at("invalid_free").at("count").get<uint64_t>();
    closes += doc.at("probes").at("epoch_close").at("count").get<uint64_t>();
  }
  EXPECT_GT(slow, 0u);
  EXPECT_EQ(slow, s.global.total_slow_path_hits);
  EXPECT_EQ(frees, s.global.double_frees);
  EXPECT_EQ(closes, s.global.epoch_closes);
}

// A process in a container: a private mount namespace whose root is a
// tmpfs holding the demo (linked with libtslab.so) under /app. Its maps
// say /app/lib/libtslab.so, a path that does not exist outside.
TEST(TraceContainer, ThroughProcRoot) {
  TSLAB_SKIP_UNLESS_ROOT();
  TempDir tmp;
  const std::string b = BuildDir();
  const std::string script =
      "set -e; R=\"$1\"; shift; mount -t tmpfs tslab-test \"$R\"; "
      "mkdir -p \"$R/usr\" \"$R/app/lib\" \"$R/proc\" \"$R/old\" \"$R/stats\"; "
      "mount --rbind /usr \"$R/usr\"; "
      "for d in lib lib64 bin; do [ -e /$d ] && ln -s usr/$d \"$R/$d\"; done; "
      "cp \"$DYN\" \"$R/app/tslab-demo\"; cp \"$LIB\" \"$R/app/lib/$SONAME\"; "
      "cd \"$R\"; pivot_root . old; mount -t proc proc /proc; umount -l /old; "
      "export LD_LIBRARY_PATH=/app/lib TSLAB_STATS_DIR=/stats; "
      "exec /app/tslab-demo \"$@\"";
  // Attached before the demo's delay ran out? If a loaded machine made
  // tslab-trace later, try again with a longer delay.
  for (int attempt = 0; attempt < 3; ++attempt) {
    const std::string root = tmp.path() + "/root" + std::to_string(attempt);
    mkdir(root.c_str(), 0755);
    Demo d;
    std::string err;
    bool started = StartDemo(
        "unshare",
        {"-m", "--propagation", "private", "sh", "-c", script, "sh", root,
         "--delay", std::to_string(3 << (2 * attempt)), "--duration", "0.5",
         "--threads", "1", "--linger", "300"},
        &d, &err,
        {"DYN=" + b + "/bin/tests/tslab-demo-dyn",
         "LIB=" + b + "/lib/libtslab.so", "SONAME=" TSLAB_SONAME});
    if (!started) GTEST_SKIP() << "cannot make a container here: " << err;
    const pid_t pid = d.proc.pid();  // unshare and sh exec'd the demo
    std::vector<tslab::trace::MapsEntry> maps;
    ASSERT_TRUE(tslab::trace::ReadProcMaps(pid, &maps, &err)) << err;
    bool container_path = false, host_path = false;
    for (const auto& m : maps) {
      container_path |= m.path == "/app/lib/" TSLAB_SONAME;
      host_path |= m.path.find(tmp.path()) != std::string::npos;
    }
    ASSERT_TRUE(container_path && !host_path)
        << "the demo's maps do not show container paths";

    Subprocess list;
    ASSERT_TRUE(StartProc({b + "/bin/tslab-trace", "--list", "-p",
                           std::to_string(pid)},
                          &list, &err));
    ASSERT_TRUE(list.Wait(kTimeout));
    EXPECT_EQ(list.ExitCode(), 0) << list.Rest(Subprocess::kErr);
    EXPECT_NE(list.Rest(Subprocess::kOut).find("/app/lib/libtslab.so"),
              std::string::npos);

    Subprocess t;
    ASSERT_TRUE(StartTracer({"-p", std::to_string(pid), "--json", "0.5"}, &t,
                            &err))
        << err;
    const std::string region =
        "/proc/" + std::to_string(pid) + "/root" + d.region;
    TslabSnapshot s{};
    ASSERT_TRUE(ReadRegion(region, &s)) << region;
    if (s.global.total_allocs != 0) continue;  // late: the work began
    ASSERT_TRUE(WaitForLineWhile(&d.proc, "done ", &t,
                                 kTimeout + (3 << (2 * attempt))));
    ASSERT_TRUE(ReadRegion(region, &s)) << region;
    ASSERT_TRUE(t.Signal(SIGINT));
    ASSERT_TRUE(t.Wait(kTimeout));
    EXPECT_EQ(t.ExitCode(), 0);
    uint64_t slow = 0;
    for (const Json& doc : ParseJsonLines(t.Rest(Subprocess::kOut))) {
      slow += doc.at("probes").at("slow_path").at("count").get<uint64_t>();
    }
    EXPECT_GT(slow, 0u);
    EXPECT_EQ(slow, s.global.total_slow_path_hits);
    return;
  }
  FAIL() << "tslab-trace never attached before the demo's --delay ran out";
}

}  // namespace
