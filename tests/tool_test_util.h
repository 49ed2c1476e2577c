// tests/tool_test_util.h: helpers of the stats_dump, doctor and region-file
// tests, which run tslab's programs (stats_dump, tslab-demo) as separate
// processes, the way a user does.
//
// Purpose: where the binaries are ($TSLAB_BUILD/bin, else build/bin); a
// private stats directory per test (TSLAB_STATS_DIR), so a test never sees
// another process's regions; running a program to completion with its
// output captured; a background tslab-demo that is ready once its stats
// region exists; crafting region files from a real one.
//
// Invariants: every wait is bounded and polls a condition (no fixed
// sleeps for correctness); a background process still running when its
// object dies is killed and reaped.
// Thread-safety: for one test thread.
#ifndef TSLAB_TESTS_TOOL_TEST_UTIL_H_
#define TSLAB_TESTS_TOOL_TEST_UTIL_H_

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/child.h"
#include "tslab/stats_region.h"
#include "tslab/tslab.h"

namespace tslab::tool_test {

using Json = nlohmann::ordered_json;

inline std::string BinDir() {
  const char* b = std::getenv("TSLAB_BUILD");
  return std::string(b != nullptr && *b ? b : "build") + "/bin";
}

// Polls pred every 10 ms for at most timeout_s seconds.
inline bool WaitFor(const std::function<bool()>& pred, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline bool WriteFile(const std::string& path, const std::string& data,
                      mode_t mode = 0600) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return false;
  bool ok = write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  fchmod(fd, mode);
  return close(fd) == 0 && ok;
}

// A directory of its own under /tmp, removed with everything in it.
class ScratchDir {
 public:
  explicit ScratchDir(mode_t mode = 0700) {
    char tmpl[] = "/tmp/tslab-tool-test.XXXXXX";
    if (mkdtemp(tmpl) != nullptr) {
      path_ = tmpl;
      chmod(tmpl, mode);
    }
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  // Names of the region files in the directory, sorted.
  std::vector<std::string> Regions() const {
    std::vector<std::string> v;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(path_, ec)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("tslab-", 0) == 0 && n.size() > 6 &&
          n.compare(n.size() - 6, 6, ".stats") == 0) {
        v.push_back(n);
      }
    }
    std::sort(v.begin(), v.end());
    return v;
  }

 private:
  std::string path_;
};

// A child process; its stdout and stderr go to files (no pipe to drain, so
// it never blocks on a full pipe while the test waits on something else).
// A thin face of the test-support library's Child (tests/support/child.h).
class Process {
 public:
  struct Spec {
    std::vector<std::string> argv;
    std::vector<std::string> env;  // "NAME=VALUE", laid over ours
    std::string out_path, err_path;  // empty: /dev/null
    int uid = -1;  // setgid+setuid before exec (tests run as root)
  };

  Process() = default;
  explicit Process(const Spec& s) { Start(s); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool Start(const Spec& s) {
    support::Child::Options o;
    o.argv = s.argv;
    o.env = s.env;
    o.uid = s.uid;
    o.out = s.out_path.empty() ? support::Child::Io::kNull : support::Child::Io::kFile;
    o.err = s.err_path.empty() ? support::Child::Io::kNull : support::Child::Io::kFile;
    o.out_path = s.out_path;
    o.err_path = s.err_path;
    std::string err;
    return child_.Start(o, &err);
  }

  pid_t pid() const { return child_.pid(); }
  // Reaps the child if it has exited; true once it has.
  bool Exited() { return child_.Exited(); }
  // Waits (bounded) for the exit; the exit code, 128+signal, or -1.
  int Wait(double timeout_s) {
    if (child_.pid() <= 0 || !child_.Wait(timeout_s)) return -1;
    return child_.ExitCode();
  }
  // Sends sig and waits (bounded) for the exit.
  int Stop(int sig = SIGTERM, double timeout_s = 30) {
    child_.Signal(sig);
    return Wait(timeout_s);
  }

 private:
  support::Child child_;
};

struct RunResult {
  int code = -1;  // exit code, 128+signal, -1 if it timed out
  std::string out, err;
};

// Runs argv to completion, at most timeout_s seconds.
inline RunResult Run(const std::vector<std::string>& argv,
                     const std::vector<std::string>& env = {},
                     double timeout_s = 60, int uid = -1) {
  ScratchDir io(0755);
  Process::Spec s{argv, env, io / "out", io / "err", uid};
  RunResult r;
  Process p(s);
  r.code = p.Wait(timeout_s);
  r.out = ReadFile(io / "out");
  r.err = ReadFile(io / "err");
  return r;
}

// stats_dump with the given arguments, reading the stats directory dir.
inline RunResult StatsDump(const std::string& dir, std::vector<std::string> args,
                           double timeout_s = 60, int uid = -1) {
  args.insert(args.begin(), BinDir() + "/stats_dump");
  return Run(args, {"TSLAB_STATS_DIR=" + dir}, timeout_s, uid);
}

// The JSON documents of an output, one a line.
inline std::vector<Json> JsonLines(const std::string& out) {
  std::vector<Json> docs;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) docs.push_back(Json::parse(line));
  }
  return docs;
}

inline size_t CountLines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

