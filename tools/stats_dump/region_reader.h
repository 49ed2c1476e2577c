// Finding and reading tslab stats regions of other processes.
//
// Purpose: a region is a file <dir>/tslab-<pid>-<allocator id>[.<n>].stats
// (src/allocator/region_file.cc makes it). This module finds a process's
// files (in the stats directory, else through /proc/PID/maps), maps each
// read-only, validates it (magic, layout version, size, owner, pid and
// process start time, so a reused PID is detected) and snapshots it with
// the library's tslab_region_snapshot().
//
// Invariants: a Region is validated once when opened; a snapshot re-reads
// the live counters and never reads past the mapped file (a file truncated
// underneath us is caught with a SIGBUS guard and reported, not a crash).
// Thread-safety: a Region may be snapshotted from one thread at a time.
// Cost: opening is a directory scan, a few /proc reads, open+mmap; a
// snapshot is one pass over the region (~200 KiB) plus one /proc read.
#ifndef TSLAB_TOOLS_STATS_DUMP_REGION_READER_H_
#define TSLAB_TOOLS_STATS_DUMP_REGION_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tools/stats_dump/proc.h"
#include "tools/stats_dump/status.h"
#include "tslab/stats.h"

namespace tslab::stats_dump {

inline constexpr const char* kDefaultStatsDir = "/dev/shm/tslab";

// One snapshot of one allocator, with what the JSON needs besides it.
struct Sample {
  TslabSnapshot snap{};
  uint64_t timestamp_ns = 0;  // CLOCK_REALTIME at the snapshot
  uint64_t mono_ns = 0;       // CLOCK_MONOTONIC at the snapshot (rates)
  uint64_t rss_bytes = 0;     // the target's RSS, /proc/PID/statm
};

struct RegionIdentity {
  std::string path;
  int pid = 0;
  uint64_t allocator_id = 0;
  std::string name;
  uint64_t create_realtime_ns = 0;
  // A region kept at exit (TSLAB_OPTIONS=keep_stats=1, state EXITED) of a
  // process that is gone: its numbers are final.
  bool exited = false;
  uint64_t exit_realtime_ns = 0;  // 0 if not recorded
  uint64_t start_ticks = 0;       // the writer's start time (its header's)
};

class Region {
 public:
  ~Region();
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

  // How Open checks a region. header_pid: the pid the region's header must
  // name, when the process lives in another PID namespace (its own pid
  // there); 0: proc.pid. A region being built is never seen under its
  // name (the library renames it into place once its header is whole), so
  // a file without its magic is corrupt at once: there is nothing to wait
  // for.
  // exited: open a region kept at exit (keep_stats=1) of a process that
  // is gone or whose pid was reused: the header must name header_pid (or
  // proc.pid) and say EXITED; the start time is not checked (there is no
  // process to check it against) and the file must belong to the reader
  // (or the reader be root). Snapshots then carry no RSS (0).
  struct OpenOptions {
    int header_pid = 0;
    bool exited = false;
  };
  // Maps path and checks that it is a live region of process proc.
  static Status Open(const std::string& path, const ProcInfo& proc,
                     std::unique_ptr<Region>* out);
  static Status Open(const std::string& path, const ProcInfo& proc,
                     const OpenOptions& opt, std::unique_ptr<Region>* out);
  // Takes a snapshot now.
  Status Snapshot(Sample* out) const;
  // The allocator was destroyed (its region says so), or the region can
  // no longer be read whole.
  bool Destroyed() const;
  // Ok while the allocator lives; kTargetExited once it is destroyed;
  // kTruncated if its file was cut short under us (an allocator never
  // shrinks its file: someone else did).
  Status StillLive() const;
  const RegionIdentity& identity() const { return id_; }

 private:
  Region() = default;
  const void* base_ = nullptr;
  size_t size_ = 0;
  RegionIdentity id_;
};

// The stats directory: flag if given, else $TSLAB_STATS_DIR, else the
// default. kUsage if that is "off".
Status ResolveStatsDir(const std::string& flag, std::string* dir);

// The region files in dir (names only matched, nothing opened), sorted by
// pid then name. A missing dir is an empty list. The pid is the name's, a
// hint only: owner.h's FindOwner says whose file it is.
struct Candidate {
  std::string path;
  std::string file;  // name within dir
  int pid = 0;
};
Status ListCandidates(const std::string& dir, std::vector<Candidate>* out);

// A process and the regions selected from it.
struct Target {
  // exited: the process is gone and these are the regions it left with
  // keep_stats=1 (proc then holds only its pid and start time).
  bool exited = false;
  ProcInfo proc;
  std::vector<std::unique_ptr<Region>> regions;  // by allocator id
};
struct TargetQuery {
  std::string dir;
  int pid = 0;            // 0: the only live tslab process, if exactly one
  std::string allocator;  // name or id; empty: every allocator
};
// On kAmbiguous, *listing holds the live processes (for the message).
// With a pid that is gone, or that a later process has reused, the regions
// that pid left at exit (keep_stats=1) are the target (Target::exited);
// without a pid they are never picked.
Status OpenTarget(const TargetQuery& q, Target* out, std::string* listing);

// One entry of --list: a live region, or one kept at exit (exited).
struct LiveRegion {
  int pid = 0;
  uint64_t allocator_id = 0;
  std::string name;
  std::string command;        // the whole command line, for --list --json
  std::string short_command;  // program basename and arguments, <= 48 chars
  double uptime_s = 0;
  std::string note;  // why it could not be read, if so
  bool exited = false;            // kept at exit (keep_stats=1)
  uint64_t exit_realtime_ns = 0;  // exited: when, 0 if unknown
};
Status ListLive(const std::string& dir, std::vector<LiveRegion>* out);
// --list: the live regions (kListLive) and those kept at exit
// (keep_stats=1) by processes that are gone or whose pid was reused
// (kListExited: command empty, uptime_s the time the allocator lived,
// creation to exit, exited true), in one scan of dir, each file's owner
// proven once; the live entries come first, by pid.
inline constexpr unsigned kListLive = 1, kListExited = 2;
Status ListRegions(const std::string& dir, unsigned which, std::vector<LiveRegion>* out);

// --gc: removes the region files of dead processes (those kept at exit
// with keep_stats=1 too: stale by definition), of reused PIDs and
// of processes that no longer map them (exec'd, or planted), and entries
// under a region's name that are not regular files (symlinks, FIFOs,
// sockets, empty directories). Builds abandoned under a hidden name
// (".tslab-*", the process died while creating) go once their process is
// gone.
struct GcResult {
  int removed = 0;
  int kept_live = 0;
  int kept_unknown = 0;  // another PID namespace this reader cannot see
  int failed = 0;        // stale but not removable (another user's)
  std::vector<std::string> removed_paths;
  std::vector<std::string> unknown_paths;
};
Status CollectGarbage(const std::string& dir, GcResult* out);

}  // namespace tslab::stats_dump

#endif  // TSLAB_TOOLS_STATS_DUMP_REGION_READER_H_
