#include "tests/support/child.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

extern char** environ;

namespace tslab::support {

namespace {

// Our environment with extra laid over it (a name given replaces ours).
std::vector<std::string> MergedEnv(const std::vector<std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    const size_t eq = kv.find('=');
    bool replaced = false;
    for (const std::string& x : extra) {
      replaced |= x.size() > eq && x.compare(0, eq + 1, kv, 0, eq + 1) == 0;
    }
    if (!replaced) out.push_back(kv);
  }
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

std::vector<char*> CStrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const std::string& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::string ExitText(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

Child::~Child() {
  Kill();
  for (int fd : {fds_[0], fds_[1], pidfd_, stdin_fd_}) {
    if (fd >= 0) close(fd);
  }
}

bool Child::Start(const Options& o, std::string* err) {
  int pipes[2][2] = {{-1, -1}, {-1, -1}}, in[2] = {-1, -1};
  const Io io[2] = {o.out, o.err};
  for (int s = 0; s < 2; ++s) {
    if (io[s] == Io::kPipe && pipe2(pipes[s], O_CLOEXEC) != 0) {
      *err = std::string("pipe2: ") + std::strerror(errno);
      return false;
    }
  }
  if (o.stdin_pipe && pipe2(in, O_CLOEXEC) != 0) {
    *err = std::string("pipe2: ") + std::strerror(errno);
    return false;
  }
  // Everything the child needs is built before fork: after it, only
  // async-signal-safe calls.
  const std::vector<std::string> env = MergedEnv(o.env);
  const std::vector<char*> argv = CStrings(o.argv), envp = CStrings(env);
  const std::string paths[2] = {o.out_path, o.err_path};
  const pid_t pid = fork();
  if (pid < 0) {
    *err = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    const int stdin_fd = o.stdin_pipe ? in[0] : open("/dev/null", O_RDONLY);
    if (stdin_fd < 0 || dup2(stdin_fd, 0) < 0) _exit(125);
    for (int s = 0; s < 2; ++s) {
      int fd = -1;
      switch (io[s]) {
        case Io::kPipe: fd = pipes[s][1]; break;
        case Io::kFile:
          fd = open(paths[s].c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
          break;
        case Io::kNull: fd = open("/dev/null", O_WRONLY | O_CLOEXEC); break;
        case Io::kInherit: continue;
      }
      if (fd < 0 || dup2(fd, s + 1) < 0) _exit(125);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (o.uid >= 0 &&
        (setgroups(0, nullptr) != 0 || setgid(o.uid) != 0 || setuid(o.uid) != 0)) {
      _exit(126);
    }
    execvpe(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  for (int s = 0; s < 2; ++s) {
    if (io[s] != Io::kPipe) continue;
    close(pipes[s][1]);
    fds_[s] = pipes[s][0];
    fcntl(fds_[s], F_SETFL, O_NONBLOCK);
  }
  if (o.stdin_pipe) {
    close(in[0]);
    stdin_fd_ = in[1];
  }
  pid_ = pid;
  pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  return true;
}

bool Child::Exited() {
  Poll();
  return exited_;
}

int Child::ExitCode() const {
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
}

bool Child::Signal(int sig) { return pid_ > 0 && !exited_ && kill(pid_, sig) == 0; }

void Child::CloseStdin() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  stdin_fd_ = -1;
}

void Child::Kill() {
  if (pid_ <= 0 || exited_) return;
  kill(pid_, SIGKILL);
  int st = 0;
  while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  exited_ = true;
  status_ = st;
}

std::optional<std::string> Child::ReadLine(Stream s, double timeout_s) {
  std::optional<std::string> line;
  Pump([&] { return (line = TakeLine(s)).has_value() || fds_[s] < 0; }, timeout_s);
  return line;
}

std::optional<std::string> Child::WaitForLine(Stream s, const std::string& needle,
                                              double timeout_s) {
  std::optional<std::string> found;
  Pump(
      [&] {
        while (auto l = TakeLine(s)) {
          seen_[s] += *l + "\n";
          if (l->find(needle) != std::string::npos) {
            found = l;
            return true;
          }
        }
        return false;
      },
      timeout_s);
  return found;
}

bool Child::Wait(double timeout_s) {
  return Pump([&] { return exited_; }, timeout_s);
}

std::string Child::Rest(Stream s) {
  Poll();
  std::string r = buf_[s];
  buf_[s].clear();
  return r;
}

void Child::Poll() {
  Pump([] { return true; }, 0);
}

std::optional<std::string> Child::TakeLine(Stream s) {
  const size_t nl = buf_[s].find('\n');
  if (nl == std::string::npos) return std::nullopt;
  std::string line = buf_[s].substr(0, nl);
  buf_[s].erase(0, nl + 1);
  return line;
}

void Child::Drain() {
  char b[65536];
  for (int s = 0; s < 2; ++s) {
    while (fds_[s] >= 0) {
      const ssize_t n = read(fds_[s], b, sizeof(b));
      if (n > 0) {
        buf_[s].append(b, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        if (n == 0) {
          close(fds_[s]);
          fds_[s] = -1;
        }
        break;
      }
    }
  }
}

void Child::Reap() {
  if (exited_ || pid_ <= 0) return;
  int st = 0;
  if (waitpid(pid_, &st, WNOHANG) == pid_) {
    exited_ = true;
    status_ = st;
    Drain();
  }
}

// Reads output and reaps until done() or the deadline.
bool Child::Pump(const std::function<bool()>& done, double timeout_s) {
  const auto end = std::chrono::steady_clock::now() +
                   std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::duration<double>(std::max(0.0, timeout_s)));
  for (;;) {
    Drain();
    Reap();
    if (done()) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now >= end) return false;
    pollfd p[3];
    int n = 0;
    for (int fd : {fds_[0], fds_[1], exited_ ? -1 : pidfd_}) {
      if (fd >= 0) p[n++] = {fd, POLLIN, 0};
    }
    int ms = static_cast<int>(std::chrono::duration<double>(end - now).count() * 1000) + 1;
    // Without a pidfd (or with nothing piped), look at the child every 20 ms.
    if ((pidfd_ < 0 || n == 0) && ms > 20) ms = 20;
    if (n == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    } else {
      poll(p, static_cast<nfds_t>(n), ms);
    }
  }
}

}  // namespace tslab::support
