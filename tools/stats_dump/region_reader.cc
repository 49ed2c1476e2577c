#include "tools/stats_dump/region_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "tools/common/terminal_text.h"
#include "tools/stats_dump/owner.h"
#include "tslab/stats_region.h"
#include "tslab/tslab.h"

namespace tslab::stats_dump {
namespace {

constexpr size_t kMaxRegionBytes = 64u << 20;  // far above any real region

// ---- SIGBUS guard: reading a mapped file that shrank raises SIGBUS ----

thread_local sigjmp_buf* tl_bus_jump = nullptr;

void OnSigbus(int sig) {
  if (tl_bus_jump != nullptr) siglongjmp(*tl_bus_jump, 1);
  signal(sig, SIG_DFL);
  raise(sig);
}

void InstallSigbusGuard() {
  static bool installed = false;
  if (installed) return;
  struct sigaction sa = {};
  sa.sa_handler = OnSigbus;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, nullptr);
  installed = true;
}

// Copies the header and, if snap is non-null, snapshots the region; both
// under the guard. Returns a tslab_status, TSLAB_E_REGION_TRUNCATED on
// SIGBUS.
int GuardedRead(const void* base, size_t size, uint64_t now_mono,
                TslabRegionHeader* header, TslabSnapshot* snap) {
  InstallSigbusGuard();
  sigjmp_buf jump;
  if (sigsetjmp(jump, 1) != 0) {
    tl_bus_jump = nullptr;
    return TSLAB_E_REGION_TRUNCATED;
  }
  tl_bus_jump = &jump;
  int rc = TSLAB_OK;
  if (header != nullptr) std::memcpy(header, base, sizeof(*header));
  if (snap != nullptr) rc = tslab_region_snapshot(base, size, now_mono, snap);
  tl_bus_jump = nullptr;
  return rc;
}

Status FromTslab(int rc, const std::string& path) {
  switch (rc) {
    case TSLAB_OK: return Status::Ok();
    case TSLAB_E_REGION_VERSION:
      return Status::Error(Exit::kVersion,
                           path + " has another region layout version");
    case TSLAB_E_REGION_TRUNCATED:
      return Status::Error(Exit::kTruncated,
                           path + " is truncated (shorter than its header says)");
    default:
      return Status::Error(Exit::kCorrupt,
                           path + " is corrupt (bad magic, sizes or offsets)");
  }
}

// Parses "tslab-<pid>-<rest>.stats"; 0 if the name is not a region's.
int PidFromName(const char* name) {
  static constexpr char kPrefix[] = "tslab-", kSuffix[] = ".stats";
  size_t len = std::strlen(name);
  if (len <= sizeof(kPrefix) + sizeof(kSuffix) ||
      std::strncmp(name, kPrefix, sizeof(kPrefix) - 1) != 0 ||
      std::strcmp(name + len - (sizeof(kSuffix) - 1), kSuffix) != 0) {
    return 0;
  }
  char* end = nullptr;
  long pid = std::strtol(name + sizeof(kPrefix) - 1, &end, 10);
  if (end == nullptr || *end != '-' || pid <= 0 || pid > (1 << 30)) return 0;
  return static_cast<int>(pid);
}

// The region files a process has mapped, from /proc/PID/maps: finds regions
// made in a directory other than ours (tslab_options.stats_dir).
std::vector<Candidate> CandidatesFromMaps(int pid) {
  std::vector<Candidate> out;
  std::string maps;
  if (!ReadSmallFile("/proc/" + std::to_string(pid) + "/maps", &maps)) {
    return out;
  }
  std::set<std::string> seen;
  std::istringstream lines(maps);
  for (std::string line; std::getline(lines, line);) {
    size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    size_t base = path.rfind('/');
    // Any region name: in another PID namespace the name carries the pid
    // there. (A deleted file's path ends in " (deleted)" and never parses.)
    const int name_pid = PidFromName(path.c_str() + base + 1);
    if (name_pid == 0) continue;
    if (!seen.insert(path).second) continue;
    // The path is in the target's mount namespace; /proc/PID/root reaches
    // it from ours.
    std::string via_root = "/proc/" + std::to_string(pid) + "/root" + path;
    out.push_back({access(path.c_str(), F_OK) == 0 ? path : via_root,
                   path.substr(base + 1), name_pid});
  }
  return out;
}

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

}  // namespace

