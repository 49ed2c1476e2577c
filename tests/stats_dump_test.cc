// stats_dump against real processes, from outside: tslab-demo snapshotted
// through its stats region, the JSON checked field by field against the
// spec (shared/spec/stats_dump_reference.md, schema_version 1) and against
// the allocator's invariants; output modes; streams; target selection;
// every error with its exit code (tools/stats_dump/status.h), on crafted
// region files; --list and --gc.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <climits>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/stats_fields.h"
#include "tests/tool_test_util.h"
#include "tools/common/terminal_text.h"
#include "tslab/stats_region.h"
#include "tslab/tslab.h"

namespace {

using namespace tslab::tool_test;  // NOLINT: test helpers

// The spec's top-level fields, in its order ("Top-Level Schema"). This
// list and the next are the spec's, copied from it on purpose: the JSON is
// generated from the field lists of tslab/stats.h, and these are what
// checks the lists against the contract (a reordered or renamed list entry
// fails here). The tests' other field lists come from the lists.
const std::vector<std::string> kSpecTop = {
    "schema_version", "timestamp_ns", "pid", "page_size", "epoch_count", "version",
    "current_epoch", "active_epoch_count", "closing_epoch_count",
    "total_slabs_allocated", "total_slabs_recycled", "net_slabs",
    "rss_bytes_current", "estimated_slab_rss_bytes", "total_slow_path_hits",
    "total_cache_overflows", "total_slow_cache_miss", "total_slow_epoch_closed",
    "total_madvise_calls", "total_madvise_bytes", "total_madvise_failures",
    "classes"};

// The spec's class object, then the Phase 2.2 table, in their order.
const std::vector<std::string> kSpecClass = {
    "version", "class_index", "object_size", "slow_path_hits", "new_slab_count",
    "list_move_partial_to_full", "list_move_full_to_partial",
    "current_partial_null", "current_partial_full", "empty_slab_recycled",
    "empty_slab_overflowed", "slow_path_cache_miss", "slow_path_epoch_closed",
    "madvise_calls", "madvise_bytes", "madvise_failures", "epoch_close_calls",
    "epoch_close_scanned_slabs", "epoch_close_recycled_slabs",
    "epoch_close_total_ns", "cache_size", "cache_capacity", "cache_overflow_len",
    "total_partial_slabs", "total_full_slabs", "recycle_rate_pct", "net_slabs",
    "estimated_rss_bytes", "bitmap_alloc_cas_retries", "bitmap_free_cas_retries",
    "current_partial_cas_failures", "bitmap_alloc_attempts",
    "bitmap_free_attempts", "current_partial_cas_attempts", "lock_fast_acquire",
    "lock_contended", "avg_alloc_cas_retries_per_attempt",
    "avg_free_cas_retries_per_attempt", "lock_contention_rate"};

using tslab::test::FieldInfo;
using tslab::test::FieldKind;
using tslab::test::FieldRole;

// Fields typed double (the spec's float64).
bool IsFloatField(const std::string& k) {
  const FieldInfo* f = tslab::test::FindField(tslab::test::ClassFields(), k);
  return f != nullptr && f->IsFloat();
}

// Monotonic counters (spec "Type: Monotonic counter", and tslab's): the
// COUNT members of the JSON.
bool IsJsonCounter(const FieldInfo& f) {
  return (f.role == FieldRole::kSpec || f.role == FieldRole::kAdd) &&
         f.kind == FieldKind::kCount;
}
const std::vector<std::string> kMonotonicTop =
    tslab::test::FieldNames(tslab::test::GlobalFields(), IsJsonCounter);
const std::vector<std::string> kMonotonicClass =
    tslab::test::FieldNames(tslab::test::ClassFields(), IsJsonCounter);

// total_* field -> the per-class field it sums (TSLAB_GLOBAL_SUMS).
const std::vector<std::pair<std::string, std::string>> kTotals = [] {
  std::vector<std::pair<std::string, std::string>> v;
  for (const tslab::test::SumInfo& s : tslab::test::GlobalSums()) {
    v.emplace_back(s.global_field, s.class_field);
  }
  return v;
}();

uint64_t U(const Json& j, const std::string& k) { return j.at(k).get<uint64_t>(); }

// The invariants that hold in every snapshot, even mid-flight: sums and
// derivations come from one pass over the region.
void ExpectConsistent(const Json& doc) {
  const uint64_t page = U(doc, "page_size");
  for (const auto& [total, field] : kTotals) {
    uint64_t sum = 0;
    for (const Json& c : doc["classes"]) sum += U(c, field);
    EXPECT_EQ(U(doc, total), sum) << total << " != sum of classes[]." << field;
  }
  for (const Json& c : doc["classes"]) {
    EXPECT_EQ(U(c, "estimated_rss_bytes"), U(c, "net_slabs") * page);
    EXPECT_EQ(U(c, "madvise_bytes") % page, 0u) << "class " << c["class_index"];
  }
  uint64_t epoch_allocs = 0, epoch_frees = 0;
  for (const Json& e : doc["epochs"]) {
    epoch_allocs += U(e, "allocs");
    epoch_frees += U(e, "frees");
  }
  EXPECT_EQ(epoch_allocs, U(doc, "total_allocs"));
  EXPECT_EQ(epoch_frees, U(doc, "total_frees"));
}

void ExpectMonotonic(const Json& before, const Json& after) {
  for (const std::string& k : kMonotonicTop) {
    EXPECT_LE(U(before, k), U(after, k)) << k << " went backwards";
  }
  for (size_t i = 0; i < after["classes"].size(); ++i) {
    for (const std::string& k : kMonotonicClass) {
      EXPECT_LE(U(before["classes"][i], k), U(after["classes"][i], k))
          << "classes[" << i << "]." << k << " went backwards";
    }
  }
  EXPECT_LT(U(before, "timestamp_ns"), U(after, "timestamp_ns"));
}

// "key=value" from tslab-demo's "done ..." line.
uint64_t DoneValue(const std::string& out, const std::string& key) {
  size_t p = out.find("\ndone ");
  p = p == std::string::npos ? p : out.find(" " + key + "=", p);
  return p == std::string::npos ? ~0ull : std::stoull(out.substr(p + key.size() + 2));
}

class StatsDumpTest : public ::testing::Test {
 protected:
  // 0755: the permission test runs stats_dump as another user.
  ScratchDir dir_{0755};
};

TEST_F(StatsDumpTest, JsonHasEverySpecFieldInOrderWithItsType) {
  Demo demo(dir_.path(), "spec", {"--duration", "60", "--pause-ms", "0.5"});
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  RunResult r = StatsDump(dir_.path(), {"-p", std::to_string(demo.pid()), "--no-text"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(CountLines(r.out), 1u);
  const Json doc = Json::parse(r.out);
  std::vector<std::string> keys;
  for (const auto& [k, v] : doc.items()) keys.push_back(k);
  ASSERT_GE(keys.size(), kSpecTop.size());
  EXPECT_EQ(std::vector<std::string>(keys.begin(), keys.begin() + kSpecTop.size()), kSpecTop)
      << "the spec's top-level fields, in the spec's order, come first";
  for (const std::string& k : kSpecTop) {
    if (k == "classes") continue;
    EXPECT_TRUE(doc[k].is_number_integer()) << k;
    if (k != "pid" && k != "page_size") {
      EXPECT_TRUE(doc[k].is_number_unsigned()) << k;
    }
  }
  EXPECT_EQ(doc["schema_version"], 1);
  EXPECT_EQ(doc["version"], 1);
  EXPECT_EQ(doc["pid"], demo.pid());
  EXPECT_EQ(doc["page_size"], sysconf(_SC_PAGESIZE));
  EXPECT_EQ(doc["epoch_count"], TSLAB_NUM_EPOCHS);
  EXPECT_LT(U(doc, "current_epoch"), 16u);
  EXPECT_LE(U(doc, "active_epoch_count") + U(doc, "closing_epoch_count"), 16u);
  EXPECT_GT(U(doc, "rss_bytes_current"), 0u);
  EXPECT_EQ(doc["allocator_name"], "spec");
  ASSERT_EQ(doc["epochs"].size(), 16u);
  ASSERT_EQ(doc["classes"].size(), 8u);
  for (size_t i = 0; i < 8; ++i) {
    const Json& c = doc["classes"][i];
    std::vector<std::string> ck;
    for (const auto& [k, v] : c.items()) ck.push_back(k);
    ASSERT_GE(ck.size(), kSpecClass.size());
    EXPECT_EQ(std::vector<std::string>(ck.begin(), ck.begin() + kSpecClass.size()), kSpecClass)
        << "classes[" << i << "]";
    for (const std::string& k : kSpecClass) {
      if (IsFloatField(k)) {
        EXPECT_TRUE(c[k].is_number_float()) << "classes[" << i << "]." << k;
      } else {
        EXPECT_TRUE(c[k].is_number_unsigned()) << "classes[" << i << "]." << k;
      }
    }
    EXPECT_EQ(c["class_index"], i);
    EXPECT_EQ(c["object_size"], tslab_class_size(static_cast<uint32_t>(i)));
    EXPECT_EQ(c["version"], 1);
    EXPECT_EQ(c["cache_capacity"], 32);
  }
  ExpectConsistent(doc);
}

TEST_F(StatsDumpTest, QuiescentSnapshotMatchesWhatTheDemoDidAndTheInvariants) {
  Demo demo(dir_.path(), "quiet",
            {"--duration", "0.5", "--linger", "60", "--leak", "--pause-ms", "0.5"});
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  ASSERT_TRUE(demo.WaitDone()) << demo.Output();
  const uint64_t t0 = static_cast<uint64_t>(
      std::chrono::system_clock::now().time_since_epoch() / std::chrono::nanoseconds(1));
  RunResult r = StatsDump(dir_.path(), {"-p", std::to_string(demo.pid()), "--json"});
  const uint64_t t1 = static_cast<uint64_t>(
      std::chrono::system_clock::now().time_since_epoch() / std::chrono::nanoseconds(1));
  ASSERT_EQ(r.code, 0) << r.err;
  const Json doc = Json::parse(r.out);
  EXPECT_GE(U(doc, "timestamp_ns"), t0);
  EXPECT_LE(U(doc, "timestamp_ns"), t1);
  ExpectConsistent(doc);
  const std::string out = demo.Output();
  EXPECT_EQ(U(doc, "total_allocs"), DoneValue(out, "allocs"));
  EXPECT_EQ(U(doc, "total_frees"), DoneValue(out, "frees"));
  EXPECT_EQ(U(doc, "live_objects"), DoneValue(out, "leaked"));
  EXPECT_GT(U(doc, "live_objects"), 0u);
  const uint64_t page = U(doc, "page_size");
  uint64_t live_bytes = 0;
  for (const Json& c : doc["classes"]) {
    // Exact only at rest: every slab is on the partial or the full list.
    EXPECT_EQ(U(c, "net_slabs"), U(c, "total_partial_slabs") + U(c, "total_full_slabs"))
        << "class " << c["class_index"];
    EXPECT_EQ(U(c, "estimated_rss_bytes"), U(c, "net_slabs") * page);
    EXPECT_EQ(U(c, "live_bytes"), U(c, "live_objects") * U(c, "object_size"));
    live_bytes += U(c, "live_bytes");
    if (U(c, "live_objects") > 0) {
      EXPECT_GT(U(c, "net_slabs"), 0u);
    }
  }
  EXPECT_EQ(U(doc, "live_bytes"), live_bytes);
  uint64_t epoch_live = 0;
  for (const Json& e : doc["epochs"]) epoch_live += U(e, "live_objects");
  EXPECT_EQ(epoch_live, U(doc, "live_objects"));
  EXPECT_GT(U(doc, "closing_epoch_count"), 0u) << "leaked objects keep closed epochs CLOSING";
}

TEST_F(StatsDumpTest, DefaultWritesJsonToStdoutAndTextToStderr) {
  Demo demo(dir_.path(), "modes", {"--duration", "60", "--pause-ms", "0.5"});
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  const std::string pid = std::to_string(demo.pid());
  RunResult both = StatsDump(dir_.path(), {"-p", pid});
  ASSERT_EQ(both.code, 0) << both.err;
  EXPECT_EQ(Json::parse(both.out)["pid"], demo.pid());
  EXPECT_NE(both.err.find("tslab pid " + pid), std::string::npos) << both.err;
  EXPECT_NE(both.err.find("class  size"), std::string::npos) << both.err;
  for (const char* flag : {"--json", "--no-text"}) {
    RunResult r = StatsDump(dir_.path(), {"-p", pid, flag});
    ASSERT_EQ(r.code, 0) << flag << ": " << r.err;
    EXPECT_EQ(r.err, "") << flag;
    EXPECT_EQ(CountLines(r.out), 1u) << flag;
    EXPECT_EQ(Json::parse(r.out)["schema_version"], 1) << flag;
  }
  RunResult pretty = StatsDump(dir_.path(), {"-p", pid, "--json", "--pretty"});
  ASSERT_EQ(pretty.code, 0);
  EXPECT_GT(CountLines(pretty.out), 100u);
  EXPECT_EQ(Json::parse(pretty.out)["pid"], demo.pid());
}

// Issue 12: --text is the text view alone, on stdout (a terminal no longer
// gets a line of JSON before it); with --interval, a block per snapshot.
TEST_F(StatsDumpTest, TextIsTheTextViewAloneOnStdout) {
  Demo demo(dir_.path(), "textonly", {"--duration", "60", "--pause-ms", "0.5"});
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  const std::string pid = std::to_string(demo.pid());
  RunResult r = StatsDump(dir_.path(), {"-p", pid, "--text"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out.find("tslab pid " + pid), 0u) << r.out;
  EXPECT_NE(r.out.find("class  size"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('{'), std::string::npos) << "no JSON\n" << r.out;
  RunResult two = StatsDump(dir_.path(), {"-p", pid, "--text", "--interval", "0.05", "--count", "2"});
  ASSERT_EQ(two.code, 0) << two.err;
  size_t blocks = 0;
  for (size_t at = two.out.find("tslab pid " + pid); at != std::string::npos;
       at = two.out.find("tslab pid " + pid, at + 1)) {
    ++blocks;
  }
  EXPECT_EQ(blocks, 2u) << two.out;
  // Each block of a stream starts with its time (issue 12).
  size_t timed = 0;
  std::istringstream lines(two.out);
  for (std::string l; std::getline(lines, l);) {
    const bool hhmmss = l.size() > 10 && l[2] == ':' && l[5] == ':' &&
                        std::isdigit(static_cast<unsigned char>(l[0])) &&
                        std::isdigit(static_cast<unsigned char>(l[7]));
    if (hhmmss && l.compare(8, 12, "  tslab pid ") == 0) ++timed;
  }
  EXPECT_EQ(timed, 2u) << two.out;
  for (std::vector<std::string> args : {std::vector<std::string>{"--text", "--json"},
                                        {"--text", "--doctor"}, {"--text", "--list"},
                                        {"--text", "--format", "prometheus"}}) {
    RunResult bad = StatsDump(dir_.path(), args);
    EXPECT_EQ(bad.code, 3) << args[1];
    EXPECT_EQ(CountLines(bad.err), 1u) << bad.err;
  }
}

// Issue 12: the help shows no CLI11 type noise, bounds it keeps, examples;
// a word where a number goes is "not a number", not "not in range".
TEST_F(StatsDumpTest, HelpVersionAndNumberMessages) {
  RunResult help = StatsDump(dir_.path(), {"--help"});
  ASSERT_EQ(help.code, 0);
  EXPECT_EQ(help.out.find("INT"), std::string::npos) << help.out;
  EXPECT_EQ(help.out.find("FLOAT"), std::string::npos) << help.out;
  EXPECT_EQ(help.out.find("TEXT"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("-p,--pid PID"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--count N "), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("at least 1"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("EXAMPLES:"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("stats_dump --text"), std::string::npos) << help.out;
  RunResult v = StatsDump(dir_.path(), {"--version"});
  EXPECT_EQ(v.code, 0);
  EXPECT_EQ(v.out.rfind("stats_dump (tslab) ", 0), 0u) << v.out;
  EXPECT_EQ(CountLines(v.out), 1u);
  struct Case {
    std::vector<std::string> args;
    const char* says;
  };
  for (const Case& c : {Case{{"-p", "abc"}, "--pid: not a number: 'abc'"},
                        Case{{"-p", "0"}, "--pid: must be from 1 to"},
                        Case{{"--count", "0"}, "--count: must be from 1 to"},
                        Case{{"--count", "x"}, "--count: not a number: 'x'"},
                        Case{{"--interval", "nan"}, "--interval: not a number of seconds"},
                        Case{{"--interval", "-1"}, "--interval: must be from 0 to 86400"}}) {
    RunResult r = StatsDump(dir_.path(), c.args);
    EXPECT_EQ(r.code, 3) << c.args[0] << " " << c.args[1];
    EXPECT_EQ(CountLines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("(see --help)"), std::string::npos) << r.err;
  }
}

TEST_F(StatsDumpTest, StreamIsOneDocumentPerLineWithIncreasingTimestampsAndRates) {
  Demo demo(dir_.path(), "stream", {"--duration", "60", "--pause-ms", "0.5"});
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  RunResult r = StatsDump(dir_.path(), {"-p", std::to_string(demo.pid()), "--interval",
                                        "0.1", "--count", "5"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<Json> docs = JsonLines(r.out);
  ASSERT_EQ(docs.size(), 5u);
  EXPECT_EQ(CountLines(r.out), 5u);
  for (size_t i = 1; i < docs.size(); ++i) ExpectMonotonic(docs[i - 1], docs[i]);
  EXPECT_NE(r.err.find("rates   over"), std::string::npos)
      << "the text view has rates once two snapshots are at hand\n" << r.err;
}

TEST_F(StatsDumpTest, SnapshotsStayConsistentAndMonotonicWhileTwoThreadsHammer) {
  Demo demo(dir_.path(), "hammer", {"--threads", "2", "--duration", "60"});
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  RunResult r = StatsDump(dir_.path(), {"-p", std::to_string(demo.pid()), "--no-text",
                                        "--interval", "0.02", "--count", "40"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<Json> docs = JsonLines(r.out);
  ASSERT_EQ(docs.size(), 40u);
  for (size_t i = 0; i < docs.size(); ++i) {
    SCOPED_TRACE("snapshot " + std::to_string(i));
    ExpectConsistent(docs[i]);
    if (i > 0) ExpectMonotonic(docs[i - 1], docs[i]);
  }
  EXPECT_LT(U(docs.front(), "total_allocs"), U(docs.back(), "total_allocs"))
      << "the demo was working meanwhile";
}

TEST_F(StatsDumpTest, WithoutPidPicksTheOnlyLiveProcessElseSaysWhy) {
  RunResult none = StatsDump(dir_.path(), {});
  EXPECT_EQ(none.code, 11);
  EXPECT_EQ(none.out, "");
  EXPECT_EQ(CountLines(none.err), 1u) << none.err;

  Demo one(dir_.path(), "one", {"--duration", "60", "--pause-ms", "1"});
  ASSERT_TRUE(one.ready()) << one.Errors();
  RunResult single = StatsDump(dir_.path(), {"--json"});
  ASSERT_EQ(single.code, 0) << single.err;
  EXPECT_EQ(Json::parse(single.out)["pid"], one.pid());

  Demo two(dir_.path(), "two", {"--duration", "60", "--pause-ms", "1"});
  ASSERT_TRUE(two.ready()) << two.Errors();
  RunResult several = StatsDump(dir_.path(), {});
  EXPECT_EQ(several.code, 12);
  EXPECT_EQ(several.out, "");
  EXPECT_NE(several.err.find("pid " + std::to_string(one.pid())), std::string::npos);
  EXPECT_NE(several.err.find("pid " + std::to_string(two.pid())), std::string::npos);
  EXPECT_NE(several.err.find("-p PID"), std::string::npos) << several.err;
}

// Names are any program's bytes: one that is not UTF-8 used to abort the
// JSON output (nlohmann type_error.316, rc 134), for -p and for everyone's
// --list. Each invalid byte is now U+FFFD (issue 9, finding 1).
TEST_F(StatsDumpTest, NamesThatAreNotUtf8GiveValidJson) {
  const std::string bad = "bad\xff\xfe";
  const std::string shown = "bad\xef\xbf\xbd\xef\xbf\xbd";
  Demo demo(dir_.path(), bad, {"--duration", "60", "--pause-ms", "1"});
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  const std::string pid = std::to_string(demo.pid());
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"-p", pid, "--json"},
                                             {"-p", pid, "--json", "--pretty"},
                                             {"-p", pid}}) {
    RunResult r = StatsDump(dir_.path(), args);
    ASSERT_EQ(r.code, 0) << args.back() << ": " << r.err;
    const Json doc = Json::parse(r.out);
    EXPECT_EQ(doc["allocator_name"], shown);
  }
  RunResult list = StatsDump(dir_.path(), {"--list", "--json"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_NE(list.out.find(shown), std::string::npos) << list.out;
  EXPECT_NO_THROW((void)JsonLines(list.out));
}

// Names and command lines went raw to the terminal (an OSC sequence in an
// allocator name retitled the window of whoever ran stats_dump), and
// --list's 48-character cut split UTF-8 characters (issue 9, finding 6).
TEST_F(StatsDumpTest, TextViewsShowControlBytesEscapedAndWholeCharacters) {
  std::string name = "x\x1b]0;pwned\x07\x1b[2J";
  for (int i = 0; i < 30; ++i) name += "\xc3\xa9";  // cut somewhere in these
  Demo demo(dir_.path(), name, {"--duration", "60", "--pause-ms", "1"});
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  const std::string pid = std::to_string(demo.pid());
  const auto expect_safe = [](const std::string& text, const char* what) {
    EXPECT_EQ(text.find('\x1b'), std::string::npos) << what << ": " << text;
    EXPECT_EQ(text.find('\x07'), std::string::npos) << what;
    for (size_t i = 0; i < text.size();) {
      const size_t n = tslab::tools::Utf8CharLength(text, i);
      ASSERT_NE(n, 0u) << what << ": broken UTF-8 at byte " << i;
      i += n;
    }
  };
  RunResult view = StatsDump(dir_.path(), {"-p", pid});  // text on stderr
  ASSERT_EQ(view.code, 0) << view.err;
  expect_safe(view.err, "text view");
  EXPECT_NE(view.err.find("x\\x1b]0;pwned\\x07"), std::string::npos) << view.err;
  RunResult list = StatsDump(dir_.path(), {"--list"});
  ASSERT_EQ(list.code, 0) << list.err;
  expect_safe(list.out, "--list");
  EXPECT_NE(list.out.find("..."), std::string::npos) << "not cut: " << list.out;
  // --wide (issue 12): the whole command line, as escaped.
  RunResult wide = StatsDump(dir_.path(), {"--list", "--wide"});
  ASSERT_EQ(wide.code, 0) << wide.err;
  expect_safe(wide.out, "--list --wide");
  EXPECT_NE(wide.out.find("--pause-ms 1"), std::string::npos) << wide.out;
  EXPECT_EQ(StatsDump(dir_.path(), {"--wide"}).code, 3);
  RunResult doctor =
      StatsDump(dir_.path(), {"--doctor", "-p", pid, "--window", "0.2"});
  EXPECT_LE(doctor.code, 2) << doctor.err;
  expect_safe(doctor.out, "--doctor");
}

TEST_F(StatsDumpTest, SeveralAllocatorsGiveOneDocumentEachUnlessOneIsPicked) {
  Demo demo(dir_.path(), "multi", {"--allocators", "3", "--duration", "60", "--pause-ms", "1"});
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  const std::string pid = std::to_string(demo.pid());
  RunResult all = StatsDump(dir_.path(), {"-p", pid, "--json"});
  ASSERT_EQ(all.code, 0) << all.err;
  std::vector<Json> docs = JsonLines(all.out);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0]["allocator_name"], "multi");
  EXPECT_EQ(docs[1]["allocator_name"], "multi-1");
  EXPECT_EQ(docs[2]["allocator_name"], "multi-2");
  EXPECT_LT(U(docs[0], "allocator_id"), U(docs[1], "allocator_id"));
  EXPECT_LT(U(docs[1], "allocator_id"), U(docs[2], "allocator_id"));

  RunResult by_name = StatsDump(dir_.path(), {"-p", pid, "--json", "--allocator", "multi-2"});
  ASSERT_EQ(by_name.code, 0) << by_name.err;
  ASSERT_EQ(JsonLines(by_name.out).size(), 1u);
  EXPECT_EQ(JsonLines(by_name.out)[0]["allocator_name"], "multi-2");

  const std::string id = std::to_string(U(docs[1], "allocator_id"));
  RunResult by_id = StatsDump(dir_.path(), {"-p", pid, "--json", "--allocator", id});
  ASSERT_EQ(by_id.code, 0) << by_id.err;
  EXPECT_EQ(JsonLines(by_id.out)[0]["allocator_name"], "multi-1");

  RunResult missing = StatsDump(dir_.path(), {"-p", pid, "--allocator", "nope"});
  EXPECT_EQ(missing.code, 13);
  EXPECT_EQ(missing.out, "");
  EXPECT_NE(missing.err.find("multi-1"), std::string::npos) << missing.err;
}

TEST_F(StatsDumpTest, FindsARegionMadeElsewhereThroughTheProcessMaps) {
  ScratchDir elsewhere;
  Demo demo(elsewhere.path(), "elsewhere", {"--duration", "60", "--pause-ms", "1"});
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  RunResult r = StatsDump(dir_.path(), {"-p", std::to_string(demo.pid()), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["allocator_name"], "elsewhere");
}

TEST_F(StatsDumpTest, UsageErrorsExitThreeWithOneLine) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"--bogus"}, {"--doctor", "--interval", "1"},
        {"--count", "0"}, {"--window", "1"}, {"--list", "-p", "1"},
        {"--list", "--gc"}}) {
    RunResult r = StatsDump(dir_.path(), args);
    EXPECT_EQ(r.code, 3) << args[0];
    EXPECT_EQ(r.out, "") << args[0];
    EXPECT_EQ(CountLines(r.err), 1u) << r.err;
  }
  RunResult off = tslab::tool_test::Run({BinDir() + "/stats_dump"}, {"TSLAB_STATS_DIR=off"});
  EXPECT_EQ(off.code, 3);
  EXPECT_NE(off.err.find("--dir"), std::string::npos) << off.err;
}

// Issue 9, finding 13: NaN was taken as "not given", --dir off blamed
// TSLAB_STATS_DIR, a zombie was "no process", SIGTERM during the doctor's
// window was "target exited" (16), a reader that went away was an I/O
// error (15).
TEST_F(StatsDumpTest, NanArgumentsZombiesSignalsAndClosedReaders) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"--interval", "nan"}, {"--doctor", "--window", "nan"}}) {
    RunResult r = StatsDump(dir_.path(), args);
    EXPECT_EQ(r.code, 3) << args.back();
    EXPECT_NE(r.err.find("not a number"), std::string::npos) << r.err;
  }
  RunResult off = StatsDump(dir_.path(), {"--dir", "off"});
  EXPECT_EQ(off.code, 3);
  EXPECT_EQ(off.err.find("TSLAB_STATS_DIR"), std::string::npos) << off.err;

  // A zombie: a child that exited, whose parent (sh, then exec'd into a
  // sleep) never reaps it.
  ScratchDir zio;
  Process parent({{"/bin/sh", "-c", "sleep 0 & echo $!; exec sleep 30"}, {},
                  zio / "out", zio / "err"});
  std::string zpid;
  ASSERT_TRUE(WaitFor([&] {
    zpid = ReadFile(zio / "out");
    return !zpid.empty() && zpid.back() == '\n' &&
           ReadFile("/proc/" + zpid.substr(0, zpid.size() - 1) + "/stat")
                   .find(") Z ") != std::string::npos;
  }, 10));
  zpid.pop_back();
  RunResult z = StatsDump(dir_.path(), {"-p", zpid});
  EXPECT_EQ(z.code, 4);
  EXPECT_NE(z.err.find("zombie"), std::string::npos) << z.err;

  Demo demo(dir_.path(), "sig", {"--duration", "60", "--pause-ms", "1"});
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  const std::string pid = std::to_string(demo.pid());
  ScratchDir io;
  Process doctor({{BinDir() + "/stats_dump", "--doctor", "-p", pid, "--window", "10"},
                  {"TSLAB_STATS_DIR=" + dir_.path()}, io / "out", io / "err"});
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(doctor.Stop(SIGTERM), 128 + SIGTERM) << ReadFile(io / "err");
  EXPECT_NE(ReadFile(io / "err").find("interrupted by SIGTERM"), std::string::npos)
      << ReadFile(io / "err");

  // The reader is gone before the report is written (`true` reads nothing).
  for (const std::string& cmd :
       {"--doctor -p " + pid + " --window 0.3", std::string("--list")}) {
    RunResult r = tslab::tool_test::Run(
        {"/bin/bash", "-c",
         "set -o pipefail; sleep 0.2 | true; (sleep 0.3; exec \"$0\" " + cmd +
             ") | true; echo \"rc=$?\"",
         BinDir() + "/stats_dump"},
        {"TSLAB_STATS_DIR=" + dir_.path()});
    EXPECT_NE(r.out.find("rc=0"), std::string::npos) << cmd << ": " << r.out << r.err;
  }
}

TEST_F(StatsDumpTest, PermissionDeniedWhenTheRegionIsAnotherUsers) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run stats_dump as another user";
  Demo demo(dir_.path(), "private", {"--duration", "60", "--pause-ms", "1"});
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  RunResult r = StatsDump(dir_.path(), {"-p", std::to_string(demo.pid())}, 60, 65534);
  EXPECT_EQ(r.code, 6) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("permission denied"), std::string::npos) << r.err;
}

