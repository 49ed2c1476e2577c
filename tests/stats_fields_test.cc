// The counter lists (tslab/stats.h, tslab/stats_region.h) against what is
// derived from them and what must be kept in step by hand:
//   - stats_dump's JSON: every listed member, in list order, with the
//     field's value and JSON number kind, and nothing else;
//   - tslab_region_snapshot on a crafted region: every COPY field and
//     every shard field lands in its snapshot field, every total is the
//     sum its list entry says;
//   - docs/counters.md and docs/stats_dump.md, which are text: their field
//     tables name exactly the listed fields; docs/probes.md names only
//     listed counters.
// No process is started: the JSON comes from the tool's own function.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/stats_fields.h"
#include "tools/stats_dump/snapshot_json.h"
#include "tslab/stats_region.h"
#include "tslab/tslab.h"

namespace tslab::test {
namespace {

using Json = nlohmann::ordered_json;

bool JsonOrStruct(const FieldInfo& f) {
  return f.role == FieldRole::kSpec || f.role == FieldRole::kAdd;
}
bool IsSpec(const FieldInfo& f) { return f.role == FieldRole::kSpec; }
bool IsAdd(const FieldInfo& f) { return f.role == FieldRole::kAdd; }

std::vector<std::string> Keys(const Json& j) {
  std::vector<std::string> k;
  for (const auto& [key, value] : j.items()) k.push_back(key);
  return k;
}

std::vector<std::string> Concat(std::vector<std::string> a,
                                const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Each struct field of obj gets a value of its own (base + its index;
// doubles get a fraction so that they stay JSON floats).
void FillDistinct(void* obj, const std::vector<FieldInfo>& fields,
                  double base) {
  double i = 0;
  for (const FieldInfo& f : fields) {
    if (!f.InStruct() || f.role == FieldRole::kPad) continue;
    SetFieldValue(obj, f, base + ++i + (f.IsFloat() ? 0.25 : 0.0));
  }
}

// Every struct field that the JSON shows, in object j, with its value and
// its JSON kind.
void ExpectMembers(const Json& j, const void* obj,
                   const std::vector<FieldInfo>& fields,
                   const std::string& where) {
  for (const FieldInfo& f : fields) {
    if (!JsonOrStruct(f)) continue;
    const std::string k(f.name);
    SCOPED_TRACE(where + "." + k);
    ASSERT_TRUE(j.contains(k));
    if (k == "state" && j[k].is_string()) continue;  // epochs: its name
    EXPECT_EQ(j[k].get<double>(), FieldValue(obj, f));
    if (f.IsFloat()) {
      EXPECT_TRUE(j[k].is_number_float());
    } else if (f.IsSigned()) {
      EXPECT_TRUE(j[k].is_number_integer());
    } else {
      EXPECT_TRUE(j[k].is_number_unsigned());
    }
  }
}

TEST(StatsFieldLists, JsonHasEveryListedMemberInListOrderWithItsValue) {
  stats_dump::Sample s;
  FillDistinct(&s.snap.global, GlobalFields(), 1000);
  for (int c = 0; c < TSLAB_NUM_CLASSES; ++c) {
    FillDistinct(&s.snap.classes[c], ClassFields(), 10000.0 * (c + 1));
  }
  for (int e = 0; e < TSLAB_NUM_EPOCHS; ++e) {
    FillDistinct(&s.snap.epochs[e], EpochFields(), 1000000.0 * (e + 1));
    s.snap.epochs[e].state = static_cast<uint32_t>(e % 4);
    std::snprintf(s.snap.epochs[e].label, sizeof(s.snap.epochs[e].label),
                  "request:%d", e);
  }
  s.snap.pid = 4242;
  s.snap.page_size = 16384;
  s.timestamp_ns = 1770486521361625486ull;
  s.rss_bytes = 1441792;
  stats_dump::RegionIdentity id;
  id.allocator_id = 7;
  id.name = "fields";
  const Json j = stats_dump::SnapshotJson(s, id);

  // The spec's part (META and SPEC entries), the classes, then tslab's
  // additions: identity, ADD entries, epochs.
  const auto meta_or_spec = [](const FieldInfo& f) {
    return f.role == FieldRole::kMeta || f.role == FieldRole::kSpec;
  };
  EXPECT_EQ(Keys(j),
            Concat(Concat(FieldNames(GlobalFields(), meta_or_spec),
                          {"classes", "allocator_id", "allocator_name"}),
                   Concat(FieldNames(GlobalFields(), IsAdd), {"epochs"})));
  ExpectMembers(j, &s.snap.global, GlobalFields(), "top");
  // The META members' values: the sample's, not SlabGlobalStats fields.
  const std::map<std::string, double> meta = {
      {"schema_version", 1},
      {"timestamp_ns", static_cast<double>(s.timestamp_ns)},
      {"pid", s.snap.pid},
      {"page_size", static_cast<double>(s.snap.page_size)},
      {"epoch_count", s.snap.global.epoch_count},
      {"rss_bytes_current", static_cast<double>(s.rss_bytes)}};
  for (const FieldInfo& f : GlobalFields()) {
    if (f.role != FieldRole::kMeta) continue;
    const std::string k(f.name);
    ASSERT_TRUE(meta.count(k)) << "META member " << k << ": expected value?";
    EXPECT_EQ(j.at(k).get<double>(), meta.at(k)) << k;
    EXPECT_TRUE(j.at(k).is_number_integer()) << k;
    EXPECT_EQ(j.at(k).is_number_unsigned(), !f.IsSigned()) << k;
  }
  EXPECT_EQ(j["allocator_id"], 7u);
  EXPECT_EQ(j["allocator_name"], "fields");

  ASSERT_EQ(j["classes"].size(), size_t{TSLAB_NUM_CLASSES});
  for (int c = 0; c < TSLAB_NUM_CLASSES; ++c) {
    const Json& cj = j["classes"][c];
    EXPECT_EQ(Keys(cj), Concat(FieldNames(ClassFields(), IsSpec),
                               FieldNames(ClassFields(), IsAdd)));
    ExpectMembers(cj, &s.snap.classes[c], ClassFields(),
                  "classes[" + std::to_string(c) + "]");
  }
  ASSERT_EQ(j["epochs"].size(), size_t{TSLAB_NUM_EPOCHS});
  for (int e = 0; e < TSLAB_NUM_EPOCHS; ++e) {
    const Json& ej = j["epochs"][e];
    EXPECT_EQ(Keys(ej), Concat(FieldNames(EpochFields(), IsAdd),
                               {std::string(kEpochLabelField)}));
    EXPECT_EQ(ej[std::string(kEpochLabelField)],
              "request:" + std::to_string(e));
    ExpectMembers(ej, &s.snap.epochs[e], EpochFields(),
                  "epochs[" + std::to_string(e) + "]");
    EXPECT_EQ(ej["state"], stats_dump::EpochStateName(e % 4));
  }
}

// A region of the current layout, every listed field a value of its own.
class CraftedRegion {
 public:
  CraftedRegion() : words_(tslab_region_size() / 8, 0) {
    auto& h = *reinterpret_cast<TslabRegionHeader*>(words_.data());
    h.layout_version = TSLAB_REGION_LAYOUT_VERSION;
    h.header_size = sizeof(TslabRegionHeader);
    h.region_size = tslab_region_size();
    h.pid = 1;
    h.page_size = 4096;
    h.epoch_count = TSLAB_NUM_EPOCHS;
    h.class_count = TSLAB_NUM_CLASSES;
    h.shard_count = TSLAB_REGION_SHARDS;
    h.state = TSLAB_REGION_STATE_LIVE;
    h.cache_capacity = 32;
    h.purge_delay_ms = 1234;
    h.off_global = sizeof(TslabRegionHeader);
    h.off_classes = h.off_global + sizeof(TslabRegionGlobal);
    h.off_epochs = h.off_classes + sizeof(TslabRegionClass) * TSLAB_NUM_CLASSES;
    h.off_shards = (h.off_epochs + sizeof(TslabRegionEpoch) * TSLAB_NUM_EPOCHS +
                    63) / 64 * 64;
    for (int c = 0; c < TSLAB_NUM_CLASSES; ++c) {
      h.object_size[c] = tslab_class_size(static_cast<uint32_t>(c));
      h.objects_per_slab[c] = 5;
    }
    h.magic = TSLAB_REGION_MAGIC;
    Fill(h.off_global, RegionGlobalFields(), 100);
    for (int c = 0; c < TSLAB_NUM_CLASSES; ++c) {
      Fill(h.off_classes + sizeof(TslabRegionClass) * c, RegionClassFields(),
           1000 * (c + 1));
    }
    for (int e = 0; e < TSLAB_NUM_EPOCHS; ++e) {
      Fill(h.off_epochs + sizeof(TslabRegionEpoch) * e, RegionEpochFields(),
           100000 * (e + 1));
    }
    for (int i = 0; i < TSLAB_REGION_SHARDS; ++i) {
      for (int c = 0; c < TSLAB_NUM_CLASSES; ++c) {
        const size_t at = h.off_shards + sizeof(TslabRegionShard) * i +
                          offsetof(TslabRegionShard, cls) +
                          sizeof(TslabRegionShardClass) * c;
        for (const ShardFieldInfo& f : RegionShardClassFields()) {
          Word(at + f.offset) = ShardValue(i, c, f);
        }
      }
    }
  }

  // What the crafted shard i holds in field f of class c.
  static uint64_t ShardValue(int i, int c, const ShardFieldInfo& f) {
    return 1 + i * 1000 + c * 100 + f.offset / 8;
  }
  // What Fill wrote to the field at `offset` of a section based at `base`.
  static uint64_t Value(uint64_t base, size_t offset) {
    return base + offset / 8 + 1;
  }

  const void* data() const { return words_.data(); }
  size_t size() const { return words_.size() * 8; }

 private:
  uint64_t& Word(size_t byte_offset) { return words_[byte_offset / 8]; }
  void Fill(size_t at, const std::vector<RegionFieldInfo>& fields,
            uint64_t base) {
    for (const RegionFieldInfo& f : fields) {
      Word(at + f.offset) = Value(base, f.offset);
    }
  }

  std::vector<uint64_t> words_;
};

// Every COPY field of a region section is in its snapshot struct under
// its name, with its value.
void ExpectCopied(const std::vector<RegionFieldInfo>& region,
                  const std::vector<FieldInfo>& fields, const void* obj,
                  uint64_t base, const std::string& where) {
  for (const RegionFieldInfo& r : region) {
    if (!r.copied) continue;
    SCOPED_TRACE(where + "." + std::string(r.name));
    const FieldInfo* f = FindField(fields, r.name);
    ASSERT_NE(f, nullptr) << "COPY field without a snapshot field";
    EXPECT_EQ(FieldValue(obj, *f),
              static_cast<double>(CraftedRegion::Value(base, r.offset)));
  }
}

TEST(StatsFieldLists, SnapshotCopiesAndSumsWhatTheListsSay) {
  CraftedRegion region;
  TslabSnapshot s;
  ASSERT_EQ(tslab_region_snapshot(region.data(), region.size(), 1, &s),
            TSLAB_OK);
  ExpectCopied(RegionGlobalFields(), GlobalFields(), &s.global, 100,
               "global");
  for (int c = 0; c < TSLAB_NUM_CLASSES; ++c) {
    const std::string where = "classes[" + std::to_string(c) + "]";
    ExpectCopied(RegionClassFields(), ClassFields(), &s.classes[c],
                 1000 * (c + 1), where);
    for (const ShardFieldInfo& f : RegionShardClassFields()) {
      SCOPED_TRACE(where + " shard field " + std::string(f.name));
      const FieldInfo* dst = FindField(ClassFields(), f.class_field);
      ASSERT_NE(dst, nullptr);
      uint64_t sum = 0;
      for (int i = 0; i < TSLAB_REGION_SHARDS; ++i) {
        sum += CraftedRegion::ShardValue(i, c, f);
      }
      EXPECT_EQ(FieldValue(&s.classes[c], *dst), static_cast<double>(sum));
    }
  }
  for (int e = 0; e < TSLAB_NUM_EPOCHS; ++e) {
    ExpectCopied(RegionEpochFields(), EpochFields(), &s.epochs[e],
                 100000 * (e + 1), "epochs[" + std::to_string(e) + "]");
  }
  for (const SumInfo& sum : GlobalSums()) {
    const FieldInfo* g = FindField(GlobalFields(), sum.global_field);
    const FieldInfo* c = FindField(ClassFields(), sum.class_field);
    ASSERT_NE(g, nullptr) << sum.global_field;
    ASSERT_NE(c, nullptr) << sum.class_field;
    double want = 0;
    for (const SlabClassStats& k : s.classes) want += FieldValue(&k, *c);
    EXPECT_EQ(FieldValue(&s.global, *g), want) << sum.global_field;
  }
  EXPECT_EQ(s.global.purge_delay_ms, 1234u);
}

// "Every total_* equals the sum of its per-class field" (tslab/stats.h):
// the sums list has every total.
TEST(StatsFieldLists, EveryTotalHasItsSumsEntry) {
  std::set<std::string> summed;
  for (const SumInfo& s : GlobalSums()) summed.emplace(s.global_field);
  for (const FieldInfo& f : GlobalFields()) {
    if (f.InStruct() && f.name.substr(0, 6) == "total_") {
      EXPECT_TRUE(summed.count(std::string(f.name)))
          << f.name << ": not in TSLAB_GLOBAL_SUMS";
    }
  }
}

std::string ReadDoc(const std::string& rel) {
  std::ifstream in(std::string(TSLAB_SOURCE_DIR) + "/" + rel);
  EXPECT_TRUE(in) << rel;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The `lower_case` names in text (field names; `IDLE` and `a - b` are
// not). A scan rather than std::regex, which GCC 12's sanitizer builds
// warn about (-Wmaybe-uninitialized inside <regex>).
std::set<std::string> CodeNames(const std::string& text) {
  std::set<std::string> out;
  for (size_t open = text.find('`'); open != std::string::npos;) {
    const size_t close = text.find('`', open + 1);
    if (close == std::string::npos) break;
    const std::string code = text.substr(open + 1, close - open - 1);
    bool name = !code.empty() && code[0] >= 'a' && code[0] <= 'z';
    for (char ch : code) {
      name = name && ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                      ch == '_');
    }
    if (name) out.insert(code);
    open = text.find('`', close + 1);
  }
  return out;
}

// Column `col` (0-based) of a table row "| a | b | c |".
std::string Column(const std::string& row, int col) {
  size_t at = 0;
  for (int i = 0; i <= col; ++i) at = row.find('|', at) + 1;
  return row.substr(at, row.find('|', at) - at);
}

// The names in the first column of the table rows of the section that
// starts with `heading` (up to the next "## ").
std::set<std::string> FirstColumnNames(const std::string& doc,
                                       const std::string& heading) {
  const size_t start = doc.find("\n" + heading);
  EXPECT_NE(start, std::string::npos) << heading;
  if (start == std::string::npos) return {};
  const size_t end = doc.find("\n## ", start + 1);
  std::istringstream in(doc.substr(start, end - start));
  std::set<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    for (const std::string& n : CodeNames(Column(line, 0))) out.insert(n);
  }
  return out;
}

// The struct fields docs/counters.md explains: all but padding.
std::set<std::string> Documented(const std::vector<FieldInfo>& fields) {
  std::set<std::string> out;
  for (const FieldInfo& f : fields) {
    if (f.InStruct() && f.role != FieldRole::kPad) out.emplace(f.name);
  }
  return out;
}

// The doc's names and the list's, each difference named.
void ExpectSameNames(const std::set<std::string>& doc,
                     const std::set<std::string>& list,
                     const std::string& where) {
  for (const std::string& n : list) {
    EXPECT_TRUE(doc.count(n)) << where << ": no `" << n << "`";
  }
  for (const std::string& n : doc) {
    EXPECT_TRUE(list.count(n)) << where << ": `" << n
                               << "` is not in the field list";
  }
}

TEST(StatsFieldDocs, CountersMdHasARowForEveryFieldAndNoOther) {
  const std::string doc = ReadDoc("docs/counters.md");
  ExpectSameNames(FirstColumnNames(doc, "## Global fields"),
                  Documented(GlobalFields()), "counters.md, global fields");
  ExpectSameNames(FirstColumnNames(doc, "## Per-class fields"),
                  Documented(ClassFields()), "counters.md, per-class fields");
  std::set<std::string> epoch_fields = Documented(EpochFields());
  epoch_fields.emplace(kEpochLabelField);
  ExpectSameNames(FirstColumnNames(doc, "## Per-epoch fields"), epoch_fields,
                  "counters.md, per-epoch fields");
}

// docs/stats_dump.md's table of additive members: "top" rows name the
// global ADD fields (and the identity and epochs members), "class" rows
// the class ADD fields, the epochs row the epoch ADD fields.
TEST(StatsFieldDocs, StatsDumpMdListsEveryAdditiveMember) {
  const std::string doc = ReadDoc("docs/stats_dump.md");
  std::set<std::string> top, cls, epoch;
  std::istringstream in(doc);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| top |", 0) == 0) {
      for (const std::string& n : CodeNames(Column(line, 1))) top.insert(n);
      if (Column(line, 1).find("`epochs`") != std::string::npos) {
        epoch = CodeNames(Column(line, 2));
      }
    } else if (line.rfind("| class |", 0) == 0) {
      for (const std::string& n : CodeNames(Column(line, 1))) cls.insert(n);
    }
  }
  std::set<std::string> want_top = {"allocator_id", "allocator_name",
                                    "epochs"};
  for (const std::string& n : FieldNames(GlobalFields(), IsAdd)) {
    want_top.insert(n);
  }
  ExpectSameNames(top, want_top, "stats_dump.md, additive top rows");
  const auto add_class = FieldNames(ClassFields(), IsAdd);
  ExpectSameNames(cls, {add_class.begin(), add_class.end()},
                  "stats_dump.md, additive class rows");
  auto add_epoch = FieldNames(EpochFields(), IsAdd);
  add_epoch.emplace_back(kEpochLabelField);
  ExpectSameNames(epoch, {add_epoch.begin(), add_epoch.end()},
                  "stats_dump.md, the epochs row");
}

// docs/probes.md's "Counter it matches" column names counters (and the
// probe's own arguments): each counter must be a field of SlabGlobalStats
// or SlabClassStats.
TEST(StatsFieldDocs, ProbesMdMatchesRealCounters) {
  const std::string doc = ReadDoc("docs/probes.md");
  std::istringstream in(doc);
  int rows = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| `tslab:", 0) != 0) continue;
    ++rows;
    const std::set<std::string> args = CodeNames(Column(line, 1));
    for (const std::string& n : CodeNames(Column(line, 3))) {
      if (args.count(n)) continue;
      EXPECT_TRUE(FindField(GlobalFields(), n) != nullptr ||
                  FindField(ClassFields(), n) != nullptr)
          << "probes.md: `" << n << "` is no counter (" << line.substr(0, 40)
          << "...)";
    }
  }
  EXPECT_GT(rows, 0);
}

}  // namespace
}  // namespace tslab::test
