// Epoch labels and domain refcounts: the truncation and the sequence lock
// (pure logic), the C/C++ API, the reopen that clears both, the snapshot
// of a region with and without labels, stats_dump's view of them (JSON,
// text, a hostile label), and the torn-read test: a label rewritten in a
// loop by one thread while snapshots (in this process) and stats_dump
// (another process) read it never shows a mixed or unterminated string.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "src/allocator/epoch_label.h"
#include "tests/test_util.h"
#include "tests/tool_test_util.h"
#include "tools/stats_dump/label_text.h"
#include "tslab/tslab.h"
#include "tslab/tslab.hpp"

namespace {

using tslab::internal::ReadLabel;
using tslab::internal::TruncateLabel;
using tslab::internal::WriteLabel;
using tslab::stats_dump::CleanLabel;
using tslab::stats_dump::EpochName;
using tslab::stats_dump::GroupedCount;
using tslab::test::MakeAllocator;
using namespace tslab::tool_test;  // NOLINT: test helpers

std::string Truncated(const char* in) {
  char out[TSLAB_EPOCH_LABEL_MAX];
  TruncateLabel(in, out);
  EXPECT_EQ(out[TSLAB_EPOCH_LABEL_MAX - 1], '\0');
  return out;
}

TEST(EpochLabelText, TruncatesToThirtyOneBytesOnACharacterBoundary) {
  EXPECT_EQ(Truncated(nullptr), "");
  EXPECT_EQ(Truncated(""), "");
  EXPECT_EQ(Truncated("request:checkout"), "request:checkout");
  const std::string a31(31, 'a');
  EXPECT_EQ(Truncated(a31.c_str()), a31);
  EXPECT_EQ(Truncated((a31 + "bcd").c_str()), a31);
  // "é" is two bytes: 30 'a' + "é" would end at byte 32, so it goes whole.
  const std::string a30(30, 'a');
  EXPECT_EQ(Truncated((a30 + "\xC3\xA9").c_str()), a30);
  // A four-byte character cut after its first byte, and after its third.
  EXPECT_EQ(Truncated((a30 + "\xF0\x9F\x98\x80").c_str()), a30);
  const std::string a28(28, 'a');
  EXPECT_EQ(Truncated((a28 + "\xF0\x9F\x98\x80").c_str()), a28);
  // Fits exactly: kept.
  const std::string a27(27, 'a');
  EXPECT_EQ(Truncated((a27 + "\xF0\x9F\x98\x80").c_str()),
            a27 + "\xF0\x9F\x98\x80");
}

TEST(EpochLabelSeqlock, ReadsWhatWasWrittenAndPadsWithNuls) {
  TslabRegionLabel l{};
  char buf[TSLAB_EPOCH_LABEL_MAX];
  char out[TSLAB_EPOCH_LABEL_MAX];
  EXPECT_TRUE(ReadLabel(l, out));
  EXPECT_STREQ(out, "");
  TruncateLabel("a long label that is long", buf);
  WriteLabel(l, buf);
  TruncateLabel("short", buf);
  WriteLabel(l, buf);
  EXPECT_EQ(l.seq, 4u);
  ASSERT_TRUE(ReadLabel(l, out));
  EXPECT_STREQ(out, "short");
  for (size_t i = 5; i < sizeof(out); ++i) EXPECT_EQ(out[i], '\0') << i;
}

TEST(EpochLabelSeqlock, AWriterStuckMidWriteGivesAnEmptyLabel) {
  TslabRegionLabel l{};
  std::memcpy(l.text, "half-written", 12);
  l.seq = 7;  // odd: a write that never ends (a writer killed mid-write)
  char out[TSLAB_EPOCH_LABEL_MAX];
  std::memset(out, 'x', sizeof(out));
  EXPECT_FALSE(ReadLabel(l, out));
  EXPECT_STREQ(out, "");
}

TEST(EpochLabelSeqlock, AnUnterminatedLabelIsRefused) {
  TslabRegionLabel l{};
  std::memset(l.text, 'z', sizeof(l.text));  // no NUL: a corrupt region
  char out[TSLAB_EPOCH_LABEL_MAX];
  EXPECT_FALSE(ReadLabel(l, out));
  EXPECT_STREQ(out, "");
}

TEST(EpochLabelShown, CleanLabelKeepsUtf8AndReplacesEverythingElse) {
  EXPECT_EQ(CleanLabel("request:checkout", 32), "request:checkout");
  EXPECT_EQ(CleanLabel("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 32),
            "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(CleanLabel("a\xFF" "b", 32), "a" + fffd + "b");
  EXPECT_EQ(CleanLabel("\xC3", 32), fffd);              // cut short
  EXPECT_EQ(CleanLabel("\xC0\xAF", 32), fffd + fffd);   // overlong
  EXPECT_EQ(CleanLabel("\xED\xA0\x80", 32), fffd + fffd + fffd);  // surrogate
  EXPECT_EQ(CleanLabel("\x1B[31mred\x7F", 32), fffd + "[31mred" + fffd);
  EXPECT_EQ(CleanLabel("abcdef", 3), "abc");  // bounded: no NUL needed
  EXPECT_EQ(CleanLabel(nullptr, 32), "");
  EXPECT_EQ(EpochName(7, "request:checkout", 32), "epoch 7 `request:checkout`");
  EXPECT_EQ(EpochName(3, "", 32), "epoch 3");
  EXPECT_EQ(GroupedCount(0), "0");
  EXPECT_EQ(GroupedCount(999), "999");
  EXPECT_EQ(GroupedCount(1764), "1,764");
  EXPECT_EQ(GroupedCount(12345678), "12,345,678");
}

std::string LabelOf(tslab_allocator* a, tslab_epoch_id e) {
  TslabEpochStats es;
  EXPECT_EQ(tslab_stats_epoch(a, e, &es), TSLAB_OK);
  return es.label;
}

uint64_t RefcountOf(tslab_allocator* a, tslab_epoch_id e) {
  TslabEpochStats es;
  EXPECT_EQ(tslab_stats_epoch(a, e, &es), TSLAB_OK);
  return es.refcount;
}

TEST(EpochLabelApi, SetGetTruncateClearAndReopen) {
  auto a = MakeAllocator();
  ASSERT_NE(a, nullptr);
  const tslab_epoch_id e = tslab_epoch_current(a.get());
  EXPECT_EQ(LabelOf(a.get(), e), "");
  EXPECT_EQ(tslab_epoch_set_label(a.get(), e, "request:checkout"), TSLAB_OK);
  EXPECT_EQ(LabelOf(a.get(), e), "request:checkout");
  char buf[8];
  EXPECT_EQ(tslab_epoch_get_label(a.get(), e, buf, sizeof(buf)), TSLAB_OK);
  EXPECT_STREQ(buf, "request");  // cut to the caller's buffer
  EXPECT_EQ(tslab_epoch_set_label(a.get(), e, std::string(40, 'x').c_str()),
            TSLAB_OK);
  EXPECT_EQ(LabelOf(a.get(), e), std::string(31, 'x'));
  EXPECT_EQ(tslab_epoch_set_label(a.get(), e, nullptr), TSLAB_OK);
  EXPECT_EQ(LabelOf(a.get(), e), "");
  // Bad arguments: refused, nothing changed.
  EXPECT_EQ(tslab_epoch_set_label(a.get(), 16, "x"), TSLAB_E_EPOCH_RANGE);
  EXPECT_EQ(tslab_epoch_set_label(nullptr, 0, "x"), TSLAB_E_INVALID_ARG);
  EXPECT_EQ(tslab_epoch_get_label(a.get(), 0, nullptr, 4), TSLAB_E_INVALID_ARG);

  // A label belongs to one life of the slot: closing keeps it, the ring's
  // reopen clears it.
  const tslab_epoch_id next = tslab_epoch_advance(a.get());
  EXPECT_EQ(tslab_epoch_set_label(a.get(), next, "batch:1"), TSLAB_OK);
  EXPECT_EQ(tslab_epoch_close(a.get(), next), TSLAB_OK);
  EXPECT_EQ(LabelOf(a.get(), next), "batch:1");
  for (int i = 0; i < TSLAB_NUM_EPOCHS; ++i) (void)tslab_epoch_advance(a.get());
  EXPECT_EQ(tslab_epoch_current(a.get()), next);
  EXPECT_EQ(LabelOf(a.get(), next), "");
}

TEST(EpochLabelApi, CppAllocatorAndDomainSetLabels) {
  tslab::Allocator a{tslab::Options().RegionOff()};
  ASSERT_TRUE(a.ok());
  const tslab::EpochId e = a.AdvanceEpoch();
  EXPECT_EQ(a.SetEpochLabel(e, "phase:load"), tslab::Status::kOk);
  EXPECT_EQ(LabelOf(a.raw(), e), "phase:load");
  tslab::Domain d = a.NewDomain(/*auto_close=*/true);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.SetLabel("request:42"), tslab::Status::kOk);
  EXPECT_EQ(LabelOf(a.raw(), d.epoch()), "request:42");
}

TEST(EpochRefcount, CountsDomainsInsideAScopeNotNesting) {
  auto a = MakeAllocator();
  ASSERT_NE(a, nullptr);
  const tslab_epoch_id e = tslab_epoch_advance(a.get());
  tslab_domain* d1 = tslab_domain_wrap(a.get(), e, false);
  tslab_domain* d2 = tslab_domain_wrap(a.get(), e, false);
  ASSERT_NE(d1, nullptr);
  ASSERT_NE(d2, nullptr);
  EXPECT_EQ(RefcountOf(a.get(), e), 0u);
  ASSERT_EQ(tslab_domain_enter(d1), TSLAB_OK);
  ASSERT_EQ(tslab_domain_enter(d1), TSLAB_OK);  // nested: still one domain
  EXPECT_EQ(RefcountOf(a.get(), e), 1u);
  ASSERT_EQ(tslab_domain_enter(d2), TSLAB_OK);
  EXPECT_EQ(RefcountOf(a.get(), e), 2u);
  ASSERT_EQ(tslab_domain_exit(d1), TSLAB_OK);
  EXPECT_EQ(RefcountOf(a.get(), e), 2u);
  ASSERT_EQ(tslab_domain_exit(d1), TSLAB_OK);
  EXPECT_EQ(RefcountOf(a.get(), e), 1u);
  EXPECT_EQ(tslab_domain_exit(d1), TSLAB_E_INVALID_ARG);  // no enter left
  EXPECT_EQ(RefcountOf(a.get(), e), 1u);

  // A reopen starts a new life at 0; the old life's scope exiting later
  // does not touch the new life's count.
  ASSERT_EQ(tslab_epoch_close(a.get(), e), TSLAB_OK);
  void* p = tslab_malloc(a.get(), 64, e);
  EXPECT_EQ(p, nullptr);  // closed
  for (int i = 0; i < TSLAB_NUM_EPOCHS; ++i) (void)tslab_epoch_advance(a.get());
  ASSERT_EQ(tslab_epoch_current(a.get()), e);
  EXPECT_EQ(RefcountOf(a.get(), e), 0u);
  tslab_domain* d3 = tslab_domain_create(a.get(), false);
  ASSERT_EQ(tslab_domain_enter(d3), TSLAB_OK);
  EXPECT_EQ(RefcountOf(a.get(), e), 1u);
  ASSERT_EQ(tslab_domain_exit(d2), TSLAB_OK);  // the old life's scope
  EXPECT_EQ(RefcountOf(a.get(), e), 1u);
  ASSERT_EQ(tslab_domain_exit(d3), TSLAB_OK);
  EXPECT_EQ(RefcountOf(a.get(), e), 0u);
  // A stale domain may not label the new life.
  EXPECT_EQ(tslab_domain_set_label(d1, "old"), TSLAB_E_STALE_DOMAIN);
  EXPECT_EQ(LabelOf(a.get(), e), "");
  tslab_domain_destroy(d1);
  tslab_domain_destroy(d2);
  tslab_domain_destroy(d3);
}

// The region's label section: absent (0) in a region that predates it,
// refused when it points outside the region.
TEST(EpochLabelRegion, OptionalSectionAndItsBoundsAreChecked) {
  auto a = MakeAllocator();
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(tslab_epoch_set_label(a.get(), 0, "request:checkout"), TSLAB_OK);
  const size_t size = tslab_region_size();
  std::vector<uint64_t> image(size / 8);
  std::memcpy(image.data(), tslab_region_base(a.get()), size);
  auto* h = reinterpret_cast<TslabRegionHeader*>(image.data());
  TslabSnapshot s;
  ASSERT_EQ(tslab_region_snapshot(image.data(), size, 0, &s), TSLAB_OK);
  EXPECT_STREQ(s.epochs[0].label, "request:checkout");
  const uint64_t off = h->off_labels;
  ASSERT_NE(off, 0u);
  h->off_labels = 0;  // an older writer: no labels, not an error
  ASSERT_EQ(tslab_region_snapshot(image.data(), size, 0, &s), TSLAB_OK);
  EXPECT_STREQ(s.epochs[0].label, "");
  h->off_labels = h->region_size - 64;  // the section would run past the end
  EXPECT_EQ(tslab_region_snapshot(image.data(), size, 0, &s),
            TSLAB_E_REGION_CORRUPT);
  h->off_labels = h->off_epochs;  // over other sections
  EXPECT_EQ(tslab_region_snapshot(image.data(), size, 0, &s),
            TSLAB_E_REGION_CORRUPT);
  h->off_labels = off + 4;  // misaligned
  EXPECT_EQ(tslab_region_snapshot(image.data(), size, 0, &s),
            TSLAB_E_REGION_CORRUPT);
}

// Two labels of different lengths, so that a torn read would show a mix
// (a prefix of one and the rest of the other) or lose its terminator.
const std::string kLong = "request:checkout-0123456789abcde";  // 31 bytes
const std::string kShort = "gc";

bool IsWhole(const std::string& l) {
  return l.empty() || l == kLong.substr(0, 31) || l == kShort;
}

TEST(EpochLabelTorn, SnapshotsWhileAThreadRewritesTheLabel) {
  auto a = MakeAllocator();
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(kLong.size(), 32u);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> writes{0};
  std::thread writer([&] {
    for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      (void)tslab_epoch_set_label(a.get(), 0, i % 2 ? kLong.c_str() : kShort.c_str());
      writes.fetch_add(1, std::memory_order_relaxed);
    }
  });
  std::set<std::string> seen;
  const void* base = tslab_region_base(a.get());
  for (int i = 0; i < 20000; ++i) {
    TslabSnapshot s;
    ASSERT_EQ(tslab_region_snapshot(base, tslab_region_size(), 0, &s), TSLAB_OK);
    ASSERT_NE(std::memchr(s.epochs[0].label, '\0', TSLAB_EPOCH_LABEL_MAX), nullptr);
    const std::string l = s.epochs[0].label;
    ASSERT_TRUE(IsWhole(l)) << "torn label: '" << l << "'";
    seen.insert(l);
  }
  stop.store(true);
  writer.join();
  EXPECT_GT(writes.load(), 0u);
  EXPECT_TRUE(seen.count(kShort) || seen.count(kLong.substr(0, 31)));
}

// stats_dump, another process, maps the region file and reads the label
// while this process rewrites it.
TEST(EpochLabelTorn, StatsDumpWhileAThreadRewritesTheLabel) {
  ScratchDir dir;
  tslab_options o;
  tslab_options_init(&o);
  o.stats_dir = dir.path().c_str();
  o.name = "labels";
  tslab::test::AllocatorPtr a(tslab_create(&o));
  ASSERT_NE(a, nullptr);
  ASSERT_STRNE(tslab_region_path(a.get()), "");
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      (void)tslab_epoch_set_label(a.get(), 0, i % 2 ? kLong.c_str() : kShort.c_str());
    }
  });
  std::set<std::string> seen;
  for (int run = 0; run < 5; ++run) {
    RunResult r = StatsDump(dir.path(), {"--json", "--interval", "0.001", "--count",
                                         "200", "-p", std::to_string(getpid())});
    ASSERT_EQ(r.code, 0) << r.err;
    for (const Json& j : JsonLines(r.out)) {
      const std::string l = j["epochs"][0]["label"].get<std::string>();
      ASSERT_TRUE(IsWhole(l)) << "torn label: '" << l << "'";
      seen.insert(l);
    }
  }
  stop.store(true);
  writer.join();
  EXPECT_FALSE(seen.empty());
  // Once the writer stopped: the last label, in JSON and in the text view.
  ASSERT_EQ(tslab_epoch_set_label(a.get(), 0, "request:checkout"), TSLAB_OK);
  RunResult r = StatsDump(dir.path(), {"-p", std::to_string(getpid())});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(JsonLines(r.out).at(0)["epochs"][0]["label"], "request:checkout");
  EXPECT_NE(r.err.find("request:checkout"), std::string::npos) << r.err;
}

// A label with bytes that are not UTF-8 and control characters: the JSON
// stays valid (nlohmann would throw on the raw bytes) and shows U+FFFD.
TEST(EpochLabelShown, HostileLabelInStatsDump) {
  ScratchDir dir;
  tslab_options o;
  tslab_options_init(&o);
  o.stats_dir = dir.path().c_str();
  tslab::test::AllocatorPtr a(tslab_create(&o));
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(tslab_epoch_set_label(a.get(), 0, "bad\xFF\x1B[2J"), TSLAB_OK);
  RunResult r = StatsDump(dir.path(), {"-p", std::to_string(getpid())});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(JsonLines(r.out).at(0)["epochs"][0]["label"],
            "bad\xEF\xBF\xBD\xEF\xBF\xBD[2J");
  EXPECT_EQ(r.err.find('\x1B'), std::string::npos) << "an escape reached the terminal";
}

}  // namespace
