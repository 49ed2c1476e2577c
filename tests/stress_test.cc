// Stress: 4 threads doing random allocations (both APIs, every size, the
// current or any epoch), frees (own and handed over from other threads),
// refused frees (double/stale handles, interior pointers, foreign
// objects), advances and closes, on one shared allocator and on several
// at once. Every object's bytes are checked before it is freed; at
// quiescence every counter is checked against the threads' own tallies and
// the invariants of stats.h; at the end everything drains.
//
// Must be clean under `make test SAN=thread` and `SAN=address`. The seed
// is fixed (override with TSLAB_STRESS_SEED) and printed on failure.
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "tests/test_util.h"
#include "tslab/stats_region.h"
#include "tslab/tslab.h"

namespace tslab::test {
namespace {

constexpr int kThreads = 4;
constexpr int kOpsPerThread = 20000;

struct Obj {
  LiveObject o;
  uint32_t alloc_index;  // which allocator
  tslab_epoch_id epoch;
};

// What one thread did to one allocator (successful or refused as expected).
struct Tally {
  uint64_t allocs = 0, frees = 0, closed_refusals = 0, handle_refusals = 0,
           invalid_refusals = 0, foreign_refusals = 0, advances = 0,
           closes = 0;
  void Add(const Tally& t) {
    allocs += t.allocs;
    frees += t.frees;
    closed_refusals += t.closed_refusals;
    handle_refusals += t.handle_refusals;
    invalid_refusals += t.invalid_refusals;
    foreign_refusals += t.foreign_refusals;
    advances += t.advances;
    closes += t.closes;
  }
};

struct Shared {
  std::vector<tslab_allocator*> allocs;
  std::mutex mu;
  std::vector<Obj> pool;  // objects handed from one thread to another
};

uint64_t BaseSeed() {
  const char* s = std::getenv("TSLAB_STRESS_SEED");
  return s != nullptr ? std::strtoull(s, nullptr, 0) : 0x7e57ab1eull;
}

class Worker {
 public:
  Worker(Shared* sh, int id, uint64_t seed)
      : sh_(sh), id_(id), rng_(seed), tally_(sh->allocs.size()) {}

  void Run() {
    for (int i = 0; i < kOpsPerThread && !::testing::Test::HasFatalFailure();
         ++i) {
      const uint32_t r = rng_() % 100;
      if (r < 48) {
        Alloc();
      } else if (r < 80) {
        FreeMine();
      } else if (r < 86) {
        HandOver();
      } else if (r < 89) {
        InteriorFree();
      } else if (r < 92) {
        ForeignFree();
      } else if (r < 96) {
        Advance();
      } else {
        Close();
      }
    }
  }
  std::vector<Obj>& mine() { return mine_; }
  const std::vector<Tally>& tally() const { return tally_; }

 private:
  uint32_t PickAllocator() { return rng_() % sh_->allocs.size(); }

  void Alloc() {
    const uint32_t ai = PickAllocator();
    tslab_allocator* a = sh_->allocs[ai];
    const uint32_t size = 1 + rng_() % TSLAB_MAX_OBJECT_SIZE;
    const tslab_epoch_id e =
        rng_() % 8 == 0 ? rng_() % TSLAB_NUM_EPOCHS : tslab_epoch_current(a);
    Obj ob{{}, ai, e};
    ob.o.size = size;
    ob.o.seed = (uint64_t(id_) << 48) | ++seq_;
    ob.o.p = rng_() % 2 ? tslab_alloc(a, size, e, &ob.o.h)
                        : tslab_malloc(a, size, e);
    if (ob.o.p == nullptr) {
      // The only acceptable failure: another thread closed the epoch.
      ASSERT_EQ(tslab_last_error(), TSLAB_E_EPOCH_CLOSED) << "epoch " << e;
      ++tally_[ai].closed_refusals;
      return;
    }
    ASSERT_EQ(reinterpret_cast<uintptr_t>(ob.o.p) % 16, 0u);
    FillPattern(ob.o.p, size, ob.o.seed);
    ++tally_[ai].allocs;
    mine_.push_back(ob);
  }

