// tslab-exporter's log: one logfmt line per event on stderr, as the
// Prometheus exporters write them (ts=... level=... msg="..." key=value).
//
// Purpose: --log.level filters (debug, info, warn, error); messages and
// values are quoted and escaped, invalid UTF-8 replaced, so a process
// name can never break a line.
// Thread-safety: Log may be called from any thread (one write per line).
// Cost: a formatted line and one write(2) per event; scrapes log at debug.
#ifndef TSLAB_TOOLS_TSLAB_EXPORTER_LOG_H_
#define TSLAB_TOOLS_TSLAB_EXPORTER_LOG_H_

#include <string>
#include <utility>
#include <vector>

namespace tslab::exporter {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// False if name is not a level.
bool ParseLevel(const std::string& name, Level* out);

class Logger {
 public:
  explicit Logger(Level min) : min_(min) {}
  using Fields = std::vector<std::pair<std::string, std::string>>;
  void Log(Level l, const std::string& msg, const Fields& fields = {}) const;
  bool Enabled(Level l) const { return l >= min_; }

 private:
  Level min_;
};

}  // namespace tslab::exporter

#endif  // TSLAB_TOOLS_TSLAB_EXPORTER_LOG_H_
