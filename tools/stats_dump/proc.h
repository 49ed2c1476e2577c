// /proc readers for stats_dump: is a PID alive, which process is it (start
// time, to detect a reused PID), its command, uptime and RSS.
//
// Purpose: everything stats_dump learns about a target besides its region
// comes from /proc/PID, which any user may read for any process (stat,
// statm, cmdline), so no ptrace and no privilege is needed.
// Thread-safety: plain functions, no shared state.
// Cost: each call is one open+read+close of a small /proc file.
#ifndef TSLAB_TOOLS_STATS_DUMP_PROC_H_
#define TSLAB_TOOLS_STATS_DUMP_PROC_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace tslab::stats_dump {

struct ProcInfo {
  int pid = 0;
  uint64_t start_ticks = 0;  // /proc/PID/stat field 22
  char state = '?';          // field 3: R, S, D, Z (zombie), ...
  std::string comm;          // field 2, without the parentheses
  uid_t uid = 0;             // owner of /proc/PID (the process's euid)
  // Fields 26 and 28 (start of code, start of stack), mixed: an exec
  // gives new ones (address space layout randomisation), so a change says
  // "another program now"; equal values prove nothing (no ASLR, or fields
  // hidden as 0 from a reader without ptrace access).
  uint64_t exec_hint = 0;
};

// False if the process does not exist (or is unreadable).
bool ReadProcInfo(int pid, ProcInfo* out);
// A process that can still run: exists and is not a zombie.
bool IsAlive(const ProcInfo& p);
// Resident set size in bytes from /proc/PID/statm, 0 if unreadable.
uint64_t ReadRssBytes(int pid);
// How ReadCmdline shows argv[0]: as the process wrote it, or only its last
// path component (for narrow views, so the program's name survives a long
// install path and truncation).
enum class CmdlineForm { kFull, kProgramBasename };
// The command line with spaces for NULs, at most max_len characters;
// "[comm]" if it is empty (kernel threads, zombies).
std::string ReadCmdline(const ProcInfo& p, size_t max_len,
                        CmdlineForm form = CmdlineForm::kProgramBasename);
// The two halves of ReadCmdline, for a caller that shows one command line
// in two forms from a single read: /proc/PID/cmdline as is (NUL-separated,
// empty if unreadable), and its display form.
std::string ReadRawCmdline(const ProcInfo& p);
std::string FormatCmdline(std::string raw, const ProcInfo& p, size_t max_len,
                          CmdlineForm form);
// Seconds since the process started, from its start ticks and /proc/uptime.
double ProcessUptimeSeconds(const ProcInfo& p);
// Reads a whole small file; false on error (errno set).
bool ReadSmallFile(const std::string& path, std::string* out);

uint64_t RealtimeNs();
uint64_t MonotonicNs();

}  // namespace tslab::stats_dump

#endif  // TSLAB_TOOLS_STATS_DUMP_PROC_H_
