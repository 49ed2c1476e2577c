// tslab-exporter scraped by a real Prometheus (Debian's prometheus 2.42,
// started on 127.0.0.1 with a temporary config and storage): the stored
// counters equal stats_dump's, rate() matches the demo's own rate, a killed
// demo goes stale, the example alerting rules load and evaluate, the
// docs' PromQL queries run, the misbehaving demo's doctor series is 1, and
// stats_dump --format openmetrics output is accepted by Prometheus'
// OpenMetrics parser. Also `promtool check rules` / `promtool test rules`
// of configs/prometheus/.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/exporter_test_util.h"

namespace {

using namespace tslab::tool_test;  // NOLINT: test helpers

std::string Source(const std::string& rel) { return std::string(TSLAB_SOURCE_DIR) + "/" + rel; }

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0) {
    port = ntohs(sa.sin_port);
  }
  close(fd);
  return port;
}

// The ```promql blocks of docs/exporter.md.
std::vector<std::string> DocQueries() {
  const std::string doc = ReadFile(Source("docs/exporter.md"));
  std::vector<std::string> q;
  for (size_t p = 0; (p = doc.find("```promql\n", p)) != std::string::npos;) {
    p += 10;
    const size_t end = doc.find("```", p);
    q.push_back(doc.substr(p, end - p));
    p = end;
  }
  return q;
}

TEST(PrometheusRulesTest, PromtoolChecksAndUnitTestsTheExampleRules) {
  const std::string rules = Source("configs/prometheus/tslab-alerts.yml");
  RunResult check = tslab::tool_test::Run({"/usr/bin/promtool", "check", "rules", rules});
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("SUCCESS: 5 rules found"), std::string::npos) << check.out;
  RunResult unit = tslab::tool_test::Run({"/usr/bin/promtool", "test", "rules",
                        Source("configs/prometheus/tslab-alerts.test.yml")});
  EXPECT_EQ(unit.code, 0) << unit.out << unit.err;
  RunResult cfg = tslab::tool_test::Run({"/usr/bin/promtool", "check", "config",
                       Source("configs/prometheus/prometheus.yml")});
  EXPECT_EQ(cfg.code, 0) << cfg.out << cfg.err;
  // docs/exporter.md shows the rules file verbatim.
  const std::string doc = ReadFile(Source("docs/exporter.md"));
  const size_t b = doc.find("<!-- rules:begin -->\n```yaml\n");
  const size_t e = doc.find("```\n<!-- rules:end -->");
  ASSERT_TRUE(b != std::string::npos && e != std::string::npos);
  EXPECT_EQ(doc.substr(b + 29, e - b - 29), ReadFile(rules));
  EXPECT_EQ(DocQueries().size(), 5u);
}

// A Prometheus server of its own: config, storage and port in a scratch
// directory; queried through its HTTP API.
class Prometheus {
 public:
  Prometheus(const std::string& config_yaml) {
    port_ = FreePort();
    WriteFile(dir_ / "prometheus.yml", config_yaml, 0644);
    proc_.Start({{"/usr/bin/prometheus", "--config.file=" + (dir_ / "prometheus.yml"),
                  "--storage.tsdb.path=" + (dir_ / "data"),
                  "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                  "--log.level=warn"},
                 {},
                 dir_ / "out",
                 dir_ / "err"});
    ready_ = WaitFor(
        [&] {
          httplib::Client c("127.0.0.1", port_);
          auto r = c.Get("/-/ready");
          return (r && r->status == 200) || proc_.Exited();
        },
        60) &&
             !proc_.Exited();
  }
  bool ready() const { return ready_; }
  std::string Log() const { return ReadFile(dir_ / "err"); }
  // GET /api/v1/PATH with params; the "data" member (null if it failed).
  Json Api(const std::string& path, const httplib::Params& params = {}) const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30, 0);
    auto r = c.Get(("/api/v1/" + path).c_str(), params, httplib::Headers{});
    if (!r || r->status != 200) return Json();
    const Json j = Json::parse(r->body, nullptr, false);
    return !j.is_discarded() && j.value("status", "") == "success" ? j["data"] : Json();
  }
  // An instant query's result vector.
  Json Query(const std::string& q, double at = 0) const {
    httplib::Params p{{"query", q}};
    if (at > 0) p.emplace("time", std::to_string(at));
    const Json d = Api("query", p);
    return d.is_null() ? Json() : d["result"];
  }
  double Scalar(const std::string& q, double at = 0) const {
    const Json r = Query(q, at);
    if (!r.is_array() || r.empty()) return NAN;
    return std::stod(r[0]["value"][1].get<std::string>());
  }
  int Stop() { return proc_.Stop(SIGTERM); }

 private:
  ScratchDir dir_{0755};
  Process proc_;
  int port_ = 0;
  bool ready_ = false;
};