TEST_F(StatsDumpTest, TargetExitingEndsAStreamWithCompleteLines) {
  Demo demo(dir_.path(), "brief", {"--duration", "0.3", "--linger", "0.5"});
  ASSERT_TRUE(demo.ready()) << demo.Errors();
  RunResult r = StatsDump(dir_.path(), {"-p", std::to_string(demo.pid()), "--no-text",
                                        "--interval", "0.05"}, 60);
  EXPECT_EQ(r.code, 16) << r.err;
  // Whichever the stream saw first: the allocator destroyed, or the
  // process gone.
  EXPECT_TRUE(r.err.find("exited") != std::string::npos ||
              r.err.find("was destroyed") != std::string::npos) << r.err;
  EXPECT_EQ(CountLines(r.err), 1u) << r.err;
  EXPECT_GE(JsonLines(r.out).size(), 1u);  // every line parses
  EXPECT_EQ(demo.process().Wait(30), 0);
  EXPECT_TRUE(dir_.Regions().empty()) << "a normal exit removes the region files";
}

TEST_F(StatsDumpTest, KilledProcessLeavesAStaleFileThatListIgnoresAndGcRemoves) {
  Demo killed(dir_.path(), "killed", {"--duration", "60", "--pause-ms", "1"});
  Demo alive(dir_.path(), "alive", {"--duration", "60", "--pause-ms", "1"});
  ASSERT_TRUE(killed.ready() && alive.ready());
  const pid_t dead = killed.pid();
  EXPECT_EQ(killed.Stop(SIGKILL), 128 + SIGKILL);
  ASSERT_EQ(dir_.Regions().size(), 2u) << "SIGKILL leaves the region file";

  RunResult stale = StatsDump(dir_.path(), {"-p", std::to_string(dead)});
  EXPECT_EQ(stale.code, 10) << stale.err;
  EXPECT_NE(stale.err.find("--gc"), std::string::npos) << stale.err;

  RunResult list = StatsDump(dir_.path(), {"--list", "--json"});
  ASSERT_EQ(list.code, 0) << list.err;
  const Json l = Json::parse(list.out);
  ASSERT_EQ(l.size(), 1u) << list.out;
  EXPECT_EQ(l[0]["pid"], alive.pid());
  EXPECT_EQ(l[0]["allocator_name"], "alive");
  EXPECT_NE(l[0]["command"].get<std::string>().find("tslab-demo"), std::string::npos);

  // The text listing's first column is the pid. Compare whole columns: a
  // substring test fails whenever the dead pid's digits appear elsewhere
  // (inside another pid, an uptime).
  RunResult text = StatsDump(dir_.path(), {"--list"});
  ASSERT_EQ(text.code, 0) << text.err;
  std::vector<std::string> pids;
  std::istringstream rows(text.out);
  for (std::string row; std::getline(rows, row);) {
    std::istringstream cols(row);
    std::string first;
    if (cols >> first) pids.push_back(first);
  }
  EXPECT_NE(std::find(pids.begin(), pids.end(), std::to_string(alive.pid())), pids.end())
      << text.out;
  EXPECT_EQ(std::find(pids.begin(), pids.end(), std::to_string(dead)), pids.end())
      << text.out;

  RunResult gc = StatsDump(dir_.path(), {"--gc"});
  ASSERT_EQ(gc.code, 0) << gc.err;
  EXPECT_NE(gc.out.find("removed 1 stale"), std::string::npos) << gc.out;
  std::vector<std::string> left = dir_.Regions();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].rfind("tslab-" + std::to_string(alive.pid()) + "-", 0), 0u);
}