// A tslab-demo in the background, with its regions in dir. ready() once
// it has written its ready file (its stats regions exist then).
class Demo {
 public:
  // program: the tslab-demo to run (a link to it, to test how its path
  // shows); env: more "NAME=VALUE"; uid: run as that user (tests as root).
  Demo(const std::string& dir, const std::string& name,
       std::vector<std::string> args, const std::string& program = "",
       const std::vector<std::string>& env = {}, int uid = -1)
      : dir_(dir), name_(name) {
    const std::string ready = dir + "/" + name + ".ready";
    std::vector<std::string> argv = {program.empty() ? BinDir() + "/tslab-demo" : program,
                                     "--name", name,
                                     "--ready-file", ready};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> all_env = {"TSLAB_STATS_DIR=" + dir};
    all_env.insert(all_env.end(), env.begin(), env.end());
    proc_.Start({argv, all_env, dir + "/" + name + ".out", dir + "/" + name + ".err", uid});
    ready_ = WaitFor([&] { return !ReadFile(ready).empty() || proc_.Exited(); }, 30) &&
             !ReadFile(ready).empty();
  }
  bool ready() const { return ready_; }
  pid_t pid() const { return proc_.pid(); }
  std::string Output() const { return ReadFile(dir_ + "/" + name_ + ".out"); }
  std::string Errors() const { return ReadFile(dir_ + "/" + name_ + ".err"); }
  // Waits (bounded) until the demo has finished its work ("done" line).
  bool WaitDone(double timeout_s = 60) {
    return WaitFor([&] { return Output().find("\ndone ") != std::string::npos; },
                   timeout_s);
  }
  int Stop(int sig = SIGTERM) { return proc_.Stop(sig); }
  Process& process() { return proc_; }

 private:
  std::string dir_, name_;
  Process proc_;
  bool ready_ = false;
};

// Field 22 of /proc/PID/stat (start time in clock ticks), 0 if unreadable.
inline uint64_t StartTicks(pid_t pid) {
  std::string s = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t p = s.rfind(')');
  if (p == std::string::npos) return 0;
  std::istringstream in(s.substr(p + 2));
  std::string field;
  for (int i = 3; i <= 22 && in >> field; ++i) {
    if (i == 22) return std::stoull(field);
  }
  return 0;
}

// A real region image, made by an allocator of this very process (named
// "crafted", 100 allocations of 200 bytes), for tests to patch into
// corrupt, stale or foreign files.
inline std::string RealRegionImage() {
  ScratchDir d;
  tslab_options o;
  tslab_options_init(&o);
  o.stats_dir = d.path().c_str();
  o.name = "crafted";
  tslab_allocator* a = tslab_create(&o);
  if (a == nullptr) return "";
  for (int i = 0; i < 100; ++i) (void)tslab_alloc(a, 200, 0, nullptr);
  std::string image = ReadFile(tslab_region_path(a));
  tslab_destroy(a);
  return image;
}

inline TslabRegionHeader* ImageHeader(std::string* image) {
  return reinterpret_cast<TslabRegionHeader*>(image->data());
}

// Shard i of an image (REQUIRES: a whole image).
inline TslabRegionShard* ImageShard(std::string* image, int i) {
  return reinterpret_cast<TslabRegionShard*>(image->data() +
                                             ImageHeader(image)->off_shards) + i;
}

// Makes image the region of process pid (header pid and start time).
inline void RetargetImage(std::string* image, pid_t pid) {
  ImageHeader(image)->pid = pid;
  ImageHeader(image)->start_time_ticks = StartTicks(pid);
}

// A live process that stands in as the owner of crafted region files: it
// maps each file it is given, read-only and shared, as a tslab process
// maps its own region (readers count a file as a process's only while the
// process maps it: tools/stats_dump/owner.h), and otherwise sleeps until
// killed. The child makes only async-signal-safe calls.
class RegionHolder {
 public:
  RegionHolder() {
    int to_child[2], to_parent[2];
    if (pipe2(to_child, O_CLOEXEC) != 0) return;
    if (pipe2(to_parent, O_CLOEXEC) != 0) {
      close(to_child[0]);
      close(to_child[1]);
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      close(to_child[1]);
      close(to_parent[0]);
      char path[4096];
      for (;;) {  // one NUL-terminated path per request
        size_t n = 0;
        while (n < sizeof(path)) {
          if (read(to_child[0], path + n, 1) != 1) _exit(0);  // parent gone
          if (path[n++] == '\0') break;
        }
        const int fd = open(path, O_RDONLY | O_CLOEXEC);
        char ok = 0;
        // A fixed length: the file may be shorter (a truncated craft).
        if (fd >= 0 && mmap(nullptr, 1 << 20, PROT_READ, MAP_SHARED, fd, 0) != MAP_FAILED) ok = 1;
        if (fd >= 0) close(fd);
        if (write(to_parent[1], &ok, 1) != 1) _exit(0);
      }
    }
    close(to_child[0]);
    close(to_parent[1]);
    to_child_ = to_child[1];
    from_child_ = to_parent[0];
  }
  ~RegionHolder() {
    if (to_child_ >= 0) close(to_child_);
    if (from_child_ >= 0) close(from_child_);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  RegionHolder(const RegionHolder&) = delete;
  RegionHolder& operator=(const RegionHolder&) = delete;

  pid_t pid() const { return pid_; }
  // The holder maps path (which must exist); true once it has.
  bool Hold(const std::string& path) {
    if (pid_ <= 0) return false;
    if (write(to_child_, path.c_str(), path.size() + 1) !=
        static_cast<ssize_t>(path.size() + 1)) {
      return false;
    }
    char ok = 0;
    return read(from_child_, &ok, 1) == 1 && ok == 1;
  }

 private:
  pid_t pid_ = -1;
  int to_child_ = -1, from_child_ = -1;
};

// Writes a crafted region file for holder's process and has it map it.
inline bool WriteHeldRegion(RegionHolder* holder, const std::string& path,
                            const std::string& image) {
  return WriteFile(path, image) && holder->Hold(path);
}

}  // namespace tslab::tool_test

#endif  // TSLAB_TESTS_TOOL_TEST_UTIL_H_
