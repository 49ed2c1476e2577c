// Snapshot latency of a live process's stats region (see snapshot_bench.h).
#include "bench/snapshot_bench.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "bench/stats_util.h"
#include "tslab/stats_region.h"

namespace tslab::bench {

namespace {

using Clock = std::chrono::steady_clock;

double Us(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// A read-only mapping of a region file; unmapped on destruction.
struct Mapping {
  void* base = MAP_FAILED;
  size_t size = 0;
  int fd = -1;
  bool Open(const std::string& path, std::string* err) {
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
      *err = "cannot open region " + path + ": " + strerror(errno);
      return false;
    }
    size = static_cast<size_t>(st.st_size);
    base = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
      *err = "cannot map region " + path + ": " + strerror(errno);
      return false;
    }
    return true;
  }
  ~Mapping() {
    if (base != MAP_FAILED) munmap(base, size);
    if (fd >= 0) close(fd);
  }
};

}  // namespace

bool MeasureSnapshot(const WorkerCommand& hold_cmd, uint32_t samples, double timeout_s,
                     nlohmann::json* doc, std::string* err) {
  WorkerProcess w;
  if (!w.Start(hold_cmd, /*keep_stdin=*/true, err)) return false;
  std::string line;
  if (!w.ReadLine(timeout_s, &line, err)) {
    *err = "hold worker: " + *err;
    return false;
  }
  nlohmann::json ready = nlohmann::json::parse(line, nullptr, false);
  if (ready.is_discarded() || !ready.value("ready", false)) {
    *err = "hold worker: unexpected line '" + line.substr(0, 120) + "'";
    return false;
  }
  std::string path;
  if (ready.contains("info") && ready["info"].contains("region_path"))
    path = ready["info"]["region_path"].get<std::string>();

  nlohmann::json out;
  out["metrics"] = nlohmann::json::object();
  out["info"] = nlohmann::json::object();
  if (path.empty()) {
    out["info"]["snapshot_skip"] =
        "not measured: the worker's stats region is anonymous memory (no file to map)";
  } else {
    Mapping m;
    if (!m.Open(path, err)) return false;
    auto snap = std::make_unique<TslabSnapshot>();
    std::vector<double> warm(samples);
    for (uint32_t i = 0; i < samples; ++i) {
      auto t0 = Clock::now();
      int rc = tslab_region_snapshot(m.base, m.size, 0, snap.get());
      auto t1 = Clock::now();
      if (rc != 0) {
        *err = "tslab_region_snapshot(" + path + ") failed: status " + std::to_string(rc);
        return false;
      }
      warm[i] = Us(t0, t1);
    }
    const uint32_t cold_n = std::max(1u, samples / 10);
    std::vector<double> cold(cold_n);
    for (uint32_t i = 0; i < cold_n; ++i) {
      auto t0 = Clock::now();
      {
        Mapping c;
        if (!c.Open(path, err)) return false;
        tslab_region_snapshot(c.base, c.size, 0, snap.get());
      }
      cold[i] = Us(t0, Clock::now());
    }
    std::sort(warm.begin(), warm.end());
    std::sort(cold.begin(), cold.end());
    out["metrics"]["snapshot_p50_us"] = SortedPercentile(warm, 50.0);
    out["metrics"]["snapshot_p99_us"] = SortedPercentile(warm, 99.0);
    out["metrics"]["snapshot_max_us"] = warm.back();
    out["metrics"]["snapshot_cold_p50_us"] = SortedPercentile(cold, 50.0);
    out["metrics"]["snapshot_samples"] = samples;
    out["info"]["snapshot_region"] = path;
  }
  w.CloseStdin();
  while (w.ReadLine(timeout_s, &line, err)) {
  }
  if (!w.Finish(timeout_s, err)) {
    *err = "hold worker: " + *err;
    return false;
  }
  *doc = std::move(out);
  return true;
}

}  // namespace tslab::bench