  Obj TakeMine() {
    const size_t i = rng_() % mine_.size();
    Obj ob = mine_[i];
    mine_[i] = mine_.back();
    mine_.pop_back();
    return ob;
  }

  void Free(const Obj& ob) {
    tslab_allocator* a = sh_->allocs[ob.alloc_index];
    ASSERT_EQ(CheckPattern(ob.o.p, ob.o.size, ob.o.seed), ob.o.size)
        << "object " << ob.o.p << " overwritten";
    const bool by_handle = ob.o.h != 0 && rng_() % 4 != 0;
    ASSERT_EQ(by_handle ? tslab_free_handle(a, ob.o.h) : tslab_free(a, ob.o.p),
              TSLAB_OK);
    ++tally_[ob.alloc_index].frees;
    if (ob.o.h != 0 && rng_() % 4 == 0) {
      // The handle is dead now: DOUBLE, or STALE if another thread has the
      // slot already. Either way it must not free that thread's object.
      const tslab_status st = tslab_free_handle(a, ob.o.h);
      ASSERT_TRUE(st == TSLAB_E_FREE_DOUBLE || st == TSLAB_E_FREE_STALE)
          << tslab_strerror(st);
      ++tally_[ob.alloc_index].handle_refusals;
    }
  }

  void FreeMine() {
    if (mine_.empty()) return;
    Free(TakeMine());
  }

  // Gives one object to the pool, or frees one another thread gave.
  void HandOver() {
    std::unique_lock<std::mutex> lock(sh_->mu);
    if (!sh_->pool.empty() && (rng_() % 2 == 0 || mine_.empty())) {
      Obj ob = sh_->pool.back();
      sh_->pool.pop_back();
      lock.unlock();
      Free(ob);
    } else if (!mine_.empty()) {
      sh_->pool.push_back(TakeMine());
    }
  }

  void InteriorFree() {
    if (mine_.empty()) return;
    const Obj& ob = mine_[rng_() % mine_.size()];
    const uint32_t off = 1 + rng_() % 63;  // objects are >= 64 bytes
    ASSERT_EQ(tslab_free(sh_->allocs[ob.alloc_index],
                         static_cast<char*>(ob.o.p) + off),
              TSLAB_E_FREE_INVALID);
    ++tally_[ob.alloc_index].invalid_refusals;
  }

  void ForeignFree() {
    if (mine_.empty() || sh_->allocs.size() < 2) return;
    const Obj& ob = mine_[rng_() % mine_.size()];
    const uint32_t other =
        (ob.alloc_index + 1 + rng_() % (sh_->allocs.size() - 1)) %
        sh_->allocs.size();
    tslab_allocator* a = sh_->allocs[other];
    const bool by_handle = ob.o.h != 0 && rng_() % 2 == 0;
    ASSERT_EQ(by_handle ? tslab_free_handle(a, ob.o.h) : tslab_free(a, ob.o.p),
              TSLAB_E_FREE_FOREIGN);
    ++tally_[other].foreign_refusals;
  }

  void Advance() {
    const uint32_t ai = PickAllocator();
    ASSERT_LT(tslab_epoch_advance(sh_->allocs[ai]), uint32_t{TSLAB_NUM_EPOCHS});
    ++tally_[ai].advances;
  }

  // Closes a recent epoch, sometimes the current one.
  void Close() {
    const uint32_t ai = PickAllocator();
    tslab_allocator* a = sh_->allocs[ai];
    const tslab_epoch_id e =
        (tslab_epoch_current(a) + TSLAB_NUM_EPOCHS - rng_() % 4) %
        TSLAB_NUM_EPOCHS;
    ASSERT_EQ(tslab_epoch_close(a, e), TSLAB_OK);
    ++tally_[ai].closes;
  }

