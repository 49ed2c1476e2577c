// bench_worker_*: runs one workload against this binary's allocator and
// prints one JSON line on stdout (format in worker.h). Started by
// tslab-bench; runnable by hand, e.g.
//   build/bin/bench_worker_jemalloc --workload churn --cycles 100
// Exit codes: 0 done; 1 the workload failed (one line on stderr says why);
// 2 bad arguments.
#include <dlfcn.h>
#include <poll.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/worker.h"

namespace tslab::bench {
namespace {

WorkerConfig g_cfg;

// Which shared object malloc resolves to: proves that the link line put
// jemalloc/tcmalloc/mimalloc in front of glibc.
std::string MallocFrom() {
  Dl_info info;
  void* sym = dlsym(RTLD_DEFAULT, "malloc");
  if (sym == nullptr || dladdr(sym, &info) == 0 || info.dli_fname == nullptr) return "?";
  return info.dli_fname;
}

nlohmann::json ToJson(const WorkerResult& r) {
  nlohmann::json j;
  j["backend"] = BackendName();
  j["api"] = g_cfg.handle_api ? "handle" : "ptr";
  j["malloc_from"] = MallocFrom();
  j["workload"] = g_cfg.workload;
  j["threads"] = g_cfg.threads;
  j["pid"] = static_cast<int64_t>(getpid());
  nlohmann::json m = nlohmann::json::object();
  for (const auto& [k, v] : r.metrics) m[k] = v;
  j["metrics"] = m;
  nlohmann::json info = nlohmann::json::object();
  for (const auto& [k, v] : r.info) info[k] = v;
  j["info"] = info;
  return j;
}

}  // namespace

void AnnounceReady(const WorkerResult& partial) {
  nlohmann::json j = ToJson(partial);
  j["ready"] = true;
  std::cout << j.dump() << std::endl;  // flush: the driver is waiting
}

bool StdinClosed() {
  pollfd p{STDIN_FILENO, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) return true;
  char buf[64];
  return read(STDIN_FILENO, buf, sizeof(buf)) == 0;
}

void AnnounceClosed(uint64_t closed_at_ns, int64_t purge_wait_ms, uint64_t rss_before) {
  char b[200];
  int n = std::snprintf(b, sizeof(b),
                        "{\"ready\":true,\"pause\":\"closed\",\"closed_at_ns\":%llu,"
                        "\"purge_wait_ms\":%lld,\"rss_before_bytes\":%llu}\n",
                        static_cast<unsigned long long>(closed_at_ns),
                        static_cast<long long>(purge_wait_ms),
                        static_cast<unsigned long long>(rss_before));
  for (int off = 0; n > 0 && off < n;) {
    ssize_t w = write(STDOUT_FILENO, b + off, static_cast<size_t>(n - off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // the driver is gone; the wait below times out
    off += static_cast<int>(w);
  }
}

bool WaitStdinClosed(double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(timeout_s));
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return false;
    pollfd p{STDIN_FILENO, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;  // timeout: the loop re-checks the deadline
    char buf[64];
    ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
    // 0: EOF; an error other than EINTR (e.g. EBADF): no stdin to wait on.
    if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) return true;
  }
}

}  // namespace tslab::bench

int main(int argc, char** argv) {
  using tslab::bench::g_cfg;
  CLI::App app{"tslab benchmark worker: one workload, one allocator, one JSON line"};
  app.add_option("--workload", g_cfg.workload, "churn|pairs|epoch|latency|hold")
      ->check(CLI::IsMember({"churn", "pairs", "epoch", "latency", "hold"}));
  std::string api = "ptr";
  app.add_option("--api", api, "tslab: ptr (tslab_malloc/free) or handle")
      ->check(CLI::IsMember({"ptr", "handle"}));
  app.add_option("--threads", g_cfg.threads, "churn threads")->check(CLI::Range(1, 64));
  app.add_option("--live", g_cfg.live, "live objects per thread")
      ->check(CLI::Range(1u, 100000000u));
  app.add_option("--batch", g_cfg.batch, "frees+allocs per cycle")
      ->check(CLI::Range(1u, 100000000u));
  app.add_option("--cycles", g_cfg.cycles, "churn/epoch cycles")->check(CLI::Range(1u, 100000000u));
  app.add_option("--size", g_cfg.size, "object size, bytes")->check(CLI::Range(1, 768));
  app.add_option("--warm-cycle", g_cfg.warm_cycle, "RSS warm sample after N cycles");
  app.add_option("--pairs", g_cfg.pairs, "alloc/free pairs");
  app.add_option("--lat-cycles", g_cfg.lat_cycles, "timed churn cycles (latency)")
      ->check(CLI::Range(1u, 10000u));
  app.add_option("--floor-samples", g_cfg.floor_samples, "timer floor samples")
      ->check(CLI::Range(1u, 100000000u));
  app.add_option("--calibrate-ms", g_cfg.calibrate_ms, "TSC calibration window")
      ->check(CLI::Range(1u, 10000u));
  app.add_option("--seed", g_cfg.seed, "RNG seed");
  app.add_flag("--pause-after-close", g_cfg.pause_after_close,
               "epoch: after the last close print a pause line and wait for stdin's EOF "
               "(the driver reads RssAnon meanwhile); without it the worker reads its own");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "bench_worker: " << e.what() << "\n";
    return 2;
  }
  g_cfg.handle_api = api == "handle";
  if (g_cfg.batch > g_cfg.live && g_cfg.workload != "epoch" && g_cfg.workload != "pairs") {
    std::cerr << "bench_worker: --batch must not exceed --live\n";
    return 2;
  }
  tslab::bench::WorkerResult r;
  if (!tslab::bench::RunWorkload(g_cfg, &r)) {
    std::cerr << "bench_worker(" << tslab::bench::BackendName() << "): " << r.error << "\n";
    return 1;
  }
  std::cout << tslab::bench::ToJson(r).dump() << std::endl;
  return 0;
}
