// tools/tslab-trace/target.h: which files of a process (or which binary)
// carry tslab's USDT probes.
//
// Purpose: `-p PID` traces the probes of the process's executable
// (/proc/PID/exe) and of every library it has mapped that carries them
// (libtslab.so, found in /proc/PID/maps). A mapped file is opened through
// /proc/PID/root, so that a process in a container, whose maps show paths
// inside its own mount namespace, is traced through the same inode.
// `--binary PATH` traces one file in every process that maps it.
//
// Invariants: a TraceTarget holds only provider "tslab" notes, at least
// one. Thread-safety: none needed (called once, from main).
#ifndef TSLAB_TOOLS_TSLAB_TRACE_TARGET_H_
#define TSLAB_TOOLS_TSLAB_TRACE_TARGET_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "tools/tslab-trace/elf_probes.h"
#include "tools/tslab-trace/status.h"

namespace tslab::trace {

inline constexpr char kProvider[] = "tslab";

struct TraceTarget {
  std::string path;   // what libbpf and the kernel open
  std::string shown;  // what the user sees (the path inside the process)
  std::vector<UsdtNote> notes;  // provider "tslab" only

  bool HasProbe(const std::string& name) const;
};

// Every file of pid with tslab probes. kExitNoTarget if pid does not exist,
// kExitNoProbes if none of its files has a tslab probe.
Status ResolvePidTargets(pid_t pid, std::vector<TraceTarget>* out);
// kExitNoTarget if path does not exist, kExitNoProbes if no tslab probe.
Status ResolveBinaryTarget(const std::string& path,
                           std::vector<TraceTarget>* out);

// The process's command name (/proc/PID/comm), "" if unknown.
std::string ProcessName(pid_t pid);

}  // namespace tslab::trace

#endif  // TSLAB_TOOLS_TSLAB_TRACE_TARGET_H_
