// tests/trace_test_util.h: helpers of the probe and tracer tests
// (usdt_notes_test, tslab_trace_test, bpftrace_test).
//
// Purpose: find the build and source trees; run a program with its output
// captured and bounded waits (Subprocess); start tslab-demo and read its
// counters straight from its stats region (public tslab_region_snapshot);
// read a traced process's USDT semaphores and probe-site bytes out of its
// memory (/proc/PID/mem), at addresses found from the ELF file's notes and
// symbol table plus /proc/PID/maps.
//
// Invariants: no fixed sleeps: every wait polls a condition (or a file
// descriptor) up to a generous deadline. A Subprocess still running when
// destroyed is killed (SIGKILL) and reaped.
// Thread-safety: for one test thread.
#ifndef TSLAB_TESTS_TRACE_TEST_UTIL_H_
#define TSLAB_TESTS_TRACE_TEST_UTIL_H_

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/tslab-trace/elf_probes.h"
#include "tools/tslab-trace/probes.h"
#include "tests/support/child.h"
#include "tslab/stats_region.h"

namespace tslab::trace_test {

// The probes every libtslab carries: name and argument sizes (negative:
// signed), from the one probe list (src/usdt/tslab_probes.h, through
// tslab-trace's table), which docs/probes.md documents.
struct ExpectedProbe {
  const char* name;
  std::vector<int> args;
};
inline const std::vector<ExpectedProbe>& ExpectedProbes() {
  static const std::vector<ExpectedProbe> probes = [] {
    std::vector<ExpectedProbe> v;
    for (const tslab::trace::ProbeInfo& p : tslab::trace::kProbes) {
      ExpectedProbe e{p.name, {}};
      for (int i = 0; i < p.nargs; ++i) {
        e.args.push_back(p.args[i].is_signed ? -p.args[i].size
                                             : p.args[i].size);
      }
      v.push_back(std::move(e));
    }
    return v;
  }();
  return probes;
}

inline bool IsRoot() { return geteuid() == 0; }

#define TSLAB_SKIP_UNLESS_ROOT()                                            \
  if (!::tslab::trace_test::IsRoot())                                       \
  GTEST_SKIP() << "tslab-trace loads BPF programs: needs root (or CAP_BPF " \
                  "and CAP_PERFMON); running as uid "                       \
               << geteuid()

// Any wait of these tests, in seconds: generous, for a loaded machine.
inline constexpr double kTimeout = 60;

// $TSLAB_BUILD (make test), else the tree this binary is in
// (BUILD/bin/tests/NAME).
inline std::string BuildDir() {
  if (const char* b = std::getenv("TSLAB_BUILD"); b != nullptr && *b) {
    return b;
  }
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
  return self.parent_path().parent_path().parent_path().string();
}

inline std::string SourceDir() {
#ifdef TSLAB_SOURCE_DIR
  return TSLAB_SOURCE_DIR;
#else
  return std::filesystem::current_path().string();
#endif
}

inline double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Polls pred every 10 ms until it holds or timeout_s passes.
inline bool WaitUntil(const std::function<bool()>& pred, double timeout_s) {
  const auto end = std::chrono::steady_clock::now() +
                   std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::duration<double>(timeout_s));
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// A temporary directory, removed with its contents.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/tslab-trace-test.XXXXXX";
    const char* d = mkdtemp(tmpl);
    path_ = d != nullptr ? d : "";
  }
  ~TempDir() {
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// argv run in a private mount namespace where an empty tmpfs hides `hide`
// (/sys/kernel/btf: no kernel BTF; the uprobe PMU's format directory: no
// ref_ctr_offset): the kernel feature is really missing for that process.
// Exit 99 if the tmpfs cannot be mounted. Root only.
inline std::vector<std::string> HidingArgv(const std::string& hide,
                                           const std::vector<std::string>& argv) {
  std::vector<std::string> v = {"unshare", "-m", "--propagation", "private", "sh", "-c",
                                "mount -t tmpfs tslab-test \"$0\" || exit 99; exec \"$@\"",
                                hide};
  v.insert(v.end(), argv.begin(), argv.end());
  return v;
}
inline constexpr const char* kHiddenBtf = "/sys/kernel/btf";
inline constexpr const char* kHiddenRefCtr = "/sys/bus/event_source/devices/uprobe/format";

// A vmlinux where libbpf also looks for BTF, which hiding /sys/kernel/btf
// would not hide; "" if there is none (the no-BTF tests need none).
inline std::string BtfOutsideSys() {
  utsname u;
  if (uname(&u) != 0) return "uname failed";
  const std::string r = u.release;
  for (const std::string& f :
       {"/boot/vmlinux-" + r, "/lib/modules/" + r + "/vmlinux-" + r,
        "/lib/modules/" + r + "/build/vmlinux", "/usr/lib/modules/" + r + "/kernel/vmlinux",
        "/usr/lib/debug/boot/vmlinux-" + r, "/usr/lib/debug/boot/vmlinux-" + r + ".debug",
        "/usr/lib/debug/lib/modules/" + r + "/vmlinux"}) {
    if (access(f.c_str(), F_OK) == 0) return f;
  }
  return "";
}

// Copies a file (keeping its mode): a private inode, so no other tracer on
// the machine can have uprobes on it.
inline bool CopyFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  std::filesystem::copy_file(from, to,
                             std::filesystem::copy_options::overwrite_existing,
                             ec);
  return !ec;
}