Region::~Region() {
  if (base_ != nullptr) munmap(const_cast<void*>(base_), size_);
}

Status Region::Open(const std::string& path, const ProcInfo& proc,
                    std::unique_ptr<Region>* out) {
  return Open(path, proc, OpenOptions(), out);
}

Status Region::Open(const std::string& path, const ProcInfo& proc,
                    const OpenOptions& opt, std::unique_ptr<Region>* out) {
  const int header_pid = opt.header_pid != 0 ? opt.header_pid : proc.pid;
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    if (err == EACCES || err == EPERM) {
      return Status::Error(Exit::kPermission,
                           "cannot read " + path +
                               ": permission denied (run as the process's "
                               "user or as root)");
    }
    if (err == ENOENT) {
      return Status::Error(Exit::kStale,
                           path + " vanished (its allocator was destroyed)");
    }
    if (err == ELOOP) {
      return Status::Error(Exit::kCorrupt,
                           path + " is a symlink, not a region file");
    }
    return Status::Error(Exit::kIo, "cannot open " + path + ": " +
                                        std::strerror(err));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Status::Error(Exit::kCorrupt, path + " is not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < sizeof(TslabRegionHeader)) {
    close(fd);
    return Status::Error(Exit::kTruncated,
                         path + " is truncated: " + std::to_string(size) +
                             " bytes, less than a region header");
  }
  if (size > kMaxRegionBytes) {
    close(fd);
    return Status::Error(Exit::kCorrupt, path + " is too large for a region");
  }
  if (opt.exited) {
    if (st.st_uid != geteuid() && geteuid() != 0) {
      close(fd);
      return Status::Error(Exit::kCorrupt,
                           path + " is owned by uid " + std::to_string(st.st_uid) +
                               ", not by this user: not trusted as an exited "
                               "process's region");
    }
  } else if (st.st_uid != proc.uid) {
    close(fd);
    return Status::Error(
        Exit::kCorrupt, path + " is owned by uid " + std::to_string(st.st_uid) +
                            " but process " + std::to_string(proc.pid) +
                            " runs as uid " + std::to_string(proc.uid) +
                            ": not trusted");
  }
  void* base = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (base == MAP_FAILED) {
    return Status::Error(Exit::kIo, "cannot map " + path + ": " +
                                        std::strerror(errno));
  }
  std::unique_ptr<Region> r(new Region());
  r->base_ = base;
  r->size_ = size;

  TslabRegionHeader h;
  if (GuardedRead(base, size, 0, &h, nullptr) != TSLAB_OK) {
    return FromTslab(TSLAB_E_REGION_TRUNCATED, path);
  }
  if (h.magic != TSLAB_REGION_MAGIC) {
    return Status::Error(Exit::kCorrupt,
                         path + " is corrupt: " +
                             (h.magic == 0 ? "never initialised"
                                           : "bad magic (not a tslab region)"));
  }
  if (h.layout_version != TSLAB_REGION_LAYOUT_VERSION) {
    return Status::Error(
        Exit::kVersion,
        path + " has region layout version " +
            std::to_string(h.layout_version) + "; this stats_dump reads " +
            std::to_string(TSLAB_REGION_LAYOUT_VERSION));
  }
  if (h.region_size > size) {
    return Status::Error(Exit::kTruncated,
                         path + " is truncated: " + std::to_string(size) +
                             " bytes, its header says " +
                             std::to_string(h.region_size));
  }
  if (h.pid != header_pid) {
    return Status::Error(Exit::kCorrupt,
                         path + " is corrupt: its header says pid " +
                             std::to_string(h.pid));
  }
  if (opt.exited) {
    if (h.state != TSLAB_REGION_STATE_EXITED) {
      return Status::Error(Exit::kStale, path + " was not kept at exit (its process "
                                                "is gone; stats_dump --gc removes it)");
    }
  } else if (h.start_time_ticks != proc.start_ticks) {
    return Status::Error(Exit::kStale,
                         path + " belongs to an earlier process with pid " +
                             std::to_string(proc.pid) +
                             " (the pid was reused; stats_dump --gc removes it)");
  }
  if (h.state == TSLAB_REGION_STATE_DESTROYED) {
    return Status::Error(Exit::kStale,
                         path + " belongs to a destroyed allocator");
  }
  // A full trial read validates the sections and offsets once.
  TslabSnapshot trial;
  int rc = GuardedRead(base, size, 0, nullptr, &trial);
  if (rc != TSLAB_OK) return FromTslab(rc, path);

  r->id_.path = path;
  r->id_.pid = proc.pid;
  r->id_.allocator_id = h.allocator_id;
  // Any bytes may be there: kept as they are, and shown through
  // tools::JsonText (JSON) and tools::TerminalSafe (text).
  r->id_.name.assign(h.name, strnlen(h.name, sizeof(h.name)));
  r->id_.create_realtime_ns = h.create_realtime_ns;
  r->id_.exited = opt.exited;
  r->id_.exit_realtime_ns = opt.exited ? h.exit_realtime_ns : 0;
  r->id_.start_ticks = h.start_time_ticks;
  *out = std::move(r);
  return Status::Ok();
}

