// tslab-soak: random API calls from N threads for a set time, with content
// checks, a reader process snapshotting the stats region every 10 ms, and
// the allocator's invariants checked at every quiescent point (make soak).
//
// Purpose: the unit tests each pin one behaviour; this runs all of them at
// once, for minutes, the way a long-lived service does: allocations of
// every size into the current epoch or an older one, frees by handle and
// by pointer (by the owner and by other threads), deliberate bad frees
// (double, stale, invalid, foreign), epoch advances, closes and wraps,
// domains with scopes and labels, forks from a busy thread, and another
// process reading the counters throughout.
//
// Invariants checked at each quiescent point (every worker stopped at a
// barrier, so the gauges are exact):
//   - every object a worker holds still has its pattern (no overlap, no
//     reuse of a live slot);
//   - live_objects == objects held; total_allocs / total_frees == the
//     allocations / frees the workers saw succeed; the refused frees
//     (invalid + stale + double + foreign) == the bad frees the workers
//     made and saw refused; alloc_failures == allocations refused;
// and always: no bad free is accepted, no allocation of a valid size into
// an open epoch fails, a forked child allocates, frees and reads the
// parent's objects and exits within 20 s; the reader sees counters that
// never go down. Prints the operations done and the violations; exits 1
// on any violation.
//
// Usage: tslab-soak [--seconds S] [--threads N] [--seed N]
// (the reader is this program again: tslab-soak --reader PATH SECONDS).
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tslab/stats_region.h"
#include "tslab/tslab.h"

namespace {

std::atomic<uint64_t> g_violations{0};

void Violation(const char* what, unsigned long long a = 0, unsigned long long b = 0) {
  if (g_violations.fetch_add(1) < 20) {
    std::fprintf(stderr, "tslab-soak: VIOLATION: %s (%llu, %llu)\n", what, a, b);
  }
}

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// ---- the reader process ----

int Reader(const char* path, double seconds) {
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    std::fprintf(stderr, "tslab-soak reader: cannot open %s\n", path);
    return 1;
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* base = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (base == MAP_FAILED) return 1;
  uint64_t snapshots = 0, bad = 0;
  TslabSnapshot prev{}, s{};
  const uint64_t end = NowNs() + static_cast<uint64_t>(seconds * 1e9);
  while (NowNs() < end) {
    if (tslab_region_snapshot(base, size, NowNs(), &s) != TSLAB_OK) {
      ++bad;
    } else if (snapshots > 0 &&
               (s.global.total_allocs < prev.global.total_allocs ||
                s.global.total_frees < prev.global.total_frees ||
                s.global.invalid_frees < prev.global.invalid_frees ||
                s.global.epoch_advances < prev.global.epoch_advances ||
                s.global.epoch_closes < prev.global.epoch_closes)) {
      ++bad;
    }
    prev = s;
    ++snapshots;
    usleep(10000);
  }
  std::printf("reader: %llu snapshots, %llu violations\n",
              static_cast<unsigned long long>(snapshots), static_cast<unsigned long long>(bad));
  return bad == 0 ? 0 : 1;
}

// ---- the workers ----

struct Obj {
  void* p;
  tslab_handle h;
  uint32_t size;
  uint8_t fill;
};

struct Totals {
  std::atomic<uint64_t> ops{0}, allocs{0}, frees{0}, remote_frees{0}, bad_frees{0},
      alloc_refused{0}, advances{0}, closes{0}, domains{0}, forks{0}, quiescent{0};
};

bool Intact(const Obj& o) {
  const auto* b = static_cast<const uint8_t*>(o.p);
  for (uint32_t i = 0; i < o.size; ++i) {
    if (b[i] != o.fill) return false;
  }
  return true;
}

class Soak {
 public:
  Soak(tslab_allocator* a, tslab_allocator* other, int threads, unsigned seed)
      : a_(a), other_(other), threads_(threads), seed_(seed), held_(threads),
        barrier_(threads + 1) {}

  void Run(double seconds);
  const Totals& totals() const { return t_; }

