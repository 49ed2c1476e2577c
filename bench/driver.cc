// tslab-bench: runs the benchmark workloads against several allocators,
// interleaved, over several rounds, and reports medians (see bench/README.md).
//
// Round r runs every workload against every allocator once, the allocators
// in an order rotated by r, each run in a fresh worker process
// (build/bin/bench_worker_<name>, worker.h). Per round it also snapshots a
// live tslab worker's stats region when the region is file-backed. Then,
// in rounds of its own, what tracing costs (usdt_cost.h): tslab-demo with
// and without tslab-trace, and the cost per probe hit against a bare uprobe.
// Output: the report on stdout, progress on stderr, --csv and --md files.
//
// Exit codes: 0 every run succeeded (targets may still be MISS: they are
// findings, not errors); 1 bad arguments or nothing to run; 2 at least one
// worker run failed (the report covers the rest); 3 a result file could not
// be written.
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "bench/proc.h"
#include "bench/report.h"
#include "bench/runner.h"
#include "bench/snapshot_bench.h"
#include "bench/usdt_cost.h"

namespace tslab::bench {
namespace {

struct AllocatorSpec {
  std::string name;
  std::string worker;             // bench_worker_<worker>
  std::vector<std::string> args;  // extra worker arguments
  std::vector<std::string> env;   // extra environment
  std::vector<std::string> only;  // workloads it runs; empty: all
  bool peer = false;              // a malloc the targets compare against
  std::string about;
};

struct WorkloadSpec {
  std::string name;
  std::vector<std::string> args;
};

// Extension point: a new allocator or variant is one line here (plus its
// worker in mk/bench.mk); a new workload is one line in Workloads() and a
// function in workloads.h.
std::vector<AllocatorSpec> Allocators() {
  const std::vector<std::string> cheap = {"churn", "pairs"};
  const std::vector<std::string> no_epoch = {"churn", "churn-2t", "pairs", "latency"};
  return {
      {"glibc", "glibc", {}, {}, {}, true, "glibc malloc/free"},
      {"jemalloc", "jemalloc", {}, {}, {}, true, "libjemalloc (replaces malloc)"},
      {"mimalloc", "mimalloc", {}, {}, {}, true, "mi_malloc/mi_free"},
      {"tcmalloc", "tcmalloc", {}, {}, {}, true, "libtcmalloc_minimal (replaces malloc)"},
      {"tslab", "tslab", {}, {}, {}, false, "tslab_malloc/tslab_free, current epoch"},
      {"tslab-handle",
       "tslab",
       {"--api", "handle"},
       {},
       no_epoch,
       false,
       "tslab_alloc/tslab_free_handle"},
      {"tslab-nostats",
       "tslab_nostats",
       {},
       {},
       no_epoch,
       false,
       "libtslab_nostats.a (TSLAB_STATS=0)"},
      {"tslab-nousdt", "tslab_nousdt", {}, {}, cheap, false, "libtslab_nousdt.a (TSLAB_USDT=0)"},
      {"tslab-regionoff",
       "tslab",
       {},
       {"TSLAB_STATS_DIR=off"},
       cheap,
       false,
       "tslab with TSLAB_STATS_DIR=off (anonymous region)"},
  };
}

std::vector<WorkloadSpec> Workloads() {
  return {
      {"churn", {"--workload", "churn", "--threads", "1"}},
      {"churn-2t", {"--workload", "churn", "--threads", "2"}},
      {"pairs", {"--workload", "pairs"}},
      {"epoch", {"--workload", "epoch"}},
      {"latency", {"--workload", "latency"}},
  };
}

// p99.99 of n samples has n / 10,000 samples above it: below 100,000 per
// op and round, fewer than 10 calls decide it.
constexpr uint32_t kMinLatencySamples = 100000;

struct Options {
  int rounds = 5;
  bool quick = false;
  uint32_t live = 100000, batch = 10000, cycles = 1000, size = 128;
  // The epoch workload's cycles: tslab's epoch_close madvises and the next
  // batch refaults every slab, which is slow on this VM (see README.md).
  uint32_t epoch_cycles = 200;
  uint64_t pairs = 10000000;
  uint32_t lat_cycles = 50, floor_samples = 1000000, calibrate_ms = 100;
  uint32_t snapshot_samples = 2000;
  bool no_snapshot = false;
  bool no_usdt = false, usdt_only = false;
  UsdtCostConfig usdt;
  double timeout_s = 300;
  std::string bin_dir, csv, md, label;
  std::vector<std::string> allocators, workloads;
};

std::string SelfDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  return p.substr(0, p.rfind('/'));
}

std::string FirstLineOf(const char* path, const std::string& prefix) {
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(prefix, 0) == 0) {
      size_t c = line.find(':');
      return c == std::string::npos ? line : line.substr(c + 2);
    }
  return "?";
}

