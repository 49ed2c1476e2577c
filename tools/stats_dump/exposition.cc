#include "tools/stats_dump/exposition.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tools/stats_dump/label_text.h"
#include "tools/stats_dump/snapshot_json.h"
#include "tslab/stats_region.h"

namespace tslab::stats_dump {
namespace {

enum class Scope { kGlobal, kClass, kEpoch };

// One exported field of the lists.
struct FieldMetric {
  Scope scope = Scope::kGlobal;
  const char* field = "";
  bool counter = false;  // COUNT; else a gauge (GAUGE, CONST)
  int decimals = 0; // 9: ns -> seconds, 3: ms -> seconds
  bool max = false; // epoch state: the largest value, not the sum
  std::string name; // Prometheus text-format name
  std::string help;
  uint64_t (*g)(const Sample&) = nullptr;
  uint64_t (*c)(const SlabClassStats&) = nullptr;
  uint64_t (*e)(const TslabEpochStats&) = nullptr;
};

// The META members of the global list (not SlabGlobalStats fields).
struct MetaValue {
  const Sample& s;
  uint64_t schema_version() const { return kSchemaVersion; }
  uint64_t timestamp_ns() const { return s.timestamp_ns; }
  uint64_t pid() const { return static_cast<uint64_t>(s.snap.pid); }
  uint64_t page_size() const { return s.snap.page_size; }
  uint64_t epoch_count() const { return s.snap.global.epoch_count; }
  uint64_t rss_bytes_current() const { return s.rss_bytes; }
};

const std::vector<NotExported> kNotExported = {
    {"global", "schema_version", "the JSON document's version, not a measurement"},
    {"global", "timestamp_ns", "Prometheus stamps each sample itself"},
    {"global", "pid", "the pid label"},
    {"global", "version", "the struct layout version, a constant of the build"},
    {"class", "version", "the struct layout version, a constant of the build"},
    {"class", "class_index", "the class label"},
    {"class", "object_size", "the object_size label"},
    {"epoch", "epoch_id", "epochs are aggregated by state (the slot id would make 16 series per field)"},
    {"epoch", "state", "the state label"},
    {"epoch", "era", "per-state sums of a slot's counter are not monotonic (slots change state)"},
    {"epoch", "allocs", "per-state sums are not monotonic; tslab_allocs_total is the total"},
    {"epoch", "frees", "per-state sums are not monotonic; tslab_frees_total is the total"},
    {"epoch", "close_calls", "per-state sums are not monotonic; tslab_epoch_closes_total is the total"},
};

bool Skipped(Scope s, const char* field) {
  static const char* kScope[] = {"global", "class", "epoch"};
  for (const NotExported& n : kNotExported) {
    if (std::strcmp(n.scope, kScope[static_cast<int>(s)]) == 0 &&
        std::strcmp(n.field, field) == 0) {
      return true;
    }
  }
  return false;
}

void EraseAll(std::string* s, const std::string& what) {
  for (size_t p; (p = s->find(what)) != std::string::npos;) s->erase(p, what.size());
}
bool EndsWith(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// The conventions: no "total" inside a name (counters end in _total), no
// "_count" suffix (a "slab_count" is "slabs"), base units (ns and ms
// become seconds), the scope's prefix.
FieldMetric Make(Scope scope, const char* field, const char* kind) {
  FieldMetric m;
  m.scope = scope;
  m.field = field;
  m.counter = std::strcmp(kind, "COUNT") == 0;
  std::string n = field;
  if (n == "rss_bytes_current") n = "rss_bytes";
  if (n == "epoch_count") n = "epoch_slots";
  if (n == "page_size") n = "page_size_bytes";
  if (n.rfind("total_", 0) == 0) n.erase(0, 6);
  EraseAll(&n, "_total");
  // "_count" is the suffix of a histogram's or summary's sample count.
  // "slab_count" is "slabs", "empty_slabs_count" "empty_slabs".
  if (EndsWith(n, "_count")) {
    n.erase(n.size() - 6);
    if (!EndsWith(n, "s")) n += "s";
  }
  const char* unit = "";
  if (EndsWith(n, "_ns")) {
    n.replace(n.size() - 3, 3, "_seconds");
    m.decimals = 9;
    unit = ", in seconds (the region counts nanoseconds)";
  } else if (EndsWith(n, "_ms")) {
    n.replace(n.size() - 3, 3, "_seconds");
    m.decimals = 3;
    unit = ", in seconds (the region holds milliseconds)";
  }
  std::string where;
  if (scope == Scope::kGlobal) {
    m.name = "tslab_" + n;
    where = "Allocator-wide ";
  } else if (scope == Scope::kClass) {
    m.name = "tslab_class_" + n;
    where = "Per size class: ";
  } else {
    m.max = m.decimals != 0;  // an age: the oldest epoch's, summing is meaningless
    m.name = std::string("tslab_epoch_") + (m.max ? "max_" : "") + n;
    where = m.max ? "Largest over the epochs in each state: " : "Sum over the epochs in each state: ";
  }
  if (m.counter) m.name += "_total";
  const char* what = std::strcmp(kind, "COUNT") == 0   ? ", cumulative"
                     : std::strcmp(kind, "GAUGE") == 0 ? ", current value"
                                                       : ", fixed for the allocator's life";
  m.help = where + "snapshot field " + field + what + unit + " (docs/counters.md).";
  return m;
}

// Entries of the lists: SPEC and ADD fields and META members that are
// counts, gauges or constants (ratios are left to PromQL, PAD and HIDE
// entries are not values).
#define TSLAB_EXPO_ROLE_SPEC(field, meta) field
#define TSLAB_EXPO_ROLE_ADD(field, meta) field
#define TSLAB_EXPO_ROLE_META(field, meta) meta
#define TSLAB_EXPO_ROLE_HIDE(field, meta)
#define TSLAB_EXPO_ROLE_PAD(field, meta)
#define TSLAB_EXPO_KIND_COUNT(x) x
#define TSLAB_EXPO_KIND_GAUGE(x) x
#define TSLAB_EXPO_KIND_CONST(x) x
#define TSLAB_EXPO_KIND_RATIO(x)
#define TSLAB_EXPO_KIND_PAD(x)
#define TSLAB_EXPO_ADD_(scope, kind, name, member, getter) \
  if (!Skipped(scope, #name)) {                          \
    v.push_back(Make(scope, #name, #kind));              \
    v.back().member = getter;                            \
  }
#define TSLAB_EXPO_GLOBAL_(role, kind, type, name)                                  \
  TSLAB_EXPO_KIND_##kind(TSLAB_EXPO_ROLE_##role(                                    \
      TSLAB_EXPO_ADD_(Scope::kGlobal, kind, name, g,                                \
                      [](const Sample& s) -> uint64_t {                             \
                        return static_cast<uint64_t>(s.snap.global.name);           \
                      }),                                                           \
      TSLAB_EXPO_ADD_(Scope::kGlobal, kind, name, g,                                \
                      [](const Sample& s) -> uint64_t { return MetaValue{s}.name(); })))
#define TSLAB_EXPO_CLASS_(role, kind, type, name)                                      \
  TSLAB_EXPO_KIND_##kind(TSLAB_EXPO_ROLE_##role(                                       \
      TSLAB_EXPO_ADD_(Scope::kClass, kind, name, c,                                    \
                      [](const SlabClassStats& x) -> uint64_t {                        \
                        return static_cast<uint64_t>(x.name);                          \
                      }), ))
#define TSLAB_EXPO_EPOCH_(role, kind, type, name)                                      \
  TSLAB_EXPO_KIND_##kind(TSLAB_EXPO_ROLE_##role(                                       \
      TSLAB_EXPO_ADD_(Scope::kEpoch, kind, name, e,                                    \
                      [](const TslabEpochStats& x) -> uint64_t {                       \
                        return static_cast<uint64_t>(x.name);                          \
                      }), ))

