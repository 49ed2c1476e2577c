#include "tools/stats_dump/doctor_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <cctype>
#include <limits>
#include <map>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace tslab::stats_dump {
namespace {

constexpr auto kNone = std::nullopt;

// The defaults; configs/doctor.yaml holds the same values (a test checks).
std::vector<CheckConfig> DefaultChecks() {
  using D = Direction;
  return {
      {"slow_path_rate", "ratio", D::kAbove, true, 0.05, 0.20, "min_allocs", 1000,
       "allocations taking the slow path beyond the one-per-slab refill floor"},
      {"cache_overflow_rate", "ratio", D::kAbove, true, 0.10, kNone, "min_recycled", 10,
       "recycled slabs that overflowed the per-class cache"},
      {"epoch_closed_allocs", "count", D::kAbove, true, 0, 0, "", 0,
       "allocations into closed epochs (warning: since start, critical: in the window)"},
      {"madvise_failures", "count", D::kAbove, true, 0, 0, "", 0,
       "failed madvise calls (warning: since start, critical: in the window)"},
      {"closing_epochs", "epochs", D::kAbove, true, 10, kNone, "", 0,
       "epochs CLOSING now (closed but still holding objects)"},
      {"active_epochs", "epochs", D::kAbove, true, 14, kNone, "", 0,
       "epochs ACTIVE now, of 16"},
      {"net_slabs_growth", "slabs", D::kAbove, true, 16, kNone, "samples", 5,
       "growth of net_slabs over the window when it rose at every sample (leak suspect)"},
      {"recycle_ratio", "ratio", D::kBelow, true, 0.5, kNone, "min_slabs", 64,
       "slabs recycled / slabs allocated, since start (judged once epochs closed)"},
      {"reclamation_yield", "ratio", D::kBelow, true, 0.3, kNone, "min_scanned", 16,
       "slabs recycled / slabs scanned by epoch_close"},
      {"epoch_close_latency", "ms", D::kAbove, true, 10, kNone, "min_closes", 1,
       "average epoch_close duration per class"},
      {"lock_contention", "ratio", D::kAbove, true, 0.20, kNone, "min_acquisitions", 100,
       "per class: class-lock acquisitions that had to wait"},
      {"alloc_cas_retries", "retries/op", D::kAbove, true, 0.05, kNone, "min_ops", 1000,
       "per class: bitmap CAS retries per allocation"},
      {"free_cas_retries", "retries/op", D::kAbove, true, 0.001, kNone, "min_ops", 1000,
       "per class: bitmap CAS retries per free"},
      {"invalid_frees", "count", D::kAbove, true, 0, kNone, "", 0,
       "frees refused in the window (invalid, stale, double, foreign handles)"},
      {"alloc_failures", "count", D::kAbove, true, 0, 0, "", 0,
       "allocations refused for lack of memory (warning: since start, critical: in the window)"},
      {"epoch_stall", "s", D::kAbove, true, 60, kNone, "min_allocs", 1000,
       "age of the current epoch while allocations continue"},
      {"closing_epoch_age", "s", D::kAbove, true, 30, kNone, "", 0,
       "time since the oldest CLOSING epoch was closed (it still holds objects)"},
      {"epoch_wraps_live", "count", D::kAbove, true, 0, kNone, "", 0,
       "epoch advances onto a slot still holding objects, in the window"},
      {"epoch_refcount_age", "s", D::kAbove, true, 300, kNone, "", 0,
       "age of the oldest epoch still held by a domain scope (refcount > 0)"},
      // --doctor --trace only: p99 latencies measured by the BPF probes.
      {"slow_path_p99", "us", D::kAbove, true, 100, kNone, "min_events", 100,
       "--trace: p99 of the allocation slow path's duration", true},
      {"epoch_close_p99", "ms", D::kAbove, true, 10, kNone, "min_events", 1,
       "--trace: p99 of epoch_close's duration, madvise included (its share shown)", true},
      {"madvise_p99", "us", D::kAbove, true, 500, kNone, "min_events", 10,
       "--trace: p99 of madvise(MADV_DONTNEED) calls giving pages back", true},
  };
}

Status ConfigError(const std::string& path, const YAML::Node& node,
                   const std::string& key, const std::string& problem) {
  std::string where = path;
  if (node.Mark().line >= 0) where += ":" + std::to_string(node.Mark().line + 1);
  return Status::Error(Exit::kConfig, "config " + where + ": " + key + ": " + problem);
}

Status ReadNumber(const std::string& path, const YAML::Node& n,
                  const std::string& key, bool nullable,
                  std::optional<double>* out) {
  if (n.IsNull()) {
    if (nullable) {
      *out = kNone;
      return Status::Ok();
    }
    return ConfigError(path, n, key, "expected a number, got null");
  }
  if (!n.IsScalar()) {
    return ConfigError(path, n, key, nullable ? "expected a number or null"
                                              : "expected a number");
  }
  double v = 0;
  const std::string& text = n.Scalar();
  // YAML 1.2's core schema also writes integers as 0x10 and 0o17, which
  // yaml-cpp's double conversion refuses.
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'o')) {
    const int base = text[1] == 'x' ? 16 : 8;
    char* end = nullptr;
    errno = 0;
    const unsigned long long u = std::strtoull(text.c_str() + 2, &end, base);
    if (*end != '\0' || errno != 0 || !std::isalnum(static_cast<unsigned char>(text[2]))) {
      return ConfigError(path, n, key, "expected a number, got '" + text + "'");
    }
    v = static_cast<double>(u);
  } else {
    try {
      v = n.as<double>();
    } catch (const YAML::Exception&) {
      return ConfigError(path, n, key, "expected a number, got '" + text + "'");
    }
  }
  if (!std::isfinite(v) || v < 0) {
    return ConfigError(path, n, key,
                       "must be a finite number >= 0, got " + n.Scalar());
  }
  *out = v;
  return Status::Ok();
}

