#include "tools/stats_dump/owner.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tslab/stats_region.h"

namespace tslab::stats_dump {

uint64_t PidNamespaceOf(const std::string& pid_or_self) {
  struct stat st;
  return stat(("/proc/" + pid_or_self + "/ns/pid").c_str(), &st) == 0
             ? static_cast<uint64_t>(st.st_ino)
             : 0;
}

int InnermostPid(int pid) {
  std::string status;
  if (!ReadSmallFile("/proc/" + std::to_string(pid) + "/status", &status)) return 0;
  const size_t p = status.find("\nNSpid:");
  if (p == std::string::npos) return pid;
  const size_t end = status.find('\n', p + 1);
  const std::string line = status.substr(p + 7, end == std::string::npos ? end : end - p - 7);
  const size_t last = line.find_last_of(" \t");
  return std::atoi(line.c_str() + (last == std::string::npos ? 0 : last + 1));
}

OwnerResolver::OwnerResolver() : own_ns_(PidNamespaceOf("self")) {}

int OwnerResolver::HostPid(uint64_t ns_inode, int ns_pid, bool* visible) {
  if (!scanned_) {
    scanned_ = true;
    if (DIR* d = opendir("/proc")) {
      while (dirent* e = readdir(d)) {
        char* end = nullptr;
        const long pid = std::strtol(e->d_name, &end, 10);
        if (pid <= 0 || *end != '\0') continue;
        const uint64_t ns = PidNamespaceOf(e->d_name);
        if (ns == 0 || ns == own_ns_) continue;
        namespaces_.insert(ns);
        const int inner = InnermostPid(static_cast<int>(pid));
        if (inner > 0) host_[{ns, inner}] = static_cast<int>(pid);
      }
      closedir(d);
    }
  }
  *visible = namespaces_.count(ns_inode) != 0;
  auto it = host_.find({ns_inode, ns_pid});
  return it == host_.end() ? 0 : it->second;
}

bool MappedFiles(int pid, std::set<FileId>* out) {
  out->clear();
  std::string maps;
  if (!ReadSmallFile("/proc/" + std::to_string(pid) + "/maps", &maps)) return false;
  // "start-end perms offset major:minor inode path": hex numbers but the
  // inode (decimal); inode 0 is anonymous memory.
  for (size_t at = 0; at < maps.size();) {
    size_t nl = maps.find('\n', at);
    if (nl == std::string::npos) nl = maps.size();
    const std::string line = maps.substr(at, nl - at);
    at = nl + 1;
    unsigned maj = 0, min = 0;
    unsigned long long inode = 0;
    if (std::sscanf(line.c_str(), "%*s %*s %*s %x:%x %llu", &maj, &min, &inode) == 3 &&
        inode != 0) {
      out->insert({makedev(maj, min), static_cast<ino_t>(inode)});
    }
  }
  return true;
}

Mapped MapsFile(int pid, dev_t dev, ino_t ino) {
  std::set<FileId> files;
  if (!MappedFiles(pid, &files)) return Mapped::kUnknown;
  return files.count({dev, ino}) ? Mapped::kYes : Mapped::kNo;
}

Owner FindOwner(const std::string& path, int name_pid, OwnerResolver* resolver) {
  Owner o;
  o.header_pid = name_pid;
  int host = name_pid;
  struct stat st;
  bool headerless = false;  // a regular file without a whole tslab header
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    // Unreadable (another user's file, not root) or gone: judged by the
    // name alone, as far as that goes.
    if (errno == ENOENT) {
      o.kind = Owner::kGone;
      o.why = path + " vanished";
      return o;
    }
    if (lstat(path.c_str(), &st) != 0) st = {};
  } else {
    TslabRegionHeader h;
    const bool whole = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                       pread(fd, &h, sizeof(h), 0) == static_cast<ssize_t>(sizeof(h));
    close(fd);
    headerless = S_ISREG(st.st_mode) && (!whole || h.magic != TSLAB_REGION_MAGIC);
    o.kept_at_exit = whole && h.magic == TSLAB_REGION_MAGIC &&
                     h.state == TSLAB_REGION_STATE_EXITED;
    if (whole && h.magic == TSLAB_REGION_MAGIC && h.pid > 0 && h.pid <= (1 << 30)) {
      o.header_pid = static_cast<int>(h.pid);
      host = o.header_pid;
      if (h.pid_ns_inode != 0 && h.pid_ns_inode != resolver->own_namespace()) {
        bool visible = false;
        host = resolver->HostPid(h.pid_ns_inode, o.header_pid, &visible);
        if (host == 0) {
          o.kind = visible ? Owner::kGone : Owner::kUnknown;
          o.why = visible ? path + ": its process (pid " + std::to_string(o.header_pid) +
                                " in PID namespace " + std::to_string(h.pid_ns_inode) +
                                ") is gone"
                          : path + " belongs to a process in another PID namespace (" +
                                std::to_string(h.pid_ns_inode) + ") that this reader "
                                "cannot see";
          return o;
        }
      }
    }
  }
  if (!ReadProcInfo(host, &o.proc) || !IsAlive(o.proc)) {
    o.kind = Owner::kGone;
    o.why = path + ": process " + std::to_string(host) + " is gone";
    return o;
  }
  const Mapped mapped = S_ISREG(st.st_mode) ? MapsFile(host, st.st_dev, st.st_ino)
                                            : Mapped::kUnknown;
  // A region appears under its name only whole (the library renames it
  // into place), so a file without a header is no region: proof enough
  // when the process's maps cannot be read (another user's process, one
  // that is not dumpable).
  if (mapped == Mapped::kNo || (mapped == Mapped::kUnknown && headerless)) {
    o.kind = Owner::kGone;
    o.why = mapped == Mapped::kNo
                ? path + " is not mapped by process " + std::to_string(host) +
                      ": left by a program it exec'd or by an earlier process with its "
                      "pid, or planted"
                : path + " has no tslab header (not a region)";
    return o;
  }
  o.kind = Owner::kLive;
  return o;
}

}  // namespace tslab::stats_dump