  Shared* sh_;
  int id_;
  std::mt19937_64 rng_;
  std::vector<Tally> tally_;
  std::vector<Obj> mine_;
  uint64_t seq_ = 0;
};

// Every counter of allocator `ai` against what the threads did, and the
// held objects against the per-epoch and per-class live counts.
void CheckAgainstTally(tslab_allocator* a, const Tally& t,
                       const std::vector<Obj>& held, uint32_t ai) {
  TslabSnapshot s = TakeSnapshot(a);
  ExpectQuiescentInvariants(s);
  const SlabGlobalStats& g = s.global;
  EXPECT_EQ(g.total_allocs, t.allocs);
  EXPECT_EQ(g.total_frees, t.frees);
  EXPECT_EQ(g.total_slow_epoch_closed, t.closed_refusals);
  EXPECT_EQ(g.alloc_failures, t.closed_refusals);
  EXPECT_EQ(g.double_frees + g.stale_frees, t.handle_refusals);
  EXPECT_EQ(g.invalid_frees, t.invalid_refusals);
  EXPECT_EQ(g.foreign_frees, t.foreign_refusals);
  EXPECT_EQ(g.epoch_advances, t.advances);
  EXPECT_EQ(g.epoch_closes, t.closes);
  uint64_t live_epoch[TSLAB_NUM_EPOCHS] = {};
  uint64_t live_class[TSLAB_NUM_CLASSES] = {};
  uint64_t live = 0;
  for (const Obj& ob : held) {
    if (ob.alloc_index != ai) continue;
    ++live;
    ++live_epoch[ob.epoch];
    ++live_class[tslab_size_to_class(ob.o.size)];
  }
  EXPECT_EQ(g.live_objects, live);
  EXPECT_EQ(g.total_allocs - g.total_frees, live);
  for (uint32_t e = 0; e < TSLAB_NUM_EPOCHS; ++e) {
    EXPECT_EQ(s.epochs[e].live_objects, live_epoch[e]) << "epoch " << e;
  }
  for (uint32_t c = 0; c < TSLAB_NUM_CLASSES; ++c) {
    EXPECT_EQ(s.classes[c].live_objects, live_class[c]) << "class " << c;
  }
}

// No two held objects of one allocator overlap.
void ExpectDisjoint(std::vector<Obj> held) {
  std::sort(held.begin(), held.end(), [](const Obj& x, const Obj& y) {
    return x.o.p < y.o.p;
  });
  for (size_t i = 1; i < held.size(); ++i) {
    const Obj& prev = held[i - 1];
    const auto gap = reinterpret_cast<uintptr_t>(held[i].o.p) -
                     reinterpret_cast<uintptr_t>(prev.o.p);
    ASSERT_GE(gap, prev.o.size) << "objects overlap";
  }
}

void RunStress(uint32_t n_allocators) {
  const uint64_t seed = BaseSeed();
  SCOPED_TRACE(testing::Message() << "TSLAB_STRESS_SEED=" << seed);
  std::vector<AllocatorPtr> owners;
  Shared sh;
  for (uint32_t i = 0; i < n_allocators; ++i) {
    owners.push_back(MakeAllocator());
    ASSERT_NE(owners.back(), nullptr);
    sh.allocs.push_back(owners.back().get());
  }
  std::vector<Worker> workers;
  for (int t = 0; t < kThreads; ++t) workers.emplace_back(&sh, t, seed + t);
  std::vector<std::thread> threads;
  for (Worker& w : workers) threads.emplace_back([&w] { w.Run(); });
  for (auto& th : threads) th.join();
  ASSERT_FALSE(::testing::Test::HasFailure());

  // Quiescent: everything the threads hold or left in the pool is live.
  std::vector<Obj> held = sh.pool;
  std::vector<Tally> total(n_allocators);
  for (Worker& w : workers) {
    held.insert(held.end(), w.mine().begin(), w.mine().end());
    for (uint32_t i = 0; i < n_allocators; ++i) total[i].Add(w.tally()[i]);
  }
  ASSERT_FALSE(held.empty());
  for (uint32_t i = 0; i < n_allocators; ++i) {
    SCOPED_TRACE(testing::Message() << "allocator " << i);
    EXPECT_GT(total[i].allocs, 0u);
    EXPECT_GT(total[i].closes, 0u);
    CheckAgainstTally(sh.allocs[i], total[i], held, i);
    std::vector<Obj> mine;
    for (const Obj& ob : held) {
      if (ob.alloc_index == i) mine.push_back(ob);
    }
    ExpectDisjoint(mine);
  }
  if (n_allocators > 1) {
    uint64_t foreign = 0;
    for (const Tally& t : total) foreign += t.foreign_refusals;
    EXPECT_GT(foreign, 0u);
  }

  // Drain: free everything, close every slot: nothing is left in use.
  for (const Obj& ob : held) {
    ASSERT_EQ(CheckPattern(ob.o.p, ob.o.size, ob.o.seed), ob.o.size);
    ASSERT_EQ(tslab_free(sh.allocs[ob.alloc_index], ob.o.p), TSLAB_OK);
  }
  for (tslab_allocator* a : sh.allocs) {
    for (tslab_epoch_id e = 0; e < TSLAB_NUM_EPOCHS; ++e) {
      ASSERT_EQ(tslab_epoch_close(a, e), TSLAB_OK);
    }
    TslabSnapshot s = TakeSnapshot(a);
    ExpectQuiescentInvariants(s);
    EXPECT_EQ(s.global.live_objects, 0u);
    EXPECT_EQ(s.global.net_slabs, 0u);
    EXPECT_EQ(s.global.drained_epoch_count, uint32_t{TSLAB_NUM_EPOCHS});
    EXPECT_GT(s.global.epoch_wraps_live, 0u) << "the ring never wrapped live";
    EXPECT_GT(s.global.total_slabs_reused, 0u);
  }
}

TEST(Stress, FourThreadsOneAllocator) { RunStress(1); }

// More threads alive at once than the region has counter shards: the
// extra threads share the last shard (atomic adds). Counts stay exact, and
// objects of threads that have exited are freed by the main thread.
TEST(Stress, MoreThreadsThanShards) {
  constexpr int kMany = TSLAB_REGION_SHARDS + 8;
  constexpr int kEach = 50;
  AllocatorPtr a = MakeAllocator();
  ASSERT_NE(a, nullptr);
  std::mutex mu;
  std::vector<LiveObject> left;  // kept by exited threads
  int arrived = 0;
  std::condition_variable all_here;
  std::vector<std::thread> threads;
  for (int t = 0; t < kMany; ++t) {
    threads.emplace_back([&, t] {
      std::vector<LiveObject> mine;
      for (int i = 0; i < kEach; ++i) {
        mine.push_back(AllocFilled(a.get(), 1 + (t * kEach + i) % 768, 0,
                                   uint64_t(t) * kEach + i));
        if (mine.back().p == nullptr) return;
      }
      {  // everyone holds its shard at the same time
        std::unique_lock<std::mutex> lock(mu);
        if (++arrived == kMany) all_here.notify_all();
        all_here.wait(lock, [&] { return arrived == kMany; });
      }
      for (int i = 0; i < kEach / 2; ++i) {
        EXPECT_EQ(tslab_free_handle(a.get(), mine.back().h), TSLAB_OK);
        mine.pop_back();
      }
      std::lock_guard<std::mutex> lock(mu);
      left.insert(left.end(), mine.begin(), mine.end());
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_FALSE(::testing::Test::HasFailure());
  TslabSnapshot s = TakeSnapshot(a.get());
  EXPECT_EQ(s.global.total_allocs, uint64_t{kMany} * kEach);
  EXPECT_EQ(s.global.total_frees, uint64_t{kMany} * (kEach / 2));
  EXPECT_EQ(s.global.live_objects, left.size());
  ExpectQuiescentInvariants(s);
  ExpectDisjoint([&] {
    std::vector<Obj> v;
    for (const LiveObject& o : left) v.push_back({o, 0, 0});
    return v;
  }());
  FreeAll(a.get(), &left);
  EXPECT_EQ(TakeSnapshot(a.get()).global.live_objects, 0u);
}

TEST(Stress, FourThreadsThreeAllocators) { RunStress(3); }

}  // namespace
}  // namespace tslab::test
