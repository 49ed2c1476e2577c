// tools/tslab-trace/status.h: tslab-trace's exit codes and the Status that
// every step returns up to main.
//
// Purpose: one place for the codes documented in docs/tslab-trace.md; main
// prints Status::message as the single error line and exits with its code.
// Invariants: codes never change meaning (scripts test them).
#ifndef TSLAB_TOOLS_TSLAB_TRACE_STATUS_H_
#define TSLAB_TOOLS_TSLAB_TRACE_STATUS_H_

#include <string>
#include <utility>

namespace tslab::trace {

enum ExitCode : int {
  kExitOk = 0,           // done (count reached, signal, or target exited)
  kExitFailure = 1,      // anything else: BPF load/attach failure, I/O
  kExitUsage = 2,        // bad command line
  kExitNoPrivilege = 3,  // not root, nor CAP_BPF + CAP_PERFMON
  kExitNoBtf = 4,        // the kernel has no BTF (CO-RE cannot work)
  kExitNoTarget = 5,     // no such PID (or --binary file)
  kExitNoProbes = 6,     // the target has no tslab probes (or not those)
  kExitNoRefCtr = 7,     // the kernel cannot drive USDT semaphores
};

struct Status {
  int code = kExitOk;
  std::string message;  // empty when ok

  static Status Ok() { return {}; }
  static Status Error(int code, std::string message) {
    return Status{code, std::move(message)};
  }
  bool ok() const { return code == kExitOk; }
};

}  // namespace tslab::trace

#endif  // TSLAB_TOOLS_TSLAB_TRACE_STATUS_H_
