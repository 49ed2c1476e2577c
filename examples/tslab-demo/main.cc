// tslab-demo: a small request-processing simulation on tslab, the process
// that stats_dump, --doctor and tslab-trace are shown and tested against.
//
// Purpose: worker threads process batches of requests; every request
// allocates a few objects of several sizes in the batch's epoch, touches
// them and frees them. When every worker has finished the batch, the last
// one to arrive advances the epoch and closes the batch's epoch, so empty
// slabs are recycled and their pages given back, as in a real server.
// Misbehaviour modes (--leak, --alloc-closed, --leak-scope, ...) make the
// counters show what the doctor must catch; see docs/stats_dump.md. Each
// batch's epoch is labelled "batch:N" (tslab_epoch_set_label).
//
// Protocol for tools and tests: once the allocators (and so their stats
// regions) exist, the demo prints "ready pid=N allocators=K region=PATH" on
// stdout and writes its pid to --ready-file (atomically, by rename); then it
// idles --delay seconds, works --duration seconds, prints
// "done requests=... allocs=... ..." and idles --linger seconds. SIGTERM
// and SIGINT end the work or the idling early and exit normally (exit 0),
// so the region files are removed.
//
// Thread-safety: the workers share the allocators (thread-safe) and an
// std::barrier; counters are per-worker and summed after join.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "tslab/tslab.h"

// The demo's bugs live in named, never-inlined functions, so that a call
// site found from outside (stats_dump --doctor --trace, bpftrace's ustack)
// names a known frame: tests/doctor_trace_test.cc expects these names.
// Each uses the allocator's answer after the call, so the call is not a
// tail call and the function keeps its own frame on the stack.
namespace demo {

// Allocates one object of `size` into the closed epoch `closed`: refused
// (and counted) by tslab. Returns 1 if refused.
__attribute__((noinline)) int AllocIntoClosedEpoch(tslab_allocator* a,
                                                   uint32_t size,
                                                   uint32_t closed) {
  void* p = tslab_alloc(a, size, closed, nullptr);
  asm volatile("" ::: "memory");
  return p == nullptr ? 1 : 0;
}

// Frees handle h a second time: refused as a double free. Returns 1 if
// refused.
__attribute__((noinline)) int FreeTwice(tslab_allocator* a, tslab_handle h) {
  const int rc = tslab_free_handle(a, h);
  asm volatile("" ::: "memory");
  return rc != TSLAB_OK ? 1 : 0;
}

}  // namespace demo

namespace {

struct DemoOptions {
  int threads = 2;
  double duration = 5.0;
  double delay = 0.0;
  double linger = 0.0;
  bool leak = false;
  int leak_every = 0;  // leak one object every N requests; 0: once a batch
  bool alloc_closed = false;
  bool no_close = false;
  bool no_advance = false;
  bool madvise_fail = false;
  bool bad_frees = false;
  bool leak_scope = false;  // enter a domain and never exit it
  bool region_off = false;
  bool no_touch = false;  // skip writing the objects: allocator calls only
  int allocators = 1;
  int batch = 64;        // requests per thread per batch
  int objects = 8;       // objects per request, at most
  int cache_capacity = -1;
  uint64_t max_bytes = 0;  // 0: the allocator's default
  double pause_ms = 0;   // sleep between batches
  std::vector<unsigned> sizes;  // object sizes; empty: one of each class
  std::string name = "tslab-demo";
  std::string ready_file;
  std::string exec;  // a command to exec after the work, allocators live
  unsigned seed = 1;
};

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true, std::memory_order_relaxed); }

