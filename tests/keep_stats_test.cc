// TSLAB_OPTIONS=keep_stats=1 (issue 12, item 5), with real processes: a
// tslab-demo that exits normally leaves its region file marked EXITED;
// stats_dump -p PID reads its final numbers (also when the pid has been
// reused), --list shows it as exited, plain stats_dump never picks it,
// --doctor refuses it, --gc removes it. Without keep_stats the file goes.
// (The exporter's side is in exporter_test.cc.)
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "tests/tool_test_util.h"
#include "tslab/stats_region.h"
#include "tslab/tslab.h"

namespace {

using namespace tslab::tool_test;  // NOLINT: test helpers

uint64_t U(const Json& j, const std::string& k) { return j.at(k).get<uint64_t>(); }

uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch() /
                               std::chrono::nanoseconds(1));
}

// "key=value" from tslab-demo's "done ..." line.
uint64_t DoneValue(const std::string& out, const std::string& key) {
  size_t p = out.find("\ndone ");
  p = p == std::string::npos ? p : out.find(" " + key + "=", p);
  return p == std::string::npos ? ~0ull : std::stoull(out.substr(p + key.size() + 2));
}

// The header of a region file (zeroes if it cannot be read whole).
TslabRegionHeader ReadHeader(const std::string& path) {
  TslabRegionHeader h{};
  const std::string s = ReadFile(path);
  if (s.size() >= sizeof(h)) std::memcpy(&h, s.data(), sizeof(h));
  return h;
}

class KeepStatsTest : public ::testing::Test {
 protected:
  // Runs a demo with the given TSLAB_OPTIONS for a short while, to its
  // normal exit (asserted 0); its pid and its "done" line.
  pid_t RunToExit(const std::string& name, const std::string& options, std::string* out) {
    Demo d(dir_.path(), name, {"--duration", "0.3", "--leak", "--pause-ms", "0.5"}, "",
           {"TSLAB_OPTIONS=" + options});
    EXPECT_TRUE(d.ready()) << d.Errors();
    EXPECT_EQ(d.process().Wait(60), 0) << d.Errors();
    if (out != nullptr) *out = d.Output();
    return d.pid();
  }
  ScratchDir dir_{0755};
};

TEST_F(KeepStatsTest, WithoutKeepStatsANormalExitRemovesTheFile) {
  const pid_t pid = RunToExit("plain", "verbose=1", nullptr);
  EXPECT_TRUE(dir_.Regions().empty());
  RunResult r = StatsDump(dir_.path(), {"-p", std::to_string(pid)});
  EXPECT_EQ(r.code, 4) << r.err;  // no process with that pid
}

TEST_F(KeepStatsTest, ExitedFileIsReadListedNeverPickedAndRemovedByGc) {
  const uint64_t t0 = NowNs();
  std::string out;
  const pid_t pid = RunToExit("kept", "keep_stats=1", &out);
  const uint64_t t1 = NowNs();
  const std::string spid = std::to_string(pid);
  std::vector<std::string> files = dir_.Regions();
  ASSERT_EQ(files.size(), 1u) << "keep_stats=1 keeps the file at a normal exit";
  const TslabRegionHeader h = ReadHeader(dir_ / files[0]);
  EXPECT_EQ(h.state, TSLAB_REGION_STATE_EXITED);
  EXPECT_EQ(h.pid, pid);
  EXPECT_GE(h.exit_realtime_ns, t0);
  EXPECT_LE(h.exit_realtime_ns, t1);
  EXPECT_GT(h.exit_realtime_ns, h.create_realtime_ns);

  // -p PID: the final numbers, as usual JSON.
  RunResult j = StatsDump(dir_.path(), {"-p", spid, "--json"});
  ASSERT_EQ(j.code, 0) << j.err;
  std::vector<Json> docs = JsonLines(j.out);
  ASSERT_EQ(docs.size(), 1u) << j.out;
  EXPECT_EQ(U(docs[0], "schema_version"), 1u);
  EXPECT_EQ(docs[0]["pid"], pid);
  EXPECT_EQ(docs[0]["allocator_name"], "kept");
  EXPECT_EQ(U(docs[0], "total_allocs"), DoneValue(out, "allocs"));
  EXPECT_EQ(U(docs[0], "total_frees"), DoneValue(out, "frees"));
  EXPECT_GT(U(docs[0], "total_allocs"), 0u);

  // The text view says the process exited; --count does not repeat it.
  RunResult text = StatsDump(dir_.path(), {"-p", spid, "--text", "--count", "3",
                                           "--interval", "0.01"});
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("process exited at "), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("process exited"), text.out.rfind("process exited")) << text.out;
  RunResult both = StatsDump(dir_.path(), {"-p", spid});
  ASSERT_EQ(both.code, 0) << both.err;
  EXPECT_NE(both.err.find("process exited"), std::string::npos) << both.err;

  // --list: marked as exited, in text and JSON.
  RunResult list = StatsDump(dir_.path(), {"--list", "--json"});
  ASSERT_EQ(list.code, 0) << list.err;
  const Json l = Json::parse(list.out);
  ASSERT_EQ(l.size(), 1u) << list.out;
  EXPECT_EQ(l[0]["pid"], pid);
  EXPECT_EQ(l[0]["allocator_name"], "kept");
  EXPECT_EQ(l[0]["exited"], true);
  EXPECT_EQ(U(l[0], "exit_timestamp_ns"), h.exit_realtime_ns);
  RunResult lt = StatsDump(dir_.path(), {"--list"});
  ASSERT_EQ(lt.code, 0) << lt.err;
  EXPECT_NE(lt.out.find(spid), std::string::npos) << lt.out;
  EXPECT_NE(lt.out.find("(exited at "), std::string::npos) << lt.out;

  // Never the one live process; --doctor wants a live one.
  RunResult plain = StatsDump(dir_.path(), {"--json"});
  EXPECT_EQ(plain.code, 11) << plain.out << plain.err;
  RunResult doctor = StatsDump(dir_.path(), {"--doctor", "-p", spid});
  EXPECT_EQ(doctor.code, 16) << doctor.err;
  EXPECT_NE(doctor.err.find("has exited"), std::string::npos) << doctor.err;

  // --gc: stale by definition.
  RunResult gc = StatsDump(dir_.path(), {"--gc"});
  ASSERT_EQ(gc.code, 0) << gc.err;
  EXPECT_NE(gc.out.find("removed 1 stale"), std::string::npos) << gc.out;
  EXPECT_TRUE(dir_.Regions().empty());
  EXPECT_EQ(StatsDump(dir_.path(), {"-p", spid}).code, 4);
}

