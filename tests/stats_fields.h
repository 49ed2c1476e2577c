// tests/stats_fields.h: the field lists of tslab/stats.h and
// tslab/stats_region.h as tables a test can walk (name, role, kind, type,
// offset), so that the tests' field lists come from the one list instead
// of being copies of it.
//
// Purpose: the stats_dump tests' monotonic and total lists, the JSON
// checks (every member, its order, type and value), the snapshot's copy
// checks on a crafted region, and the checks of the docs' tables.
// Invariants: a table has one row per list entry, in list order; META
// rows (not struct fields) have no offset. Values are read through
// memcpy at the row's offset, by its type.
// Thread-safety: constant tables and pure functions.
#ifndef TSLAB_TESTS_STATS_FIELDS_H_
#define TSLAB_TESTS_STATS_FIELDS_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tslab/stats_region.h"

namespace tslab::test {

enum class FieldRole { kSpec, kAdd, kHide, kPad, kMeta };
enum class FieldKind { kCount, kGauge, kConst, kRatio, kPad };
enum class FieldType { kU32, kU64, kI32, kI64, kDouble };

struct FieldInfo {
  std::string_view name;
  FieldRole role;
  FieldKind kind;
  FieldType type;
  size_t offset;  // in the struct; 0 for a META row

  bool InStruct() const { return role != FieldRole::kMeta; }
  // A member of stats_dump's JSON object (META: of the top level only).
  bool InJson() const {
    return role == FieldRole::kSpec || role == FieldRole::kAdd ||
           role == FieldRole::kMeta;
  }
  bool IsFloat() const { return type == FieldType::kDouble; }
  bool IsSigned() const {
    return type == FieldType::kI32 || type == FieldType::kI64;
  }
};

template <typename T>
constexpr FieldType FieldTypeOf() {
  if constexpr (std::is_same_v<T, uint32_t>) return FieldType::kU32;
  if constexpr (std::is_same_v<T, uint64_t>) return FieldType::kU64;
  if constexpr (std::is_same_v<T, int32_t>) return FieldType::kI32;
  if constexpr (std::is_same_v<T, int64_t>) return FieldType::kI64;
  static_assert(std::is_same_v<T, double> || std::is_same_v<T, uint32_t> ||
                    std::is_same_v<T, uint64_t> ||
                    std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t>,
                "a list entry of a type these tables do not know");
  return FieldType::kDouble;
}

// Role and kind tokens of the lists, pasted into enumerators.
#define TSLAB_TEST_ROLE_SPEC FieldRole::kSpec
#define TSLAB_TEST_ROLE_ADD FieldRole::kAdd
#define TSLAB_TEST_ROLE_HIDE FieldRole::kHide
#define TSLAB_TEST_ROLE_PAD FieldRole::kPad
#define TSLAB_TEST_ROLE_META FieldRole::kMeta
#define TSLAB_TEST_KIND_COUNT FieldKind::kCount
#define TSLAB_TEST_KIND_GAUGE FieldKind::kGauge
#define TSLAB_TEST_KIND_CONST FieldKind::kConst
#define TSLAB_TEST_KIND_RATIO FieldKind::kRatio
#define TSLAB_TEST_KIND_PAD FieldKind::kPad
// offsetof only for struct fields: a META name is no member.
#define TSLAB_TEST_OFFSET_SPEC(S, name) offsetof(S, name)
#define TSLAB_TEST_OFFSET_ADD(S, name) offsetof(S, name)
#define TSLAB_TEST_OFFSET_HIDE(S, name) offsetof(S, name)
#define TSLAB_TEST_OFFSET_PAD(S, name) offsetof(S, name)
#define TSLAB_TEST_OFFSET_META(S, name) size_t{0}
#define TSLAB_TEST_FIELD_(S, role, kind, type, name)                \
  FieldInfo{#name, TSLAB_TEST_ROLE_##role, TSLAB_TEST_KIND_##kind, \
            FieldTypeOf<type>(), TSLAB_TEST_OFFSET_##role(S, name)},
#define TSLAB_TEST_CLASS_(role, kind, type, name) \
  TSLAB_TEST_FIELD_(SlabClassStats, role, kind, type, name)
#define TSLAB_TEST_GLOBAL_(role, kind, type, name) \
  TSLAB_TEST_FIELD_(SlabGlobalStats, role, kind, type, name)
#define TSLAB_TEST_EPOCH_(role, kind, type, name) \
  TSLAB_TEST_FIELD_(TslabEpochStats, role, kind, type, name)

inline const std::vector<FieldInfo>& ClassFields() {
  static const std::vector<FieldInfo> v = {
      TSLAB_CLASS_STATS_FIELDS(TSLAB_TEST_CLASS_)};
  return v;
}
inline const std::vector<FieldInfo>& GlobalFields() {
  static const std::vector<FieldInfo> v = {
      TSLAB_GLOBAL_STATS_FIELDS(TSLAB_TEST_GLOBAL_)};
  return v;
}
// TslabEpochStats' one text field, declared after the list (a char array,
// not a number): stats_dump's JSON shows it after the list's members.
inline constexpr std::string_view kEpochLabelField = "label";

inline const std::vector<FieldInfo>& EpochFields() {
  static const std::vector<FieldInfo> v = {
      TSLAB_EPOCH_STATS_FIELDS(TSLAB_TEST_EPOCH_)};
  return v;
}

// TSLAB_GLOBAL_SUMS: a global total and the class field it sums.
struct SumInfo {
  std::string_view global_field;
  std::string_view class_field;
};
inline const std::vector<SumInfo>& GlobalSums() {
#define TSLAB_TEST_SUM_(global_field, class_field) \
  {#global_field, #class_field},
  static const std::vector<SumInfo> v = {TSLAB_GLOBAL_SUMS(TSLAB_TEST_SUM_)};
#undef TSLAB_TEST_SUM_
  return v;
}

// The region's lists: a uint64_t field at an offset; copied (COPY) to the
// snapshot field of the same name, or used by derivations (DERIVE).
struct RegionFieldInfo {
  std::string_view name;
  bool copied;
  size_t offset;
};
#define TSLAB_TEST_COPIED_COPY true
#define TSLAB_TEST_COPIED_DERIVE false
#define TSLAB_TEST_REGION_(S, role, name) \
  RegionFieldInfo{#name, TSLAB_TEST_COPIED_##role, offsetof(S, name)},
#define TSLAB_TEST_REGION_GLOBAL_(role, name) \
  TSLAB_TEST_REGION_(TslabRegionGlobal, role, name)
#define TSLAB_TEST_REGION_CLASS_(role, name) \
  TSLAB_TEST_REGION_(TslabRegionClass, role, name)
#define TSLAB_TEST_REGION_EPOCH_(role, name) \
  TSLAB_TEST_REGION_(TslabRegionEpoch, role, name)
inline const std::vector<RegionFieldInfo>& RegionGlobalFields() {
  static const std::vector<RegionFieldInfo> v = {
      TSLAB_REGION_GLOBAL_FIELDS(TSLAB_TEST_REGION_GLOBAL_)};
  return v;
}
inline const std::vector<RegionFieldInfo>& RegionClassFields() {
  static const std::vector<RegionFieldInfo> v = {
      TSLAB_REGION_CLASS_FIELDS(TSLAB_TEST_REGION_CLASS_)};
  return v;
}
inline const std::vector<RegionFieldInfo>& RegionEpochFields() {
  static const std::vector<RegionFieldInfo> v = {
      TSLAB_REGION_EPOCH_FIELDS(TSLAB_TEST_REGION_EPOCH_)};
  return v;
}
// TSLAB_REGION_SHARD_CLASS_FIELDS: a shard field and its class field.
struct ShardFieldInfo {
  std::string_view name;
  std::string_view class_field;
  size_t offset;
};
inline const std::vector<ShardFieldInfo>& RegionShardClassFields() {
#define TSLAB_TEST_SHARD_(name, class_field) \
  {#name, #class_field, offsetof(TslabRegionShardClass, name)},
  static const std::vector<ShardFieldInfo> v = {
      TSLAB_REGION_SHARD_CLASS_FIELDS(TSLAB_TEST_SHARD_)};
#undef TSLAB_TEST_SHARD_
  return v;
}

// The row of `name` in `fields` (struct fields only), nullptr if none.
inline const FieldInfo* FindField(const std::vector<FieldInfo>& fields,
                                  std::string_view name) {
  for (const FieldInfo& f : fields) {
    if (f.InStruct() && f.name == name) return &f;
  }
  return nullptr;
}

// The names of the rows that pass `keep`, in list order.
template <typename Pred>
std::vector<std::string> FieldNames(const std::vector<FieldInfo>& fields,
                                    Pred keep) {
  std::vector<std::string> out;
  for (const FieldInfo& f : fields) {
    if (keep(f)) out.emplace_back(f.name);
  }
  return out;
}

namespace internal {
template <typename T>
double Read(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  return static_cast<double>(v);
}
template <typename T>
void Write(char* p, double v) {
  const T x = static_cast<T>(v);
  std::memcpy(p, &x, sizeof(x));
}
}  // namespace internal

// A struct field's value as a double (exact for the integers the tests
// write: below 2^53).
inline double FieldValue(const void* obj, const FieldInfo& f) {
  const char* p = static_cast<const char*>(obj) + f.offset;
  switch (f.type) {
    case FieldType::kU32: return internal::Read<uint32_t>(p);
    case FieldType::kU64: return internal::Read<uint64_t>(p);
    case FieldType::kI32: return internal::Read<int32_t>(p);
    case FieldType::kI64: return internal::Read<int64_t>(p);
    case FieldType::kDouble: return internal::Read<double>(p);
  }
  return 0;
}

// Stores v (a whole number, or any value for a double) in a struct field.
inline void SetFieldValue(void* obj, const FieldInfo& f, double v) {
  char* p = static_cast<char*>(obj) + f.offset;
  switch (f.type) {
    case FieldType::kU32: return internal::Write<uint32_t>(p, v);
    case FieldType::kU64: return internal::Write<uint64_t>(p, v);
    case FieldType::kI32: return internal::Write<int32_t>(p, v);
    case FieldType::kI64: return internal::Write<int64_t>(p, v);
    case FieldType::kDouble: return internal::Write<double>(p, v);
  }
}

}  // namespace tslab::test

#endif  // TSLAB_TESTS_STATS_FIELDS_H_
