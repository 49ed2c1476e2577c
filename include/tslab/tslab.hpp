// tslab/tslab.hpp: the C++ API of libtslab (header-only, over tslab.h).
//
// Purpose: RAII ownership of allocators and epoch domains, [[nodiscard]]
// results, no exceptions. Semantics, invariants and thread-safety are those
// of tslab.h: every member may be called from any thread except the
// destructor of Allocator.
//
//   tslab::Allocator alloc;                        // defaults
//   tslab::Handle h;
//   void* p = alloc.Alloc(128, alloc.CurrentEpoch(), &h);
//   if (alloc.Free(h) != tslab::Status::kOk) { ... }
//   tslab::Domain request = alloc.NewDomain(/*auto_close=*/true);
//   {
//     tslab::DomainGuard scope(request);
//     void* q = alloc.Malloc(64, scope.epoch());
//   }  // last exit closes the epoch
#ifndef TSLAB_TSLAB_HPP_
#define TSLAB_TSLAB_HPP_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "tslab/stats.h"
#include "tslab/tslab.h"

namespace tslab {

using EpochId = tslab_epoch_id;
using Handle = tslab_handle;

enum class Status : int {
  kOk = TSLAB_OK,
  kInvalidArg = TSLAB_E_INVALID_ARG,
  kTooLarge = TSLAB_E_TOO_LARGE,
  kEpochRange = TSLAB_E_EPOCH_RANGE,
  kEpochClosed = TSLAB_E_EPOCH_CLOSED,
  kNoMemory = TSLAB_E_NO_MEMORY,
  kFreeInvalid = TSLAB_E_FREE_INVALID,
  kFreeStale = TSLAB_E_FREE_STALE,
  kFreeDouble = TSLAB_E_FREE_DOUBLE,
  kFreeForeign = TSLAB_E_FREE_FOREIGN,
  kStaleDomain = TSLAB_E_STALE_DOMAIN,
  kRegionCorrupt = TSLAB_E_REGION_CORRUPT,
  kRegionVersion = TSLAB_E_REGION_VERSION,
  kRegionTruncated = TSLAB_E_REGION_TRUNCATED,
  kSystem = TSLAB_E_SYSTEM,
  kTooMany = TSLAB_E_TOO_MANY,
};

inline const char* ToString(Status s) {
  return tslab_strerror(static_cast<tslab_status>(s));
}
// The calling thread's last error (after a nullptr or a false).
inline Status LastError() { return static_cast<Status>(tslab_last_error()); }

class Options {
 public:
  Options() { tslab_options_init(&opts_); }
  Options& CacheCapacity(uint32_t n) { opts_.cache_capacity = n; return *this; }
  Options& MaxBytes(uint64_t n) { opts_.max_bytes = n; return *this; }
  // REQUIRES: name outlives the Allocator's construction.
  Options& Name(const char* name) { opts_.name = name; return *this; }
  Options& RegionOff() { opts_.region_mode = TSLAB_REGION_OFF; return *this; }
  Options& StatsDir(const char* dir) { opts_.stats_dir = dir; return *this; }
  // -1: $TSLAB_PURGE_DELAY_MS or 10 ms; 0: pages go back at the recycle.
  Options& PurgeDelayMs(int32_t ms) { opts_.purge_delay_ms = ms; return *this; }
  Options& MadviseHook(tslab_madvise_fn fn, void* ctx) {
    opts_.madvise_fn = fn;
    opts_.madvise_ctx = ctx;
    return *this;
  }
  const tslab_options& raw() const { return opts_; }

 private:
  tslab_options opts_;
};

class Domain;

class Allocator {
 public:
  Allocator() : a_(tslab_create(nullptr)) {}
  explicit Allocator(const Options& o) : a_(tslab_create(&o.raw())) {}
  ~Allocator() { tslab_destroy(a_); }
  Allocator(Allocator&& o) noexcept : a_(std::exchange(o.a_, nullptr)) {}
  Allocator& operator=(Allocator&& o) noexcept {
    if (this != &o) {
      tslab_destroy(a_);
      a_ = std::exchange(o.a_, nullptr);
    }
    return *this;
  }
  Allocator(const Allocator&) = delete;
  Allocator& operator=(const Allocator&) = delete;

  // False if creation failed (LastError() says why).
  [[nodiscard]] bool ok() const { return a_ != nullptr; }
  [[nodiscard]] tslab_allocator* raw() const { return a_; }

