// Every live tslab process of the host, snapshotted in one pass: what
// tslab-exporter serves on each scrape and `stats_dump --format openmetrics`
// prints once.
//
// Purpose: finds the region files the way `stats_dump --list` does (the
// stats directory, region_reader.h's ListCandidates and Region::Open), plus
// those of processes in other mount namespaces (containers): the same
// directory path seen through /proc/PID/root of one process of each foreign
// namespace, with the namespace-local pid in the file name mapped to the
// host pid through /proc/PID/status NSpid. Each allocator is snapshotted
// and judged by the doctor's rules (doctor.h) over the collector's last
// snapshots of it.
//
// Invariants: a bad file (stale, corrupt, truncated, foreign layout,
// unreadable) never fails a collection: it is skipped and counted under a
// reason (kErrorReasons). A process is identified by (host pid, start
// ticks): a reused pid is another process, with a new start_time label.
// Opened regions are kept between collections and dropped as soon as
// their file, process or allocator is gone.
// Thread-safety: a FleetCollector is for one thread at a time (the
// exporter serializes scrapes with a mutex). The scraped processes are
// only read, through read-only mappings: no lock, no allocation, no
// signal in them.
// Cost: per collection, one readdir of the stats directory, one readlink
// per process of the host (foreign namespaces), and per allocator a
// /proc/PID/stat and statm read plus one pass over its ~200 KiB region.
#ifndef TSLAB_TOOLS_STATS_DUMP_FLEET_H_
#define TSLAB_TOOLS_STATS_DUMP_FLEET_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tools/stats_dump/doctor.h"
#include "tools/stats_dump/doctor_config.h"
#include "tools/stats_dump/region_reader.h"

namespace tslab::stats_dump {

// Why a region file was skipped: the values of the reason label of
// tslab_exporter_errors_total, every one exported (0 until it happens).
inline constexpr const char* kErrorReasons[] = {
    "stale",       // file of a dead process, a reused pid, a destroyed allocator
    "corrupt",     // bad magic, offsets, owner, pid; never initialised
    "truncated",   // shorter than its header says
    "version",     // another region layout version
    "permission",  // not readable by the exporter's user
    "io",          // other I/O error (open, mmap)
    "list",        // the stats directory could not be listed
};
inline constexpr size_t kNumErrorReasons = sizeof(kErrorReasons) / sizeof(kErrorReasons[0]);
// The index in kErrorReasons of a region error's status code.
size_t ErrorReasonIndex(Exit code);

// One allocator of one live process, as collected.
struct AllocatorView {
  ProcInfo proc;             // host pid, comm, start ticks
  std::string start_time;    // process start, Unix seconds ("%.2f", exact ticks)
  RegionIdentity id;
  Sample sample;
  std::vector<std::string> checks;  // the doctor's enabled checks
  std::vector<Finding> findings;    // its verdicts (warning and critical)
};

struct Collection {
  std::vector<AllocatorView> allocators;  // by pid, then allocator id
  bool dir_ok = true;   // the stats directory was listable (or absent)
  uint64_t errors[kNumErrorReasons] = {};  // skipped files, this collection
  double duration_s = 0;                   // wall time of the collection
};

struct FleetOptions {
  std::string dir;          // the stats directory (ResolveStatsDir)
  bool namespaces = true;   // also look into other mount namespaces
  int only_pid = 0;         // > 0: only this host pid
  std::string allocator;    // non-empty: only allocators with this name or id
  DoctorConfig doctor;      // the doctor's thresholds
  // Doctor history: a snapshot is kept when at least this long after the
  // previous kept one (so bursts of scrapes do not shrink the window).
  double min_history_spacing_s = 1.0;
};

class FleetCollector {
 public:
  explicit FleetCollector(FleetOptions o);
  ~FleetCollector();
  FleetCollector(const FleetCollector&) = delete;
  FleetCollector& operator=(const FleetCollector&) = delete;

  Collection Collect();
  // Errors summed over every collection so far (a counter's value).
  const uint64_t* total_errors() const { return total_errors_; }
  const FleetOptions& options() const { return o_; }

 private:
  struct Found;  // a candidate file with its host and namespace pids
  struct Open;   // a mapped region and the doctor's history of it
  void Discover(std::vector<Found>* out, Collection* c);
  void Foreign(std::vector<Found>* out);

  FleetOptions o_;
  std::map<std::string, std::unique_ptr<Open>> open_;  // by path
  uint64_t total_errors_[kNumErrorReasons] = {};
  uint64_t boot_time_s_ = 0;
  long hz_ = 100;
};

// Replaces every byte sequence that is not valid UTF-8 by U+FFFD, so a
// process or allocator name can be a label value.
std::string SanitizeUtf8(const std::string& s);

}  // namespace tslab::stats_dump

#endif  // TSLAB_TOOLS_STATS_DUMP_FLEET_H_