// A child process with stdout and stderr captured: the test-support
// library's Child (tests/support/child.h), shared with tool_test_util.h's
// Process and the benchmark driver's workers.
using Subprocess = support::Child;

// A running tslab-demo whose "ready pid=N allocators=K region=PATH" line
// has been read.
struct Demo {
  Subprocess proc;
  std::string region;
  std::string binary;  // the file that carries its probes (exe or .so)
};

inline bool StartDemo(const std::string& exe,
                      const std::vector<std::string>& args, Demo* d,
                      std::string* err,
                      const std::vector<std::string>& env = {}) {
  Subprocess::Options o;
  o.argv.push_back(exe);
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.env = env;
  if (!d->proc.Start(o, err)) return false;
  auto line = d->proc.WaitForLine(Subprocess::kOut, "ready pid=", 60);
  if (!line) {
    *err = "tslab-demo printed no ready line; stderr: " +
           d->proc.Rest(Subprocess::kErr);
    return false;
  }
  size_t r = line->find("region=");
  d->region = r == std::string::npos ? "" : line->substr(r + 7);
  return true;
}

// Starts a private copy of BUILD/bin/tslab-demo made in dir (*exe), with
// its stats region in dir too.
inline bool StartDemoCopy(const std::string& dir,
                          const std::vector<std::string>& args, Demo* d,
                          std::string* exe, std::string* err) {
  *exe = dir + "/tslab-demo";
  if (!CopyFile(BuildDir() + "/bin/tslab-demo", *exe)) {
    *err = "cannot copy tslab-demo to " + dir;
    return false;
  }
  return StartDemo(*exe, args, d, err, {"TSLAB_STATS_DIR=" + dir});
}

// The counters of the allocator whose stats region is the file `path`.
inline bool ReadRegion(const std::string& path, TslabSnapshot* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size <= 0) {
    close(fd);
    return false;
  }
  void* m = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ,
                 MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return false;
  int rc = tslab_region_snapshot(m, static_cast<size_t>(st.st_size), 0, out);
  munmap(m, static_cast<size_t>(st.st_size));
  return rc == 0;
}

// The region once its allocator has settled: after a workload ends, the
// purge thread still gives the last closes' pages back (purge delay, 10 ms
// by default, then a madvise per run of slabs, each counted and probed).
// Polls every 10 ms until no dirty slab is left and the counters that
// thread moves have not changed for `quiet_s`. The gauge of dirty slabs
// drops before the madvise calls are counted (purge.cc publishes it when
// it unlinks a batch), so only the quiet time covers a purge thread
// descheduled in between: 1 s, a hundred purge delays.
inline bool ReadSettledRegion(const std::string& path, TslabSnapshot* out,
                              double timeout_s, double quiet_s = 1.0) {
  auto key = [](const TslabSnapshot& s) {
    return std::vector<uint64_t>{s.global.total_madvise_calls, s.global.total_madvise_bytes,
                                 s.global.epoch_closes, s.global.total_allocs,
                                 s.global.total_resident_empty_slabs};
  };
  std::vector<uint64_t> last;
  auto since = std::chrono::steady_clock::now();
  return WaitUntil(
      [&] {
        if (!ReadRegion(path, out)) return false;
        const std::vector<uint64_t> k = key(*out);
        const auto now = std::chrono::steady_clock::now();
        if (k != last) {
          last = k;
          since = now;
          return false;
        }
        return k.back() == 0 && Seconds(now - since) >= quiet_s;
      },
      timeout_s);
}