// A service installed under a long path still shows its program's name in
// the text listing (argv[0] cut to its basename before the 48-character
// cut), and --list --json gives the whole command line.
TEST_F(StatsDumpTest, ListShowsTheProgramNameOfALongInstallPath) {
  const std::string deep = dir_.path() + "/" + std::string(90, 'd');
  ASSERT_EQ(mkdir(deep.c_str(), 0700), 0);
  const std::string program = deep + "/tslab-demo";
  char target[PATH_MAX];
  ASSERT_NE(realpath((BinDir() + "/tslab-demo").c_str(), target), nullptr);
  ASSERT_EQ(symlink(target, program.c_str()), 0);
  Demo demo(dir_.path(), "deep", {"--duration", "60", "--pause-ms", "1"}, program);
  ASSERT_TRUE(demo.ready()) << demo.Errors();

  RunResult text = StatsDump(dir_.path(), {"--list"});
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("tslab-demo --name deep"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find(deep), std::string::npos) << text.out;

  RunResult json = StatsDump(dir_.path(), {"--list", "--json"});
  ASSERT_EQ(json.code, 0) << json.err;
  const Json l = Json::parse(json.out);
  ASSERT_EQ(l.size(), 1u) << json.out;
  EXPECT_EQ(l[0]["command"].get<std::string>().rfind(program + " --name deep ", 0), 0u)
      << json.out;
}

