#include "tools/stats_dump/snapshot_json.h"

#include "tools/stats_dump/label_text.h"

namespace tslab::stats_dump {
namespace {

using Json = nlohmann::ordered_json;

// The members come from the field lists of tslab/stats.h, in their order,
// so a field added to a list is in the JSON with no edit here. A document
// has two parts: the spec's (SPEC fields and META members) and tslab's
// additions after it (ADD fields); HIDE and PAD entries are not members.
// TSLAB_JSON_SEL_<part>_<role>(field, meta) keeps the code that emits a
// struct field, the code that emits a META member, or neither. Walking the
// list once per part keeps the spec's members first even if an addition
// were listed among them.
#define TSLAB_JSON_SEL_SPEC_SPEC(field, meta) field
#define TSLAB_JSON_SEL_SPEC_META(field, meta) meta
#define TSLAB_JSON_SEL_SPEC_ADD(field, meta)
#define TSLAB_JSON_SEL_SPEC_HIDE(field, meta)
#define TSLAB_JSON_SEL_SPEC_PAD(field, meta)
#define TSLAB_JSON_SEL_ADD_SPEC(field, meta)
#define TSLAB_JSON_SEL_ADD_META(field, meta)
#define TSLAB_JSON_SEL_ADD_ADD(field, meta) field
#define TSLAB_JSON_SEL_ADD_HIDE(field, meta)
#define TSLAB_JSON_SEL_ADD_PAD(field, meta)
#define TSLAB_JSON_PICK_(part, role, field, meta) \
  TSLAB_JSON_SEL_##part##_##role(field, meta)

// One member per field, named as the field, of the field's C type (so
// 32-bit, 64-bit and double fields keep their JSON number kinds).
#define TSLAB_JSON_CLASS_SPEC_(role, kind, type, name) \
  TSLAB_JSON_PICK_(SPEC, role, j[#name] = c.name;, )
#define TSLAB_JSON_CLASS_ADD_(role, kind, type, name) \
  TSLAB_JSON_PICK_(ADD, role, j[#name] = c.name;, )
#define TSLAB_JSON_EPOCH_ADD_(role, kind, type, name) \
  TSLAB_JSON_PICK_(ADD, role, j[#name] = e.name;, )
#define TSLAB_JSON_GLOBAL_SPEC_(role, kind, type, name) \
  TSLAB_JSON_PICK_(SPEC, role, j[#name] = g.name;,      \
                   j[#name] = static_cast<type>(meta.name());)
#define TSLAB_JSON_GLOBAL_ADD_(role, kind, type, name) \
  TSLAB_JSON_PICK_(ADD, role, j[#name] = g.name;, )

// The values of the global list's META members: the spec's snapshot
// metadata and the process's RSS, which are not SlabGlobalStats fields.
// The list gives each its JSON type.
struct MetaValues {
  const Sample& s;
  uint64_t schema_version() const { return kSchemaVersion; }
  uint64_t timestamp_ns() const { return s.timestamp_ns; }
  int64_t pid() const { return s.snap.pid; }
  uint64_t page_size() const { return s.snap.page_size; }
  uint64_t epoch_count() const { return s.snap.global.epoch_count; }
  uint64_t rss_bytes_current() const { return s.rss_bytes; }
};

Json ClassJson(const SlabClassStats& c) {
  Json j;
  TSLAB_CLASS_STATS_FIELDS(TSLAB_JSON_CLASS_SPEC_)
  TSLAB_CLASS_STATS_FIELDS(TSLAB_JSON_CLASS_ADD_)
  return j;
}

Json EpochJson(const TslabEpochStats& e) {
  Json j;
  TSLAB_EPOCH_STATS_FIELDS(TSLAB_JSON_EPOCH_ADD_)
  // A number in the struct, its name in the JSON (same place).
  j["state"] = EpochStateName(e.state);
  // The struct's one text field, after the list's members; valid UTF-8
  // whatever the region holds.
  j["label"] = CleanLabel(e.label, sizeof(e.label));
  return j;
}

}  // namespace

const char* EpochStateName(uint32_t state) {
  switch (state) {
    case TSLAB_EPOCH_IDLE: return "IDLE";
    case TSLAB_EPOCH_ACTIVE: return "ACTIVE";
    case TSLAB_EPOCH_CLOSING: return "CLOSING";
    case TSLAB_EPOCH_DRAINED: return "DRAINED";
    default: return "UNKNOWN";
  }
}

nlohmann::ordered_json SnapshotJson(const Sample& s, const RegionIdentity& id) {
  const SlabGlobalStats& g = s.snap.global;
  const MetaValues meta{s};
  Json j;
  // The spec's top level, in its order, then its classes.
  TSLAB_GLOBAL_STATS_FIELDS(TSLAB_JSON_GLOBAL_SPEC_)
  Json classes = Json::array();
  for (const SlabClassStats& c : s.snap.classes) classes.push_back(ClassJson(c));
  j["classes"] = std::move(classes);
  // tslab additions (schema_version 1 allows additive fields): which
  // allocator of the process this is, the added global fields, the epochs.
  j["allocator_id"] = id.allocator_id;
  j["allocator_name"] = id.name;
  TSLAB_GLOBAL_STATS_FIELDS(TSLAB_JSON_GLOBAL_ADD_)
  Json epochs = Json::array();
  for (const TslabEpochStats& e : s.snap.epochs) epochs.push_back(EpochJson(e));
  j["epochs"] = std::move(epochs);
  return j;
}

}  // namespace tslab::stats_dump