 private:
  void Worker(int id);
  void Op(int id, std::mt19937_64& rng, std::vector<Obj>& mine);
  bool Alloc(std::mt19937_64& rng, tslab_epoch_id e, Obj* o);
  void Free(const Obj& o, bool by_handle);
  void Fork(const std::vector<Obj>& mine);
  void Check();

  tslab_allocator* a_;
  tslab_allocator* other_;  // for foreign frees
  int threads_;
  unsigned seed_;
  std::vector<std::vector<Obj>*> held_;  // each worker's, read at quiescence
  std::mutex queue_mu_;
  std::deque<Obj> queue_;  // objects handed to another thread to free
  std::atomic<bool> stop_{false}, quiesce_{false};
  std::barrier<> barrier_;
  Totals t_;
};

bool Soak::Alloc(std::mt19937_64& rng, tslab_epoch_id e, Obj* o) {
  o->size = 1 + static_cast<uint32_t>(rng() % TSLAB_MAX_OBJECT_SIZE);
  o->fill = static_cast<uint8_t>(1 + rng() % 255);
  o->p = tslab_alloc(a_, o->size, e, &o->h);
  if (o->p == nullptr) {
    const tslab_status s = tslab_last_error();
    // Only a closed epoch may refuse a valid size.
    if (s != TSLAB_E_EPOCH_CLOSED) Violation("allocation failed", s, o->size);
    ++t_.alloc_refused;
    return false;
  }
  std::memset(o->p, o->fill, o->size);
  ++t_.allocs;
  return true;
}

void Soak::Free(const Obj& o, bool by_handle) {
  if (!Intact(o)) Violation("object content changed while held", o.size, o.fill);
  const tslab_status s = by_handle ? tslab_free_handle(a_, o.h) : tslab_free(a_, o.p);
  if (s != TSLAB_OK) Violation("a valid free was refused", s);
  ++t_.frees;
}

void Soak::Fork(const std::vector<Obj>& mine) {
  const pid_t pid = fork();
  if (pid == 0) {
    // The child: the parent's objects are here (a copy), the allocator
    // works, nothing it does reaches the parent.
    int bad = 0;
    for (const Obj& o : mine) bad += !Intact(o);
    for (int i = 0; i < 200; ++i) {
      tslab_handle h;
      void* p = tslab_alloc(a_, 64 + i % 700, tslab_epoch_current(a_), &h);
      if (p != nullptr) {
        std::memset(p, 0x5a, 64 + i % 700);
        bad += tslab_free_handle(a_, h) != TSLAB_OK;
      }
    }
    if (!mine.empty()) bad += tslab_free_handle(a_, mine[0].h) != TSLAB_OK;
    _exit(bad == 0 ? 0 : 1);
  }
  if (pid < 0) return;
  ++t_.forks;
  int status = 0;
  for (int waited = 0;; ++waited) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (waited >= 2000) {  // 20 s
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      Violation("a forked child hung", static_cast<unsigned long long>(pid));
      return;
    }
    usleep(10000);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    Violation("a forked child failed", static_cast<unsigned long long>(status));
  }
}

