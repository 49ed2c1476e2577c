// tslab-trace: latency histograms of libtslab's USDT probes in a running
// process (or in every process running a binary), via libbpf.
//
//   tslab-trace -p PID [interval] [count]
//
// Every step returns a Status up to Main, which prints its one line and
// exits with its code (status.h, docs/tslab-trace.md).
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tools/common/cli_checks.h"
#include "tools/common/json_text.h"
#include "tools/common/version.h"
#include "tools/tslab-trace/checks.h"
#include "tools/tslab-trace/list_json.h"
#include "tools/tslab-trace/probes.h"
#include "tools/tslab-trace/report.h"
#include "tools/tslab-trace/status.h"
#include "tools/tslab-trace/target.h"
#include "tools/tslab-trace/tracer.h"

namespace tslab::trace {
namespace {

struct Options {
  pid_t pid = -1;
  std::string binary;
  double interval = 1.0;
  int count = 0;  // 0: until a signal or the target's exit
  bool micro = false, milli = false;
  bool per_class = false;
  bool json = false;
  bool list = false;
  bool verbose = false;
  std::string probes;
};

// An owned file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

uint64_t NowNs(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

Status ParseProbes(const std::string& list, std::vector<int>* out) {
  if (list.empty()) {
    for (int p = 0; p < TT_NPROBES; ++p) out->push_back(p);
    return Status::Ok();
  }
  size_t i = 0;
  while (i <= list.size()) {
    size_t j = list.find(',', i);
    if (j == std::string::npos) j = list.size();
    std::string name = list.substr(i, j - i);
    // Accept "tslab:slow_path" as well as "slow_path".
    if (name.rfind("tslab:", 0) == 0) name = name.substr(6);
    int p = ProbeIndex(name);
    if (p < 0) {
      std::string known;
      for (const ProbeInfo& pi : kProbes) known += std::string(" ") + pi.name;
      return Status::Error(kExitUsage, "--probe: unknown probe '" + name +
                                           "' (known:" + known + ")");
    }
    bool dup = false;
    for (int q : *out) dup |= q == p;
    if (!dup) out->push_back(p);
    i = j + 1;
  }
  return Status::Ok();
}

std::string ArgTypes(const UsdtNote& n) {
  std::string s;
  for (const UsdtArg& a : n.args) {
    if (!s.empty()) s += ' ';
    s += a.size == 0 ? "?" : (a.is_signed ? "s" : "u") +
                                 std::to_string(a.size * 8);
  }
  return s;
}

// The end of a stdio output: a write error is one (ENOSPC on /dev/full),
// the reader going away (EPIPE, SIGPIPE ignored) is not.
Status FlushStdout() {
  if (std::fflush(stdout) == 0 && !std::ferror(stdout)) return Status::Ok();
  if (errno == EPIPE) return Status::Ok();
  return Status::Error(kExitFailure,
                       std::string("writing stdout: ") + std::strerror(errno));
}

// --list: the tslab probes of each target file.
Status List(const Options& o, const std::vector<TraceTarget>& targets) {
  if (o.json) {
    nlohmann::ordered_json doc = nlohmann::ordered_json::array();
    for (const TraceTarget& t : targets) doc.push_back(ListJson(t.shown, t.notes));
    std::printf("%s\n", tools::JsonText(doc).c_str());
    return FlushStdout();
  }
  for (const TraceTarget& t : targets) {
    std::printf("%s\n", t.shown.c_str());
    for (const ProbeInfo& pi : kProbes) {
      int sites = 0;
      const UsdtNote* first = nullptr;
      for (const UsdtNote& n : t.notes) {
        if (n.name != pi.name) continue;
        if (first == nullptr) first = &n;
        ++sites;
      }
      if (first == nullptr) continue;
      // The arguments with their names, from the probe table (the note
      // has only their types), when the note agrees with it.
      const int nargs = static_cast<int>(first->args.size());
      const std::string args = nargs == pi.nargs ? std::string(pi.args_text) : ArgTypes(*first);
      std::printf("  %s:%-20s %d arg%s (%s)  %d site%s  semaphore %s\n",
                  kProvider, pi.name, nargs, nargs == 1 ? "" : "s", args.c_str(), sites,
                  sites == 1 ? "" : "s", first->semaphore != 0 ? "yes" : "no");
    }
    // Probes of the provider this tool does not know (a newer libtslab).
    for (const UsdtNote& n : t.notes) {
      if (ProbeIndex(n.name) < 0) {
        std::printf("  %s:%-20s %d arg%s (%s)  (not traced by this version)\n",
                    kProvider, n.name.c_str(), static_cast<int>(n.args.size()),
                    n.args.size() == 1 ? "" : "s", ArgTypes(n).c_str());
      }
    }
  }
  return FlushStdout();
}

// Whether the traced process is gone (fallback when pidfd is missing).
bool ProcessGone(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return true;
  size_t rp = line.rfind(')');
  return rp == std::string::npos || rp + 2 >= line.size() ||
         line[rp + 2] == 'Z' || line[rp + 2] == 'X';
}

// What to trace: the probes asked for and the target's files, after the
// system checks (each failure with its own exit code, in the documented
// order).
Status Prepare(const Options& o, std::vector<int>* probes,
               std::vector<TraceTarget>* targets) {
  if (Status s = CheckPrivileges(); !s.ok()) return s;
  SetLibbpfVerbose(o.verbose);
  if (Status s = CheckBtf(); !s.ok()) return s;
  if (Status s = CheckRefCtrSupport(); !s.ok()) return s;
  Status s = o.pid > 0 ? ResolvePidTargets(o.pid, targets)
                       : ResolveBinaryTarget(o.binary, targets);
  if (!s.ok()) return s;
  for (int p : *probes) {
    bool found = false;
    for (const TraceTarget& t : *targets) found |= t.HasProbe(kProbes[p].name);
    if (!found && !o.probes.empty()) {
      return Status::Error(
          kExitNoProbes,
          (o.pid > 0 ? "process " + std::to_string(o.pid) : o.binary) +
              " has no " + kProvider + ":" + kProbes[p].name + " probe");
    }
  }
  return Status::Ok();
}

void SayTracing(const Options& o, const Tracer& tracer,
                const std::vector<TraceTarget>& targets) {
  std::string what;
  for (const TraceTarget& t : targets) {
    what += (what.empty() ? "" : ", ") + t.shown;
  }
  if (o.pid > 0) {
    std::string comm = ProcessName(o.pid);
    std::fprintf(stderr,
                 "Tracing %zu tslab probes in pid %d%s%s (%s)... Hit "
                 "Ctrl-C to end.\n",
                 tracer.link_count(), static_cast<int>(o.pid),
                 comm.empty() ? "" : " ", comm.c_str(), what.c_str());
  } else {
    std::fprintf(stderr,
                 "Tracing %zu tslab probes in every process running "
                 "%s... Hit Ctrl-C to end.\n",
                 tracer.link_count(), what.c_str());
  }
}

// How a write of the output ended.
enum class Written { kAll, kSignal, kReaderGone };

// Writes text to stdout without letting a reader that stopped reading (a
// full pipe) hold the probes attached: it waits for room and for the
// signalfd (sfd, -1: none) together, and a signal ends the write. EPIPE
// (SIGPIPE is ignored) is the reader going away, as with `| head -1`: not
// an error. Any other write error is (e.g. ENOSPC on /dev/full).
Status WriteOut(const std::string& text, int sfd, Written* how) {
  size_t off = 0;
  while (off < text.size()) {
    pollfd fds[2] = {{STDOUT_FILENO, POLLOUT, 0}, {sfd, POLLIN, 0}};
    const int r = poll(fds, sfd >= 0 ? 2 : 1, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::Error(kExitFailure,
                           std::string("poll: ") + std::strerror(errno));
    }
    if (sfd >= 0 && (fds[1].revents & POLLIN)) {
      *how = Written::kSignal;
      return Status::Ok();
    }
    if (fds[0].revents == 0) continue;
    // At most one page: after POLLOUT a pipe takes it without blocking.
    const size_t n = std::min<size_t>(text.size() - off, 4096);
    const ssize_t w = write(STDOUT_FILENO, text.data() + off, n);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      if (errno == EPIPE) {
        *how = Written::kReaderGone;
        return Status::Ok();
      }
      return Status::Error(kExitFailure, std::string("writing stdout: ") +
                                             std::strerror(errno));
    }
    off += static_cast<size_t>(w);
  }
  *how = Written::kAll;
  return Status::Ok();
}

// What PrintInterval writes, as a string (then WriteOut).
std::string IntervalText(const ReportConfig& rc, const tt_totals& delta,
                         const tt_totals& total, const IntervalInfo& info) {
  char* buf = nullptr;
  size_t len = 0;
  FILE* mem = open_memstream(&buf, &len);
  if (mem == nullptr) return "";
  PrintInterval(rc, delta, total, info, mem);
  std::fclose(mem);
  std::string text(buf, len);
  std::free(buf);
  return text;
}

// Prints an interval every o.interval seconds until count, a signal
// (readable sfd) or the target's exit (readable pidfd, or gone from /proc
// when there is no pidfd). *exited: the target exited.
Status Loop(const Options& o, const Tracer& tracer, const ReportConfig& rc,
            int sfd, int pidfd, bool* exited) {
  tt_totals prev{}, cur{};
  const uint64_t start = NowNs(CLOCK_MONOTONIC);
  uint64_t last = start;
  const uint64_t step = static_cast<uint64_t>(o.interval * 1e9);
  for (int i = 1;; ++i) {
    const uint64_t deadline = start + step * uint64_t(i);
    bool stop = false;
    for (;;) {
      const uint64_t now = NowNs(CLOCK_MONOTONIC);
      if (now >= deadline) break;
      uint64_t wait = deadline - now;
      // Without a pidfd, look at the process every 200 ms.
      if (o.pid > 0 && pidfd < 0 && wait > 200000000ull) wait = 200000000ull;
      timespec ts{static_cast<time_t>(wait / 1000000000ull),
                  static_cast<long>(wait % 1000000000ull)};
      pollfd fds[2] = {{sfd, POLLIN, 0}, {pidfd, POLLIN, 0}};
      int r = ppoll(fds, pidfd >= 0 ? 2 : 1, &ts, nullptr);
      if (r < 0 && errno != EINTR) {
        return Status::Error(kExitFailure,
                             std::string("ppoll: ") + std::strerror(errno));
      }
      if (r > 0 && (fds[0].revents & POLLIN)) {
        signalfd_siginfo si;
        while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
        }
        stop = true;
      }
      if (r > 0 && pidfd >= 0 && fds[1].revents != 0) *exited = true;
      if (o.pid > 0 && pidfd < 0 && ProcessGone(o.pid)) *exited = true;
      if (stop || *exited) break;
    }
    tracer.Read(&cur);
    const uint64_t now = NowNs(CLOCK_MONOTONIC);
    IntervalInfo info;
    info.index = i;
    info.seconds = double(now - last) / 1e9;
    info.realtime_ns = NowNs(CLOCK_REALTIME);
    info.target_exited = *exited;
    info.final = stop || *exited || (o.count > 0 && i >= o.count);
    Written how = Written::kAll;
    if (Status s = WriteOut(IntervalText(rc, Subtract(cur, prev), cur, info),
                            sfd, &how);
        !s.ok()) {
      return s;
    }
    // A signal while the reader keeps the pipe full, or no reader: detach
    // now; the interval is not printed whole.
    if (how != Written::kAll) return Status::Ok();
    prev = cur;
    last = now;
    if (info.final) return Status::Ok();
  }
}

Status Run(const Options& o) {
  std::vector<int> probes;
  if (Status s = ParseProbes(o.probes, &probes); !s.ok()) return s;
  std::vector<TraceTarget> targets;
  if (o.list) {
    Status s = o.pid > 0 ? ResolvePidTargets(o.pid, &targets)
                         : ResolveBinaryTarget(o.binary, &targets);
    return s.ok() ? List(o, targets) : s;
  }
  if (Status s = Prepare(o, &probes, &targets); !s.ok()) return s;

  // Signals are read from a signalfd in the loop, so that Ctrl-C or
  // SIGTERM, even during attach, still prints the last interval and
  // detaches through the destructors.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) {
    return Status::Error(kExitFailure,
                         std::string("sigprocmask: ") + std::strerror(errno));
  }
  Fd sfd(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  if (sfd.get() < 0) {
    return Status::Error(kExitFailure,
                         std::string("signalfd: ") + std::strerror(errno));
  }
  // Readable once the process has exited (zombie included).
  Fd pidfd(o.pid > 0 ? static_cast<int>(syscall(SYS_pidfd_open, o.pid, 0))
                     : -1);
  if (o.pid > 0 && pidfd.get() < 0 && errno == ESRCH) {
    return Status::Error(kExitNoTarget,
                         "no such process: " + std::to_string(o.pid));
  }

  TraceConfig cfg;
  cfg.pid = o.pid > 0 ? o.pid : -1;
  cfg.targets = targets;
  cfg.probes = probes;
  cfg.time_div = o.milli ? 1000000 : o.micro ? 1000 : 1;
  cfg.per_class = o.per_class;
  cfg.verbose = o.verbose;
  std::unique_ptr<Tracer> tracer;
  if (Status s = Tracer::Start(cfg, &tracer); !s.ok()) return s;
  SayTracing(o, *tracer, targets);

  ReportConfig rc;
  rc.probes = probes;
  rc.per_class = o.per_class;
  rc.json = o.json;
  rc.unit = o.milli ? "ms" : o.micro ? "us" : "ns";
  rc.pid = cfg.pid;
  if (o.pid <= 0) rc.binary = targets.front().shown;
  bool exited = false;
  Status s = Loop(o, *tracer, rc, sfd.get(), pidfd.get(), &exited);
  tracer.reset();  // detach
  if (exited) {
    std::fprintf(stderr, "tslab-trace: process %d exited; detached\n",
                 static_cast<int>(o.pid));
  }
  return s;
}

}  // namespace

