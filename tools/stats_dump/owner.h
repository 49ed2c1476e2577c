// Which live process a region file belongs to.
//
// Purpose: a file's name (tslab-<pid>-...) is only a hint. Files of
// processes in other PID namespaces carry that namespace's pid; anyone
// may plant a file under any name in a shared directory; a process that
// exec()s leaves its file behind under its own, still live, pid. So a file
// is a live process's region only if the process its header names, seen
// from our side of the PID namespaces, is alive AND has the file mapped
// (docs/stats_dump.md, "Region files"). Region::Open then checks the rest
// (magic, layout, start time, the header's pid).
//
// Invariants: FindOwner never removes nor writes anything; a verdict of
// kGone is proof (the process is gone, or does not map the file); where
// the proof cannot be had (another PID namespace we cannot see, /proc/PID/
// maps we may not read) the verdict is kUnknown or, for maps, the file is
// given the benefit of the doubt, so that --gc never removes a live file.
// Thread-safety: an OwnerResolver is used by one thread; the functions
// have no shared state.
// Cost: FindOwner is one open+pread of the header, one /proc/PID/stat, and
// one read of /proc/PID/maps; the first file of another PID namespace
// also scans /proc once (/proc/*/ns/pid and NSpid) for the resolver.
#ifndef TSLAB_TOOLS_STATS_DUMP_OWNER_H_
#define TSLAB_TOOLS_STATS_DUMP_OWNER_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "tools/stats_dump/proc.h"

namespace tslab::stats_dump {

// The inode of /proc/PID/ns/pid ("self" for ours); 0 if unreadable (it
// takes ptrace read access: another user's process, unless root).
uint64_t PidNamespaceOf(const std::string& pid_or_self);

// The pid a process has in its own (innermost) PID namespace, from the
// NSpid line of /proc/PID/status (readable by anyone); pid itself if the
// line is missing, 0 if the process is gone.
int InnermostPid(int pid);

// Maps (PID namespace inode, pid in it) to the pid on our side, by one
// scan of /proc on first use.
class OwnerResolver {
 public:
  OwnerResolver();
  uint64_t own_namespace() const { return own_ns_; }
  // The host pid, 0 if none; *visible says whether we see any process of
  // that namespace at all (if not, a file of it cannot be judged).
  int HostPid(uint64_t ns_inode, int ns_pid, bool* visible);

 private:
  uint64_t own_ns_ = 0;
  bool scanned_ = false;
  std::map<std::pair<uint64_t, int>, int> host_;
  std::set<uint64_t> namespaces_;
};

// The files (device, inode) process pid has mapped; false if its maps
// cannot be read (another user's process, unless we are root; a process
// that is not dumpable).
using FileId = std::pair<dev_t, ino_t>;
bool MappedFiles(int pid, std::set<FileId>* out);

enum class Mapped { kYes, kNo, kUnknown };
// Whether process pid has the file (dev, ino) mapped, from /proc/PID/maps;
// kUnknown if its maps cannot be read (another user's process, unless we
// are root; a process that is not dumpable).
Mapped MapsFile(int pid, dev_t dev, ino_t ino);

struct Owner {
  enum Kind { kLive, kGone, kUnknown } kind = kUnknown;
  ProcInfo proc;       // kLive: the process, on our side of the namespaces
  int header_pid = 0;  // the pid its header must hold (its own namespace's)
  std::string why;     // kGone, kUnknown: one line, names the file
  // The header says EXITED: left on purpose at a normal exit
  // (TSLAB_OPTIONS=keep_stats=1); stale all the same once its writer is
  // gone, but no sign of trouble.
  bool kept_at_exit = false;
};

// name_pid: the pid in the file's name (the hint used when the header
// cannot be read: Region::Open then says what is wrong with it).
Owner FindOwner(const std::string& path, int name_pid, OwnerResolver* resolver);

}  // namespace tslab::stats_dump

#endif  // TSLAB_TOOLS_STATS_DUMP_OWNER_H_