// ---- crafted region files ----

TslabRegionHeader* Header(std::string* image) { return ImageHeader(image); }

struct CraftCase {
  const char* name;
  int expected_exit;
  // Patches the image (already made the target's: pid and start ticks).
  void (*mutate)(std::string* image);
};

void NoChange(std::string*) {}
void BadMagic(std::string* i) { Header(i)->magic ^= 0x5a5a; }
void ZeroFilled(std::string* i) { std::memset(i->data(), 0, i->size()); }
void BadOffsets(std::string* i) { Header(i)->off_classes = 8; }
void OtherPid(std::string* i) { Header(i)->pid += 1; }
void OtherVersion(std::string* i) { Header(i)->layout_version = 2; }
void ReusedPid(std::string* i) { Header(i)->start_time_ticks += 1; }
void HalfTruncated(std::string* i) { i->resize(i->size() / 2); }
void HeaderTruncated(std::string* i) { i->resize(100); }
void SizeTooBig(std::string* i) { Header(i)->region_size += 4096; }

class CraftedRegionTest : public ::testing::TestWithParam<CraftCase> {
 protected:
  ScratchDir dir_;
};

TEST_P(CraftedRegionTest, IsReadOrRefusedWithItsExitCode) {
  const CraftCase& c = GetParam();
  std::string image = RealRegionImage();
  ASSERT_GE(image.size(), sizeof(TslabRegionHeader));
  // A live process without tslab stands in as the region's owner, and
  // maps the file as tslab would.
  RegionHolder sleeper;
  ASSERT_TRUE(WaitFor([&] { return StartTicks(sleeper.pid()) != 0; }, 10));
  RetargetImage(&image, sleeper.pid());
  c.mutate(&image);
  const std::string file = "tslab-" + std::to_string(sleeper.pid()) + "-1.stats";
  ASSERT_TRUE(WriteHeldRegion(&sleeper, dir_ / file, image));
  RunResult r = StatsDump(dir_.path(), {"-p", std::to_string(sleeper.pid()), "--json"});
  EXPECT_EQ(r.code, c.expected_exit) << r.err;
  if (c.expected_exit == 0) {
    const Json doc = Json::parse(r.out);
    EXPECT_EQ(doc["pid"], sleeper.pid());
    EXPECT_EQ(doc["allocator_name"], "crafted");
    EXPECT_EQ(U(doc, "total_allocs"), 100u);
  } else {
    EXPECT_EQ(r.out, "") << "no partial JSON on an error";
    EXPECT_EQ(CountLines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("stats_dump: ", 0), 0u) << r.err;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Files, CraftedRegionTest,
    ::testing::Values(CraftCase{"Valid", 0, NoChange},
                      CraftCase{"BadMagic", 7, BadMagic},
                      CraftCase{"NeverInitialised", 7, ZeroFilled},
                      CraftCase{"BadOffsets", 7, BadOffsets},
                      CraftCase{"HeaderNamesAnotherPid", 7, OtherPid},
                      CraftCase{"HalfTruncated", 8, HalfTruncated},
                      CraftCase{"HeaderTruncated", 8, HeaderTruncated},
                      CraftCase{"SizeBeyondFile", 8, SizeTooBig},
                      CraftCase{"ForeignLayoutVersion", 9, OtherVersion},
                      CraftCase{"ReusedPid", 10, ReusedPid}),
    [](const ::testing::TestParamInfo<CraftCase>& i) { return std::string(i.param.name); });

TEST_F(StatsDumpTest, NoSuchProcessAndNotATslabProcess) {
  Process gone({{"/bin/true"}, {}, "", ""});
  ASSERT_EQ(gone.Wait(30), 0);
  RunResult none = StatsDump(dir_.path(), {"-p", std::to_string(gone.pid())});
  EXPECT_EQ(none.code, 4) << none.err;
  EXPECT_EQ(none.out, "");

  Process sleeper({{"/bin/sleep", "60"}, {}, "", ""});
  ASSERT_TRUE(WaitFor([&] { return StartTicks(sleeper.pid()) != 0; }, 10));
  RunResult plain = StatsDump(dir_.path(), {"-p", std::to_string(sleeper.pid())});
  EXPECT_EQ(plain.code, 5) << plain.err;
  EXPECT_EQ(plain.out, "");
  EXPECT_NE(plain.err.find("not a tslab process"), std::string::npos) << plain.err;
}

TEST_F(StatsDumpTest, RegionOfAnotherOwnerIsNotTrusted) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give a file away";
  std::string image = RealRegionImage();
  RegionHolder sleeper;
  ASSERT_TRUE(WaitFor([&] { return StartTicks(sleeper.pid()) != 0; }, 10));
  RetargetImage(&image, sleeper.pid());
  const std::string file = dir_ / ("tslab-" + std::to_string(sleeper.pid()) + "-1.stats");
  ASSERT_TRUE(WriteHeldRegion(&sleeper, file, image));
  ASSERT_EQ(chown(file.c_str(), 65534, 65534), 0);
  RunResult r = StatsDump(dir_.path(), {"-p", std::to_string(sleeper.pid())});
  EXPECT_EQ(r.code, 7) << r.err;
  EXPECT_NE(r.err.find("not trusted"), std::string::npos) << r.err;
}