int Main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "tslab-trace: latency histograms of libtslab's USDT probes (slow "
      "paths, epoch closes, madvise, ...) in a running process, via BPF.\n"
      "Exit codes: 0 ok, 1 failure, 2 usage, 3 not privileged, 4 no kernel "
      "BTF, 5 no such process/file, 6 no tslab probes, 7 no uprobe "
      "semaphore support."};
  app.add_option("-p,--pid", o.pid, "Trace this process")
      ->type_name("PID")
      ->check(tools::WholeNumber(INT32_MIN, INT32_MAX));  // 0 or less: below
  app.add_option("--binary", o.binary,
                 "Trace every process that runs this binary or maps this "
                 "library")
      ->type_name("PATH");
  app.add_option("interval", o.interval,
                 "Seconds between outputs (default 1; fractions allowed)")
      ->type_name("SECONDS");
  app.add_option("count", o.count, "Number of outputs (default: until Ctrl-C "
                                   "or the process exits)")
      ->type_name("N");
  auto* us = app.add_flag("-u,--microseconds", o.micro,
                          "Histograms in microseconds");
  auto* ms = app.add_flag("-m,--milliseconds", o.milli,
                          "Histograms in milliseconds");
  us->excludes(ms);
  app.add_flag("--per-class", o.per_class,
               "Split class-carrying probes by size class");
  app.add_option("--probe", o.probes,
                 "Only these probes, comma-separated (e.g. "
                 "slow_path,madvise)")
      ->type_name("LIST");
  app.add_flag("--json", o.json, "One JSON document per interval");
  app.add_flag("--list", o.list, "List the tslab probes of the target");
  app.add_flag("-v,--verbose", o.verbose, "Print libbpf's log");
  bool version = false;
  app.add_flag("--version", version, "Print the version and exit");
  app.footer(
      "EXAMPLES:\n"
      "  tslab-trace -p 4242              histograms of every probe, each second, until Ctrl-C\n"
      "  tslab-trace -p 4242 -u 5 3       in microseconds, 3 outputs 5 s apart\n"
      "  tslab-trace -p 4242 --probe slow_path --per-class\n"
      "                                   the slow path, split by size class\n"
      "  tslab-trace --binary /usr/local/lib/libtslab.so.0 --list\n"
      "                                   the probes a library carries\n"
      "  tslab-trace -p 4242 --json 1 1   one JSON document");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "tslab-trace: %s (see --help)\n", e.what());
    return kExitUsage;
  }
  if (version) {
    std::fputs(tools::VersionLine("tslab-trace").c_str(), stdout);
    return 0;
  }
  std::string usage;
  if (app.count("--pid") && o.pid <= 0) {
    usage = "-p: not a process id: " + std::to_string(o.pid);
  } else if ((o.pid > 0) == !o.binary.empty()) {
    usage = "give exactly one of -p PID and --binary PATH";
  } else if (!(o.interval > 0) || !std::isfinite(o.interval)) {
    usage = "interval must be a positive number of seconds";
  } else if (o.count < 0) {
    usage = "count must not be negative";
  } else if (app.count("--probe") && o.probes.empty()) {
    usage = "--probe: no probe named (leave --probe out to trace them all)";
  }
  if (!usage.empty()) {
    std::fprintf(stderr, "tslab-trace: %s (see --help)\n", usage.c_str());
    return kExitUsage;
  }
  // A reader that goes away is seen as EPIPE (WriteOut), not a death by
  // SIGPIPE (rc 141) that would skip the detach.
  std::signal(SIGPIPE, SIG_IGN);
  Status s;
  try {
    s = Run(o);
  } catch (const std::exception& e) {
    s = Status::Error(kExitFailure, std::string("internal error: ") + e.what());
  } catch (...) {
    s = Status::Error(kExitFailure, "internal error");
  }
  if (!s.ok()) std::fprintf(stderr, "tslab-trace: %s\n", s.message.c_str());
  return s.code;
}

}  // namespace tslab::trace

int main(int argc, char** argv) { return tslab::trace::Main(argc, argv); }
