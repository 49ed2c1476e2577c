// tslab-trace's error paths: each prints exactly one line on stderr
// ("tslab-trace: ...", saying what is wrong), nothing on stdout, and exits
// with its own code (docs/tslab-trace.md):
//   2 usage, 3 not privileged, 4 no kernel BTF, 5 no such process or file,
//   6 no tslab probes, 7 no uprobe semaphore (ref_ctr) support.
// The missing BTF and ref_ctr support are real: tslab-trace runs in a
// private mount namespace where an empty tmpfs hides /sys/kernel/btf, or
// the uprobe PMU's format directory. Root only (the rest is skipped with
// the reason), as the privileged checks need a privileged caller to drop.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/trace_test_util.h"

namespace {

using tslab::trace_test::BuildDir;
using tslab::trace_test::CopyFile;
using tslab::trace_test::Demo;
using tslab::trace_test::IsRoot;
using tslab::trace_test::kTimeout;
using tslab::trace_test::StartDemo;
using tslab::trace_test::Subprocess;
using tslab::trace_test::TempDir;

struct Result {
  int code = -1;
  std::string out, err;
};

Result RunTool(const std::vector<std::string>& argv, int uid = -1) {
  Subprocess p;
  Subprocess::Options o;
  o.argv = argv;
  o.uid = uid;
  std::string e;
  Result r;
  EXPECT_TRUE(p.Start(o, &e)) << e;
  EXPECT_TRUE(p.Wait(kTimeout));
  r.code = p.ExitCode();
  r.out = p.Rest(Subprocess::kOut);
  r.err = p.Rest(Subprocess::kErr);
  return r;
}

std::string Tracer() { return BuildDir() + "/bin/tslab-trace"; }

// One line, starting "tslab-trace: ", mentioning `what`; empty stdout.
void ExpectOneLine(const Result& r, int code, const std::string& what) {
  EXPECT_EQ(r.code, code) << r.err;
  EXPECT_EQ(r.out, "");
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line:\n"
                                                << r.err;
  EXPECT_EQ(r.err.rfind("tslab-trace: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(what), std::string::npos)
      << "'" << what << "' not in: " << r.err;
}

// Runs tslab-trace args in a private mount namespace with an empty tmpfs
// over `hide`.
Result RunHiding(const std::string& hide, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {Tracer()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunTool(tslab::trace_test::HidingArgv(hide, argv));
}

// A tslab-demo to point the tracer at, so that only the condition under
// test can fail.
class TraceErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!IsRoot()) {
      GTEST_SKIP() << "the error paths are those of a privileged tracer "
                      "(and the tests drop privileges or hide kernel "
                      "features, which needs root); running as uid "
                   << geteuid();
    }
    std::string err;
    ASSERT_TRUE(StartDemo(BuildDir() + "/bin/tslab-demo",
                          {"--duration", "600", "--threads", "1",
                           "--pause-ms", "5"},
                          &demo_, &err, {"TSLAB_STATS_DIR=" + tmp_.path()}))
        << err;
    pid_ = std::to_string(demo_.proc.pid());
  }
  TempDir tmp_;
  Demo demo_;
  std::string pid_;
};

TEST_F(TraceErrors, Usage) {
  ExpectOneLine(RunTool({Tracer()}), 2, "-p PID");
  ExpectOneLine(RunTool({Tracer(), "-p", pid_, "--binary", "/bin/true"}), 2,
                "exactly one");
  ExpectOneLine(RunTool({Tracer(), "-p", pid_, "-u", "-m"}), 2, "excludes");
  ExpectOneLine(RunTool({Tracer(), "-p", pid_, "--probe", "slow_path,bogus"}), 2,
                "unknown probe 'bogus'");
  ExpectOneLine(RunTool({Tracer(), "-p", pid_, "0"}), 2, "interval");
  ExpectOneLine(RunTool({Tracer(), "-p", "0"}), 2, "not a process id");
  ExpectOneLine(RunTool({Tracer(), "-p", pid_, "--no-such-flag"}), 2,
                "--no-such-flag");
  // An empty --probe meant every probe (issue 9, finding 13).
  ExpectOneLine(RunTool({Tracer(), "-p", pid_, "--probe", ""}), 2,
                "--probe: no probe named");
  // A word for a pid is "not a number" (issue 12).
  ExpectOneLine(RunTool({Tracer(), "-p", "abc"}), 2, "--pid: not a number: 'abc'");
}

// Issue 12: --version; --help with examples and without CLI11's type noise.
TEST_F(TraceErrors, VersionAndHelp) {
  Result v = RunTool({Tracer(), "--version"});
  EXPECT_EQ(v.code, 0) << v.err;
  EXPECT_EQ(v.out.rfind("tslab-trace (tslab) ", 0), 0u) << v.out;
  EXPECT_EQ(v.out.find('\n'), v.out.size() - 1) << v.out;
  Result h = RunTool({Tracer(), "--help"});
  EXPECT_EQ(h.code, 0) << h.err;
  EXPECT_NE(h.out.find("EXAMPLES:"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("tslab-trace -p 4242"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("-p,--pid PID"), std::string::npos) << h.out;
  for (const char* noise : {"INT", "FLOAT", "TEXT"}) {
    EXPECT_EQ(h.out.find(noise), std::string::npos) << noise << " in:\n" << h.out;
  }
}

TEST_F(TraceErrors, NotPrivileged) {
  // An unprivileged user (nobody) runs a copy it can execute.
  TempDir bin;
  chmod(bin.path().c_str(), 0755);
  const std::string copy = bin.path() + "/tslab-trace";
  ASSERT_TRUE(CopyFile(Tracer(), copy));
  ExpectOneLine(RunTool({copy, "-p", pid_, "1", "1"}, 65534), 3, "root");
}

// Root refused a process (here: PID 1 seen from a container) was told to
// "run as root" (issue 9, finding 13).
TEST_F(TraceErrors, RootRefusedIsNotToldToRunAsRoot) {
  struct stat st;
  if (stat("/proc/1/exe", &st) == 0 || errno != EACCES) {
    GTEST_SKIP() << "root may read /proc/1/exe here: nothing refuses root";
  }
  Result r = RunTool({Tracer(), "-p", "1", "1", "1"});
  ExpectOneLine(r, 3, "even as root");
  EXPECT_EQ(r.err.find("(run as root)"), std::string::npos) << r.err;
}

TEST_F(TraceErrors, NoKernelBtf) {
  // Where libbpf also looks for a vmlinux with BTF: none may exist here.
  if (const std::string f = tslab::trace_test::BtfOutsideSys(); !f.empty()) {
    GTEST_SKIP() << f << " provides BTF even with /sys/kernel/btf hidden";
  }
  Result res = RunHiding(tslab::trace_test::kHiddenBtf, {"-p", pid_, "1", "1"});
  if (res.code == 99) GTEST_SKIP() << "cannot mount here: " << res.err;
  ExpectOneLine(res, 4, "BTF");
}

TEST_F(TraceErrors, NoSuchProcess) {
  // A pid that just ended (and was reaped).
  Subprocess p;
  Subprocess::Options o;
  o.argv = {"true"};
  std::string e;
  ASSERT_TRUE(p.Start(o, &e)) << e;
  ASSERT_TRUE(p.Wait(kTimeout));
  ExpectOneLine(RunTool({Tracer(), "-p", std::to_string(p.pid()), "1", "1"}), 5,
                "no such process");
  ExpectOneLine(RunTool({Tracer(), "--binary", tmp_.path() + "/nothing"}), 5,
                "no such file");
  // A directory was "invalid file descriptor" (exit 6; issue 9, finding 13).
  ExpectOneLine(RunTool({Tracer(), "--binary", "/etc", "1", "1"}), 5,
                "not a regular file");
  ExpectOneLine(RunTool({Tracer(), "--list", "--binary", "/etc"}), 5,
                "not a regular file");
}

TEST_F(TraceErrors, NoTslabProbes) {
  // A process that has nothing of tslab: sleep.
  Subprocess sleeper;
  Subprocess::Options o;
  o.argv = {"sleep", "600"};
  std::string e;
  ASSERT_TRUE(sleeper.Start(o, &e)) << e;
  ExpectOneLine(RunTool({Tracer(), "-p", std::to_string(sleeper.pid()), "1", "1"}),
                6, "has no tslab probes");
  ExpectOneLine(RunTool({Tracer(), "--list", "-p", std::to_string(sleeper.pid())}),
                6, "has no tslab probes");
  ExpectOneLine(RunTool({Tracer(), "--binary", "/bin/sleep", "1", "1"}), 6,
                "has no tslab probes");
}

TEST_F(TraceErrors, NoUprobeSemaphoreSupport) {
  Result res = RunHiding(tslab::trace_test::kHiddenRefCtr,
                         {"-p", pid_, "1", "1"});
  if (res.code == 99) GTEST_SKIP() << "cannot mount here: " << res.err;
  ExpectOneLine(res, 7, "semaphore");
}

// The same tracer, not hindered, does attach (so the cases above failed
// for their own reason, not for one they share).
TEST_F(TraceErrors, ControlRunSucceeds) {
  Result r = RunTool({Tracer(), "-p", pid_, "--probe", "slow_path", "0.2", "1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("slow_path"), std::string::npos);
}

// Issue 12: a process that has exited (a zombie: its parent has not reaped
// it yet) was "no tslab probes" (exit 6); it is "exited" (exit 5).
TEST(TraceTarget, AZombieIsExitedNotWithoutProbes) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  const std::string stat = "/proc/" + std::to_string(child) + "/stat";
  bool zombie = false;
  for (int i = 0; i < 500 && !zombie; ++i) {  // bounded: 5 s
    std::ifstream in(stat);
    std::string line;
    std::getline(in, line);
    const size_t paren = line.rfind(')');
    zombie = paren != std::string::npos && line.compare(paren + 2, 1, "Z") == 0;
    if (!zombie) usleep(10000);
  }
  ASSERT_TRUE(zombie);
  ExpectOneLine(RunTool({Tracer(), "-p", std::to_string(child)}), 5, "exited");
  ExpectOneLine(RunTool({Tracer(), "--list", "-p", std::to_string(child)}), 5, "exited");
  int status = 0;
  EXPECT_EQ(waitpid(child, &status, 0), child);
}

}  // namespace