const std::vector<FieldMetric>& Fields() {
  static const std::vector<FieldMetric> fields = [] {
    std::vector<FieldMetric> v;
    TSLAB_GLOBAL_STATS_FIELDS(TSLAB_EXPO_GLOBAL_)
    TSLAB_CLASS_STATS_FIELDS(TSLAB_EXPO_CLASS_)
    TSLAB_EPOCH_STATS_FIELDS(TSLAB_EXPO_EPOCH_)
    return v;
  }();
  return fields;
}

constexpr const char* kProcLabels = "pid,comm,start_time,allocator,name";
constexpr uint32_t kStates[] = {TSLAB_EPOCH_IDLE, TSLAB_EPOCH_ACTIVE, TSLAB_EPOCH_CLOSING,
                                TSLAB_EPOCH_DRAINED};

// The exporter's own families, and the doctor's (in output order around
// the field families: these first, then the fields, then tslab_epochs and
// tslab_doctor_finding).
const std::vector<ExpoFamily>& Head() {
  static const std::vector<ExpoFamily> v = {
      {"tslab_up", "gauge",
       "1 if the stats directory could be listed (a missing one is empty), else 0.", "", ""},
      {"tslab_scrape_duration_seconds", "gauge",
       "Seconds the exporter took to find and snapshot every tslab process.", "", ""},
      {"tslab_exporter_build_info", "gauge",
       "Always 1; the exporter's version and the region layout it reads as labels.",
       "version,region_layout", ""},
      {"tslab_exporter_errors_total", "counter",
       "Region files skipped (stale, corrupt, truncated, version, permission, io) or "
       "stats directory listings that failed (list), by reason.",
       "reason", ""},
      {"tslab_processes", "gauge", "Live tslab processes whose regions were read.", "", ""},
      {"tslab_allocators", "gauge", "Allocators (stats regions) read.", "", ""},
  };
  return v;
}