Status Region::Snapshot(Sample* out) const {
  out->timestamp_ns = RealtimeNs();
  out->mono_ns = MonotonicNs();
  int rc = GuardedRead(base_, size_, out->mono_ns, nullptr, &out->snap);
  if (rc != TSLAB_OK) return FromTslab(rc, id_.path);
  // An exited process has no RSS; its pid may be another process's now.
  out->rss_bytes = id_.exited ? 0 : ReadRssBytes(id_.pid);
  return Status::Ok();
}

bool Region::Destroyed() const {
  TslabRegionHeader h;
  return GuardedRead(base_, size_, 0, &h, nullptr) != TSLAB_OK ||
         h.state == TSLAB_REGION_STATE_DESTROYED;
}

Status Region::StillLive() const {
  TslabRegionHeader h;
  if (GuardedRead(base_, size_, 0, &h, nullptr) != TSLAB_OK) {
    return Status::Error(Exit::kTruncated,
                         id_.path + " was truncated while being read (an allocator "
                                    "never shrinks its file: something else cut it)");
  }
  if (id_.exited) {
    return Status::Error(Exit::kTargetExited,
                         "process " + std::to_string(id_.pid) + " has exited");
  }
  if (h.state == TSLAB_REGION_STATE_DESTROYED) {
    return Status::Error(Exit::kTargetExited,
                         "allocator " + std::to_string(id_.allocator_id) + " of process " +
                             std::to_string(id_.pid) + " was destroyed");
  }
  return Status::Ok();
}

Status ResolveStatsDir(const std::string& flag, std::string* dir) {
  const char* env = std::getenv("TSLAB_STATS_DIR");
  *dir = !flag.empty() ? flag : (env != nullptr && *env) ? env : kDefaultStatsDir;
  if (*dir == "off") {
    // Say where the "off" came from: --dir off is not TSLAB_STATS_DIR's.
    return Status::Error(Exit::kUsage,
                         !flag.empty()
                             ? "--dir off: 'off' turns stats files off in a "
                               "program, there is nothing to read; name a directory"
                             : "the stats directory is 'off' (TSLAB_STATS_DIR=off): "
                               "name the directory to read with --dir");
  }
  while (dir->size() > 1 && dir->back() == '/') dir->pop_back();
  return Status::Ok();
}