// stats_dump --json of one process: (total_allocs, timestamp in seconds).
std::pair<uint64_t, double> DumpAllocs(const std::string& dir, pid_t pid) {
  RunResult r = StatsDump(dir, {"-p", std::to_string(pid), "--json"});
  if (r.code != 0) return {~0ull, 0};
  const Json j = Json::parse(r.out);
  return {j["total_allocs"].get<uint64_t>(), j["timestamp_ns"].get<uint64_t>() / 1e9};
}

TEST(PrometheusTest, RealPrometheusScrapesTheExporter) {
  ScratchDir dir(0755);
  Demo quiet(dir.path(), "quiet", {"--duration", "0.3", "--linger", "600"});
  Demo steady(dir.path(), "steady", {"--threads", "1", "--duration", "600", "--pause-ms", "2"});
  Demo leaky(dir.path(), "leaky",
             {"--duration", "600", "--pause-ms", "2", "--leak", "--alloc-closed", "--bad-frees"});
  Demo victim(dir.path(), "victim", {"--duration", "600", "--pause-ms", "5"});
  ASSERT_TRUE(quiet.ready() && steady.ready() && leaky.ready() && victim.ready());
  ASSERT_TRUE(quiet.WaitDone());
  Exporter exporter(dir.path());
  ASSERT_GT(exporter.port(), 0) << exporter.Log();

  // stats_dump's OpenMetrics file, served as is by a few lines of Python:
  // Prometheus' own OpenMetrics parser must accept it.
  ScratchDir om;
  RunResult file = StatsDump(dir.path(), {"--format", "openmetrics", "--output", om / "t.om"});
  ASSERT_EQ(file.code, 0) << file.err;
  WriteFile(om / "serve.py",
            "import http.server, sys\n"
            "body = open(sys.argv[1], 'rb').read()\n"
            "class H(http.server.BaseHTTPRequestHandler):\n"
            "    def do_GET(self):\n"
            "        self.send_response(200)\n"
            "        self.send_header('Content-Type', 'application/openmetrics-text; "
            "version=1.0.0; charset=utf-8')\n"
            "        self.send_header('Content-Length', str(len(body)))\n"
            "        self.end_headers()\n"
            "        self.wfile.write(body)\n"
            "    def log_message(self, *a):\n"
            "        pass\n"
            "s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
            "print(s.server_address[1], flush=True)\n"
            "s.serve_forever()\n",
            0644);
  Process py({{"/usr/bin/python3", om / "serve.py", om / "t.om"}, {}, om / "py.out", om / "py.err"});
  ASSERT_TRUE(WaitFor([&] { return !ReadFile(om / "py.out").empty(); }, 30));
  const int py_port = std::atoi(ReadFile(om / "py.out").c_str());

  Prometheus prom(
      "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      "rule_files:\n  - " + Source("configs/prometheus/tslab-alerts.yml") + "\n"
      "scrape_configs:\n"
      "  - job_name: tslab\n    static_configs:\n      - targets: ['127.0.0.1:" +
      std::to_string(exporter.port()) + "']\n"
      "  - job_name: om_file\n    static_configs:\n      - targets: ['127.0.0.1:" +
      std::to_string(py_port) + "']\n");
  ASSERT_TRUE(prom.ready()) << prom.Log();

  // At least 3 scrapes of each target.
  ASSERT_TRUE(WaitFor([&] { return prom.Scalar("count_over_time(tslab_up{job=\"tslab\"}[1m])") >= 3 &&
                                   prom.Scalar("count_over_time(up{job=\"om_file\"}[1m])") >= 3; },
                      60))
      << prom.Log();
  EXPECT_EQ(prom.Scalar("up{job=\"tslab\"}"), 1);
  EXPECT_EQ(prom.Scalar("up{job=\"om_file\"}"), 1) << "Prometheus rejected stats_dump's OpenMetrics";
  EXPECT_GT(prom.Scalar("scrape_samples_scraped{job=\"om_file\"}"), 1000);
  const std::string q = std::to_string(quiet.pid()), s = std::to_string(steady.pid()),
                    l = std::to_string(leaky.pid()), v = std::to_string(victim.pid());
  // The exporter's text format is OpenMetrics here (Prometheus asks for it).
  EXPECT_EQ(prom.Scalar("tslab_allocs_total{job=\"om_file\",pid=\"" + q + "\"}"),
            static_cast<double>(DumpAllocs(dir.path(), quiet.pid()).first));

  // A quiescent demo: exactly stats_dump's value.
  EXPECT_EQ(prom.Scalar("tslab_allocs_total{job=\"tslab\",pid=\"" + q + "\"}"),
            static_cast<double>(DumpAllocs(dir.path(), quiet.pid()).first));
  // A working one: within one scrape interval (1 s, plus 1 s of slack) of
  // its activity.
  {
    const auto [a1, t1] = DumpAllocs(dir.path(), steady.pid());
    const double stored = prom.Scalar("tslab_allocs_total{job=\"tslab\",pid=\"" + s + "\"}");
    const auto [a2, t2] = DumpAllocs(dir.path(), steady.pid());
    const double per_s = (a2 - a1) / std::max(t2 - t1, 1e-3);
    EXPECT_LE(stored, static_cast<double>(a2));
    EXPECT_GE(stored, static_cast<double>(a1) - 2.0 * std::max(per_s, 1000.0)) << a1 << " " << a2;
  }
  // rate() over a window equals the demo's own rate over it, within 10%.
  {
    const auto [a1, t1] = DumpAllocs(dir.path(), steady.pid());
    std::this_thread::sleep_for(std::chrono::seconds(20));
    const auto [a2, t2] = DumpAllocs(dir.path(), steady.pid());
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // scraped after t2
    const double own = (a2 - a1) / (t2 - t1);
    const int window = static_cast<int>(std::lround(t2 - t1));
    const double rate = prom.Scalar("rate(tslab_allocs_total{job=\"tslab\",pid=\"" + s + "\"}[" +
                                        std::to_string(window) + "s])",
                                    t2);
    EXPECT_GT(own, 0);
    EXPECT_NEAR(rate, own, 0.10 * own)
        << "Prometheus rate " << rate << "/s, the demo's own " << own << "; samples: "
        << prom.Query("tslab_allocs_total{job=\"tslab\",pid=\"" + s + "\"}[" +
                          std::to_string(window) + "s]",
                      t2)
               .dump()
        << " t1 " << std::to_string(t1) << " a1 " << a1 << " t2 " << std::to_string(t2) << " a2 "
        << a2;
  }
  // The misbehaving demo's doctor series.
  EXPECT_EQ(prom.Scalar("max(tslab_doctor_finding{job=\"tslab\",pid=\"" + l +
                        "\",check=\"epoch_closed_allocs\"})"),
            1);
  EXPECT_EQ(prom.Scalar("max(tslab_doctor_finding{job=\"tslab\",pid=\"" + s + "\"})"), 0);

  // The docs' queries evaluate; the misbehaving demo is in the leak and
  // refused-free answers; every query answers for the working demo.
  const std::string instance = "127.0.0.1:" + std::to_string(exporter.port());
  const std::vector<std::string> queries = DocQueries();
  ASSERT_EQ(queries.size(), 5u);
  for (size_t i = 0; i < queries.size(); ++i) {
    SCOPED_TRACE(queries[i]);
    const Json r = prom.Query(queries[i]);
    ASSERT_TRUE(r.is_array()) << "the query failed";
    std::map<std::string, double> by_pid;  // pid -> value
    for (const Json& x : r) {
      // (The queries aggregate the job label away; the instance is kept.)
      if (x["metric"].value("instance", "") == instance) {
        by_pid[x["metric"].value("pid", "")] = std::stod(x["value"][1].get<std::string>());
      }
    }
    if (i < 3) {
      EXPECT_TRUE(by_pid.count(s)) << r.dump();
    } else {  // a leak and refused frees: the misbehaving demo only
      EXPECT_GT(by_pid[l], 0) << r.dump();
      EXPECT_EQ(by_pid[s], 0) << r.dump();
    }
  }
  // The rules are loaded and evaluate without error.
  ASSERT_TRUE(WaitFor([&] {
    const Json d = prom.Api("rules");
    if (d.is_null()) return false;
    int ok = 0;
    for (const Json& g : d["groups"]) {
      for (const Json& rule : g["rules"]) ok += rule.value("health", "") == "ok";
    }
    return ok == 5;
  }, 30)) << prom.Api("rules").dump();

  // A demo killed mid-test goes stale at the next scrape.
  ASSERT_FALSE(prom.Query("tslab_allocs_total{job=\"tslab\",pid=\"" + v + "\"}").empty());
  victim.Stop(SIGKILL);
  EXPECT_TRUE(WaitFor([&] {
    return prom.Query("tslab_allocs_total{job=\"tslab\",pid=\"" + v + "\"}").empty();
  }, 20));
  EXPECT_TRUE(WaitFor([&] {
    return prom.Scalar("tslab_exporter_errors_total{job=\"tslab\",reason=\"stale\"}") > 0;
  }, 20));
  EXPECT_EQ(prom.Scalar("up{job=\"tslab\"}"), 1);

  EXPECT_EQ(prom.Stop(), 0);
  EXPECT_EQ(exporter.process().Stop(SIGTERM), 0) << exporter.Log();
}

}  // namespace
