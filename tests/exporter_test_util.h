// tests/exporter_test_util.h: helpers of the tslab-exporter tests (unit,
// process and Prometheus tests), on top of tool_test_util.h.
//
// Purpose: a tslab-exporter in the background on a free port of 127.0.0.1
// (port 0; the port is read from its "listening" log line), HTTP GETs with
// cpp-httplib's client, reading one sample out of an exposition, and
// `promtool check metrics` on a text.
// Invariants: every wait is bounded; the exporter still running when its
// object dies is killed and reaped (tool_test_util.h's Process).
// Thread-safety: an Exporter's Get may be called from several threads
// (each call has its own client); the rest is for the test thread.
#ifndef TSLAB_TESTS_EXPORTER_TEST_UTIL_H_
#define TSLAB_TESTS_EXPORTER_TEST_UTIL_H_

#include <httplib.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/tool_test_util.h"

namespace tslab::tool_test {

class Exporter {
 public:
  // dir: the stats directory; extra: more flags.
  Exporter(const std::string& dir, const std::vector<std::string>& extra = {},
           const std::string& listen = "127.0.0.1:0") {
    std::vector<std::string> argv = {BinDir() + "/tslab-exporter",
                                     "--web.listen-address=" + listen,
                                     "--tslab.stats-dir=" + dir, "--log.level=debug"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc_.Start({argv, {}, io_ / "out", io_ / "err"});
    WaitFor([&] { return Port() > 0 || proc_.Exited(); }, 30);
    port_ = Port();
  }
  int port() const { return port_; }
  std::string Log() const { return ReadFile(io_ / "err"); }
  Process& process() { return proc_; }

  httplib::Result Get(const std::string& path, const httplib::Headers& h = {}) const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    c.set_connection_timeout(10, 0);
    return c.Get(path.c_str(), h);
  }
  // The body of GET /metrics (empty if it failed).
  std::string Metrics(const httplib::Headers& h = {}) const {
    auto r = Get("/metrics", h);
    return r && r->status == 200 ? r->body : std::string();
  }

 private:
  int Port() const {
    const std::string log = ReadFile(io_ / "err");
    const std::string key = "address=\"127.0.0.1:";
    const size_t p = log.find(key);
    return p == std::string::npos ? 0 : std::atoi(log.c_str() + p + key.size());
  }
  ScratchDir io_{0755};
  Process proc_;
  int port_ = 0;
};

// The value of the sample of `name` whose labels include all of `labels`
// (the first such line), as printed; nullopt if there is none.
inline std::optional<std::string> Sample(const std::string& text, const std::string& name,
                                         const std::map<std::string, std::string>& labels = {}) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name, 0) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != '{' && next != ' ') continue;
    bool all = true;
    for (const auto& [k, v] : labels) {
      all &= line.find(k + "=\"" + v + "\"") != std::string::npos;
    }
    if (all) return line.substr(line.rfind(' ') + 1);
  }
  return std::nullopt;
}

inline uint64_t SampleU64(const std::string& text, const std::string& name,
                          const std::map<std::string, std::string>& labels = {}) {
  auto v = Sample(text, name, labels);
  return v ? std::stoull(*v) : ~0ull;
}

// `promtool check metrics` of a text: its exit code and output.
inline RunResult Promtool(const std::string& text) {
  ScratchDir d;
  WriteFile(d / "m.prom", text);
  return Run({"/bin/sh", "-c", "promtool check metrics < " + (d / "m.prom")});
}

}  // namespace tslab::tool_test

#endif  // TSLAB_TESTS_EXPORTER_TEST_UTIL_H_