  [[nodiscard]] void* Alloc(uint32_t size, EpochId e,
                            Handle* out = nullptr) {
    return tslab_alloc(a_, size, e, out);
  }
  [[nodiscard]] Status Free(Handle h) {
    return static_cast<Status>(tslab_free_handle(a_, h));
  }
  [[nodiscard]] void* Malloc(size_t size, EpochId e) {
    return tslab_malloc(a_, size, e);
  }
  [[nodiscard]] Status Free(void* p) {
    return static_cast<Status>(tslab_free(a_, p));
  }
  [[nodiscard]] void* Get(Handle h) { return tslab_handle_ptr(a_, h); }

  [[nodiscard]] EpochId CurrentEpoch() { return tslab_epoch_current(a_); }
  EpochId AdvanceEpoch() { return tslab_epoch_advance(a_); }
  [[nodiscard]] Status CloseEpoch(EpochId e) {
    return static_cast<Status>(tslab_epoch_close(a_, e));
  }
  [[nodiscard]] tslab_epoch_state EpochState(EpochId e) {
    return tslab_epoch_get_state(a_, e);
  }
  // tslab_epoch_set_label: at most 31 bytes kept; "" clears.
  Status SetEpochLabel(EpochId e, const char* label) {
    return static_cast<Status>(tslab_epoch_set_label(a_, e, label));
  }

  [[nodiscard]] Status Snapshot(TslabSnapshot* out) {
    return static_cast<Status>(tslab_snapshot(a_, out));
  }
  [[nodiscard]] Status GlobalStats(SlabGlobalStats* out) {
    return static_cast<Status>(tslab_stats_global(a_, out));
  }
  [[nodiscard]] Status ClassStats(uint32_t cls, SlabClassStats* out) {
    return static_cast<Status>(tslab_stats_class(a_, cls, out));
  }
  [[nodiscard]] Status EpochStats(EpochId e, TslabEpochStats* out) {
    return static_cast<Status>(tslab_stats_epoch(a_, e, out));
  }
  [[nodiscard]] const char* RegionPath() { return tslab_region_path(a_); }

  // A domain over the current epoch (or e); nullptr-holding on error.
  [[nodiscard]] inline Domain NewDomain(bool auto_close);
  [[nodiscard]] inline Domain WrapEpoch(EpochId e, bool auto_close);

 private:
  tslab_allocator* a_;
};

// Owns a tslab_domain. Movable, not copyable.
class Domain {
 public:
  explicit Domain(tslab_domain* d = nullptr) : d_(d) {}
  ~Domain() { tslab_domain_destroy(d_); }
  Domain(Domain&& o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
  Domain& operator=(Domain&& o) noexcept {
    if (this != &o) {
      tslab_domain_destroy(d_);
      d_ = std::exchange(o.d_, nullptr);
    }
    return *this;
  }
  Domain(const Domain&) = delete;
  Domain& operator=(const Domain&) = delete;

  [[nodiscard]] bool ok() const { return d_ != nullptr; }
  [[nodiscard]] EpochId epoch() const { return tslab_domain_epoch(d_); }
  [[nodiscard]] uint32_t refcount() const { return tslab_domain_refcount(d_); }
  [[nodiscard]] Status Enter() {
    return static_cast<Status>(tslab_domain_enter(d_));
  }
  [[nodiscard]] Status Exit() {
    return static_cast<Status>(tslab_domain_exit(d_));
  }
  [[nodiscard]] Status Close() {
    return static_cast<Status>(tslab_domain_close(d_));
  }
  // Labels the domain's epoch (tslab_domain_set_label).
  Status SetLabel(const char* label) {
    return static_cast<Status>(tslab_domain_set_label(d_, label));
  }
  [[nodiscard]] tslab_domain* raw() const { return d_; }

 private:
  tslab_domain* d_;
};

// Enters a domain for a scope; the exit (and, with auto_close, the epoch
// close) happens in the destructor. The guard does not own the domain.
class DomainGuard {
 public:
  explicit DomainGuard(Domain& d) : d_(&d) { status_ = d_->Enter(); }
  ~DomainGuard() {
    if (status_ == Status::kOk) (void)d_->Exit();
  }
  DomainGuard(const DomainGuard&) = delete;
  DomainGuard& operator=(const DomainGuard&) = delete;
  [[nodiscard]] Status status() const { return status_; }
  [[nodiscard]] EpochId epoch() const { return d_->epoch(); }

 private:
  Domain* d_;
  Status status_;
};

inline Domain Allocator::NewDomain(bool auto_close) {
  return Domain(tslab_domain_create(a_, auto_close));
}
inline Domain Allocator::WrapEpoch(EpochId e, bool auto_close) {
  return Domain(tslab_domain_wrap(a_, e, auto_close));
}

}  // namespace tslab

#endif  // TSLAB_TSLAB_HPP_
