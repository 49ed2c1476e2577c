// Worker processes for the benchmark driver (see runner.h).
#include "bench/runner.h"

#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <optional>

namespace tslab::bench {

namespace {

using Clock = std::chrono::steady_clock;

double Left(Clock::time_point deadline) {
  return std::chrono::duration<double>(deadline - Clock::now()).count();
}

Clock::time_point After(double s) {
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

bool WorkerProcess::Start(const WorkerCommand& cmd, bool keep_stdin, std::string* err) {
  support::Child::Options o;
  o.argv = {cmd.path};
  o.argv.insert(o.argv.end(), cmd.args.begin(), cmd.args.end());
  o.env = cmd.env;
  o.err = support::Child::Io::kInherit;  // a failing worker's reason shows as is
  o.stdin_pipe = keep_stdin;
  if (!child_.Start(o, err)) {
    *err = "cannot start " + cmd.path + ": " + *err;
    return false;
  }
  return true;
}

bool WorkerProcess::ReadLine(double timeout_s, std::string* line, std::string* err) {
  std::optional<std::string> l = child_.ReadLine(support::Child::kOut, std::max(0.0, timeout_s));
  if (l) {
    *line = std::move(*l);
    return true;
  }
  *err = child_.Ended(support::Child::kOut)
             ? "end of output"
             : "no output within " + std::to_string(static_cast<int>(timeout_s)) + " s";
  return false;
}

void WorkerProcess::CloseStdin() { child_.CloseStdin(); }

bool WorkerProcess::Finish(double timeout_s, std::string* err) {
  if (!child_.Wait(timeout_s)) {
    child_.Kill();
    *err = "did not exit within " + std::to_string(static_cast<int>(timeout_s)) + " s (killed)";
    return false;
  }
  if (WIFEXITED(child_.status()) && WEXITSTATUS(child_.status()) == 0) return true;
  *err = support::ExitText(child_.status());
  return false;
}

RunOutcome RunWorker(const WorkerCommand& cmd, double timeout_s, const PauseFn& at_pause) {
  RunOutcome o;
  const auto t0 = Clock::now();
  const auto deadline = After(timeout_s);
  WorkerProcess w;
  if (!w.Start(cmd, at_pause != nullptr, &o.error)) return o;
  std::string line, last, err;
  bool paused = false;
  nlohmann::json pause_metrics = nlohmann::json::object();
  while (w.ReadLine(Left(deadline), &line, &err)) {
    if (at_pause && !paused) {
      nlohmann::json p = nlohmann::json::parse(line, nullptr, false);
      if (p.is_object() && p.value("ready", false)) {
        if (!at_pause(w.pid(), p, &pause_metrics, &o.error)) return o;  // killed by ~WorkerProcess
        paused = true;
        w.CloseStdin();
        continue;
      }
    }
    last = line;
  }
  if (err != "end of output") {
    o.error = err;
    return o;  // the destructor kills it
  }
  if (!w.Finish(std::max(1.0, Left(deadline)), &o.error)) return o;
  o.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  o.doc = nlohmann::json::parse(last, nullptr, false);
  if (o.doc.is_discarded() || !o.doc.is_object() || !o.doc.contains("metrics")) {
    o.error = "unreadable result line: '" + last.substr(0, 120) + "'";
    return o;
  }
  if (at_pause && !paused) {
    o.error = "the worker did not pause (no \"ready\" line)";
    return o;
  }
  for (auto& [k, v] : pause_metrics.items()) o.doc["metrics"][k] = v;
  o.ok = true;
  return o;
}

}  // namespace tslab::bench
