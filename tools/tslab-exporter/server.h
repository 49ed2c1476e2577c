// tslab-exporter's HTTP side: cpp-httplib serving the telemetry path
// (default /metrics), a landing page on /, 404 elsewhere.
//
// Purpose: each GET of the telemetry path runs one fleet collection
// (fleet.h) and answers with its exposition (exposition.h), in
// OpenMetrics when the Accept header asks for it, else in the Prometheus
// text format 0.0.4, gzip-compressed (level 1) when the scraper accepts it
// (Prometheus does). Requests are bounded (headers 8 KiB, URI 8 KiB, body
// 64 KiB, 5 s to read, 10 s to write); a client that goes away mid-answer
// only ends its own connection.
// Invariants: collections are serialized (one mutex): concurrent scrapers
// wait for each other and each gets a complete, fresh answer; the error
// counters only grow. Nothing here writes to a scraped process.
// Thread-safety: Serve blocks on one thread; Stop may be called from any
// other thread (the signal thread), once Serve has started or before.
// Cost: idle, the server blocks in accept(2) and its workers on a condition
// variable (no timer, no polling); a scrape costs one collection.
#ifndef TSLAB_TOOLS_TSLAB_EXPORTER_SERVER_H_
#define TSLAB_TOOLS_TSLAB_EXPORTER_SERVER_H_

#include <memory>
#include <mutex>
#include <string>

#include "tools/stats_dump/exposition.h"
#include "tools/stats_dump/fleet.h"
#include "tools/stats_dump/status.h"
#include "tools/tslab-exporter/log.h"

namespace httplib {
class Server;
}

namespace tslab::exporter {

struct ServerOptions {
  std::string host;  // "" or "0.0.0.0": every IPv4 address; "::" IPv6
  int port = 9597;   // 0: any free port (tests)
  std::string telemetry_path = "/metrics";
  std::string version = "unknown";
  stats_dump::FleetOptions fleet;
};

// "[HOST]:PORT", "HOST:PORT" or ":PORT" -> host and port; false if invalid.
bool ParseListenAddress(const std::string& addr, std::string* host, int* port);

class Server {
 public:
  Server(ServerOptions o, const Logger* log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket; kIo with the reason if it cannot.
  stats_dump::Status Bind();
  int port() const { return port_; }
  // Answers requests until Stop.
  void Serve();
  void Stop();

 private:
  void Routes();
  std::string Scrape(stats_dump::ExpoFormat f);

  ServerOptions o_;
  const Logger* log_;
  std::unique_ptr<httplib::Server> http_;
  std::mutex mu_;  // guards collector_ (one collection at a time)
  stats_dump::FleetCollector collector_;
  int port_ = 0;
};

}  // namespace tslab::exporter

#endif  // TSLAB_TOOLS_TSLAB_EXPORTER_SERVER_H_