// Sleeps up to seconds, waking early on SIGTERM/SIGINT.
void IdleFor(double seconds) {
  auto until = std::chrono::steady_clock::now() +
               std::chrono::duration<double>(seconds);
  while (!g_stop.load(std::memory_order_relaxed) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int FailingMadvise(void*, size_t, int, void*) {
  errno = EINVAL;
  return -1;
}

struct WorkerTotals {
  uint64_t requests = 0, allocs = 0, frees = 0, alloc_errors = 0;
  uint64_t leaked = 0, closed_refused = 0, bad_frees_refused = 0;
};

class Demo {
 public:
  explicit Demo(const DemoOptions& o) : o_(o) {}
  ~Demo() {
    for (tslab_domain* d : leaked_scopes_) tslab_domain_destroy(d);
    for (tslab_allocator* a : allocs_) tslab_destroy(a);
  }

  // Creates the allocators; false (with a message) on error.
  bool Init() {
    for (int i = 0; i < o_.allocators; ++i) {
      names_.push_back(i == 0 ? o_.name : o_.name + "-" + std::to_string(i));
    }
    for (int i = 0; i < o_.allocators; ++i) {
      tslab_options opts;
      tslab_options_init(&opts);
      opts.name = names_[i].c_str();
      if (o_.cache_capacity >= 0) {
        opts.cache_capacity = static_cast<uint32_t>(o_.cache_capacity);
      }
      if (o_.max_bytes != 0) opts.max_bytes = o_.max_bytes;
      if (o_.region_off) opts.region_mode = TSLAB_REGION_OFF;
      if (o_.madvise_fail) opts.madvise_fn = FailingMadvise;
      tslab_allocator* a = tslab_create(&opts);
      if (a == nullptr) {
        std::fprintf(stderr, "tslab-demo: tslab_create: %s\n",
                     tslab_strerror(tslab_last_error()));
        return false;
      }
      allocs_.push_back(a);
    }
    if (o_.sizes.empty()) {
      for (uint32_t c = 0; c < tslab_class_count(); ++c) {
        sizes_.push_back(tslab_class_size(c));
      }
    } else {
      sizes_ = o_.sizes;
    }
    epoch_.store(tslab_epoch_current(allocs_[0]));
    LabelBatch(epoch_.load());
    if (o_.leak_scope) {
      // A request scope entered and never exited (an early return that
      // skips the exit): its epoch never auto-closes and keeps a domain
      // refcount of 1 while it ages; the doctor's epoch_refcount_age.
      leaked_epoch_ = epoch_.load();
      for (tslab_allocator* a : allocs_) {
        tslab_domain* d = tslab_domain_create(a, /*auto_close=*/true);
        if (d == nullptr || tslab_domain_enter(d) != TSLAB_OK) {
          std::fprintf(stderr, "tslab-demo: domain: %s\n",
                       tslab_strerror(tslab_last_error()));
          tslab_domain_destroy(d);
          return false;
        }
        (void)tslab_domain_set_label(d, "request:leaked-scope");
        leaked_scopes_.push_back(d);
      }
    }
    return true;
  }

  const char* RegionPath() const { return tslab_region_path(allocs_[0]); }

  // Runs the workers for o_.duration seconds (or until a signal).
  WorkerTotals Run(double* seconds) {
    auto start = std::chrono::steady_clock::now();
    deadline_ = start + std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::duration<double>(o_.duration));
    std::barrier sync(o_.threads, BatchDone{this});
    std::vector<WorkerTotals> totals(o_.threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < o_.threads; ++t) {
      workers.emplace_back([&, t] { Worker(t, &sync, &totals[t]); });
    }
    for (auto& w : workers) w.join();
    *seconds = std::chrono::duration<double>(
                   std::chrono::steady_clock::now() - start)
                   .count();
    WorkerTotals sum;
    for (const WorkerTotals& w : totals) {
      sum.requests += w.requests;
      sum.allocs += w.allocs;
      sum.frees += w.frees;
      sum.alloc_errors += w.alloc_errors;
      sum.leaked += w.leaked;
      sum.closed_refused += w.closed_refused;
      sum.bad_frees_refused += w.bad_frees_refused;
    }
    return sum;
  }

 private:
  // The barrier's completion step: runs once per batch, in one thread,
  // while the others wait, so epoch moves never race with the batch.
  struct BatchDone {
    Demo* d;
    void operator()() noexcept { d->EndBatch(); }
  };

  // A signal came or the time is up. Checked after every request, not only
  // between batches: a batch of 16M requests of 4096 objects took minutes.
  bool Stopping() const {
    return g_stop.load(std::memory_order_relaxed) ||
           std::chrono::steady_clock::now() >= deadline_;
  }

  void EndBatch() {
    if (Stopping()) {
      done_.store(true, std::memory_order_relaxed);
      return;
    }
    uint32_t old = epoch_.load(std::memory_order_relaxed);
    uint32_t next = old;
    for (tslab_allocator* a : allocs_) {
      if (!o_.no_advance) next = tslab_epoch_advance(a);
      // The leaked scope's epoch closes with its domain's last exit, which
      // never comes.
      if (!o_.no_close && next != old && old != leaked_epoch_) {
        (void)tslab_epoch_close(a, old);
      }
    }
    prev_epoch_.store(old, std::memory_order_relaxed);
    epoch_.store(next, std::memory_order_relaxed);
    if (next != old) LabelBatch(next);
    if (o_.pause_ms > 0) {
      std::this_thread::sleep_for(
          std::chrono::duration<double, std::milli>(o_.pause_ms));
    }
  }

  // Names the batch's epoch ("batch:N") for stats_dump and the probes;
  // the leaked scope's epoch keeps its own label.
  void LabelBatch(uint32_t e) {
    if (e == leaked_epoch_) return;
    const std::string label = "batch:" + std::to_string(batch_no_++);
    for (tslab_allocator* a : allocs_) {
      (void)tslab_epoch_set_label(a, e, label.c_str());
    }
  }

  void Worker(int t, std::barrier<BatchDone>* sync, WorkerTotals* tot) {
    std::mt19937 rng(o_.seed * 7919u + static_cast<unsigned>(t));
    std::vector<std::pair<tslab_allocator*, tslab_handle>> live;
    uint64_t request_no = 0;
    while (!done_.load(std::memory_order_relaxed)) {
      const uint32_t e = epoch_.load(std::memory_order_relaxed);
      for (int r = 0; r < o_.batch; ++r, ++request_no) {
        tslab_allocator* a = allocs_[request_no % allocs_.size()];
        int n = 1 + static_cast<int>(rng() % static_cast<unsigned>(o_.objects));
        for (int i = 0; i < n; ++i) {
          uint32_t size = sizes_[rng() % sizes_.size()];
          tslab_handle h = 0;
          void* p = tslab_alloc(a, size, e, &h);
          if (p == nullptr) {
            ++tot->alloc_errors;
            continue;
          }
          ++tot->allocs;
          if (!o_.no_touch) std::memset(p, static_cast<int>(request_no), size);
          live.emplace_back(a, h);
        }
        const bool leak_now =
            o_.leak && (o_.leak_every > 0
                            ? request_no % static_cast<uint64_t>(o_.leak_every) == 0
                            : r == 0);
        if (leak_now && !live.empty()) {
          live.pop_back();  // never freed
          ++tot->leaked;
        }
        for (auto& [la, h] : live) {
          if (tslab_free_handle(la, h) == TSLAB_OK) ++tot->frees;
        }
        if (o_.bad_frees && r == 0 && !live.empty()) {
          // A double free: refused and counted by the allocator.
          tot->bad_frees_refused +=
              demo::FreeTwice(live.back().first, live.back().second);
        }
        live.clear();
        ++tot->requests;
        if (Stopping()) break;  // the batch ends early; EndBatch stops
      }
      if (o_.alloc_closed && !o_.no_close) {
        // A bug the doctor must catch: allocating into the closed epoch of
        // the previous batch.
        uint32_t closed = prev_epoch_.load(std::memory_order_relaxed);
        if (closed != e) {
          for (tslab_allocator* a : allocs_) {
            tot->closed_refused += demo::AllocIntoClosedEpoch(a, sizes_[0], closed);
          }
        }
      }
      sync->arrive_and_wait();
    }
  }

  const DemoOptions& o_;
  std::vector<std::string> names_;
  std::vector<tslab_allocator*> allocs_;
  std::vector<unsigned> sizes_;
  std::atomic<uint32_t> epoch_{0};
  std::atomic<uint32_t> prev_epoch_{0};
  std::atomic<bool> done_{false};
  uint64_t batch_no_ = 0;                   // the batch step's (one thread)
  uint32_t leaked_epoch_ = TSLAB_INVALID_EPOCH;  // --leak-scope's epoch
  std::vector<tslab_domain*> leaked_scopes_;
  std::chrono::steady_clock::time_point deadline_;
};

bool WriteReadyFile(const std::string& path) {
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return false;
  std::fprintf(f, "%d\n", static_cast<int>(getpid()));
  bool ok = std::fclose(f) == 0;
  return ok && std::rename(tmp.c_str(), path.c_str()) == 0;
}

int Main(int argc, char** argv) {
  DemoOptions o;
  CLI::App app{"tslab-demo: a request-processing simulation on tslab"};
  app.add_option("--threads", o.threads, "worker threads")
      ->check(CLI::Range(1, 256));
  app.add_option("--duration", o.duration, "seconds of work")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--delay", o.delay, "seconds idle before the first allocation")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--linger", o.linger, "seconds idle after the work")
      ->check(CLI::Range(0.0, 1e6));
  app.add_flag("--leak", o.leak, "never free some objects (a leak)");
  app.add_option("--leak-every", o.leak_every,
                 "with --leak: leak one object every N requests "
                 "(default: one per batch per thread)")
      ->check(CLI::Range(0, 1 << 30));
  app.add_flag("--alloc-closed", o.alloc_closed,
               "also allocate into the previous batch's closed epoch (a bug)");
  app.add_flag("--no-close", o.no_close, "never close epochs (they pile up ACTIVE)");
  app.add_flag("--no-advance", o.no_advance, "never advance the epoch (a stall)");
  app.add_flag("--madvise-fail", o.madvise_fail,
               "make every madvise fail (through the allocator's madvise hook)");
  app.add_flag("--bad-frees", o.bad_frees, "free one object twice per batch");
  app.add_flag("--leak-scope", o.leak_scope,
               "enter a domain over the first epoch and never exit it (a "
               "leaked scope: that epoch never closes, refcount stays 1)");
  app.add_flag("--region-off", o.region_off, "no stats region file");
  app.add_flag("--no-touch", o.no_touch,
               "do not write the objects (back-to-back allocator calls: "
               "more contention between threads)");
  app.add_option("--allocators", o.allocators, "allocators (each has a region)")
      ->check(CLI::Range(1, 64));
  app.add_option("--batch", o.batch, "requests per thread per batch")
      ->check(CLI::Range(1, 1 << 24));
  app.add_option("--objects", o.objects, "objects per request, at most")
      ->check(CLI::Range(1, 4096));
  app.add_option("--cache-capacity", o.cache_capacity,
                 "empty slabs cached per class (allocator default 32)")
      ->check(CLI::Range(0, 1 << 20));
  app.add_option("--max-bytes", o.max_bytes,
                 "address space for slabs (small + --leak: allocations fail)");
  app.add_option("--pause-ms", o.pause_ms, "milliseconds to sleep between batches")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--sizes", o.sizes, "object sizes, 1..768 (default: each class)")
      ->delimiter(',')
      ->check(CLI::Range(1u, TSLAB_MAX_OBJECT_SIZE));
  app.add_option("--name", o.name, "allocator name (shown by stats_dump)");
  app.add_option("--ready-file", o.ready_file,
                 "write the pid here once the stats region exists");
  app.add_option("--seed", o.seed, "random seed");
  app.add_option("--exec", o.exec,
                 "after the work, exec this command (words split on spaces) "
                 "with the allocators still live: the region files stay behind");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  // CLI11's ranges let NaN through, and an unsigned option takes "-1" as
  // 2^64 - 1.
  for (const auto& [flag, v] : {std::pair<const char*, double>{"--duration", o.duration},
                                {"--delay", o.delay},
                                {"--linger", o.linger},
                                {"--pause-ms", o.pause_ms}}) {
    if (!std::isfinite(v)) {
      std::fprintf(stderr, "tslab-demo: %s: not a number\n", flag);
      return 2;
    }
  }
  if (app.count("--max-bytes") &&
      app.get_option("--max-bytes")->as<std::string>().find('-') != std::string::npos) {
    std::fprintf(stderr, "tslab-demo: --max-bytes: must not be negative\n");
    return 2;
  }
  // A reader of stdout that goes away (| head -c5) must not kill the demo
  // by SIGPIPE: it would leave its stats file behind.
  std::signal(SIGPIPE, SIG_IGN);

  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  Demo demo(o);
  if (!demo.Init()) return 1;
  std::printf("ready pid=%d allocators=%d region=%s\n",
              static_cast<int>(getpid()), o.allocators,
              *demo.RegionPath() ? demo.RegionPath() : "(anonymous)");
  std::fflush(stdout);
  if (!o.ready_file.empty() && !WriteReadyFile(o.ready_file)) {
    std::fprintf(stderr, "tslab-demo: cannot write %s: %s\n",
                 o.ready_file.c_str(), std::strerror(errno));
    return 1;
  }
  IdleFor(o.delay);
  double seconds = 0;
  WorkerTotals t = demo.Run(&seconds);
  std::printf(
      "done requests=%llu allocs=%llu frees=%llu leaked=%llu "
      "closed_refused=%llu bad_frees_refused=%llu alloc_errors=%llu "
      "seconds=%.3f allocs_per_sec=%.0f\n",
      static_cast<unsigned long long>(t.requests),
      static_cast<unsigned long long>(t.allocs),
      static_cast<unsigned long long>(t.frees),
      static_cast<unsigned long long>(t.leaked),
      static_cast<unsigned long long>(t.closed_refused),
      static_cast<unsigned long long>(t.bad_frees_refused),
      static_cast<unsigned long long>(t.alloc_errors), seconds,
      seconds > 0 ? static_cast<double>(t.allocs) / seconds : 0.0);
  std::fflush(stdout);
  IdleFor(o.linger);
  if (!o.exec.empty()) {
    // No exit handler runs across exec: the files stay, as they would for
    // any program that execs (stats_dump sees it no longer maps them).
    std::vector<std::string> words;
    std::istringstream in(o.exec);
    for (std::string w; in >> w;) words.push_back(w);
    if (words.empty()) {
      std::fprintf(stderr, "tslab-demo: --exec: no command\n");
      return 2;
    }
    std::vector<char*> argv;
    for (std::string& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    std::fprintf(stderr, "tslab-demo: cannot exec %s: %s\n", argv[0], std::strerror(errno));
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
