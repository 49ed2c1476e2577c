// bench/backend.h: the allocator calls a worker measures, one "Ops" type
// per backend, chosen at compile time (worker_backend.cc).
//
// Purpose: the workloads (workloads.h) are templates over Ops so that the
// allocator call is a direct call with nothing of ours around it.
// Ops interface:
//   using Ref;                            what a free takes (pointer/handle)
//   bool Init(const WorkerConfig&, std::string* err);
//   void Shutdown();                      after the workload
//   Ref Alloc(size_t n, void** p) const;  *p = the memory, nullptr on failure
//   bool Free(Ref r) const;               false if the allocator refused it
//   uint32_t EpochAdvance();              tslab: advance, returns the new one
//   bool EpochClose(uint32_t e);          tslab: close e
//   uint32_t EpochCurrent() const;
//   bool ReadCounters(AllocCounters*);    tslab: madvise calls, epoch closes
//   void Describe(WorkerResult* r);       backend facts/counters for the JSON
// Non-tslab backends have no epochs: the epoch calls are no-ops there, and
// ReadCounters returns false.
//
// Invariants: Alloc/Free/EpochCurrent are safe from several threads at
// once (each backend's own guarantee); EpochAdvance/Close are called from
// one thread while no Alloc runs concurrently (the workloads ensure it).
#ifndef TSLAB_BENCH_BACKEND_H_
#define TSLAB_BENCH_BACKEND_H_

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <type_traits>

#include "bench/worker.h"

#if defined(TSLAB_BENCH_BACKEND_MIMALLOC)
#include <mimalloc.h>
#elif defined(TSLAB_BENCH_BACKEND_TSLAB)
#include "tslab/tslab.h"
#endif

namespace tslab::bench {

// The allocator's own counters the epoch workload reads at two points.
struct AllocCounters {
  uint64_t madvise_calls = 0;
  uint64_t epoch_closes = 0;
};

// Epoch calls of backends without epochs.
struct NoEpochs {
  uint32_t EpochAdvance() { return 0; }
  bool EpochClose(uint32_t) { return true; }
  uint32_t EpochCurrent() const { return 0; }
  bool ReadCounters(AllocCounters*) { return false; }
};

#if defined(TSLAB_BENCH_BACKEND_MALLOC)
// glibc, or whatever the link line put in front of it (jemalloc, tcmalloc).
struct MallocOps : NoEpochs {
  using Ref = void*;
  static constexpr const char* kName = "malloc";
  bool Init(const WorkerConfig&, std::string*) { return true; }
  void Shutdown() {}
  Ref Alloc(size_t n, void** p) const {
    void* q = std::malloc(n);
    *p = q;
    return q;
  }
  bool Free(Ref r) const {
    std::free(r);
    return true;
  }
  void Describe(WorkerResult*) {}
};
using BackendOps = MallocOps;

#elif defined(TSLAB_BENCH_BACKEND_MIMALLOC)
struct MimallocOps : NoEpochs {
  using Ref = void*;
  static constexpr const char* kName = "mimalloc";
  bool Init(const WorkerConfig&, std::string*) { return true; }
  void Shutdown() {}
  Ref Alloc(size_t n, void** p) const {
    void* q = mi_malloc(n);
    *p = q;
    return q;
  }
  bool Free(Ref r) const {
    mi_free(r);
    return true;
  }
  void Describe(WorkerResult* r) { r->Info("mimalloc_version", std::to_string(mi_version())); }
};
using BackendOps = MimallocOps;

#elif defined(TSLAB_BENCH_BACKEND_TSLAB)
// One allocator per worker; every allocation goes into the current epoch
// (a long-lived live set, comparable with malloc) except in the epoch
// workload. kHandle: the handle API (tslab_alloc/tslab_free_handle).
template <bool kHandle>
struct TslabOps {
  using Ref = std::conditional_t<kHandle, tslab_handle, void*>;
  static constexpr const char* kName = "tslab";
  tslab_allocator* a = nullptr;
  tslab_epoch_id epoch = 0;

  bool Init(const WorkerConfig&, std::string* err) {
    tslab_options o;
    tslab_options_init(&o);
    o.name = "tslab-bench";
    a = tslab_create(&o);
    if (a == nullptr) {
      *err = std::string("tslab_create: ") + tslab_strerror(tslab_last_error());
      return false;
    }
    epoch = tslab_epoch_current(a);
    return true;
  }
  void Shutdown() {
    tslab_destroy(a);
    a = nullptr;
  }
  Ref Alloc(size_t n, void** p) const {
    if constexpr (kHandle) {
      tslab_handle h = 0;
      *p = tslab_alloc(a, static_cast<uint32_t>(n), epoch, &h);
      return h;
    } else {
      void* q = tslab_malloc(a, n, epoch);
      *p = q;
      return q;
    }
  }
  bool Free(Ref r) const {
    if constexpr (kHandle) {
      return tslab_free_handle(a, r) == TSLAB_OK;
    } else {
      return tslab_free(a, r) == TSLAB_OK;
    }
  }
  uint32_t EpochAdvance() { return epoch = tslab_epoch_advance(a); }
  bool EpochClose(uint32_t e) { return tslab_epoch_close(a, e) == TSLAB_OK; }
  uint32_t EpochCurrent() const { return epoch; }
  // tslab_stats_global sums the counters over their shards: a few us, not
  // for a hot loop. Zero counts in the TSLAB_STATS=0 build.
  bool ReadCounters(AllocCounters* c) {
    SlabGlobalStats g;
    if (tslab_stats_global(a, &g) != TSLAB_OK) return false;
    c->madvise_calls = g.total_madvise_calls;
    c->epoch_closes = g.epoch_closes;
    return true;
  }
  void Describe(WorkerResult* r) {
    r->Info("region_path", tslab_region_path(a));
    SlabGlobalStats g;
    if (tslab_stats_global(a, &g) != TSLAB_OK) return;
    // Counters of the whole run (zero in the TSLAB_STATS=0 build).
    r->Metric("tslab_slow_path_hits", static_cast<double>(g.total_slow_path_hits));
    r->Metric("tslab_slabs_allocated", static_cast<double>(g.total_slabs_allocated));
    r->Metric("tslab_madvise_calls", static_cast<double>(g.total_madvise_calls));
  }
};
#else
#error "define one of TSLAB_BENCH_BACKEND_MALLOC, _MIMALLOC, _TSLAB"
#endif

}  // namespace tslab::bench

#endif  // TSLAB_BENCH_BACKEND_H_