// The pid of an exited process now belongs to another (not a tslab
// process): -p PID reads what the earlier process kept, not the new one.
TEST_F(KeepStatsTest, ReusedPidReadsWhatTheEarlierProcessKept) {
  const pid_t pid = RunToExit("earlier", "keep_stats=1", nullptr);
  std::vector<std::string> files = dir_.Regions();
  ASSERT_EQ(files.size(), 1u);
  // Real pid reuse cannot be forced: give the kept file to a live process's
  // pid, with a start time that is not that process's.
  Process sleeper({{"/bin/sleep", "60"}, {}, "", ""});
  ASSERT_TRUE(WaitFor([&] { return StartTicks(sleeper.pid()) != 0; }, 10));
  std::string image = ReadFile(dir_ / files[0]);
  TslabRegionHeader* h = reinterpret_cast<TslabRegionHeader*>(image.data());
  ASSERT_EQ(h->pid, pid);
  h->pid = sleeper.pid();
  h->start_time_ticks = StartTicks(sleeper.pid()) - 1;
  const std::string spid = std::to_string(sleeper.pid());
  ASSERT_TRUE(WriteFile(dir_ / ("tslab-" + spid + "-1-0123456789abcdef.stats"), image));
  ASSERT_EQ(unlink((dir_ / files[0]).c_str()), 0);

  RunResult r = StatsDump(dir_.path(), {"-p", spid});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<Json> docs = JsonLines(r.out);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0]["allocator_name"], "earlier");
  EXPECT_EQ(U(docs[0], "rss_bytes_current"), 0u) << "the new process's RSS is not ours";
  EXPECT_NE(r.err.find("process exited"), std::string::npos) << r.err;
  RunResult list = StatsDump(dir_.path(), {"--list", "--json"});
  ASSERT_EQ(list.code, 0) << list.err;
  const Json l = Json::parse(list.out);
  ASSERT_EQ(l.size(), 1u) << list.out;
  EXPECT_EQ(l[0]["exited"], true);

  // With the writer's own start time the file would be the live process's,
  // which does not map it: not an exited region, stale.
  h->start_time_ticks = StartTicks(sleeper.pid());
  ASSERT_TRUE(WriteFile(dir_ / ("tslab-" + spid + "-1-0123456789abcdef.stats"), image));
  EXPECT_EQ(StatsDump(dir_.path(), {"-p", spid}).code, 10);
  EXPECT_EQ(sleeper.Stop(SIGKILL), 128 + SIGKILL);
}

// An allocator destroyed by an exit handler that runs after tslab's own
// (registered before the first tslab_create, so it runs later) leaves its
// file EXITED, not DESTROYED: the final numbers stay readable.
tslab_allocator* g_late_destroyed = nullptr;
std::string g_late_dir;

// The late exit handler: tslab's has run (the file is EXITED already:
// destroyed before it, the file would be DESTROYED now), then destroy.
void DestroyLate() {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(g_late_dir, ec)) {
    if (ReadHeader(e.path().string()).state != TSLAB_REGION_STATE_EXITED) _exit(5);
  }
  tslab_destroy(g_late_destroyed);
}

TEST_F(KeepStatsTest, DestroyAfterTheExitHandlerKeepsTheFileExited) {
  std::fflush(nullptr);  // nothing buffered is written twice
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setenv("TSLAB_OPTIONS", "keep_stats=1", 1);
    std::atexit(DestroyLate);
    tslab_options o;
    tslab_options_init(&o);
    o.name = "late";
    g_late_dir = dir_.path();
    o.stats_dir = g_late_dir.c_str();
    g_late_destroyed = tslab_create(&o);
    if (g_late_destroyed == nullptr) _exit(3);
    if (tslab_alloc(g_late_destroyed, 64, tslab_epoch_current(g_late_destroyed), nullptr) ==
        nullptr) {
      _exit(4);
    }
    std::exit(0);  // tslab's handler marks EXITED, then ours destroys
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  // 5: tslab's exit handler had not run before ours (see DestroyLate).
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const std::vector<std::string> files = dir_.Regions();
  ASSERT_EQ(files.size(), 1u);
  const TslabRegionHeader h = ReadHeader(dir_ / files[0]);
  EXPECT_EQ(h.state, TSLAB_REGION_STATE_EXITED);
  EXPECT_NE(h.exit_realtime_ns, 0u);
  RunResult r = StatsDump(dir_.path(), {"-p", std::to_string(pid)});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<Json> docs = JsonLines(r.out);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0]["allocator_name"], "late");
}

}  // namespace