// The key of a mapping entry, as a plain name; an error naming where it
// is if it is not one (a sequence or mapping used as a key), or if the
// mapping already had it (yaml-cpp keeps both; "the last wins" would be
// a silent choice).
Status ReadKey(const std::string& path, const YAML::Node& key_node, const std::string& parent,
               std::map<std::string, int>* seen, std::string* key) {
  const std::string where = parent.empty() ? "" : parent + ".";
  if (!key_node.IsScalar()) {
    return ConfigError(path, key_node, where + "(key)", "a key must be a plain name");
  }
  *key = key_node.Scalar();
  const int line = key_node.Mark().line + 1;
  auto [it, fresh] = seen->emplace(*key, line);
  if (!fresh) {
    return ConfigError(path, key_node, where + *key,
                       "given twice (first on line " + std::to_string(it->second) +
                           "): remove one");
  }
  return Status::Ok();
}

Status ReadCheck(const std::string& path, const YAML::Node& node,
                 CheckConfig* c) {
  const std::string base = "checks." + c->id;
  if (node.IsNull()) return Status::Ok();  // all defaults
  if (!node.IsMap()) return ConfigError(path, node, base, "expected a mapping");
  std::map<std::string, int> seen;
  for (const auto& kv : node) {
    std::string key;
    if (Status s = ReadKey(path, kv.first, base, &seen, &key); !s.ok()) return s;
    const std::string full = base + "." + key;
    const YAML::Node& v = kv.second;
    std::optional<double> num;
    if (key == "enabled") {
      bool b = false;
      if (!v.IsScalar() || !YAML::convert<bool>::decode(v, b)) {
        return ConfigError(path, v, full, "expected true or false");
      }
      c->enabled = b;
    } else if (key == "warning" || key == "critical") {
      Status s = ReadNumber(path, v, full, true, &num);
      if (!s.ok()) return s;
      (key == "warning" ? c->warning : c->critical) = num;
    } else if (!c->param_key.empty() && key == c->param_key) {
      Status s = ReadNumber(path, v, full, false, &num);
      if (!s.ok()) return s;
      if (key == "samples" && (*num < 2 || *num > 1000 || *num != std::floor(*num))) {
        return ConfigError(path, v, full, "must be a whole number from 2 to 1000");
      }
      c->param = *num;
    } else {
      std::string expected = "enabled, warning, critical";
      if (!c->param_key.empty()) expected += ", " + c->param_key;
      return ConfigError(path, kv.first, full,
                         "unknown key (expected " + expected + ")");
    }
  }
  if (c->warning && c->critical &&
      (c->direction == Direction::kAbove ? *c->warning > *c->critical
                                         : *c->warning < *c->critical)) {
    return ConfigError(path, node, base,
                       c->direction == Direction::kAbove
                           ? "warning is above critical"
                           : "warning is below critical (lower is worse here)");
  }
  return Status::Ok();
}

