// tests/support/child.h: the one way the tests and the benchmarks run a
// child process (libtslab_testsupport.a, compiled once).
//
// Purpose: a child with its standard streams where the caller wants them
// (stdout/stderr: a pipe read without blocking, a file, /dev/null, or the
// parent's; stdin: /dev/null or a pipe the caller closes), an environment
// laid over ours (a NAME=VALUE given replaces ours), optionally another
// uid, and bounded waits for a line of output or the exit. Pipes are
// drained while waiting on anything, so a chatty child never blocks on a
// full pipe while the caller waits for something else.
//
// Invariants: after fork the child makes only async-signal-safe calls
// (the caller may have threads); every wait is bounded; a Child still
// running when destroyed is killed (SIGKILL) and reaped, so no test leaves
// a process behind; exit statuses read as the exit code or 128 + signal.
//
// Thread-safety: one Child is used by one thread.
#ifndef TSLAB_TESTS_SUPPORT_CHILD_H_
#define TSLAB_TESTS_SUPPORT_CHILD_H_

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tslab::support {

class Child {
 public:
  enum Stream { kOut = 0, kErr = 1 };
  enum class Io { kPipe, kFile, kNull, kInherit };
  struct Options {
    std::vector<std::string> argv;  // argv[0] is looked up in PATH
    std::vector<std::string> env;   // "NAME=VALUE", laid over ours
    int uid = -1;                   // setgroups+setgid+setuid before exec
    Io out = Io::kPipe, err = Io::kPipe;
    std::string out_path, err_path;  // with Io::kFile (created, truncated)
    bool stdin_pipe = false;         // else /dev/null; see CloseStdin
  };

  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  // False (and *err says why) if the pipes or the fork failed; a failed
  // exec is the child's exit 127 (126: the uid change failed; 125: a
  // stream could not be opened).
  bool Start(const Options& o, std::string* err);

  pid_t pid() const { return pid_; }
  // Reads what output is there and reaps without waiting; true once the
  // child has exited.
  bool Exited();
  bool exited() const { return exited_; }
  int status() const { return status_; }
  // The exit code, or 128 + signal (only once exited).
  int ExitCode() const;
  bool Signal(int sig);
  // Ends the child's stdin (Options::stdin_pipe).
  void CloseStdin();
  // SIGKILL and reap, if still running.
  void Kill();

  // Waits (bounded) for the next complete line of a piped stream, without
  // its '\n'; nullopt on timeout or once the stream ended without one.
  std::optional<std::string> ReadLine(Stream s, double timeout_s);
  // Waits for a line containing needle; the lines before it are consumed
  // (and kept in Seen).
  std::optional<std::string> WaitForLine(Stream s, const std::string& needle,
                                         double timeout_s);
  // Waits (bounded) for the exit, reading the output meanwhile.
  bool Wait(double timeout_s);
  // What ReadLine has not taken yet (call after Wait).
  std::string Rest(Stream s);
  // Reads output and reaps, without waiting.
  void Poll();
  // Lines WaitForLine went past.
  const std::string& Seen(Stream s) const { return seen_[s]; }
  // Whether the piped stream s has ended (EOF) with nothing left to take.
  bool Ended(Stream s) const { return fds_[s] < 0 && buf_[s].empty(); }

 private:
  std::optional<std::string> TakeLine(Stream s);
  void Drain();
  void Reap();
  bool Pump(const std::function<bool()>& done, double timeout_s);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int fds_[2] = {-1, -1};
  int stdin_fd_ = -1;
  std::string buf_[2];
  std::string seen_[2];
  bool exited_ = false;
  int status_ = 0;
};

// The wait status as words: "exited with status N", "killed by signal X".
std::string ExitText(int status);

}  // namespace tslab::support

#endif  // TSLAB_TESTS_SUPPORT_CHILD_H_