const std::vector<ExpoFamily>& Tail() {
  static const std::vector<ExpoFamily> v = {
      {"tslab_epochs", "gauge", "Epoch slots of the ring in each state.",
       std::string(kProcLabels) + ",state", ""},
      {"tslab_doctor_finding", "gauge",
       "1 if the stats_dump --doctor check has a finding of this severity for the "
       "allocator (over the exporter's last snapshots of it), else 0.",
       std::string(kProcLabels) + ",check,severity", ""},
      {"tslab_epoch_label_info", "gauge",
       "1 for each labelled epoch (tslab_epoch_set_label) that is CLOSING or held "
       "by a domain scope: which request or phase holds memory. Only those epochs, "
       "so that labels that change every request do not make a series each.",
       std::string(kProcLabels) + ",epoch,state,label", ""},
  };
  return v;
}

std::string Labels(Scope s) {
  return std::string(kProcLabels) + (s == Scope::kClass ? ",class,object_size"
                                     : s == Scope::kEpoch ? ",state" : "");
}

// ---- text ----

void AppendU64(std::string* out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

// v / 10^decimals, exactly.
void AppendScaled(std::string* out, uint64_t v, int decimals) {
  if (decimals == 0) return AppendU64(out, v);
  uint64_t div = 1;
  for (int i = 0; i < decimals; ++i) div *= 10;
  AppendU64(out, v / div);
  char frac[24];
  std::snprintf(frac, sizeof(frac), ".%0*llu", decimals,
                static_cast<unsigned long long>(v % div));
  out->append(frac);
}

void AppendDouble(std::string* out, double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  out->append(buf);
}

class Writer {
 public:
  // reserve: the expected size (no regrowth copies of a multi-MB text).
  Writer(ExpoFormat f, size_t reserve) : f_(f) { out_.reserve(reserve); }

  // HELP and TYPE of a family; OpenMetrics names a counter's family
  // without its _total suffix.
  void Family(const std::string& name, const std::string& type, const std::string& help) {
    std::string fam = name;
    if (f_ == ExpoFormat::kOpenMetrics && type == "counter" && EndsWith(fam, "_total")) {
      fam.resize(fam.size() - 6);
    }
    out_ += "# HELP " + fam + " " + help + "\n# TYPE " + fam + " " + type + "\n";
  }
  // name{labels} — labels already escaped, without braces.
  void Start(const std::string& name, const std::string& labels) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
  }
  std::string* out() { return &out_; }
  std::string Finish() {
    if (f_ == ExpoFormat::kOpenMetrics) out_ += "# EOF\n";
    return std::move(out_);
  }

 private:
  ExpoFormat f_;
  std::string out_;
};

std::string Label(const char* name, const std::string& value) {
  return std::string(name) + "=\"" + EscapeLabelValue(value) + "\"";
}

}  // namespace

std::string EscapeLabelValue(const std::string& v) {
  const std::string s = SanitizeUtf8(v);
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    if (ch == '\\') out += "\\\\";
    else if (ch == '"') out += "\\\"";
    else if (ch == '\n') out += "\\n";
    else out += ch;
  }
  return out;
}