void Soak::Op(int id, std::mt19937_64& rng, std::vector<Obj>& mine) {
  ++t_.ops;
  const unsigned r = static_cast<unsigned>(rng() % 1000);
  Obj o;
  if (r < 450 || mine.size() < 16) {  // allocate, mostly into the current epoch
    tslab_epoch_id e = tslab_epoch_current(a_);
    if (r % 10 == 0) e = static_cast<tslab_epoch_id>(rng() % TSLAB_NUM_EPOCHS);
    if (mine.size() < 4096 && Alloc(rng, e, &o)) mine.push_back(o);
  } else if (r < 850) {  // free one, by handle or pointer, or hand it over
    const size_t i = rng() % mine.size();
    o = mine[i];
    mine[i] = mine.back();
    mine.pop_back();
    if (r < 780) {
      Free(o, r % 2 == 0);
    } else {
      std::lock_guard<std::mutex> lock(queue_mu_);
      queue_.push_back(o);
    }
  } else if (r < 900) {  // free one another thread handed over (remote)
    bool got = false;
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      if (!queue_.empty()) {
        o = queue_.front();
        queue_.pop_front();
        got = true;
      }
    }
    if (got) {
      Free(o, r % 2 == 0);
      ++t_.remote_frees;
    }
  } else if (r < 930) {  // a bad free: must be refused and counted
    tslab_status s = TSLAB_OK;
    switch (r % 3) {
      case 0: {  // double (or stale, if the slot was reused meanwhile)
        if (!Alloc(rng, tslab_epoch_current(a_), &o)) return;
        Free(o, true);
        s = tslab_free_handle(a_, o.h);
        break;
      }
      case 1: {  // a pointer that is no slot
        int local = 0;
        s = tslab_free(a_, &local);
        break;
      }
      default: {  // another allocator's object
        tslab_handle h;
        void* p = tslab_alloc(other_, 64, tslab_epoch_current(other_), &h);
        if (p == nullptr) return;
        s = tslab_free(a_, p);
        if (tslab_free(other_, p) != TSLAB_OK) Violation("other allocator's free refused");
        break;
      }
    }
    if (s == TSLAB_OK) Violation("a bad free was accepted", r % 3);
    ++t_.bad_frees;
  } else if (r < 945) {  // advance the ring (wraps onto slots with objects)
    tslab_epoch_advance(a_);
    ++t_.advances;
  } else if (r < 955) {  // close an older epoch
    const tslab_epoch_id cur = tslab_epoch_current(a_);
    const tslab_status s = tslab_epoch_close(a_, (cur + TSLAB_NUM_EPOCHS - 1 - rng() % 4) %
                                                     TSLAB_NUM_EPOCHS);
    if (s != TSLAB_OK) Violation("epoch close refused", s);
    ++t_.closes;
  } else if (r < 985) {  // a domain scope with a label
    tslab_domain* d = tslab_domain_create(a_, false);
    if (d == nullptr) return;
    if (tslab_domain_enter(d) == TSLAB_OK) {
      tslab_domain_set_label(d, "soak:scope");
      if (Alloc(rng, tslab_domain_epoch(d), &o)) mine.push_back(o);
      if (tslab_domain_exit(d) != TSLAB_OK) Violation("domain exit refused");
    }
    tslab_domain_destroy(d);
    ++t_.domains;
  } else if (r == 999 && id == 0) {
    Fork(mine);
  }
}

void Soak::Worker(int id) {
  std::mt19937_64 rng(seed_ * 7919u + static_cast<unsigned>(id));
  std::vector<Obj> mine;
  held_[id] = &mine;
  barrier_.arrive_and_wait();  // everyone registered
  while (!stop_.load(std::memory_order_relaxed)) {
    if (quiesce_.load(std::memory_order_acquire)) {
      barrier_.arrive_and_wait();  // stopped: the main thread checks
      barrier_.arrive_and_wait();  // released
      continue;
    }
    Op(id, rng, mine);
  }
  barrier_.arrive_and_drop();
  for (const Obj& o : mine) Free(o, true);
}

void Soak::Check() {
  ++t_.quiescent;
  uint64_t held = queue_.size();
  for (const Obj& o : queue_) {
    if (!Intact(o)) Violation("handed-over object changed", o.size, o.fill);
  }
  for (const std::vector<Obj>* v : held_) {
    held += v->size();
    for (const Obj& o : *v) {
      if (!Intact(o)) Violation("held object changed", o.size, o.fill);
    }
  }
  TslabSnapshot s;
  if (tslab_snapshot(a_, &s) != TSLAB_OK) {
    Violation("snapshot failed");
    return;
  }
  const SlabGlobalStats& g = s.global;
  if (g.live_objects != held) Violation("live_objects != objects held", g.live_objects, held);
  if (g.total_allocs != t_.allocs) Violation("total_allocs", g.total_allocs, t_.allocs);
  // Each bad free of kind 0 also frees once more (counted in frees).
  if (g.total_frees != t_.frees) Violation("total_frees", g.total_frees, t_.frees);
  const uint64_t refused = g.invalid_frees + g.stale_frees + g.double_frees + g.foreign_frees;
  if (refused != t_.bad_frees) Violation("refused frees", refused, t_.bad_frees);
  if (g.alloc_failures != t_.alloc_refused) {
    Violation("alloc_failures", g.alloc_failures, t_.alloc_refused);
  }
}