Status ParseConfig(const std::string& path, const YAML::Node& root,
                   DoctorConfig* cfg) {
  if (root.IsNull()) return Status::Ok();  // an empty file: all defaults
  if (!root.IsMap()) return ConfigError(path, root, "(top level)", "expected a mapping");
  std::map<std::string, int> seen;
  for (const auto& kv : root) {
    std::string key;
    if (Status s = ReadKey(path, kv.first, "", &seen, &key); !s.ok()) return s;
    const YAML::Node& v = kv.second;
    if (key == "version") {
      if (!v.IsScalar() || v.Scalar() != "1") {
        return ConfigError(path, v, key, "only version 1 is known");
      }
    } else if (key == "window_seconds") {
      std::optional<double> w;
      Status s = ReadNumber(path, v, key, false, &w);
      if (!s.ok()) return s;
      if (*w <= 0 || *w > 3600) {
        return ConfigError(path, v, key, "must be above 0 and at most 3600");
      }
      cfg->window_seconds = *w;
    } else if (key == "checks") {
      if (!v.IsMap()) return ConfigError(path, v, key, "expected a mapping");
      std::map<std::string, int> seen_checks;
      for (const auto& ck : v) {
        std::string id;
        if (Status s = ReadKey(path, ck.first, "checks", &seen_checks, &id); !s.ok()) return s;
        CheckConfig* c = nullptr;
        for (CheckConfig& x : cfg->checks) {
          if (x.id == id) c = &x;
        }
        if (c == nullptr) {
          return ConfigError(path, ck.first, "checks." + id, "unknown check");
        }
        Status s = ReadCheck(path, ck.second, c);
        if (!s.ok()) return s;
      }
    } else {
      return ConfigError(path, kv.first, key,
                         "unknown key (expected version, window_seconds, checks)");
    }
  }
  return Status::Ok();
}

std::string ExeDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  std::string p(buf, static_cast<size_t>(n));
  return p.substr(0, p.rfind('/'));
}

}  // namespace

const CheckConfig& DoctorConfig::Get(const std::string& id) const {
  for (const CheckConfig& c : checks) {
    if (c.id == id) return c;
  }
  static const CheckConfig kDisabled = [] {
    CheckConfig c;
    c.enabled = false;
    return c;
  }();
  return kDisabled;
}

DoctorConfig DefaultDoctorConfig() {
  DoctorConfig c;
  c.checks = DefaultChecks();
  return c;
}

namespace {

// A config is at most this big: the shipped one is ~4 KiB.
constexpr off_t kMaxConfigBytes = 1 << 20;

// The whole file, if it is a regular file of sane size. Opened without
// blocking (a FIFO with no writer would block the open for ever) and
// checked before reading (a directory made std::ifstream throw
// ios_base::failure past every handler).
Status ReadConfigFile(const std::string& path, std::string* text) {
  const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return Status::Error(Exit::kConfig, "config " + path +
                                            ": cannot read it: " +
                                            std::strerror(errno));
  }
  struct stat st;
  std::string problem;
  if (fstat(fd, &st) != 0) {
    problem = std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    problem = S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file";
  } else if (st.st_size > kMaxConfigBytes) {
    problem = "larger than 1 MiB";
  }
  text->clear();
  char buf[8192];
  while (problem.empty()) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      problem = std::strerror(errno);
    } else if (text->size() + static_cast<size_t>(n) > kMaxConfigBytes) {
      problem = "larger than 1 MiB";
    } else {
      text->append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  if (!problem.empty()) {
    return Status::Error(Exit::kConfig, "config " + path + ": " + problem);
  }
  return Status::Ok();
}

}  // namespace

