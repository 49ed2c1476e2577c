// Process facts for the benchmark (see proc.h).
#include "bench/proc.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace tslab::bench {

uint64_t RssBytes() {
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[128];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char* end = nullptr;
  std::strtoull(buf, &end, 10);  // size; resident follows
  unsigned long long resident = std::strtoull(end, nullptr, 10);
  long ps = sysconf(_SC_PAGESIZE);
  return resident * static_cast<uint64_t>(ps > 0 ? ps : 4096);
}

uint64_t RssAnonBytes(pid_t pid) {
  char path[64];
  if (pid == 0)
    std::snprintf(path, sizeof(path), "/proc/self/status");
  else
    std::snprintf(path, sizeof(path), "/proc/%d/status", static_cast<int>(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  // status is ~1.5 KB; RssAnon sits in the first half.
  char buf[4096];
  size_t len = 0;
  ssize_t n;
  while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    len += static_cast<size_t>(n);
  }
  close(fd);
  buf[len] = '\0';
  const char* p = std::strstr(buf, "\nRssAnon:");
  if (p == nullptr) return 0;
  return std::strtoull(p + 9, nullptr, 10) * 1024;  // "RssAnon:   1234 kB"
}

double ProcessCpuSeconds() {
  timespec ts;
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void SleepUntilNs(uint64_t t) {
  timespec ts{static_cast<time_t>(t / 1000000000ull), static_cast<long>(t % 1000000000ull)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

int32_t PurgeDelayMs(std::string* source) {
  const char* env = secure_getenv("TSLAB_PURGE_DELAY_MS");
  if (env == nullptr) {
    *source = "default (TSLAB_PURGE_DELAY_MS unset)";
    return 10;
  }
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(env, &end, 10);
  if (*env == '\0' || *end != '\0' || errno != 0 || v < 0 || v > INT32_MAX) {
    *source = std::string("default (TSLAB_PURGE_DELAY_MS='") + env + "' is not a number)";
    return 10;
  }
  *source = std::string("TSLAB_PURGE_DELAY_MS=") + env;
  return static_cast<int32_t>(v);
}

std::optional<double> PurgeReturnedPct(uint64_t before, uint64_t at_close, uint64_t after_wait,
                                       uint64_t min_bytes) {
  if (at_close <= before || at_close - before < min_bytes) return std::nullopt;
  return (static_cast<double>(at_close) - static_cast<double>(after_wait)) * 100.0 /
         static_cast<double>(at_close - before);
}

}  // namespace tslab::bench
