// tslab-exporter: serves the counters of every tslab process of the host
// to Prometheus (docs/exporter.md).
//
//   tslab-exporter [--web.listen-address=:9597] [--web.telemetry-path=/metrics]
//                  [--log.level=info] [--tslab.stats-dir=DIR]
//                  [--tslab.doctor-config=FILE] [--no-collector.namespaces]
//
// Exit codes (docs/exporter.md): 0 stopped by SIGTERM or SIGINT, 3 bad
// command line, 14 doctor config unreadable or invalid, 15 cannot listen
// (address in use, no permission), 70 internal error. Every error is one
// line on stderr.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <exception>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#include "tools/common/version.h"
#include "tools/stats_dump/doctor_config.h"
#include "tools/stats_dump/exposition.h"
#include "tools/stats_dump/region_reader.h"
#include "tools/stats_dump/status.h"
#include "tools/tslab-exporter/log.h"
#include "tools/tslab-exporter/server.h"


namespace tslab::exporter {
namespace {

using stats_dump::Exit;
using stats_dump::Status;

constexpr int kExitInternal = 70;  // EX_SOFTWARE

struct Flags {
  std::string listen = ":9597";
  std::string path = "/metrics";
  std::string level = "info";
  std::string dir;
  std::string doctor_config;
  bool namespaces = true;
  bool markdown = false;
};

Status Run(const Flags& f) {
  Level level;
  if (!ParseLevel(f.level, &level)) {
    return Status::Error(Exit::kUsage, "--log.level must be debug, info, warn or error, not '" +
                                           f.level + "'");
  }
  ServerOptions o;
  if (!ParseListenAddress(f.listen, &o.host, &o.port)) {
    return Status::Error(Exit::kUsage, "--web.listen-address must be [HOST]:PORT, not '" +
                                           f.listen + "'");
  }
  if (f.path.empty() || f.path[0] != '/') {
    return Status::Error(Exit::kUsage, "--web.telemetry-path must start with '/'");
  }
  o.telemetry_path = f.path;
  o.version = TSLAB_VERSION;
  Status s = stats_dump::ResolveStatsDir(f.dir, &o.fleet.dir);
  if (!s.ok()) return s;
  s = f.doctor_config.empty() ? stats_dump::LoadDefaultDoctorConfig(&o.fleet.doctor)
                              : stats_dump::LoadDoctorConfig(f.doctor_config, &o.fleet.doctor);
  if (!s.ok()) return s;
  o.fleet.namespaces = f.namespaces;
  const Logger log(level);

  // SIGTERM and SIGINT are taken by one thread with sigwait, never by a
  // handler: stopping the server is not async-signal-safe. Blocked before
  // any other thread exists, so every thread inherits the mask.
  sigset_t stop_set;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGTERM);
  sigaddset(&stop_set, SIGINT);
  sigaddset(&stop_set, SIGUSR1);  // internal: wakes the signal thread at the end
  pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a scraper that hangs up is EPIPE, not death

  Server server(o, &log);
  s = server.Bind();
  if (!s.ok()) return s;
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_set, &sig);
    if (sig != SIGUSR1) {
      log.Log(Level::kInfo, "stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    }
    server.Stop();
  });
  log.Log(Level::kInfo, "listening",
          {{"address", o.host + ":" + std::to_string(server.port())},
           {"telemetry_path", o.telemetry_path},
           {"stats_dir", o.fleet.dir},
           {"doctor_config", o.fleet.doctor.source},
           {"version", o.version}});
  server.Serve();
  pthread_kill(waiter.native_handle(), SIGUSR1);  // if Serve ended by itself
  waiter.join();
  log.Log(Level::kInfo, "stopped");
  return Status::Ok();
}

int Main(int argc, char** argv) {
  Flags f;
  CLI::App app{"tslab-exporter: Prometheus metrics of every tslab process on this host "
               "(docs/exporter.md)"};
  app.add_option("--web.listen-address", f.listen,
                 "address to listen on, [HOST]:PORT (default :9597, every address)")
      ->type_name("[HOST]:PORT");
  app.add_option("--web.telemetry-path", f.path, "path of the metrics (default /metrics)")
      ->type_name("PATH");
  app.add_option("--log.level", f.level, "debug, info, warn or error (default info)")
      ->type_name("LEVEL");
  app.add_option("--tslab.stats-dir", f.dir,
                 "stats directory (default: $TSLAB_STATS_DIR, else /dev/shm/tslab)")
      ->type_name("DIR");
  app.add_option("--tslab.doctor-config", f.doctor_config,
                 "doctor thresholds (YAML; default as stats_dump --doctor)")
      ->type_name("FILE");
  app.add_flag("--collector.namespaces,!--no-collector.namespaces", f.namespaces,
               "also read processes in other mount namespaces (default on)");
  app.add_flag("--metrics.markdown", f.markdown,
               "print the metric list (docs/exporter.md's table) and exit");
  bool version = false;
  app.add_flag("--version", version, "print the version and exit");
  app.footer(
      "EXAMPLES:\n"
      "  tslab-exporter                                    every tslab process on :9597/metrics\n"
      "  tslab-exporter --web.listen-address 127.0.0.1:9597 --log.level warn\n"
      "                                                    on the loopback only, quieter\n"
      "  curl -s localhost:9597/metrics                    what Prometheus scrapes\n"
      "Exit codes: 0 stopped by SIGTERM/SIGINT, 3 usage, 14 doctor config, 15 cannot listen, "
      "70 internal.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "tslab-exporter: %s (see --help)\n", e.what());
    return static_cast<int>(Exit::kUsage);
  }
  if (version) {
    std::fputs(tools::VersionLine("tslab-exporter").c_str(), stdout);
    return std::fflush(stdout) == 0 ? 0 : static_cast<int>(Exit::kIo);
  }
  if (f.markdown) {
    const std::string table = stats_dump::CatalogMarkdown();
    std::fwrite(table.data(), 1, table.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : static_cast<int>(Exit::kIo);
  }
  Status s = Run(f);
  if (!s.ok()) {
    std::fprintf(stderr, "tslab-exporter: %s\n", s.message.c_str());
    return static_cast<int>(s.code);
  }
  return 0;
}

}  // namespace
}  // namespace tslab::exporter

int main(int argc, char** argv) {
  return tslab::stats_dump::CatchAllAtMain("tslab-exporter", tslab::exporter::kExitInternal,
                                           [&] { return tslab::exporter::Main(argc, argv); });
}