void Soak::Run(double seconds) {
  std::vector<std::thread> workers;
  for (int i = 0; i < threads_; ++i) workers.emplace_back([this, i] { Worker(i); });
  barrier_.arrive_and_wait();
  const uint64_t end = NowNs() + static_cast<uint64_t>(seconds * 1e9);
  while (NowNs() < end) {
    usleep(static_cast<useconds_t>(std::min(1e6, (end - NowNs()) / 1e3)));
    if (NowNs() >= end) break;
    quiesce_.store(true, std::memory_order_release);
    barrier_.arrive_and_wait();  // every worker stopped
    quiesce_.store(false, std::memory_order_relaxed);
    Check();
    barrier_.arrive_and_wait();
  }
  stop_.store(true);
  barrier_.arrive_and_drop();
  for (auto& w : workers) w.join();
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    for (const Obj& o : queue_) Free(o, false);
    queue_.clear();
  }
  TslabSnapshot s;
  if (tslab_snapshot(a_, &s) == TSLAB_OK && s.global.live_objects != 0) {
    Violation("objects left after every free", s.global.live_objects);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--reader") == 0) {
    return Reader(argv[2], std::atof(argv[3]));
  }
  double seconds = 600;
  int threads = 4;
  unsigned seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
    else if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--seed") == 0) seed = static_cast<unsigned>(std::atoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "usage: tslab-soak [--seconds S] [--threads N] [--seed N]\n");
      return 2;
    }
  }
  if (!(seconds > 0) || threads < 1 || threads > 64) {
    std::fprintf(stderr, "tslab-soak: --seconds must be > 0 and --threads 1..64\n");
    return 2;
  }
  tslab_options o;
  tslab_options_init(&o);
  o.name = "soak";
  tslab_allocator* a = tslab_create(&o);
  o.name = "soak-other";
  tslab_allocator* other = tslab_create(&o);
  if (a == nullptr || other == nullptr) {
    std::fprintf(stderr, "tslab-soak: cannot create the allocators\n");
    return 1;
  }
  pid_t reader = -1;
  // Taken before the fork: a forked child's regions are private copies
  // with no file (tslab.h), so in the child the path reads "".
  const std::string region_path = tslab_region_path(a);
  if (!region_path.empty()) {
    reader = fork();
    if (reader == 0) {
      char secs[32];
      std::snprintf(secs, sizeof(secs), "%.3f", seconds);
      execl("/proc/self/exe", "tslab-soak", "--reader", region_path.c_str(), secs,
            static_cast<char*>(nullptr));
      _exit(127);
    }
  } else {
    std::fprintf(stderr, "tslab-soak: no region file (TSLAB_STATS_DIR=off?): no reader\n");
  }
  Soak soak(a, other, threads, seed);
  soak.Run(seconds);
  int reader_status = 0;
  if (reader > 0) {
    waitpid(reader, &reader_status, 0);
    if (!WIFEXITED(reader_status) || WEXITSTATUS(reader_status) != 0) {
      Violation("the reader process failed", static_cast<unsigned long long>(reader_status));
    }
  }
  const Totals& t = soak.totals();
  std::printf(
      "soak: %.0f s, %d threads: %llu ops, %llu allocs, %llu frees (%llu remote), %llu bad "
      "frees refused, %llu allocs refused (closed epochs), %llu advances, %llu closes, "
      "%llu domain scopes, %llu forks, %llu quiescent checks; %llu violations\n",
      seconds, threads, (unsigned long long)t.ops.load(), (unsigned long long)t.allocs.load(),
      (unsigned long long)t.frees.load(), (unsigned long long)t.remote_frees.load(),
      (unsigned long long)t.bad_frees.load(), (unsigned long long)t.alloc_refused.load(),
      (unsigned long long)t.advances.load(), (unsigned long long)t.closes.load(),
      (unsigned long long)t.domains.load(), (unsigned long long)t.forks.load(),
      (unsigned long long)t.quiescent.load(), (unsigned long long)g_violations.load());
  tslab_destroy(other);
  tslab_destroy(a);
  return g_violations.load() == 0 ? 0 : 1;
}