// Private copies of the worker binaries, taken once at start: the working
// tree is shared, and a rebuild during a run would otherwise mix library
// versions between rounds (or fail an exec mid-link). Removed at the end.
class WorkerCopies {
 public:
  WorkerCopies() {
    char tmpl[] = "/tmp/tslab-bench.XXXXXX";
    if (mkdtemp(tmpl) != nullptr) dir_ = tmpl;
  }
  ~WorkerCopies() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  WorkerCopies(const WorkerCopies&) = delete;
  WorkerCopies& operator=(const WorkerCopies&) = delete;
  // The copy of path ("" with *err set if it cannot be made).
  std::string Get(const std::string& path, std::string* err) {
    auto it = copies_.find(path);
    if (it != copies_.end()) return it->second;
    if (dir_.empty()) {
      *err = "cannot create a directory under /tmp";
      return "";
    }
    std::string to = dir_ + "/" + std::filesystem::path(path).filename().string();
    std::error_code ec;
    std::filesystem::copy_file(path, to, ec);
    if (ec) {
      *err = "cannot copy " + path + ": " + ec.message();
      return "";
    }
    return copies_[path] = to;
  }

 private:
  std::string dir_;
  std::map<std::string, std::string> copies_;
};

// "1-min 5-min 15-min" from /proc/loadavg.
std::string LoadAvg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::vector<std::string> CommonArgs(const Options& o, int round, uint32_t cycles) {
  return {"--live",          std::to_string(o.live),
          "--batch",         std::to_string(o.batch),
          "--cycles",        std::to_string(cycles),
          "--size",          std::to_string(o.size),
          "--pairs",         std::to_string(o.pairs),
          "--lat-cycles",    std::to_string(o.lat_cycles),
          "--floor-samples", std::to_string(o.floor_samples),
          "--calibrate-ms",  std::to_string(o.calibrate_ms),
          "--seed",          std::to_string(round + 1)};
}

bool Runs(const AllocatorSpec& a, const std::string& w) {
  return a.only.empty() || std::find(a.only.begin(), a.only.end(), w) != a.only.end();
}

