#include "tools/tslab-exporter/server.h"

#include <httplib.h>
#include <zlib.h>

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "tools/stats_dump/exposition.h"

namespace tslab::exporter {
namespace {

using stats_dump::Exit;
using stats_dump::Status;

std::string Html(const std::string& path) {
  return "<!DOCTYPE html>\n<html><head><title>tslab exporter</title></head>\n<body>\n"
         "<h1>tslab exporter</h1>\n<p>Counters of every tslab allocator on this host, "
         "for Prometheus.</p>\n<p><a href=\"" + path + "\">Metrics</a></p>\n</body></html>\n";
}

// httplib routes by regular expression: the path must match literally.
std::string RegexLiteral(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::strchr("\\^$.|?*+()[]{}", c) != nullptr) out += '\\';
    out += c;
  }
  return out;
}

// The scraper takes gzip ("gzip" listed, not with q=0).
bool AcceptsGzip(std::string ae) {
  for (char& c : ae) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  ae.erase(std::remove(ae.begin(), ae.end(), ' '), ae.end());
  const size_t p = ae.find("gzip");
  return p != std::string::npos && ae.compare(p, 8, "gzip;q=0") != 0;
}

// gzip at level 1: a 6 MB exposition (100 processes) shrinks ~15x in a few
// ms, where httplib's own level-6 compression took ~30 ms of the scrape.
bool Gzip(const std::string& in, std::string* out) {
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  out->resize(deflateBound(&z, static_cast<uLong>(in.size())));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out->data());
  z.avail_out = static_cast<uInt>(out->size());
  const int rc = deflate(&z, Z_FINISH);
  out->resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END;
}

}  // namespace

bool ParseListenAddress(const std::string& addr, std::string* host, int* port) {
  size_t colon;
  if (!addr.empty() && addr[0] == '[') {
    const size_t close = addr.find(']');
    if (close == std::string::npos || close + 1 >= addr.size() || addr[close + 1] != ':') {
      return false;
    }
    *host = addr.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = addr.rfind(':');
    if (colon == std::string::npos) return false;
    *host = addr.substr(0, colon);
    if (host->find(':') != std::string::npos) return false;  // IPv6 needs brackets
  }
  const std::string p = addr.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *port = std::atoi(p.c_str());
  if (*port > 65535) return false;
  if (host->empty()) *host = "0.0.0.0";
  return true;
}

Server::Server(ServerOptions o, const Logger* log)
    : o_(std::move(o)), log_(log), http_(std::make_unique<httplib::Server>()),
      collector_(o_.fleet) {
  Routes();
}

Server::~Server() = default;

std::string Server::Scrape(stats_dump::ExpoFormat f) {
  std::lock_guard<std::mutex> lock(mu_);
  const stats_dump::Collection c = collector_.Collect();
  stats_dump::ExporterInfo info;
  info.version = o_.version;
  info.errors_total = collector_.total_errors();
  if (log_->Enabled(Level::kDebug)) {
    uint64_t errors = 0;
    for (uint64_t e : c.errors) errors += e;
    log_->Log(Level::kDebug, "scrape",
              {{"allocators", std::to_string(c.allocators.size())},
               {"skipped", std::to_string(errors)},
               {"duration_seconds", std::to_string(c.duration_s)}});
  }
  if (!c.dir_ok) {
    log_->Log(Level::kWarn, "cannot list the stats directory", {{"dir", o_.fleet.dir}});
  }
  return stats_dump::RenderExposition(c, info, f);
}

void Server::Routes() {
  // httplib's default also sets SO_REUSEPORT, which lets a second exporter
  // bind the same port and silently take half the scrapes: only
  // SO_REUSEADDR (a restart may rebind at once), so a busy port is an error.
  http_->set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http_->set_payload_max_length(64 << 10);
  http_->set_read_timeout(5, 0);
  http_->set_write_timeout(10, 0);
  http_->set_keep_alive_timeout(30);
  http_->Get(RegexLiteral(o_.telemetry_path), [this](const httplib::Request& req,
                                                     httplib::Response& res) {
    const auto f = stats_dump::NegotiateFormat(req.get_header_value("Accept"));
    auto body = std::make_shared<std::string>(Scrape(f));
    if (AcceptsGzip(req.get_header_value("Accept-Encoding"))) {
      std::string packed;
      if (Gzip(*body, &packed)) {
        *body = std::move(packed);
        res.set_header("Content-Encoding", "gzip");
      }
    }
    res.set_header("Vary", "Accept-Encoding");
    // A content provider of known length: httplib sends it as is (it
    // would compress a text/plain body again, at level 6).
    res.set_content_provider(
        body->size(), stats_dump::ContentType(f),
        [body](size_t offset, size_t length, httplib::DataSink& sink) {
          return sink.write(body->data() + offset, length);
        });
  });
  if (o_.telemetry_path != "/") {
    http_->Get("/", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(Html(o_.telemetry_path), "text/html; charset=utf-8");
    });
  }
  http_->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      const char* what = res.status == 404   ? "not found (try /metrics)"
                         : res.status < 500 ? "bad request"
                                            : "server error";
      res.set_content(std::to_string(res.status) + " " + what + "\n", "text/plain; charset=utf-8");
    }
  });
  http_->set_exception_handler(
      [this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        log_->Log(Level::kError, "request failed", {{"path", req.path}, {"err", what}});
        res.status = 500;
        res.set_content("500 internal error\n", "text/plain; charset=utf-8");
      });
}

Status Server::Bind() {
  errno = 0;
  if (o_.port == 0) {
    port_ = http_->bind_to_any_port(o_.host);
    if (port_ > 0) return Status::Ok();
  } else if (http_->bind_to_port(o_.host, o_.port)) {
    port_ = o_.port;
    return Status::Ok();
  }
  const int err = errno;
  return Status::Error(Exit::kIo, "cannot listen on " + o_.host + ":" +
                                      std::to_string(o_.port) +
                                      (err != 0 ? std::string(": ") + std::strerror(err) : ""));
}

void Server::Serve() { http_->listen_after_bind(); }

void Server::Stop() { http_->stop(); }

}  // namespace tslab::exporter
