// stats_dump's exit codes and the status every step returns up to main.
//
// Purpose: one place for the codes that docs/stats_dump.md documents. Every
// error is returned (never thrown past a module, never exit()ed from deep
// inside) so main prints exactly one line for it and nothing partial on
// stdout.
// Invariants: codes 0-2 are the doctor's verdict (and 0 is success
// elsewhere); every error has its own code >= 3; codes never change meaning.
#ifndef TSLAB_TOOLS_STATS_DUMP_STATUS_H_
#define TSLAB_TOOLS_STATS_DUMP_STATUS_H_

#include <cstdio>
#include <exception>
#include <string>
#include <utility>

namespace tslab::stats_dump {

enum class Exit : int {
  kOk = 0,              // success; --doctor: healthy
  kWarning = 1,         // --doctor: at least one warning, no critical
  kCritical = 2,        // --doctor: at least one critical finding
  kUsage = 3,           // bad command line
  kNoProcess = 4,       // no process with that PID
  kNotTslab = 5,        // the process has no stats region
  kPermission = 6,      // a region or the stats directory is not readable
  kCorrupt = 7,         // region file corrupt (bad magic, offsets, owner)
  kTruncated = 8,       // region file shorter than its header says
  kVersion = 9,         // region of another layout version
  kStale = 10,          // region of a dead process or a reused PID
  kNoTarget = 11,       // no -p, and no live tslab process found
  kAmbiguous = 12,      // no -p, and several live tslab processes
  kNoAllocator = 13,    // --allocator matches none of the process's
  kConfig = 14,         // doctor config file unreadable or invalid
  kIo = 15,             // other I/O error (stats directory, output)
  kTargetExited = 16,   // the target exited during --interval / --doctor
};

struct Status {
  Exit code = Exit::kOk;
  std::string message;  // one line, without "stats_dump: " or newline

  bool ok() const { return code == Exit::kOk; }
  static Status Ok() { return {}; }
  static Status Error(Exit c, std::string m) { return {c, std::move(m)}; }
};

// The whole of a tool's main: body's exit code, or, if an exception escapes
// it (out of memory, a library's error), one line "TOOL: internal error:
// WHAT" on stderr and exit code `code`. Nothing escapes main.
template <typename Body>
int CatchAllAtMain(const char* tool, int code, Body&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: internal error: %s\n", tool, e.what());
  } catch (...) {
    std::fprintf(stderr, "%s: internal error\n", tool);
  }
  return code;
}

}  // namespace tslab::stats_dump

#endif  // TSLAB_TOOLS_STATS_DUMP_STATUS_H_