std::string Now() {
  std::time_t t = std::time(nullptr);
  char b[64];
  std::strftime(b, sizeof(b), "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&t));
  return b;
}

std::string FormatSeconds(double s) {
  char b[32];
  std::snprintf(b, sizeof(b), "%g", s);
  return b;
}

// The epoch workload's pause after its last free and close (workloads.h,
// ReportPurge): the worker sits blocked in poll and calls nothing, its
// allocator's own threads (tslab's purge) run. RssAnon of /proc/PID/status
// at once, then again purge delay + 100 ms after the close, timed from the
// worker's CLOCK_MONOTONIC stamp of it (the same clock here). The lag
// from the close to the first reading is kept: a busy machine can delay
// this process past the purge delay, and then the "at close" reading
// already misses what the purge gave back.
PauseFn RssAfterClose(uint64_t min_bytes) {
  return [min_bytes](pid_t pid, const nlohmann::json& pause, nlohmann::json* m, std::string* err) {
    const uint64_t closed = pause.value("closed_at_ns", uint64_t{0});
    const int64_t wait_ms = pause.value("purge_wait_ms", int64_t{-1});
    const uint64_t before = pause.value("rss_before_bytes", uint64_t{0});
    const uint64_t at_close = RssAnonBytes(pid);  // first: the purge clock is running
    const uint64_t read_at = MonotonicNs();
    if (closed == 0 || wait_ms < 0 || before == 0) {
      *err = "epoch: pause line without closed_at_ns/purge_wait_ms/rss_before_bytes";
      return false;
    }
    SleepUntilNs(closed + static_cast<uint64_t>(wait_ms) * 1000000);
    const uint64_t after = RssAnonBytes(pid);
    if (at_close == 0 || after == 0) {
      *err = "cannot read RssAnon of /proc/" + std::to_string(pid) + "/status";
      return false;
    }
    (*m)["rss_after_close_bytes"] = at_close;
    (*m)["rss_after_delay_bytes"] = after;
    (*m)["close_sample_lag_ms"] =
        read_at > closed ? static_cast<double>(read_at - closed) * 1e-6 : 0.0;
    if (auto pct = PurgeReturnedPct(before, at_close, after, min_bytes))
      (*m)["purge_returned_pct"] = *pct;
    return true;
  };
}

// The tracing-cost rounds (usdt_cost.h); returns the number of failed
// steps. Why it did not run, if it did not, goes to the report.
int RunUsdtCost(const Options& o, WorkerCopies* copies, ResultStore* store) {
  std::string skip = UsdtCostUnavailable();
  UsdtCostConfig cfg = o.usdt;
  for (auto [name, path] :
       {std::pair{"tslab-demo", &cfg.demo}, std::pair{"tslab-trace", &cfg.trace},
        std::pair{"bench_usdt_loop", &cfg.loop}}) {
    std::string err, bin = o.bin_dir + "/" + name;
    if (!skip.empty()) break;
    if (access(bin.c_str(), X_OK) != 0) {
      skip = "not measured: " + bin + " not built";
      break;
    }
    *path = copies->Get(bin, &err);
    if (path->empty()) skip = "not measured: " + err;
  }
  if (!skip.empty()) {
    store->SetInfo("tslab-trace", "usdt_skip", skip);
    std::cerr << "tslab-bench: tracing costs " << skip << "\n";
    return 0;
  }
  UsdtCostBench bench(cfg);
  int failures = 0;
  for (int r = 0; r < o.rounds; ++r) {
    const std::string tag =
        "[tracing " + std::to_string(r + 1) + "/" + std::to_string(o.rounds) + "] ";
    std::string err;
    if (bench.DemoRound(r, store, &err)) {
      char b[160];
      std::snprintf(b, sizeof(b),
                    "tslab-demo Mops/s: untraced %.3f, bare uprobes %.3f, "
                    "tslab-trace %.3f",
                    store->Values({"untraced", "demo", "ops_per_s"}).back() * 1e-6,
                    store->Values({"bare-uprobe", "demo", "ops_per_s"}).back() * 1e-6,
                    store->Values({"tslab-trace", "demo", "ops_per_s"}).back() * 1e-6);
      std::cerr << tag << b << "\n";
    } else {
      ++failures;
      std::cerr << "tslab-bench: tracing round " << r + 1 << ", tslab-demo: " << err << "\n";
    }
    if (bench.ProbeHitRound(r, store, &err)) {
      for (const char* w : {"probe-hit", "probe-hit-stack"}) {
        char b[240];
        std::snprintf(b, sizeof(b),
                      "ns per %s call: untraced %.0f, bare uprobe %.0f, tslab-trace %.0f, "
                      "doctor %.0f",
                      std::string(w) == "probe-hit" ? "epoch_advance" : "refused free",
                      store->Values({kTracingConditions[0], w, "ns_per_call"}).back(),
                      store->Values({kTracingConditions[1], w, "ns_per_call"}).back(),
                      store->Values({kTracingConditions[2], w, "ns_per_call"}).back(),
                      store->Values({kTracingConditions[3], w, "ns_per_call"}).back());
        std::cerr << tag << b << "\n";
      }
    } else {
      ++failures;
      std::cerr << "tslab-bench: tracing round " << r + 1 << ", probe hit: " << err << "\n";
    }
  }
  return failures;
}

int Run(const Options& o) {
  using Clock = std::chrono::steady_clock;
  const auto t_start = Clock::now();
  const std::string load_start = LoadAvg();
  const std::string started = Now();
  std::vector<AllocatorSpec> allocs;
  std::vector<std::string> missing;
  WorkerCopies copies;
  for (auto& a : Allocators()) {
    if (o.usdt_only) break;
    if (!o.allocators.empty() &&
        std::find(o.allocators.begin(), o.allocators.end(), a.name) == o.allocators.end())
      continue;
    a.worker = o.bin_dir + "/bench_worker_" + a.worker;
    if (access(a.worker.c_str(), X_OK) != 0) {
      missing.push_back(a.name + " (" + a.worker + " not built)");
      continue;
    }
    std::string err;
    a.worker = copies.Get(a.worker, &err);
    if (a.worker.empty()) {
      std::cerr << "tslab-bench: " << err << "\n";
      return 1;
    }
    allocs.push_back(a);
  }
  std::vector<WorkloadSpec> works;
  for (auto& w : Workloads())
    if (o.workloads.empty() ||
        std::find(o.workloads.begin(), o.workloads.end(), w.name) != o.workloads.end())
      works.push_back(w);
  if (!o.usdt_only && (allocs.empty() || works.empty())) {
    std::cerr << "tslab-bench: nothing to run (no worker binaries in " << o.bin_dir
              << ", or the filters leave nothing)\n";
    return 1;
  }
  const AllocatorSpec* tslab = nullptr;
  for (auto& a : allocs)
    if (a.name == "tslab") tslab = &a;

  ResultStore store(o.rounds);
  int failures = 0;
  for (int r = 0; r < o.rounds && !o.usdt_only; ++r) {
    const auto t_round = Clock::now();
    for (const auto& w : works) {
      std::string progress;
      const size_t n = allocs.size();
      for (size_t i = 0; i < n; ++i) {
        const AllocatorSpec& a = allocs[(i + static_cast<size_t>(r)) % n];
        if (!Runs(a, w.name)) continue;
        WorkerCommand cmd{a.worker, w.args, a.env};
        cmd.args.insert(cmd.args.end(), a.args.begin(), a.args.end());
        const bool epoch = w.name == "epoch";
        auto common = CommonArgs(o, r, epoch ? o.epoch_cycles : o.cycles);
        cmd.args.insert(cmd.args.end(), common.begin(), common.end());
        if (epoch) cmd.args.push_back("--pause-after-close");
        RunOutcome out = RunWorker(cmd, o.timeout_s,
                                   epoch ? RssAfterClose(PurgeMinBytes(o.batch, o.size)) : nullptr);
        if (!out.ok) {
          ++failures;
          std::cerr << "tslab-bench: round " << r + 1 << ", " << a.name << " " << w.name << ": "
                    << out.error << "\n";
          continue;
        }
        store.AddDoc(a.name, w.name, r, out.doc);
        const auto& m = out.doc["metrics"];
        char cell[160];
        if (m.contains("ops_per_s"))
          std::snprintf(cell, sizeof(cell), " %s %.2f", a.name.c_str(),
                        m["ops_per_s"].get<double>() * 1e-6);
        else if (m.contains("alloc_p9999_ns"))
          std::snprintf(cell, sizeof(cell), " %s %.0f/%.0f", a.name.c_str(),
                        m["alloc_p999_ns"].get<double>(), m["alloc_p9999_ns"].get<double>());
        else
          std::snprintf(cell, sizeof(cell), " %s ok", a.name.c_str());
        progress += cell;
        if (m.contains("madvise_per_close")) {
          std::snprintf(cell, sizeof(cell), " (%.2f madvise/close)",
                        m["madvise_per_close"].get<double>());
          progress += cell;
        }
      }
      std::cerr << "[round " << r + 1 << "/" << o.rounds << "] " << w.name
                << (w.name == "latency" ? " alloc p99.9/p99.99 ns:" : " Mops/s:") << progress
                << "\n";
    }
    if (tslab != nullptr && !o.no_snapshot) {
      WorkerCommand hold{tslab->worker, {"--workload", "hold"}, tslab->env};
      auto common = CommonArgs(o, r, o.cycles);
      hold.args.insert(hold.args.end(), common.begin(), common.end());
      nlohmann::json doc;
      std::string err;
      if (MeasureSnapshot(hold, o.snapshot_samples, 60.0, &doc, &err)) {
        store.AddDoc("tslab", "snapshot", r, doc);
        if (doc["metrics"].contains("snapshot_p99_us"))
          std::cerr << "[round " << r + 1 << "/" << o.rounds << "] snapshot p99 "
                    << doc["metrics"]["snapshot_p99_us"].get<double>() << " us\n";
      } else {
        ++failures;
        std::cerr << "tslab-bench: round " << r + 1 << ", snapshot: " << err << "\n";
      }
    }
    std::cerr << "[round " << r + 1 << "/" << o.rounds << "] done in "
              << static_cast<int>(std::chrono::duration<double>(Clock::now() - t_round).count())
              << " s\n";
  }

  if (!o.no_usdt) failures += RunUsdtCost(o, &copies, &store);

  ReportSetup setup;
  for (const auto& a : allocs) {
    setup.allocators.push_back(a.name);
    if (a.peer) setup.peers.push_back(a.name);
  }
  setup.live = o.live;
  setup.batch = o.batch;
  setup.cycles = o.cycles;
  setup.size = o.size;
  setup.pairs = o.pairs;
  setup.lat_cycles = o.lat_cycles;
  setup.purge_min_bytes = PurgeMinBytes(o.batch, o.size);
  setup.quick = o.quick;
  utsname u{};
  uname(&u);
  setup.notes.push_back("tslab-bench, started " + started +
                        (o.label.empty() ? "" : ", " + o.label) +
                        (o.quick ? ", --quick (smoke run)" : ""));
  const std::string load_end = LoadAvg();
  setup.notes.push_back("load average at start " + load_start + ", at end " + load_end +
                        " (other work on the machine skews absolute numbers; ratios are "
                        "per round)");
  const double busy = 0.75 * static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN));
  if (std::atof(load_start.c_str()) > busy || std::atof(load_end.c_str()) > busy)
    setup.notes.push_back("WARNING: the machine was busy (1-min load above " +
                          std::to_string(busy).substr(0, 4) +
                          "): other processes competed for the CPUs, so 2-thread scaling and "
                          "latency tails (preemptions) are unreliable in this run");
  setup.notes.push_back("machine: " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " CPUs (" +
                        FirstLineOf("/proc/cpuinfo", "model name") + "), Linux " + u.release +
                        "; workers not pinned, machine not isolated: expect noise");
  const uint64_t lat_samples = static_cast<uint64_t>(o.lat_cycles) * o.batch;
  setup.notes.push_back("churn: live " + std::to_string(o.live) + " x " + std::to_string(o.size) +
                        " B per thread, " + std::to_string(o.batch) + " random frees + " +
                        std::to_string(o.batch) + " allocs per cycle, " + std::to_string(o.cycles) +
                        " cycles; pairs: " + std::to_string(o.pairs) +
                        " alloc+free; epoch: " + std::to_string(o.batch) + " per batch, " +
                        std::to_string(o.epoch_cycles) + " cycles; latency: every call of " +
                        std::to_string(o.lat_cycles) + " churn cycles timed (" +
                        std::to_string(lat_samples) + " samples per op per round)");
  if (lat_samples < kMinLatencySamples)
    setup.notes.push_back("WARNING: " + std::to_string(lat_samples) +
                          " latency samples per op per round: fewer than 10 calls lie above "
                          "p99.99 (--lat-cycles x --batch should reach " +
                          std::to_string(kMinLatencySamples) + ")");
  setup.notes.push_back(
      "rounds interleaved (allocator order rotated per round), each run a "
      "fresh process (private copies of the workers); drift = RSS after cycle 10 -> end");
  for (const auto& a : allocs) {
    std::string from = store.Info(a.name, "malloc_from");
    setup.notes.push_back("  " + a.name + ": " + a.about +
                          (from.empty() ? "" : "; malloc from " + from));
  }
  for (const auto& m : missing) setup.notes.push_back("  skipped: " + m);
  if (!o.no_usdt && store.Info("tslab-trace", "usdt_skip").empty())
    setup.notes.push_back(
        "tracing costs: tslab-demo --threads " + std::to_string(o.usdt.demo_threads) + ", " +
        FormatSeconds(o.usdt.demo_seconds) +
        " s of work, untraced / empty BPF program as a plain uprobe at each of its tslab "
        "probe sites, semaphores raised / tslab-trace -p (every probe), order rotated per "
        "round; cost per hit: "
        "bench_usdt_loop, " +
        std::to_string(o.usdt.loop_chunks) + " chunks x " + std::to_string(o.usdt.loop_iters) +
        " calls of tslab_epoch_advance() (one epoch_advance hit each) and of a refused "
        "free (one invalid_free hit each), untraced / empty uprobe on that site / "
        "tslab-trace --probe NAME / the tracer of stats_dump --doctor --trace (every "
        "probe, doctor mode: user stacks of invalid_free); ns/call = median chunk, per hit "
        "= (traced - untraced) / hits per call");
  const std::string region = store.Info("tslab", "region_path");
  if (tslab != nullptr)
    setup.notes.push_back("  tslab stats region: " +
                          (region.empty() ? std::string("anonymous memory (no file)") : region));

  AddDerived(&store, setup);
  auto checks = CheckTargets(store, setup);
  std::cout << FormatReport(store, setup, checks, false);
  std::cout << "\n(total "
            << static_cast<int>(std::chrono::duration<double>(Clock::now() - t_start).count())
            << " s)\n";
  std::string err;
  if (!o.csv.empty() && !WriteCsv(o.csv, store, &err)) {
    std::cerr << "tslab-bench: " << err << "\n";
    return 3;
  }
  if (!o.md.empty() && !WriteText(o.md, FormatReport(store, setup, checks, true), &err)) {
    std::cerr << "tslab-bench: " << err << "\n";
    return 3;
  }
  if (failures) {
    std::cerr << "tslab-bench: " << failures << " run(s) failed (see above)\n";
    return 2;
  }
  return 0;
}

}  // namespace
}  // namespace tslab::bench

