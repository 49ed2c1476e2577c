// bench/exporter_bench.cc: what tslab-exporter costs (issue 8 targets: a
// scrape of 100 live tslab processes <= 50 ms; < 1% of a core when idle at
// a 15 s scrape interval). `make bench` runs it after tslab-bench.
//
// Purpose: starts N tslab-demo processes (mostly sleeping: a batch every
// 100 ms) with a private stats directory, the exporter on 127.0.0.1, then
//   - times S scrapes of /metrics as Prometheus asks (OpenMetrics, gzip
//     accepted) and in the text format with gzip (client-side wall time,
//     request to last byte), and reads the exporter's own collection time
//     (tslab_scrape_duration_seconds) and answer size;
//   - the exporter's CPU per scrape (utime+stime over the S scrapes);
//   - its idle CPU over --idle-seconds without a scrape;
//   and reports the CPU share at a 15 s interval: idle share + CPU per
//   scrape / 15 s. Writes the report to stdout and --md.
// Thread-safety: single-threaded.
// Cost: ~N x 5 MB of memory for the demos, ~30 s.
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

std::string ReadFile(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Starts argv with stdout/stderr to files and extra environment.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& out,
            const std::string& env_extra) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, (out + ".err").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> a, e;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  for (char** p = environ; *p; ++p) e.push_back(*p);
  std::string extra = env_extra;
  if (!extra.empty()) e.push_back(extra.data());
  e.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, a[0], &fa, nullptr, a.data(), e.data()) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

bool WaitFor(const std::function<bool()>& pred, double seconds) {
  const auto end = Clock::now() + std::chrono::milliseconds(static_cast<long>(seconds * 1000));
  while (!pred()) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// utime + stime of a process, in seconds.
double CpuSeconds(pid_t pid) {
  const std::string s = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t p = s.rfind(')');
  if (p == std::string::npos) return 0;
  std::istringstream in(s.substr(p + 2));
  std::string f;
  unsigned long long ut = 0, st = 0;
  for (int i = 3; i <= 15 && in >> f; ++i) {
    if (i == 14) ut = std::stoull(f);
    if (i == 15) st = std::stoull(f);
  }
  return static_cast<double>(ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5))];
}

struct Series {
  std::vector<double> wall_ms, collect_ms;
  size_t bytes = 0, wire_bytes = 0;
};

