// Target discovery: /proc/PID/exe, /proc/PID/maps through /proc/PID/root.
#include "tools/tslab-trace/target.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

namespace tslab::trace {
namespace {

std::vector<UsdtNote> TslabNotes(std::vector<UsdtNote> all) {
  std::vector<UsdtNote> out;
  for (UsdtNote& n : all) {
    if (n.provider == kProvider) out.push_back(std::move(n));
  }
  return out;
}

// Whether pid is exiting or exited (a zombie): /proc/PID/stat's state is
// Z or X, or its flags carry PF_EXITING. Such a process has no executable
// and no maps left, which is not "no tslab probes".
bool Exiting(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return true;  // gone meanwhile
  const size_t paren = line.rfind(')');  // comm may hold spaces and parens
  if (paren == std::string::npos) return false;
  std::istringstream rest(line.substr(paren + 1));
  std::string state;
  long long ppid = 0, pgrp = 0, session = 0, tty = 0, tpgid = 0;
  unsigned long long flags = 0;
  if (!(rest >> state >> ppid >> pgrp >> session >> tty >> tpgid >> flags)) return false;
  constexpr unsigned long long kPfExiting = 0x4;  // include/linux/sched.h
  return state == "Z" || state == "X" || (flags & kPfExiting) != 0;
}

Status ExitedError(pid_t pid) {
  return Status::Error(kExitNoTarget, "process " + std::to_string(pid) +
                                          " exited (or is exiting): nothing to trace");
}

}  // namespace

bool TraceTarget::HasProbe(const std::string& name) const {
  for (const UsdtNote& n : notes) {
    if (n.name == name) return true;
  }
  return false;
}

std::string ProcessName(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string s;
  std::getline(in, s);
  return s;
}

Status ResolvePidTargets(pid_t pid, std::vector<TraceTarget>* out) {
  const std::string proc = "/proc/" + std::to_string(pid);
  struct stat st;
  if (pid <= 0 || stat(proc.c_str(), &st) != 0) {
    return Status::Error(kExitNoTarget,
                         "no such process: " + std::to_string(pid));
  }
  std::set<std::pair<dev_t, ino_t>> seen;
  // The executable first: a program linked with libtslab.a carries the
  // probes itself.
  const std::string exe = proc + "/exe";
  struct stat exe_st;
  if (stat(exe.c_str(), &exe_st) != 0) {
    if (errno == EACCES || errno == EPERM) {
      // Root can be refused too: a process of another user namespace
      // (a container's init seen from inside), or a ptrace policy.
      const std::string why =
          geteuid() == 0
              ? " (even as root: the process is outside this user namespace, "
                "or a ptrace policy such as Yama or the container's denies it)"
              : " (run as root)";
      return Status::Error(kExitNoPrivilege, "cannot read " + exe + ": " +
                                                 std::strerror(errno) + why);
    }
    if (errno == ENOENT) {
      if (Exiting(pid)) return ExitedError(pid);
      // A kernel thread has no executable: nothing to trace.
      return Status::Error(kExitNoProbes, "process " + std::to_string(pid) +
                                              " has no executable to trace");
    }
    return Status::Error(kExitFailure, exe + ": " + std::strerror(errno));
  }
  seen.insert({exe_st.st_dev, exe_st.st_ino});
  std::string err;
  std::vector<UsdtNote> notes;
  if (ReadUsdtNotes(exe, &notes, &err)) {
    notes = TslabNotes(std::move(notes));
    if (!notes.empty()) {
      char buf[4096];
      ssize_t n = readlink(exe.c_str(), buf, sizeof(buf) - 1);
      std::string shown = n > 0 ? std::string(buf, n) : exe;
      out->push_back({exe, shown, std::move(notes)});
    }
  }
  // Then every mapped file (libtslab.so, or any library linking it).
  std::vector<MapsEntry> maps;
  if (!ReadProcMaps(pid, &maps, &err)) {
    return Status::Error(errno == ENOENT ? kExitNoTarget : kExitFailure, err);
  }
  const std::string root = proc + "/root";
  for (const MapsEntry& m : maps) {
    if (m.inode == 0 || m.path.empty() || m.path[0] != '/') continue;
    if (m.perms.find('x') == std::string::npos) continue;  // code only
    const std::string path = root + m.path;
    struct stat lst;
    if (stat(path.c_str(), &lst) != 0) continue;  // deleted or unreachable
    if (!seen.insert({lst.st_dev, lst.st_ino}).second) continue;
    std::vector<UsdtNote> lib_notes;
    if (!ReadUsdtNotes(path, &lib_notes, &err)) continue;  // not ELF
    lib_notes = TslabNotes(std::move(lib_notes));
    if (!lib_notes.empty()) out->push_back({path, m.path, std::move(lib_notes)});
  }
  if (out->empty()) {
    if (Exiting(pid)) return ExitedError(pid);
    std::string comm = ProcessName(pid);
    return Status::Error(
        kExitNoProbes,
        "process " + std::to_string(pid) + (comm.empty() ? "" : " (" + comm + ")") +
            " has no tslab probes: neither its executable nor a library it "
            "maps was built with libtslab's USDT probes");
  }
  return Status::Ok();
}

Status ResolveBinaryTarget(const std::string& path,
                           std::vector<TraceTarget>* out) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return Status::Error(kExitNoTarget, "no such file: " + path);
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::Error(kExitNoTarget,
                         "not a regular file (an executable or a library): " +
                             path);
  }
  std::vector<UsdtNote> notes;
  std::string err;
  if (!ReadUsdtNotes(path, &notes, &err)) {
    return Status::Error(kExitNoProbes, err);
  }
  notes = TslabNotes(std::move(notes));
  if (notes.empty()) {
    return Status::Error(kExitNoProbes, path + " has no tslab probes");
  }
  char* real = realpath(path.c_str(), nullptr);
  std::string abs = real != nullptr ? real : path;
  free(real);
  out->push_back({abs, abs, std::move(notes)});
  return Status::Ok();
}

}  // namespace tslab::trace