// Reads n bytes of pid's memory at addr.
inline bool ReadMem(pid_t pid, uint64_t addr, void* buf, size_t n) {
  int fd = open(("/proc/" + std::to_string(pid) + "/mem").c_str(),
                O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t r = pread(fd, buf, n, static_cast<off_t>(addr));
  close(fd);
  return r == static_cast<ssize_t>(n);
}

// Where the link-time address vaddr of `file` is in pid's memory.
inline std::optional<uint64_t> RuntimeAddress(pid_t pid,
                                              const std::string& file,
                                              uint64_t vaddr) {
  struct stat st;
  if (stat(file.c_str(), &st) != 0) return std::nullopt;
  auto off = tslab::trace::VaddrToFileOffset(file, vaddr);
  if (!off) return std::nullopt;
  return tslab::trace::FileOffsetToAddress(pid, st.st_dev, st.st_ino, *off);
}

// The value of every tslab probe's semaphore in pid, by probe name, read
// at the address of the ELF symbol tslab_<probe>_semaphore of `file`.
inline bool ReadSemaphores(pid_t pid, const std::string& file,
                           std::map<std::string, uint16_t>* out,
                           std::string* err) {
  for (const ExpectedProbe& p : ExpectedProbes()) {
    const std::string sym = std::string("tslab_") + p.name + "_semaphore";
    auto vaddr = tslab::trace::FindSymbol(file, sym);
    if (!vaddr) {
      *err = "no symbol " + sym + " in " + file;
      return false;
    }
    auto addr = RuntimeAddress(pid, file, *vaddr);
    if (!addr) {
      *err = sym + " is not mapped in pid " + std::to_string(pid);
      return false;
    }
    uint16_t v = 0;
    if (!ReadMem(pid, *addr, &v, sizeof(v))) {
      *err = "cannot read " + sym + " in pid " + std::to_string(pid);
      return false;
    }
    (*out)[p.name] = v;
  }
  return true;
}

// The first byte of every tslab probe site of `file` in pid (0x90, nop,
// untraced; 0xcc, int3, while a uprobe is installed there), and the same
// byte in the file itself.
struct SiteByte {
  std::string probe;
  uint8_t in_memory = 0;
  uint8_t in_file = 0;
};
inline bool ReadProbeSites(pid_t pid, const std::string& file,
                           std::vector<SiteByte>* out, std::string* err) {
  std::vector<tslab::trace::UsdtNote> notes;
  if (!tslab::trace::ReadUsdtNotes(file, &notes, err)) return false;
  int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = file + ": " + std::strerror(errno);
    return false;
  }
  for (const auto& n : notes) {
    if (n.provider != "tslab") continue;
    SiteByte s;
    s.probe = n.name;
    auto off = tslab::trace::VaddrToFileOffset(file, n.pc);
    auto addr = RuntimeAddress(pid, file, n.pc);
    if (!off || !addr || pread(fd, &s.in_file, 1, static_cast<off_t>(*off)) != 1 ||
        !ReadMem(pid, *addr, &s.in_memory, 1)) {
      close(fd);
      *err = "cannot read the site of tslab:" + n.name;
      return false;
    }
    out->push_back(s);
  }
  close(fd);
  return true;
}

