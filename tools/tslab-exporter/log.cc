#include "tools/tslab-exporter/log.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>

#include "tools/stats_dump/fleet.h"

namespace tslab::exporter {
namespace {

std::string Quote(const std::string& v) {
  std::string out = "\"";
  for (char c : stats_dump::SanitizeUtf8(v)) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace

bool ParseLevel(const std::string& name, Level* out) {
  static const char* kNames[] = {"debug", "info", "warn", "error"};
  for (int i = 0; i < 4; ++i) {
    if (name == kNames[i]) {
      *out = static_cast<Level>(i);
      return true;
    }
  }
  return false;
}

void Logger::Log(Level l, const std::string& msg, const Fields& fields) const {
  if (!Enabled(l)) return;
  static const char* kNames[] = {"debug", "info", "warn", "error"};
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc;
  gmtime_r(&ts.tv_sec, &utc);
  char when[96];
  std::snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                ts.tv_nsec / 1000000);
  std::string line = std::string("ts=") + when + " level=" + kNames[static_cast<int>(l)] +
                     " msg=" + Quote(msg);
  for (const auto& [k, v] : fields) line += " " + k + "=" + Quote(v);
  line += "\n";
  // One write: lines of concurrent threads never interleave.
  ssize_t rc = write(STDERR_FILENO, line.data(), line.size());
  (void)rc;
}

}  // namespace tslab::exporter