int main(int argc, char** argv) {
  tslab::bench::Options o;
  CLI::App app{
      "tslab-bench: tslab vs glibc/jemalloc/mimalloc/tcmalloc, interleaved rounds, "
      "medians"};
  std::vector<std::string> all_allocs, all_works;
  for (auto& a : tslab::bench::Allocators()) all_allocs.push_back(a.name);
  for (auto& w : tslab::bench::Workloads()) all_works.push_back(w.name);
  app.add_option("--rounds", o.rounds, "rounds (default 5; --quick: 1)")->check(CLI::Range(1, 100));
  app.add_flag("--quick", o.quick,
               "smoke run: 1 round, 100 cycles, short pairs, latency of 100,000 calls per op");
  app.add_option("--allocators", o.allocators, "only these (comma list)")
      ->delimiter(',')
      ->check(CLI::IsMember(all_allocs));
  app.add_option("--workloads", o.workloads, "only these (comma list)")
      ->delimiter(',')
      ->check(CLI::IsMember(all_works));
  app.add_option("--live", o.live, "churn live objects per thread")
      ->check(CLI::Range(1u, 10000000u));
  app.add_option("--batch", o.batch, "frees+allocs per cycle")->check(CLI::Range(1u, 10000000u));
  app.add_option("--cycles", o.cycles, "churn cycles (default 1000)")
      ->check(CLI::Range(1u, 1000000u));
  app.add_option("--size", o.size, "object size in bytes")->check(CLI::Range(1, 768));
  app.add_option("--epoch-cycles", o.epoch_cycles, "epoch workload cycles (default 200)")
      ->check(CLI::Range(2u, 1000000u));
  app.add_option("--pairs", o.pairs, "alloc/free pairs");
  app.add_option("--label", o.label, "printed in the report's first line (e.g. git describe)");
  app.add_option("--lat-cycles", o.lat_cycles,
                 "timed churn cycles for latency (default 50, at least 100,000 samples)")
      ->check(CLI::Range(1u, 10000u));
  app.add_option("--snapshot-samples", o.snapshot_samples, "snapshots timed per round")
      ->check(CLI::Range(10u, 1000000u));
  app.add_flag("--no-snapshot", o.no_snapshot, "skip the snapshot-latency measurement");
  auto* no_usdt =
      app.add_flag("--no-usdt", o.no_usdt,
                   "skip the tracing costs (tslab-demo under tslab-trace, cost per probe hit)");
  app.add_flag("--usdt-only", o.usdt_only, "only the tracing costs (no allocator rounds)")
      ->excludes(no_usdt);
  app.add_option("--usdt-demo-seconds", o.usdt.demo_seconds,
                 "tslab-demo --duration per tracing run (default 5; --quick: 2)")
      ->check(CLI::Range(0.5, 600.0));
  app.add_option("--usdt-demo-threads", o.usdt.demo_threads,
                 "tslab-demo --threads per tracing run (default 1)")
      ->check(CLI::Range(1, 64));
  app.add_option("--usdt-delay", o.usdt.demo_delay,
                 "tslab-demo --delay: seconds tslab-trace has to attach (default 2)")
      ->check(CLI::Range(0.2, 60.0));
  app.add_option("--usdt-iters", o.usdt.loop_iters,
                 "epoch_advance calls per timed chunk (default 10000)")
      ->check(CLI::Range(100u, 10000000u));
  app.add_option("--usdt-chunks", o.usdt.loop_chunks,
                 "timed chunks per probe-hit measurement (default 20; --quick: 5)")
      ->check(CLI::Range(1u, 10000u));
  app.add_option("--timeout", o.timeout_s, "seconds per worker run before it is killed")
      ->check(CLI::Range(1.0, 3600.0));
  app.add_option("--bin-dir", o.bin_dir, "where the bench_worker_* binaries are (default: ours)");
  app.add_option("--csv", o.csv, "write one row per allocator x workload x metric");
  app.add_option("--md", o.md, "write the report as markdown (for the README)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "tslab-bench: " << e.what() << "\n";
    return 1;
  }
  if (o.quick) {
    if (app.count("--rounds") == 0) o.rounds = 1;
    if (app.count("--cycles") == 0) o.cycles = 100;
    if (app.count("--epoch-cycles") == 0) o.epoch_cycles = 20;
    if (app.count("--pairs") == 0) o.pairs = 1000000;
    if (app.count("--lat-cycles") == 0) o.lat_cycles = 1;  // raised below to 100,000 samples
    if (app.count("--snapshot-samples") == 0) o.snapshot_samples = 200;
    if (app.count("--usdt-demo-seconds") == 0) o.usdt.demo_seconds = 2;
    if (app.count("--usdt-chunks") == 0) o.usdt.loop_chunks = 5;
    o.floor_samples = 100000;
    o.calibrate_ms = 20;
  }
  if (o.batch > o.live) {
    std::cerr << "tslab-bench: --batch must not exceed --live\n";
    return 1;
  }
  // Unless --lat-cycles says otherwise, enough timed cycles for p99.99
  // (kMinLatencySamples): 10 of the default batch; 50 by default.
  if (app.count("--lat-cycles") == 0)
    o.lat_cycles = std::max(
        o.lat_cycles,
        std::min<uint32_t>(10000, (tslab::bench::kMinLatencySamples + o.batch - 1) / o.batch));
  if (o.bin_dir.empty()) o.bin_dir = tslab::bench::SelfDir();
  return tslab::bench::Run(o);
}