// The uprobe perf events `bpftool perf list` shows: (owner pid, file,
// offset).
struct PerfUprobe {
  int pid;
  std::string file;
  uint64_t offset;
};
inline bool ListUprobes(std::vector<PerfUprobe>* out, std::string* err) {
  Subprocess b;
  Subprocess::Options o;
  o.argv = {"bpftool", "-j", "perf", "list"};
  if (!b.Start(o, err)) return false;
  if (!b.Wait(kTimeout) || b.ExitCode() != 0) {
    *err = "bpftool perf list failed: " + b.Rest(Subprocess::kErr);
    return false;
  }
  nlohmann::json j = nlohmann::json::parse(b.Rest(Subprocess::kOut));
  for (const nlohmann::json& e : j) {
    if (e.value("fd_type", "") != "uprobe") continue;
    out->push_back({e.at("pid").get<int>(), e.value("filename", ""),
                    e.value("offset", uint64_t{0})});
  }
  return true;
}

// The uprobes on a file named `file` or on /proc/<target>/..., or owned by
// `tracer`.
inline bool UprobesOf(int tracer, int target, const std::string& file,
                      std::vector<PerfUprobe>* mine, std::string* err) {
  std::vector<PerfUprobe> all;
  if (!ListUprobes(&all, err)) return false;
  const std::string proc = "/proc/" + std::to_string(target) + "/";
  for (const PerfUprobe& u : all) {
    if (u.pid == tracer || u.file == file || u.file.rfind(proc, 0) == 0) {
      mine->push_back(u);
    }
  }
  return true;
}

// A traced file's state in pid: its semaphores and probe sites.
struct TargetState {
  std::map<std::string, uint16_t> sem;
  std::vector<SiteByte> sites;
  bool ok = false;
  std::string err;
};
inline TargetState ReadState(pid_t pid, const std::string& file) {
  TargetState s;
  s.ok = ReadSemaphores(pid, file, &s.sem, &s.err) &&
         ReadProbeSites(pid, file, &s.sites, &s.err);
  return s;
}
// Every semaphore raised and an int3 at every site.
inline bool AllAttached(const TargetState& s) {
  if (!s.ok || s.sites.empty()) return false;
  for (const auto& [name, v] : s.sem) {
    if (v == 0) return false;
  }
  for (const SiteByte& b : s.sites) {
    if (b.in_memory != 0xcc) return false;
  }
  return true;
}
// Every semaphore 0 and every site as in the file.
inline bool AllDetached(const TargetState& s) {
  if (!s.ok || s.sites.empty()) return false;
  for (const auto& [name, v] : s.sem) {
    if (v != 0) return false;
  }
  for (const SiteByte& b : s.sites) {
    if (b.in_memory != b.in_file) return false;
  }
  return true;
}

// Starts BUILD/bin/tslab-trace; true once it says it is attached
// ("Tracing ..." on stderr).
inline bool StartTracer(const std::vector<std::string>& args, Subprocess* t,
                        std::string* err) {
  Subprocess::Options o;
  o.argv.push_back(BuildDir() + "/bin/tslab-trace");
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  if (!t->Start(o, err)) return false;
  if (t->WaitForLine(Subprocess::kErr, "Tracing ", kTimeout)) return true;
  t->Wait(5);
  *err = "tslab-trace did not attach (exit " + std::to_string(t->ExitCode()) +
         "): " + t->Seen(Subprocess::kErr) + t->Rest(Subprocess::kErr);
  return false;
}

// Waits for a line of p's stdout containing needle while reading other's
// output (so that a tracer never blocks on a full pipe meanwhile).
inline bool WaitForLineWhile(Subprocess* p, const std::string& needle,
                             Subprocess* other, double timeout_s) {
  bool found = false;
  WaitUntil(
      [&] {
        other->Poll();
        return found = p->WaitForLine(Subprocess::kOut, needle, 0).has_value();
      },
      timeout_s);
  return found;
}

// One JSON document per line (tslab-trace --json).
inline std::vector<nlohmann::json> ParseJsonLines(const std::string& out) {
  std::vector<nlohmann::json> docs;
  size_t i = 0;
  while (i < out.size()) {
    size_t nl = out.find('\n', i);
    if (nl == std::string::npos) nl = out.size();
    if (nl > i) docs.push_back(nlohmann::json::parse(out.substr(i, nl - i)));
    i = nl + 1;
  }
  return docs;
}

}  // namespace tslab::trace_test

#endif  // TSLAB_TESTS_TRACE_TEST_UTIL_H_
