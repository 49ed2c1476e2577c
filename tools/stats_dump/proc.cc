#include "tools/stats_dump/proc.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "tools/common/terminal_text.h"

namespace tslab::stats_dump {

bool ReadSmallFile(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      errno = err;
      return false;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > (1u << 20)) break;  // /proc files we read are small
  }
  close(fd);
  return true;
}

bool ReadProcInfo(int pid, ProcInfo* out) {
  if (pid <= 0) return false;
  const std::string dir = "/proc/" + std::to_string(pid);
  std::string text;
  struct stat st;
  if (!ReadSmallFile(dir + "/stat", &text) || ::stat(dir.c_str(), &st) != 0) {
    return false;
  }
  // "pid (comm) S ..." where comm may hold spaces and ')': the fields
  // resume after the last ')'.
  size_t open_paren = text.find('('), close_paren = text.rfind(')');
  if (open_paren == std::string::npos || close_paren == std::string::npos ||
      close_paren + 2 >= text.size()) {
    return false;
  }
  out->pid = pid;
  out->comm = text.substr(open_paren + 1, close_paren - open_paren - 1);
  out->uid = st.st_uid;
  const char* p = text.c_str() + close_paren + 2;
  out->state = *p;
  int field = 3;
  for (; field < 22 && *p; ++p) {
    if (*p == ' ') ++field;
  }
  out->start_ticks = std::strtoull(p, nullptr, 10);
  out->exec_hint = 0;
  for (; *p; ++p) {
    if (*p != ' ') continue;
    ++field;
    if (field == 26 || field == 28) {
      out->exec_hint = out->exec_hint * 0x9e3779b97f4a7c15ull + std::strtoull(p + 1, nullptr, 10);
    }
    if (field == 28) break;
  }
  return true;
}

bool IsAlive(const ProcInfo& p) { return p.state != 'Z' && p.state != 'X'; }

uint64_t ReadRssBytes(int pid) {
  std::string statm;
  if (!ReadSmallFile("/proc/" + std::to_string(pid) + "/statm", &statm)) {
    return 0;
  }
  // "size resident shared ...", in pages.
  const char* p = statm.c_str();
  char* end = nullptr;
  std::strtoull(p, &end, 10);
  uint64_t resident = std::strtoull(end, nullptr, 10);
  long page = sysconf(_SC_PAGESIZE);
  return resident * static_cast<uint64_t>(page > 0 ? page : 4096);
}

std::string ReadRawCmdline(const ProcInfo& p) {
  std::string raw;
  ReadSmallFile("/proc/" + std::to_string(p.pid) + "/cmdline", &raw);
  return raw;
}

std::string FormatCmdline(std::string cmd, const ProcInfo& p, size_t max_len,
                          CmdlineForm form) {
  while (!cmd.empty() && cmd.back() == '\0') cmd.pop_back();
  if (form == CmdlineForm::kProgramBasename) {
    // argv[0] ends at the first NUL; a long install path would otherwise
    // push the program's own name past max_len.
    const size_t argv0_end = std::min(cmd.find('\0'), cmd.size());
    const size_t slash = cmd.rfind('/', argv0_end == 0 ? 0 : argv0_end - 1);
    if (slash != std::string::npos && slash + 1 < argv0_end) cmd.erase(0, slash + 1);
  }
  for (char& c : cmd) {
    if (c == '\0' || c == '\n' || c == '\t') c = ' ';
  }
  if (cmd.empty()) cmd = "[" + p.comm + "]";
  // In characters: a cut inside a multibyte character would break it.
  return tools::CutChars(cmd, max_len);
}

std::string ReadCmdline(const ProcInfo& p, size_t max_len, CmdlineForm form) {
  return FormatCmdline(ReadRawCmdline(p), p, max_len, form);
}

double ProcessUptimeSeconds(const ProcInfo& p) {
  std::string up;
  if (!ReadSmallFile("/proc/uptime", &up)) return 0;
  double system_up = std::strtod(up.c_str(), nullptr);
  long hz = sysconf(_SC_CLK_TCK);
  double started = static_cast<double>(p.start_ticks) /
                   static_cast<double>(hz > 0 ? hz : 100);
  return system_up > started ? system_up - started : 0;
}

static uint64_t ClockNs(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

uint64_t RealtimeNs() { return ClockNs(CLOCK_REALTIME); }
uint64_t MonotonicNs() { return ClockNs(CLOCK_MONOTONIC); }

}  // namespace tslab::stats_dump
