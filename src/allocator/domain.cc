// Epoch domains: a refcounted scope over one epoch (tslab.h).
#include <atomic>
#include <new>

#include "src/allocator/allocator.h"
#include "tslab/tslab.h"

namespace tslab::internal {
Allocator* ImplOf(tslab_allocator* a);
}  // namespace tslab::internal

struct tslab_domain {
  tslab_allocator* alloc;
  tslab::internal::Allocator* impl;
  uint32_t epoch;
  uint64_t era;  // the slot's era when bound: a reopened slot is not ours
  std::atomic<uint32_t> refcount;
  bool auto_close;
};

using tslab::internal::SetLastError;

namespace {

tslab_status Fail(tslab_status s) {
  SetLastError(s);
  return s;
}

tslab_domain* Make(tslab_allocator* a, uint32_t e, bool auto_close) {
  tslab::internal::Allocator* impl = tslab::internal::ImplOf(a);
  if (impl == nullptr) {
    Fail(TSLAB_E_INVALID_ARG);
    return nullptr;
  }
  if (e >= TSLAB_NUM_EPOCHS) {
    Fail(TSLAB_E_EPOCH_RANGE);
    return nullptr;
  }
  // A never-opened slot has era 0; its first life will be era 1, and that
  // is the life the domain belongs to (EpochClose accepts it while the slot
  // is still unopened). Binding to 0 would disable the staleness check.
  uint64_t era = impl->EpochEra(e);
  if (era == 0) era = 1;
  auto* d = new (std::nothrow) tslab_domain{a, impl, e, era, {0}, auto_close};
  if (d == nullptr) Fail(TSLAB_E_NO_MEMORY);
  return d;
}

}  // namespace

extern "C" {

tslab_domain* tslab_domain_create(tslab_allocator* a, bool auto_close) {
  tslab::internal::Allocator* impl = tslab::internal::ImplOf(a);
  if (impl == nullptr) {
    Fail(TSLAB_E_INVALID_ARG);
    return nullptr;
  }
  return Make(a, impl->EpochCurrent(), auto_close);
}

tslab_domain* tslab_domain_wrap(tslab_allocator* a, tslab_epoch_id e,
                                bool auto_close) {
  return Make(a, e, auto_close);
}

// The epoch's refcount (TslabEpochStats.refcount) counts domains inside a
// scope, as the original's does: it moves on a domain's first enter and
// last exit only, so nesting costs no lock.
tslab_status tslab_domain_enter(tslab_domain* d) {
  if (d == nullptr) return Fail(TSLAB_E_INVALID_ARG);
  if (d->refcount.fetch_add(1, std::memory_order_acq_rel) == 0) {
    (void)d->impl->EpochRefAdd(d->epoch, d->era, +1);
  }
  return TSLAB_OK;
}

tslab_status tslab_domain_exit(tslab_domain* d) {
  if (d == nullptr) return Fail(TSLAB_E_INVALID_ARG);
  uint32_t n = d->refcount.load(std::memory_order_acquire);
  do {
    if (n == 0) return Fail(TSLAB_E_INVALID_ARG);  // exit without enter
  } while (!d->refcount.compare_exchange_weak(n, n - 1,
                                              std::memory_order_acq_rel));
  if (n != 1) return TSLAB_OK;
  (void)d->impl->EpochRefAdd(d->epoch, d->era, -1);
  // Auto-close only when no other domain is inside a scope of the epoch
  // (the original's rule): a nested domain over the same epoch does not
  // close it under its enclosing one.
  if (d->auto_close && d->impl->EpochRefcount(d->epoch) == 0) {
    return d->impl->EpochClose(d->epoch, d->era);
  }
  return TSLAB_OK;
}

tslab_status tslab_domain_close(tslab_domain* d) {
  if (d == nullptr) return Fail(TSLAB_E_INVALID_ARG);
  return d->impl->EpochClose(d->epoch, d->era);
}

tslab_epoch_id tslab_domain_epoch(const tslab_domain* d) {
  return d == nullptr ? TSLAB_INVALID_EPOCH : d->epoch;
}

tslab_status tslab_domain_set_label(tslab_domain* d, const char* label) {
  if (d == nullptr) return Fail(TSLAB_E_INVALID_ARG);
  if (d->impl->EpochEra(d->epoch) != d->era &&
      !(d->era == 1 && d->impl->EpochEra(d->epoch) == 0)) {
    return Fail(TSLAB_E_STALE_DOMAIN);  // would label another life
  }
  d->impl->SetEpochLabel(d->epoch, label);
  return TSLAB_OK;
}

uint32_t tslab_domain_refcount(const tslab_domain* d) {
  return d == nullptr ? 0 : d->refcount.load(std::memory_order_acquire);
}

void tslab_domain_destroy(tslab_domain* d) { delete d; }

}  // extern "C"

// Used by compat.cc to mirror the era into epoch_domain_t.epoch_era.
namespace tslab::internal {
uint64_t DomainEra(const tslab_domain* d) { return d == nullptr ? 0 : d->era; }
}  // namespace tslab::internal