const char* ContentType(ExpoFormat f) {
  return f == ExpoFormat::kOpenMetrics
             ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
             : "text/plain; version=0.0.4; charset=utf-8";
}

ExpoFormat NegotiateFormat(const std::string& accept) {
  // "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;..." —
  // a media range of its own, not excluded by q=0.
  size_t p = 0;
  while (p <= accept.size()) {
    size_t end = accept.find(',', p);
    if (end == std::string::npos) end = accept.size();
    std::string range = accept.substr(p, end - p);
    for (char& ch : range) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    range.erase(std::remove(range.begin(), range.end(), ' '), range.end());
    if (range.rfind("application/openmetrics-text", 0) == 0) {
      const size_t q = range.find(";q=");
      if (q == std::string::npos || std::strtod(range.c_str() + q + 3, nullptr) > 0) {
        return ExpoFormat::kOpenMetrics;
      }
    }
    p = end + 1;
  }
  return ExpoFormat::kPrometheus;
}

const std::vector<NotExported>& NotExportedFields() { return kNotExported; }

const std::vector<ExpoFamily>& MetricCatalog() {
  static const std::vector<ExpoFamily> v = [] {
    std::vector<ExpoFamily> c = Head();
    static const char* kScope[] = {"SlabGlobalStats.", "SlabClassStats.", "TslabEpochStats."};
    for (const FieldMetric& m : Fields()) {
      c.push_back({m.name, m.counter ? "counter" : "gauge", m.help, Labels(m.scope),
                   kScope[static_cast<int>(m.scope)] + std::string(m.field)});
    }
    for (const ExpoFamily& f : Tail()) c.push_back(f);
    return c;
  }();
  return v;
}