namespace {

// The per-user directories next to the default one (/dev/shm/tslab-<uid>:
// a user's processes go there when the shared default is missing or not
// theirs to use). Real directories only.
std::vector<std::string> PerUserDirs() {
  std::vector<std::string> v;
  const std::string def = kDefaultStatsDir;
  const std::string parent = def.substr(0, def.rfind('/'));
  const std::string prefix = def.substr(def.rfind('/') + 1) + "-";
  DIR* d = opendir(parent.c_str());
  if (d == nullptr) return v;
  while (dirent* e = readdir(d)) {
    const std::string n = e->d_name;
    struct stat st;
    if (n.size() > prefix.size() && n.compare(0, prefix.size(), prefix) == 0 &&
        n.find_first_not_of("0123456789", prefix.size()) == std::string::npos &&
        lstat((parent + "/" + n).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      v.push_back(parent + "/" + n);
    }
  }
  closedir(d);
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

Status ListCandidates(const std::string& dir, std::vector<Candidate>* out) {
  out->clear();
  if (dir == kDefaultStatsDir) {
    // Each user's own directory, as far as we may list it (another user's
    // is 0700: root sees it, others do not need to).
    for (const std::string& own : PerUserDirs()) {
      std::vector<Candidate> more;
      if (ListCandidates(own, &more).ok()) out->insert(out->end(), more.begin(), more.end());
    }
  }
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return Status::Ok();
    // Another user's private default directory: what we may list is ours.
    if (errno == EACCES && dir == kDefaultStatsDir && !out->empty()) return Status::Ok();
    if (errno == EACCES) {
      return Status::Error(Exit::kPermission,
                           "cannot list " + dir + ": permission denied");
    }
    return Status::Error(Exit::kIo,
                         "cannot list " + dir + ": " + std::strerror(errno));
  }
  while (dirent* e = readdir(d)) {
    int pid = PidFromName(e->d_name);
    if (pid != 0) out->push_back({dir + "/" + e->d_name, e->d_name, pid});
  }
  closedir(d);
  std::sort(out->begin(), out->end(), [](const Candidate& a, const Candidate& b) {
    return a.pid != b.pid ? a.pid < b.pid : a.file < b.file;
  });
  return Status::Ok();
}

namespace {

// Opens c as a region kept at exit (keep_stats=1) by pid c.pid, whose
// process is gone: no live process to check the owner, start time or RSS
// against (Region::OpenOptions::exited).
Status OpenExited(const Candidate& c, std::unique_ptr<Region>* r) {
  ProcInfo p;
  p.pid = c.pid;
  Region::OpenOptions opt;
  opt.header_pid = c.pid;
  opt.exited = true;
  return Region::Open(c.path, p, opt, r);
}

// The --list entry of a file whose writer is alive and maps it; false if
// the region went stale while it was being opened.
bool LiveEntry(const Candidate& c, const Owner& owner, LiveRegion* lr) {
  const ProcInfo& p = owner.proc;
  std::unique_ptr<Region> r;
  Region::OpenOptions opt;
  opt.header_pid = owner.header_pid;
  Status o = Region::Open(c.path, p, opt, &r);
  if (o.code == Exit::kStale) return false;
  lr->pid = p.pid;
  const std::string raw = ReadRawCmdline(p);
  lr->command = FormatCmdline(raw, p, 4096, CmdlineForm::kFull);
  lr->short_command = FormatCmdline(raw, p, 48, CmdlineForm::kProgramBasename);
  lr->uptime_s = ProcessUptimeSeconds(p);
  if (o.ok()) {
    lr->allocator_id = r->identity().allocator_id;
    lr->name = r->identity().name;
  } else {
    lr->note = o.message;
  }
  return true;
}

// The --list entry of a file kept at exit (keep_stats=1) whose writer is
// proven gone (or does not map it); false if it is not such a region.
bool ExitedEntry(const Candidate& c, LiveRegion* lr) {
  std::unique_ptr<Region> r;
  if (!OpenExited(c, &r).ok()) return false;
  const RegionIdentity& id = r->identity();
  lr->pid = c.pid;
  lr->allocator_id = id.allocator_id;
  lr->name = id.name;
  lr->exited = true;
  lr->exit_realtime_ns = id.exit_realtime_ns;
  if (id.exit_realtime_ns > id.create_realtime_ns) {
    lr->uptime_s = static_cast<double>(id.exit_realtime_ns - id.create_realtime_ns) / 1e9;
  }
  return true;
}

}  // namespace

Status ListRegions(const std::string& dir, unsigned which, std::vector<LiveRegion>* out) {
  out->clear();
  std::vector<Candidate> cands;
  Status s = ListCandidates(dir, &cands);
  if (!s.ok()) return s;
  // One pass: each file's owner is proven once (a header read,
  // /proc/PID/stat and /proc/PID/maps), live entries first.
  OwnerResolver resolver;
  std::vector<LiveRegion> exited;
  for (const Candidate& c : cands) {
    const Owner owner = FindOwner(c.path, c.pid, &resolver);
    LiveRegion lr;
    if (owner.kind == Owner::kLive && (which & kListLive) != 0) {
      if (LiveEntry(c, owner, &lr)) out->push_back(std::move(lr));
    } else if (owner.kind == Owner::kGone && (which & kListExited) != 0) {
      if (ExitedEntry(c, &lr)) exited.push_back(std::move(lr));
    }
  }
  out->insert(out->end(), std::make_move_iterator(exited.begin()),
              std::make_move_iterator(exited.end()));
  return Status::Ok();
}

Status ListLive(const std::string& dir, std::vector<LiveRegion>* out) {
  return ListRegions(dir, kListLive, out);
}

namespace {

std::string FormatListing(const std::vector<LiveRegion>& live) {
  std::map<int, std::vector<std::string>> by_pid;
  std::map<int, std::string> cmd;
  for (const LiveRegion& l : live) {
    by_pid[l.pid].push_back(
        l.note.empty() ? (l.name.empty() ? "#" + std::to_string(l.allocator_id)
                                         : tools::TerminalSafe(l.name))
                       : "?");
    cmd[l.pid] = tools::TerminalSafe(l.short_command);
  }
  std::string s;
  for (const auto& [pid, names] : by_pid) {
    s += "  pid " + std::to_string(pid) + " (" + cmd[pid] + "): " +
         Join(names, ", ") + "\n";
  }
  return s;
}

// Moves the regions of *from that `allocator` (a name or id; empty: all)
// picks into *selected; *names: every region's "name (id N)", for messages.
void SelectAllocators(const std::string& allocator, std::vector<std::unique_ptr<Region>>* from,
                      std::vector<std::unique_ptr<Region>>* selected,
                      std::vector<std::string>* names) {
  for (auto& r : *from) {
    const RegionIdentity& id = r->identity();
    names->push_back((id.name.empty() ? "(unnamed)" : id.name) + " (id " +
                     std::to_string(id.allocator_id) + ")");
    if (allocator.empty() || allocator == id.name ||
        allocator == std::to_string(id.allocator_id)) {
      selected->push_back(std::move(r));
    }
  }
}

// The regions kept at exit (keep_stats=1) among dir's files named for pid,
// of a process with that pid that is not `now` (the process that has the
// pid today, if any): those of the latest such process (the largest start
// time: a pid reused twice may have left two sets).
std::vector<std::unique_ptr<Region>> OpenExitedRegions(const std::vector<Candidate>& cands,
                                                       int pid, const ProcInfo* now) {
  std::vector<std::unique_ptr<Region>> all;
  for (const Candidate& c : cands) {
    if (c.pid != pid) continue;
    std::unique_ptr<Region> r;
    if (!OpenExited(c, &r).ok()) continue;
    if (now != nullptr && r->identity().start_ticks == now->start_ticks) continue;
    all.push_back(std::move(r));
  }
  uint64_t latest = 0;
  for (const auto& r : all) latest = std::max(latest, r->identity().start_ticks);
  std::vector<std::unique_ptr<Region>> out;
  for (auto& r : all) {
    if (r->identity().start_ticks == latest) out.push_back(std::move(r));
  }
  return out;
}

// Makes *out the exited target of pid from its kept regions (not empty),
// selecting q.allocator as for a live process.
Status TakeExited(const TargetQuery& q, int pid, std::vector<std::unique_ptr<Region>> kept,
                  Target* out) {
  std::vector<std::unique_ptr<Region>> selected;
  std::vector<std::string> names;
  SelectAllocators(q.allocator, &kept, &selected, &names);
  if (selected.empty()) {
    return Status::Error(Exit::kNoAllocator,
                         "process " + std::to_string(pid) + " (exited) had no allocator '" +
                             q.allocator + "'; it had: " + Join(names, ", "));
  }
  std::sort(selected.begin(), selected.end(), [](const auto& a, const auto& b) {
    return a->identity().allocator_id < b->identity().allocator_id;
  });
  out->exited = true;
  out->proc = ProcInfo();
  out->proc.pid = pid;
  out->proc.start_ticks = selected.front()->identity().start_ticks;
  out->regions = std::move(selected);
  return Status::Ok();
}

}  // namespace

Status OpenTarget(const TargetQuery& q, Target* out, std::string* listing) {
  int pid = q.pid;
  if (pid == 0) {
    std::vector<LiveRegion> live;
    Status s = ListLive(q.dir, &live);
    if (!s.ok()) return s;
    std::set<int> pids;
    for (const LiveRegion& l : live) pids.insert(l.pid);
    if (pids.empty()) {
      return Status::Error(Exit::kNoTarget,
                           "no live tslab process has a stats region in " +
                               q.dir + " (use -p PID, or --dir)");
    }
    if (pids.size() > 1) {
      *listing = FormatListing(live);
      return Status::Error(Exit::kAmbiguous,
                           std::to_string(pids.size()) +
                               " live tslab processes: pick one with -p PID");
    }
    pid = *pids.begin();
  }

  ProcInfo proc;
  const bool alive = ReadProcInfo(pid, &proc) && IsAlive(proc);
  std::vector<Candidate> all, mine;
  Status s = ListCandidates(q.dir, &all);
  if (!s.ok() && alive) return s;
  for (const Candidate& c : all) {
    if (c.pid == pid) mine.push_back(c);
  }
  const std::string spid = std::to_string(pid);
  if (!alive) {
    auto kept = OpenExitedRegions(all, pid, nullptr);
    if (!kept.empty()) return TakeExited(q, pid, std::move(kept), out);
    if (!mine.empty()) {
      return Status::Error(Exit::kStale,
                           "process " + spid + " is gone; its region files in " +
                               q.dir + " are stale (stats_dump --gc removes them)");
    }
    if (ReadProcInfo(pid, &proc)) {  // there, but not alive
      return Status::Error(Exit::kNoProcess,
                           "process " + spid + " has exited (a zombie, not yet "
                           "reaped by its parent): nothing to read");
    }
    return Status::Error(Exit::kNoProcess, "no process with pid " + spid);
  }
  // Its own files: those of the directory that carry its pid (ours, or
  // the one it has in its own PID namespace) and those it has mapped
  // (found wherever they are), each counted once; only those it maps are
  // its regions (a file it no longer maps was left by a program it
  // exec'd, by an earlier process with its pid, or planted).
  const int ns_pid = InnermostPid(pid) > 0 ? InnermostPid(pid) : pid;
  if (ns_pid != pid) {
    for (const Candidate& c : all) {
      if (c.pid == ns_pid) mine.push_back(c);
    }
  }
  for (Candidate& c : CandidatesFromMaps(pid)) mine.push_back(std::move(c));
  std::set<FileId> mapped, seen;
  const bool maps_known = MappedFiles(pid, &mapped);
  if (mine.empty()) {
    return Status::Error(Exit::kNotTslab,
                         "process " + spid + " (" + proc.comm +
                             ") has no tslab stats region in " + q.dir +
                             " (not a tslab process, its region is off, or "
                             "it uses another directory: try --dir)");
  }

  Status first_error, stale;
  std::vector<std::unique_ptr<Region>> ok;
  for (const Candidate& c : mine) {
    struct stat st;
    if (lstat(c.path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (!seen.insert({st.st_dev, st.st_ino}).second) continue;
      if (maps_known && !mapped.count({st.st_dev, st.st_ino})) {
        if (stale.ok()) {
          stale = Status::Error(Exit::kStale,
                                c.path + " is not mapped by process " + spid +
                                    ": left by a program it exec'd or by an earlier "
                                    "process with its pid, or planted (stats_dump --gc "
                                    "removes it)");
        }
        continue;
      }
    }
    std::unique_ptr<Region> r;
    Region::OpenOptions opt;
    opt.header_pid = ns_pid;
    Status o = Region::Open(c.path, proc, opt, &r);
    if (o.ok()) {
      ok.push_back(std::move(r));
    } else if (o.code == Exit::kStale) {
      if (stale.ok()) stale = o;
    } else if (first_error.ok()) {
      first_error = o;
    }
  }
  if (ok.empty()) {  // the pid was reused: what its earlier holder kept
    auto kept = OpenExitedRegions(all, pid, &proc);
    if (!kept.empty()) return TakeExited(q, pid, std::move(kept), out);
  }
  std::vector<std::unique_ptr<Region>> selected;
  std::vector<std::string> names;
  SelectAllocators(q.allocator, &ok, &selected, &names);
  if (!q.allocator.empty() && selected.empty() && !ok.empty()) {
    return Status::Error(Exit::kNoAllocator,
                         "process " + spid + " has no allocator '" +
                             q.allocator + "'; it has: " + Join(names, ", "));
  }
  // Without --allocator every region must be readable: half an answer
  // would look like a whole one.
  if (!first_error.ok() && (q.allocator.empty() || selected.empty())) {
    return first_error;
  }
  if (selected.empty()) {
    return !stale.ok() ? stale
                       : Status::Error(Exit::kNotTslab,
                                       "process " + spid +
                                           " has no live tslab region");
  }
  std::sort(selected.begin(), selected.end(), [](const auto& a, const auto& b) {
    return a->identity().allocator_id < b->identity().allocator_id;
  });
  out->proc = proc;
  out->regions = std::move(selected);
  return Status::Ok();
}

// Hidden builds older than this are abandoned: a build takes microseconds.
constexpr time_t kAbandonedBuildSeconds = 60;

Status CollectGarbage(const std::string& dir, GcResult* out) {
  *out = GcResult();
  std::vector<Candidate> cands;
  Status s = ListCandidates(dir, &cands);
  if (!s.ok()) return s;
  // Abandoned builds: ".tslab-...stats", which ListCandidates never lists,
  // in the directory and (for the default one) each user's own.
  std::vector<std::string> dirs = {dir};
  if (dir == kDefaultStatsDir) {
    for (std::string& own : PerUserDirs()) dirs.push_back(std::move(own));
  }
  const time_t now_s = time(nullptr);
  for (const std::string& d_path : dirs) {
    DIR* d = opendir(d_path.c_str());
    if (d == nullptr) continue;
    while (dirent* e = readdir(d)) {
      struct stat st;
      const std::string path = d_path + "/" + e->d_name;
      if (e->d_name[0] == '.' && PidFromName(e->d_name + 1) != 0 &&
          lstat(path.c_str(), &st) == 0 && now_s - st.st_mtime > kAbandonedBuildSeconds) {
        cands.push_back({path, e->d_name, 0});
      }
    }
    closedir(d);
  }
  OwnerResolver resolver;
  for (const Candidate& c : cands) {
    struct stat before;
    if (lstat(c.path.c_str(), &before) != 0) continue;
    // Not a regular file (a symlink, FIFO, socket or directory under a
    // region's name) or an abandoned build: never a region; planted or left.
    bool stale = !S_ISREG(before.st_mode) || c.pid == 0;
    if (!stale) {
      const Owner owner = FindOwner(c.path, c.pid, &resolver);
      if (owner.kind == Owner::kUnknown) {
        ++out->kept_unknown;
        out->unknown_paths.push_back(owner.why);
        continue;
      }
      stale = owner.kind == Owner::kGone;
      if (!stale) {
        std::unique_ptr<Region> r;
        Region::OpenOptions opt;
        opt.header_pid = owner.header_pid;
        // Only a proven stale file goes: a live process's corrupt or
        // unreadable region is not ours to judge.
        stale = Region::Open(c.path, owner.proc, opt, &r).code == Exit::kStale;
      }
    }
    if (!stale) {
      ++out->kept_live;
      continue;
    }
    // The name must still be the entry we judged (not a new process's).
    struct stat now;
    if (lstat(c.path.c_str(), &now) != 0 || now.st_ino != before.st_ino ||
        now.st_dev != before.st_dev) {
      continue;
    }
    if (unlinkat(AT_FDCWD, c.path.c_str(), S_ISDIR(before.st_mode) ? AT_REMOVEDIR : 0) == 0) {
      ++out->removed;
      out->removed_paths.push_back(c.path);
    } else {
      ++out->failed;
    }
  }
  return Status::Ok();
}

}  // namespace tslab::stats_dump