double ScrapeDuration(const std::string& body) {
  const std::string key = "\ntslab_scrape_duration_seconds ";
  const size_t p = body.find(key);
  return p == std::string::npos ? 0 : std::atof(body.c_str() + p + key.size());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string bin = "build/bin", md;
    int processes = 100, scrapes = 50;
    double idle_s = 10;
    CLI::App app{"tslab-exporter-bench: scrape cost of tslab-exporter (bench/README.md)"};
    app.add_option("--bin-dir", bin, "where tslab-demo and tslab-exporter are");
    app.add_option("--processes", processes, "live tslab processes (default 100)");
    app.add_option("--scrapes", scrapes, "scrapes timed per format (default 50)");
    app.add_option("--idle-seconds", idle_s, "idle CPU window (default 10)");
    app.add_option("--md", md, "also write the report (markdown) to this file");
    CLI11_PARSE(app, argc, argv);

    char tmpl[] = "/tmp/tslab-exporter-bench.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    const std::string dir = tmpl;
    const std::string env = "TSLAB_STATS_DIR=" + dir;
    std::vector<pid_t> demos;
    for (int i = 0; i < processes; ++i) {
      const std::string name = "d" + std::to_string(i);
      demos.push_back(Spawn({bin + "/tslab-demo", "--name", name, "--ready-file",
                             dir + "/" + name + ".ready", "--threads", "1", "--duration",
                             "3600", "--pause-ms", "100"},
                            dir + "/" + name + ".out", env));
    }
    auto cleanup = [&](pid_t exporter) {
      if (exporter > 0) {
        kill(exporter, SIGTERM);
        waitpid(exporter, nullptr, 0);
      }
      for (pid_t p : demos) {
        if (p > 0) kill(p, SIGTERM);
      }
      for (pid_t p : demos) {
        if (p > 0) waitpid(p, nullptr, 0);
      }
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    };
    const bool ready = WaitFor([&] {
      for (int i = 0; i < processes; ++i) {
        if (ReadFile(dir + "/d" + std::to_string(i) + ".ready").empty()) return false;
      }
      return true;
    }, 120);
    const pid_t exporter = Spawn({bin + "/tslab-exporter", "--web.listen-address=127.0.0.1:0",
                                  "--tslab.stats-dir=" + dir, "--log.level=info"},
                                 dir + "/exporter.out", "");
    int port = 0;
    WaitFor([&] {
      const std::string log = ReadFile(dir + "/exporter.out.err");
      const size_t p = log.find("address=\"127.0.0.1:");
      if (p != std::string::npos) port = std::atoi(log.c_str() + p + 19);
      return port > 0;
    }, 30);
    if (!ready || port == 0) {
      cleanup(exporter);
      std::fprintf(stderr, "tslab-exporter-bench: %s did not start\n",
                   ready ? "the exporter" : "the tslab-demo processes");
      return 1;
    }
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(60, 0);
    client.set_decompress(true);
    struct Format {
      const char* name;
      httplib::Headers headers;
    };
    const std::vector<Format> formats = {
        {"OpenMetrics (as Prometheus asks)",
         {{"Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"},
          {"Accept-Encoding", "gzip"}}},
        {"text 0.0.4, gzip", {{"Accept", "text/plain;version=0.0.4"}, {"Accept-Encoding", "gzip"}}},
        {"text 0.0.4, identity", {{"Accept", "text/plain;version=0.0.4"}}},
    };
    std::vector<Series> results(formats.size());
    client.Get("/metrics");  // warm: regions mapped, doctor history started
    const double cpu0 = CpuSeconds(exporter);
    int total_scrapes = 0;
    for (int s = 0; s < scrapes; ++s) {
      for (size_t f = 0; f < formats.size(); ++f) {
        const auto t0 = Clock::now();
        auto r = client.Get("/metrics", formats[f].headers);
        const auto t1 = Clock::now();
        if (!r || r->status != 200) throw std::runtime_error("a scrape failed");
        results[f].wall_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        results[f].collect_ms.push_back(ScrapeDuration(r->body) * 1000);
        results[f].bytes = r->body.size();  // decompressed
        results[f].wire_bytes = static_cast<size_t>(
            std::atoll(r->get_header_value("Content-Length").c_str()));
        ++total_scrapes;
      }
    }
    const double cpu_per_scrape = (CpuSeconds(exporter) - cpu0) / total_scrapes;
    const double idle0 = CpuSeconds(exporter);
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long>(idle_s * 1000)));
    const double idle_share = (CpuSeconds(exporter) - idle0) / idle_s;
    const double share_15s = idle_share + cpu_per_scrape / 15.0;
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);
    cleanup(exporter);

    char line[512];
    std::string out = "## tslab-exporter: scrape cost\n\n";
    std::snprintf(line, sizeof(line),
                  "%d live tslab-demo processes (1 allocator each), %d scrapes per format; "
                  "load average %.2f at the end.\n\n",
                  processes, scrapes, load[0]);
    out += line;
    out += "| format | answer | on the wire | scrape p50 ms | p99 ms | max ms | collect p50 ms | target |\n"
           "|---|---|---|---|---|---|---|---|\n";
    for (size_t f = 0; f < formats.size(); ++f) {
      const Series& s = results[f];
      const double p99 = Percentile(s.wall_ms, 0.99);
      std::snprintf(line, sizeof(line), "| %s | %.1f MB | %.2f MB | %.1f | %.1f | %.1f | %.1f | %s |\n",
                    formats[f].name, static_cast<double>(s.bytes) / 1e6,
                    static_cast<double>(s.wire_bytes) / 1e6,
                    Percentile(s.wall_ms, 0.5), p99,
                    *std::max_element(s.wall_ms.begin(), s.wall_ms.end()),
                    Percentile(s.collect_ms, 0.5), p99 <= 50 ? "<= 50 ms: met" : "<= 50 ms: MISSED");
      out += line;
    }
    std::snprintf(line, sizeof(line),
                  "\nExporter CPU: %.1f ms per scrape; idle %.3f%% of a core over %.0f s; at a "
                  "15 s scrape interval %.3f%% of a core (target < 1%%: %s).\n",
                  cpu_per_scrape * 1000, idle_share * 100, idle_s, share_15s * 100,
                  share_15s < 0.01 ? "met" : "MISSED");
    out += line;
    std::fwrite(out.data(), 1, out.size(), stdout);
    if (!md.empty()) {
      std::ofstream f(md);
      f << out;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tslab-exporter-bench: %s\n", e.what());
    return 1;
  }
}