std::string RenderExposition(const Collection& c, const ExporterInfo& info, ExpoFormat f) {
  Writer w(f, (16 << 10) + c.allocators.size() * (72 << 10));
  std::string* out = w.out();
  const std::vector<ExpoFamily>& head = Head();
  // tslab_up, duration, build info, errors, processes, allocators.
  w.Family(head[0].name, head[0].type, head[0].help);
  w.Start(head[0].name, "");
  *out += c.dir_ok ? "1\n" : "0\n";
  w.Family(head[1].name, head[1].type, head[1].help);
  w.Start(head[1].name, "");
  AppendDouble(out, c.duration_s);
  *out += '\n';
  w.Family(head[2].name, head[2].type, head[2].help);
  w.Start(head[2].name, Label("version", info.version) + "," +
                            Label("region_layout", std::to_string(TSLAB_REGION_LAYOUT_VERSION)));
  *out += "1\n";
  w.Family(head[3].name, head[3].type, head[3].help);
  for (size_t i = 0; i < kNumErrorReasons; ++i) {
    w.Start(head[3].name, Label("reason", kErrorReasons[i]));
    AppendU64(out, info.errors_total != nullptr ? info.errors_total[i] : c.errors[i]);
    *out += '\n';
  }
  size_t processes = 0;
  for (size_t i = 0; i < c.allocators.size(); ++i) {
    processes += i == 0 || c.allocators[i].proc.pid != c.allocators[i - 1].proc.pid;
  }
  w.Family(head[4].name, head[4].type, head[4].help);
  w.Start(head[4].name, "");
  AppendU64(out, processes);
  *out += '\n';
  w.Family(head[5].name, head[5].type, head[5].help);
  w.Start(head[5].name, "");
  AppendU64(out, c.allocators.size());
  *out += '\n';

  // Label sets, escaped once per allocator and class.
  std::vector<std::string> base;
  for (const AllocatorView& a : c.allocators) {
    base.push_back(Label("pid", std::to_string(a.proc.pid)) + "," + Label("comm", a.proc.comm) +
                   "," + Label("start_time", a.start_time) + "," +
                   Label("allocator", std::to_string(a.id.allocator_id)) + "," +
                   Label("name", a.id.name));
  }
  std::vector<std::string> with_class(base.size() * TSLAB_NUM_CLASSES);
  for (size_t i = 0; i < base.size(); ++i) {
    for (int k = 0; k < TSLAB_NUM_CLASSES; ++k) {
      with_class[i * TSLAB_NUM_CLASSES + k] =
          base[i] + "," + Label("class", std::to_string(k)) + "," +
          Label("object_size",
                std::to_string(c.allocators[i].sample.snap.classes[k].object_size));
    }
  }
  for (const FieldMetric& m : Fields()) {
    w.Family(m.name, m.counter ? "counter" : "gauge", m.help);
    for (size_t i = 0; i < c.allocators.size(); ++i) {
      const TslabSnapshot& s = c.allocators[i].sample.snap;
      if (m.g != nullptr) {
        w.Start(m.name, base[i]);
        AppendScaled(out, m.g(c.allocators[i].sample), m.decimals);
        *out += '\n';
      } else if (m.c != nullptr) {
        for (int k = 0; k < TSLAB_NUM_CLASSES; ++k) {
          w.Start(m.name, with_class[i * TSLAB_NUM_CLASSES + k]);
          AppendScaled(out, m.c(s.classes[k]), m.decimals);
          *out += '\n';
        }
      } else {
        for (uint32_t st : kStates) {
          uint64_t v = 0;
          for (const TslabEpochStats& e : s.epochs) {
            if (e.state == st) v = m.max ? std::max(v, m.e(e)) : v + m.e(e);
          }
          w.Start(m.name, base[i] + "," + Label("state", EpochStateName(st)));
          AppendScaled(out, v, m.decimals);
          *out += '\n';
        }
      }
    }
  }
  const std::vector<ExpoFamily>& tail = Tail();
  w.Family(tail[0].name, tail[0].type, tail[0].help);
  for (size_t i = 0; i < c.allocators.size(); ++i) {
    for (uint32_t st : kStates) {
      uint64_t n = 0;
      for (const TslabEpochStats& e : c.allocators[i].sample.snap.epochs) n += e.state == st;
      w.Start(tail[0].name, base[i] + "," + Label("state", EpochStateName(st)));
      AppendU64(out, n);
      *out += '\n';
    }
  }
  // Every check the doctor judges, at both severities: 0 unless it found
  // something (so an alert can tell "fine" from "not exported").
  w.Family(tail[1].name, tail[1].type, tail[1].help);
  for (size_t i = 0; i < c.allocators.size(); ++i) {
    const AllocatorView& a = c.allocators[i];
    for (const std::string& check : a.checks) {
      for (Severity sev : {Severity::kWarning, Severity::kCritical}) {
        bool hit = false;
        for (const Finding& x : a.findings) hit |= x.check == check && x.severity == sev;
        w.Start(tail[1].name, base[i] + "," + Label("check", check) + "," +
                                  Label("severity", SeverityName(sev)));
        *out += hit ? "1\n" : "0\n";
      }
    }
  }
  // The labels of the epochs worth naming: CLOSING (closed, still holding
  // objects) or held by a scope; at most 16 series per allocator at once.
  w.Family(tail[2].name, tail[2].type, tail[2].help);
  for (size_t i = 0; i < c.allocators.size(); ++i) {
    for (const TslabEpochStats& e : c.allocators[i].sample.snap.epochs) {
      if (e.state != TSLAB_EPOCH_CLOSING && e.refcount == 0) continue;
      const std::string label = CleanLabel(e.label, sizeof(e.label));
      if (label.empty()) continue;
      w.Start(tail[2].name, base[i] + "," + Label("epoch", std::to_string(e.epoch_id)) +
                                "," + Label("state", EpochStateName(e.state)) + "," +
                                Label("label", label));
      *out += "1\n";
    }
  }
  return w.Finish();
}

std::string CatalogMarkdown() {
  std::string s = "| Metric | Type | Labels | Help |\n|---|---|---|---|\n";
  for (const ExpoFamily& f : MetricCatalog()) {
    s += "| `" + f.name + "` | " + f.type + " | " + (f.labels.empty() ? "" : "`" + f.labels + "`") +
         " | " + f.help + " |\n";
  }
  s += "\nFields of the lists that are not exported, and why:\n\n"
       "| Scope | Field | Why |\n|---|---|---|\n";
  for (const NotExported& n : kNotExported) {
    s += std::string("| ") + n.scope + " | `" + n.field + "` | " + n.why + " |\n";
  }
  return s;
}

}  // namespace tslab::stats_dump
