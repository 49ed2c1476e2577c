#include "tools/stats_dump/fleet.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

#include "tools/common/terminal_text.h"
#include "tools/stats_dump/owner.h"

namespace tslab::stats_dump {

// A region file found, with the pid of its process on the host and in
// its own PID namespace (the one in its file name and header).
struct FleetCollector::Found {
  std::string path;
  int host_pid = 0;
  int ns_pid = 0;
};

// An opened region of a live process and the doctor's history of it.
struct FleetCollector::Open {
  std::unique_ptr<Region> region;
  int host_pid = 0;
  uint64_t start_ticks = 0;
  uint64_t exec_hint = 0;  // ProcInfo::exec_hint when the owner was proven
  std::deque<Sample> history;  // oldest first, spaced by min_history_spacing_s
};

namespace {

std::string ReadLink(const std::string& path) {
  char buf[256];
  const ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

uint64_t BootTimeSeconds() {
  std::string stat;
  if (!ReadSmallFile("/proc/stat", &stat)) return 0;
  const size_t p = stat.find("\nbtime ");
  return p == std::string::npos ? 0 : std::strtoull(stat.c_str() + p + 7, nullptr, 10);
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0 &&
         sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace

size_t ErrorReasonIndex(Exit code) {
  switch (code) {
    case Exit::kStale: return 0;
    case Exit::kCorrupt: return 1;
    case Exit::kTruncated: return 2;
    case Exit::kVersion: return 3;
    case Exit::kPermission: return 4;
    default: return 5;  // io
  }
}

std::string SanitizeUtf8(const std::string& s) { return tools::ValidUtf8(s); }

FleetCollector::FleetCollector(FleetOptions o) : o_(std::move(o)) {
  boot_time_s_ = BootTimeSeconds();
  const long hz = sysconf(_SC_CLK_TCK);
  hz_ = hz > 0 ? hz : 100;
}

FleetCollector::~FleetCollector() = default;

// Processes in other mount namespaces: their view of the stats directory,
// through /proc/PID/root of one process per namespace.
void FleetCollector::Foreign(std::vector<Found>* out) {
  const std::string mine = ReadLink("/proc/self/ns/mnt");
  if (mine.empty()) return;
  std::map<std::string, std::vector<int>> by_ns;
  DIR* d = opendir("/proc");
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    const std::string ns = ReadLink("/proc/" + std::string(e->d_name) + "/ns/mnt");
    if (!ns.empty() && ns != mine) by_ns[ns].push_back(static_cast<int>(pid));
  }
  closedir(d);
  for (const auto& [ns, pids] : by_ns) {
    std::string dir;
    std::vector<Candidate> cands;
    for (int rep : pids) {  // the first process whose root we may enter
      dir = "/proc/" + std::to_string(rep) + "/root" + o_.dir;
      if (access(dir.c_str(), R_OK | X_OK) == 0) break;
      dir.clear();
    }
    if (dir.empty() || SameFile(dir, o_.dir) || !ListCandidates(dir, &cands).ok() ||
        cands.empty()) {
      continue;
    }
    std::map<int, int> host_of;  // namespace pid -> host pid
    for (int pid : pids) host_of[InnermostPid(pid)] = pid;
    for (const Candidate& c : cands) {
      auto h = host_of.find(c.pid);
      // No process of that namespace has this pid: the file is stale.
      out->push_back({c.path, h == host_of.end() ? 0 : h->second, c.pid});
    }
  }
}

void FleetCollector::Discover(std::vector<Found>* out, Collection* c) {
  std::vector<Candidate> cands;
  Status s = ListCandidates(o_.dir, &cands);
  if (!s.ok()) {
    c->dir_ok = false;
    ++c->errors[6];  // list
  }
  for (const Candidate& x : cands) out->push_back({x.path, x.pid, x.pid});
  if (o_.namespaces) Foreign(out);
}

Collection FleetCollector::Collect() {
  const uint64_t t0 = MonotonicNs();
  Collection c;
  std::vector<Found> found;
  Discover(&found, &c);
  std::set<std::string> seen;
  const CheckConfig& growth = o_.doctor.Get("net_slabs_growth");
  const size_t keep = static_cast<size_t>(
      std::max(1.0, (growth.enabled ? growth.param : 2.0) - 1.0));
  OwnerResolver resolver;
  for (const Found& f : found) {
    // An open region stays its process's while the process is the same
    // one (start time) running the same program (exec_hint): then only
    // /proc/PID/stat is read. Anything else proves the owner again
    // (owner.h: the header's pid and namespace, and the file mapped).
    ProcInfo p;
    auto it = open_.find(f.path);
    if (it != open_.end() &&
        (!ReadProcInfo(it->second->host_pid, &p) || !IsAlive(p) ||
         it->second->start_ticks != p.start_ticks ||
         it->second->exec_hint != p.exec_hint || it->second->region->Destroyed())) {
      open_.erase(it);
      it = open_.end();
    }
    if (it == open_.end()) {
      const Owner owner = FindOwner(f.path, f.ns_pid, &resolver);
      if (owner.kind != Owner::kLive) {
        // The file of a dead process, or not its process's; one kept at
        // exit (keep_stats=1) is skipped without an error: it was meant.
        if (!(owner.kind == Owner::kGone && owner.kept_at_exit)) ++c.errors[0];
        continue;
      }
      p = owner.proc;
      if (o_.only_pid > 0 && p.pid != o_.only_pid) continue;
      auto o = std::make_unique<Open>();
      Region::OpenOptions opt;
      opt.header_pid = owner.header_pid;
      Status s = Region::Open(f.path, p, opt, &o->region);
      if (!s.ok()) {
        ++c.errors[ErrorReasonIndex(s.code)];
        continue;
      }
      o->host_pid = p.pid;
      o->start_ticks = p.start_ticks;
      o->exec_hint = p.exec_hint;
      it = open_.emplace(f.path, std::move(o)).first;
    }
    if (o_.only_pid > 0 && p.pid != o_.only_pid) continue;
    Open& o = *it->second;
    const RegionIdentity& id = o.region->identity();
    if (!o_.allocator.empty() && o_.allocator != id.name &&
        o_.allocator != std::to_string(id.allocator_id)) {
      continue;
    }
    AllocatorView v;
    Status s = o.region->Snapshot(&v.sample);
    if (!s.ok()) {
      ++c.errors[ErrorReasonIndex(s.code)];
      open_.erase(it);
      continue;
    }
    seen.insert(f.path);
    v.proc = p;
    v.id = id;
    v.id.pid = p.pid;  // the host's pid (Open records it), whatever the namespace
    char start[48];
    std::snprintf(start, sizeof(start), "%llu.%02llu",
                  static_cast<unsigned long long>(boot_time_s_ + p.start_ticks / hz_),
                  static_cast<unsigned long long>((p.start_ticks % hz_) * 100 / hz_));
    v.start_time = start;
    // The doctor over the kept history and this snapshot (twice if there
    // is no history yet: then every check is judged since start).
    std::vector<Sample> window(o.history.begin(), o.history.end());
    if (window.empty()) window.push_back(v.sample);
    window.push_back(v.sample);
    // The trace-only checks are never judged here (no BPF in the
    // exporter): a 0 for them would read as "fine".
    for (const CheckConfig& k : o_.doctor.checks) {
      if (k.enabled && !k.needs_trace) v.checks.push_back(k.id);
    }
    for (Finding& x : Diagnose(window, v.id, o_.doctor).findings) {
      if (x.severity >= Severity::kWarning) v.findings.push_back(std::move(x));
    }
    if (o.history.empty() ||
        v.sample.mono_ns - o.history.back().mono_ns >=
            static_cast<uint64_t>(o_.min_history_spacing_s * 1e9)) {
      o.history.push_back(v.sample);
      while (o.history.size() > keep) o.history.pop_front();
    }
    c.allocators.push_back(std::move(v));
  }
  for (auto it = open_.begin(); it != open_.end();) {
    it = seen.count(it->first) ? std::next(it) : open_.erase(it);
  }
  std::sort(c.allocators.begin(), c.allocators.end(),
            [](const AllocatorView& a, const AllocatorView& b) {
              return a.proc.pid != b.proc.pid ? a.proc.pid < b.proc.pid
                                               : a.id.allocator_id < b.id.allocator_id;
            });
  for (size_t i = 0; i < kNumErrorReasons; ++i) total_errors_[i] += c.errors[i];
  c.duration_s = static_cast<double>(MonotonicNs() - t0) / 1e9;
  return c;
}

}  // namespace tslab::stats_dump
