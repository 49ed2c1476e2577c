// bench/runner.h: starts benchmark workers and collects their JSON lines.
//
// Purpose: each (allocator, workload) measurement runs in a fresh worker
// process (worker.h). A worker's stdout is a pipe read line by line with a
// deadline; its stderr is the driver's (a failing worker's one-line reason
// shows up as is); its stdin is /dev/null, or a pipe for the hold workload
// and for a run with a pause (closing it ends the hold or the pause). A
// worker past its deadline is killed (SIGKILL, by pid: only our own child).
//
// Thread-safety: none needed; the driver is single-threaded.
#ifndef TSLAB_BENCH_RUNNER_H_
#define TSLAB_BENCH_RUNNER_H_

#include <sys/types.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/child.h"

namespace tslab::bench {

struct WorkerCommand {
  std::string path;               // the worker binary
  std::vector<std::string> args;  // without argv[0]
  std::vector<std::string> env;   // "NAME=value", added to/overriding ours
};

class WorkerProcess {
 public:
  WorkerProcess() = default;
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;
  ~WorkerProcess() = default;  // the Child kills and reaps one still running

  // keep_stdin: give the child a pipe as stdin (CloseStdin ends it).
  bool Start(const WorkerCommand& cmd, bool keep_stdin, std::string* err);
  // Next complete stdout line; false on EOF or timeout (*err says which).
  bool ReadLine(double timeout_s, std::string* line, std::string* err);
  void CloseStdin();
  // Waits up to timeout_s for the exit, then kills. True if it exited 0;
  // otherwise *err describes the exit status.
  bool Finish(double timeout_s, std::string* err);
  pid_t pid() const { return child_.pid(); }

 private:
  support::Child child_;  // the test-support library's (tests/support/child.h)
};

struct RunOutcome {
  bool ok = false;
  std::string error;   // when !ok
  nlohmann::json doc;  // the worker's result line when ok
  double wall_s = 0;   // process start to exit
};

// What the driver does while a worker pauses: pid, the worker's pause line;
// what it measures goes into *metrics, merged into the worker's result.
// False fails the run (*err says why).
using PauseFn = std::function<bool(pid_t pid, const nlohmann::json& pause, nlohmann::json* metrics,
                                   std::string* err)>;

// Runs a worker to completion: its last stdout line must be a JSON object
// with "metrics". With at_pause, the worker's stdin is a pipe and it must
// pause once: print a line with "ready": true and wait for stdin's EOF;
// at_pause runs then, and closing stdin lets the worker finish.
RunOutcome RunWorker(const WorkerCommand& cmd, double timeout_s, const PauseFn& at_pause = nullptr);

}  // namespace tslab::bench

#endif  // TSLAB_BENCH_RUNNER_H_