Status LoadDoctorConfig(const std::string& path, DoctorConfig* out) {
  DoctorConfig cfg = DefaultDoctorConfig();
  std::string text;
  if (Status s = ReadConfigFile(path, &text); !s.ok()) return s;
  YAML::Node root;
  try {
    // A second document was ignored before: its thresholds looked set.
    // Found by its marker line, not by YAML::LoadAll, which builds every
    // document (thousands of "---" made the fuzzer time out).
    int line = 0;
    bool content = false;
    for (size_t at = 0; at < text.size();) {
      size_t nl = text.find('\n', at);
      if (nl == std::string::npos) nl = text.size();
      const std::string l = text.substr(at, nl - at);
      at = nl + 1;
      ++line;
      const bool marker = l.rfind("---", 0) == 0 &&
                          (l.size() == 3 || l[3] == ' ' || l[3] == '\t' || l[3] == '\r');
      if (marker && content) {
        return Status::Error(Exit::kConfig,
                             "config " + path + ":" + std::to_string(line) +
                                 ": (document 2): a second YAML document ('---'): the "
                                 "config is one document");
      }
      const size_t first = l.find_first_not_of(" \t\r");
      if (!marker && first != std::string::npos && l[first] != '#') content = true;
      if (marker) content = true;  // "--- value" or the first document's start
    }
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    return Status::Error(Exit::kConfig,
                         "config " + path + ":" + std::to_string(e.mark.line + 1) +
                             ": not valid YAML: " + e.msg);
  } catch (const YAML::Exception& e) {
    return Status::Error(Exit::kConfig, "config " + path + ": " + e.what());
  }
  try {
    Status s = ParseConfig(path, root, &cfg);
    if (!s.ok()) return s;
  } catch (const YAML::Exception& e) {
    return Status::Error(Exit::kConfig,
                         "config " + path + ":" + std::to_string(e.mark.line + 1) +
                             ": " + e.msg);
  }
  cfg.source = path;
  *out = std::move(cfg);
  return Status::Ok();
}

Status LoadDefaultDoctorConfig(DoctorConfig* out) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("TSLAB_DOCTOR_CONFIG"); env && *env) {
    return LoadDoctorConfig(env, out);  // named explicitly: must load
  }
  const std::string exe = ExeDir();
  if (!exe.empty()) {
    // Installed (PREFIX/bin/../share/tslab, make install), then the
    // source tree's (build/bin/../../configs).
    candidates.push_back(exe + "/../share/tslab/doctor.yaml");
    candidates.push_back(exe + "/../../configs/doctor.yaml");
  }
  for (const std::string& c : candidates) {
    if (access(c.c_str(), R_OK) == 0) {
      Status s = LoadDoctorConfig(c, out);
      if (s.ok()) {
        // Say it plainly: "configs/doctor.yaml", not "build/bin/../../...".
        char real[4096];
        if (realpath(c.c_str(), real) != nullptr) out->source = real;
      }
      return s;
    }
  }
  *out = DefaultDoctorConfig();
  return Status::Ok();
}

nlohmann::ordered_json DoctorConfigJson(const DoctorConfig& c) {
  nlohmann::ordered_json j;
  j["source"] = c.source;
  j["window_seconds"] = c.window_seconds;
  nlohmann::ordered_json checks = nlohmann::ordered_json::object();
  for (const CheckConfig& k : c.checks) {
    nlohmann::ordered_json x;
    x["enabled"] = k.enabled;
    x["warning"] = k.warning ? nlohmann::ordered_json(*k.warning) : nullptr;
    x["critical"] = k.critical ? nlohmann::ordered_json(*k.critical) : nullptr;
    if (!k.param_key.empty()) x[k.param_key] = k.param;
    x["unit"] = k.unit;
    x["bad_when"] = k.direction == Direction::kAbove ? "above" : "below";
    checks[k.id] = std::move(x);
  }
  j["checks"] = std::move(checks);
  return j;
}

}  // namespace tslab::stats_dump