TEST_F(StatsDumpTest, GcRemovesDeadAndReusedPidFilesOnly) {
  Demo alive(dir_.path(), "alive", {"--duration", "60", "--pause-ms", "1"});
  ASSERT_TRUE(alive.ready()) << alive.Errors();
  RegionHolder sleeper;
  Process gone({{"/bin/true"}, {}, "", ""});
  ASSERT_EQ(gone.Wait(30), 0);
  ASSERT_TRUE(WaitFor([&] { return StartTicks(sleeper.pid()) != 0; }, 10));
  std::string image = RealRegionImage();
  auto craft = [&](pid_t pid, uint64_t ticks, int id, bool corrupt, bool held) {
    std::string i = image;
    Header(&i)->pid = pid;
    Header(&i)->start_time_ticks = ticks;
    if (corrupt) Header(&i)->magic = 1;
    const std::string path =
        dir_ / ("tslab-" + std::to_string(pid) + "-" + std::to_string(id) + ".stats");
    return held ? WriteHeldRegion(&sleeper, path, i) : WriteFile(path, i);
  };
  const uint64_t ticks = StartTicks(sleeper.pid());
  ASSERT_TRUE(craft(gone.pid(), 1, 1, false, false));             // dead
  ASSERT_TRUE(craft(sleeper.pid(), ticks + 7, 1, false, true));   // reused
  ASSERT_TRUE(craft(sleeper.pid(), ticks, 2, true, true));        // live, corrupt
  ASSERT_TRUE(craft(sleeper.pid(), ticks, 3, false, false));      // planted: not mapped
  // Issue 9, finding 13: entries under a region's name that are not
  // regular files were never removed.
  const std::string prefix = dir_ / ("tslab-" + std::to_string(gone.pid()));
  ASSERT_EQ(symlink("/etc/passwd", (prefix + "-7.stats").c_str()), 0);
  ASSERT_EQ(mkfifo((prefix + "-8.stats").c_str(), 0600), 0);
  ASSERT_EQ(mkdir((prefix + "-9.stats").c_str(), 0700), 0);
  ASSERT_EQ(dir_.Regions().size(), 8u);
  RunResult gc = StatsDump(dir_.path(), {"--gc"});
  ASSERT_EQ(gc.code, 0) << gc.err;
  EXPECT_NE(gc.out.find("removed 6 stale"), std::string::npos) << gc.out;
  std::vector<std::string> left = dir_.Regions();
  ASSERT_EQ(left.size(), 2u) << gc.out;
  EXPECT_EQ(left[0].rfind("tslab-" + std::to_string(alive.pid()) + "-", 0) == 0 ||
                left[1].rfind("tslab-" + std::to_string(alive.pid()) + "-", 0) == 0,
            true);
  EXPECT_TRUE(std::find(left.begin(), left.end(),
                        "tslab-" + std::to_string(sleeper.pid()) + "-2.stats") != left.end())
      << "a live process's corrupt region is not gc's to judge";
  EXPECT_TRUE(std::filesystem::exists("/etc/passwd"));
}

