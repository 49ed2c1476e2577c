// Worker processes for the benchmark driver (see runner.h).
#include "bench/runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>

extern char** environ;

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

// Our environment with cmd.env laid over it.
std::vector<std::string> MergedEnv(const std::vector<std::string>& extra) {
  std::map<std::string, std::string> m;
  auto put = [&m](const std::string& kv) {
    size_t eq = kv.find('=');
    m[kv.substr(0, eq)] = kv;
  };
  for (char** e = environ; *e != nullptr; ++e) put(*e);
  for (const auto& kv : extra) put(kv);
  std::vector<std::string> out;
  for (auto& [k, kv] : m) out.push_back(kv);
  return out;
}

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::string ExitText(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

}  // namespace

WorkerProcess::~WorkerProcess() {
  if (pid_ > 0) {
    Kill();
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (in_fd_ >= 0) close(in_fd_);
}

void WorkerProcess::Kill() {
  kill(pid_, SIGKILL);
  int st;
  while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

bool WorkerProcess::Start(const WorkerCommand& cmd, bool keep_stdin, std::string* err) {
  int out[2], in[2] = {-1, -1};
  if (pipe2(out, O_CLOEXEC) != 0 || (keep_stdin && pipe2(in, O_CLOEXEC) != 0)) {
    *err = std::string("pipe: ") + strerror(errno);
    return false;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (keep_stdin) {
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  std::vector<std::string> argv_s{cmd.path};
  argv_s.insert(argv_s.end(), cmd.args.begin(), cmd.args.end());
  std::vector<std::string> env_s = MergedEnv(cmd.env);
  std::vector<char*> argv = CStrings(argv_s), envp = CStrings(env_s);
  int rc = posix_spawn(&pid_, cmd.path.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  if (keep_stdin) close(in[0]);
  out_fd_ = out[0];
  in_fd_ = in[1];
  if (rc != 0) {
    pid_ = -1;
    *err = "cannot start " + cmd.path + ": " + strerror(rc);
    return false;
  }
  return true;
}

bool WorkerProcess::ReadLine(double timeout_s, std::string* line, std::string* err) {
  const auto deadline = After(timeout_s);
  for (;;) {
    size_t nl = buf_.find('\n');
    if (nl != std::string::npos) {
      *line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return true;
    }
    double left = Left(deadline);
    if (left <= 0) {
      *err = "no output within " + std::to_string(static_cast<int>(timeout_s)) + " s";
      return false;
    }
    pollfd p{out_fd_, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(left * 1000) + 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;  // timeout: loop re-checks the deadline
    char chunk[4096];
    ssize_t r = read(out_fd_, chunk, sizeof(chunk));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      *err = "end of output";
      return false;
    }
    buf_.append(chunk, static_cast<size_t>(r));
  }
}

void WorkerProcess::CloseStdin() {
  if (in_fd_ >= 0) close(in_fd_);
  in_fd_ = -1;
}

bool WorkerProcess::Finish(double timeout_s, std::string* err) {
  const auto deadline = After(timeout_s);
  int st = 0;
  for (;;) {
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) break;
    if (r < 0 && errno != EINTR) {
      *err = std::string("waitpid: ") + strerror(errno);
      pid_ = -1;
      return false;
    }
    if (Left(deadline) <= 0) {
      Kill();
      *err = "did not exit within " + std::to_string(static_cast<int>(timeout_s)) + " s (killed)";
      return false;
    }
    usleep(2000);
  }
  pid_ = -1;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return true;
  *err = ExitText(st);
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