// Issue 9, finding 5b: any file named after a live pid counted as a live
// tslab process (`touch tslab-1-1.stats` made plain stats_dump exit 12
// for everyone, and --gc kept it), and a zero-filled one cost 0.5 s of
// waiting for its magic. A file counts only if its process maps it.
TEST_F(StatsDumpTest, PlantedFilesOfLiveProcessesAreNotTslabProcesses) {
  Demo alive(dir_.path(), "alive", {"--duration", "60", "--pause-ms", "1"});
  ASSERT_TRUE(alive.ready()) << alive.Errors();
  ASSERT_TRUE(WriteFile(dir_ / "tslab-1-1.stats", ""));
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(WriteFile(dir_ / ("tslab-" + std::to_string(getpid()) + "-" +
                                  std::to_string(i) + ".stats"),
                          std::string(8192, '\0')));
  }
  RunResult plain = StatsDump(dir_.path(), {"--json"});
  EXPECT_EQ(plain.code, 0) << plain.err;
  EXPECT_EQ(Json::parse(plain.out)["pid"], alive.pid());
  RunResult list = StatsDump(dir_.path(), {"--list", "--json"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_EQ(Json::parse(list.out).size(), 1u) << list.out;
  RunResult mine = StatsDump(dir_.path(), {"-p", std::to_string(getpid())});
  EXPECT_EQ(mine.code, 10) << mine.err;
  EXPECT_NE(mine.err.find("not mapped by process"), std::string::npos) << mine.err;
  RunResult gc = StatsDump(dir_.path(), {"--gc"});
  EXPECT_NE(gc.out.find("removed 21 stale"), std::string::npos) << gc.out;
  EXPECT_EQ(dir_.Regions().size(), 1u);
}

// Issue 9, finding 9: after exec the region file stayed, and stats_dump
// read the new program (sleep) as a tslab process with the old counters.
TEST_F(StatsDumpTest, AProgramThatExecdIsNoLongerATslabProcess) {
  // tslab-demo --exec-after: allocates, then execs sleep without exiting
  // (its file stays: no exit handler runs across exec).
  ScratchDir io;
  Process p({{BinDir() + "/tslab-demo", "--name", "before-exec", "--duration", "0.2",
              "--pause-ms", "1", "--exec", "/bin/sleep 60"},
             {"TSLAB_STATS_DIR=" + dir_.path()}, io / "out", io / "err"});
  ASSERT_TRUE(WaitFor([&] { return ReadFile("/proc/" + std::to_string(p.pid()) + "/comm") ==
                                   "sleep\n"; }, 30))
      << ReadFile(io / "err");
  ASSERT_EQ(dir_.Regions().size(), 1u) << "the file is left across exec";
  RunResult r = StatsDump(dir_.path(), {"-p", std::to_string(p.pid())});
  EXPECT_EQ(r.code, 10) << r.err;
  EXPECT_NE(r.err.find("exec'd"), std::string::npos) << r.err;
  RunResult plain = StatsDump(dir_.path(), {});
  EXPECT_EQ(plain.code, 11) << plain.err;
  RunResult gc = StatsDump(dir_.path(), {"--gc"});
  EXPECT_NE(gc.out.find("removed 1 stale"), std::string::npos) << gc.out;
  EXPECT_TRUE(dir_.Regions().empty());
}

// Issue 9, finding 3: two containers (PID namespaces, each demo is pid 1
// there) sharing a stats directory deleted each other's live files, the
// host's --gc deleted a live namespaced region, and -p HOSTPID found none.
TEST_F(StatsDumpTest, TwoPidNamespacesShareADirectory) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for unshare --pid";
  if (access("/usr/bin/unshare", X_OK) != 0) GTEST_SKIP() << "no unshare(1)";
  ScratchDir io;
  auto contained = [&](const std::string& name) {
    return std::make_unique<Process>(Process::Spec{
        {"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "--kill-child=TERM",
         BinDir() + "/tslab-demo",
         "--name", name, "--duration", "60", "--pause-ms", "2"},
        {"TSLAB_STATS_DIR=" + dir_.path()}, io / (name + ".out"), io / (name + ".err")});
  };
  auto a = contained("ns-a");
  ASSERT_TRUE(WaitFor([&] { return dir_.Regions().size() == 1; }, 30)) << ReadFile(io / "ns-a.err");
  auto b = contained("ns-b");
  ASSERT_TRUE(WaitFor([&] { return dir_.Regions().size() == 2; }, 30)) << ReadFile(io / "ns-b.err");
  // Both are pid 1 in their namespace: the names say so.
  for (const std::string& f : dir_.Regions()) EXPECT_EQ(f.rfind("tslab-1-1-", 0), 0u) << f;

  RunResult list = StatsDump(dir_.path(), {"--list", "--json"});
  ASSERT_EQ(list.code, 0) << list.err;
  const Json live = Json::parse(list.out);
  ASSERT_EQ(live.size(), 2u) << list.out;
  std::map<std::string, int> host_pid;
  for (const Json& l : live) host_pid[l["allocator_name"].get<std::string>()] = l["pid"].get<int>();
  ASSERT_EQ(host_pid.size(), 2u) << list.out;
  for (const auto& [name, pid] : host_pid) {
    EXPECT_GT(pid, 1) << "the host's pid, not the namespace's";
    EXPECT_EQ(ReadFile("/proc/" + std::to_string(pid) + "/comm"), "tslab-demo\n");
    RunResult one = StatsDump(dir_.path(), {"-p", std::to_string(pid), "--json"});
    ASSERT_EQ(one.code, 0) << one.err;
    EXPECT_EQ(Json::parse(one.out)["allocator_name"], name);
  }
  RunResult gc = StatsDump(dir_.path(), {"--gc"});
  EXPECT_NE(gc.out.find("removed 0 stale"), std::string::npos) << gc.out;
  EXPECT_NE(gc.out.find("kept 2 live"), std::string::npos) << gc.out;
  EXPECT_EQ(dir_.Regions().size(), 2u);
  // The end of one container removes its own file only.
  ASSERT_EQ(kill(host_pid["ns-a"], SIGTERM), 0);
  ASSERT_TRUE(WaitFor([&] { return dir_.Regions().size() == 1; }, 30));
  RunResult rest = StatsDump(dir_.path(), {"--json"});
  ASSERT_EQ(rest.code, 0) << rest.err;
  EXPECT_EQ(Json::parse(rest.out)["allocator_name"], "ns-b");
  kill(host_pid["ns-b"], SIGTERM);
  EXPECT_EQ(a->Wait(30), 0);
  EXPECT_EQ(b->Wait(30), 0);
}

// Issue 9, finding 5c: a non-root first user created /dev/shm/tslab 0700
// and every other user silently lost their stats. Now only root makes the
// shared directory; another user whose default is missing or not usable
// goes to /dev/shm/tslab-<uid>, which readers of the default list too.
// Played in a private mount namespace with its own /dev/shm: the host's
// is untouched.
TEST_F(StatsDumpTest, AnotherUsersPrivateDefaultDirectoryLosesNoStats) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for unshare --mount and two users";
  if (access("/usr/bin/unshare", X_OK) != 0 || access("/usr/bin/setpriv", X_OK) != 0) {
    GTEST_SKIP() << "no unshare(1) or setpriv(1)";
  }
  const std::string script =
      "set -e\n"
      "unset TSLAB_STATS_DIR\n"
      "mount -t tmpfs -o mode=1777 tmpfs /dev/shm\n"
      // The first user (65534) made the default directory, private.
      "mkdir -m 0700 /dev/shm/tslab && chown 65534:65534 /dev/shm/tslab\n"
      "setpriv --reuid=65533 --regid=65533 --clear-groups " + BinDir() +
      "/tslab-demo --name second-user --duration 30 --pause-ms 5 >/dev/null &\n"
      "demo=$!\n"
      "for i in $(seq 300); do ls /dev/shm/tslab-65533/tslab-*.stats >/dev/null 2>&1 && break; "
      "sleep 0.1; done\n"
      "stat -c 'dir %a %u' /dev/shm/tslab-65533\n"
      "echo \"list $(" + BinDir() + "/stats_dump --list --json)\"\n"
      "echo \"one $(" + BinDir() + "/stats_dump -p $demo --json)\"\n"
      "echo \"pid $demo\"\n"
      "kill $demo; wait $demo || true\n"
      "echo \"gc $(" + BinDir() + "/stats_dump --gc)\"\n";
  RunResult r = tslab::tool_test::Run({"/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                     script},
                    {}, 60);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("dir 700 65533"), std::string::npos) << r.out << r.err;
  std::map<std::string, std::string> lines;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) lines[l.substr(0, l.find(' '))] = l.substr(l.find(' ') + 1);
  const Json list = Json::parse(lines["list"]);
  ASSERT_EQ(list.size(), 1u) << r.out;
  EXPECT_EQ(list[0]["allocator_name"], "second-user");
  EXPECT_EQ(std::to_string(list[0]["pid"].get<int>()), lines["pid"]);
  EXPECT_EQ(Json::parse(lines["one"])["allocator_name"], "second-user");
  EXPECT_NE(lines["gc"].find("removed 0 stale"), std::string::npos) << r.out;
}

}  // namespace
