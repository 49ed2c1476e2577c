// The original temporal-slab's core and domain API (tslab/compat/
// slab_alloc.h, epoch_domain.h), as thin wrappers over tslab.h and the
// engine's cold epoch calls. Thread-safety: as tslab.h; the current-domain
// stack is thread-local.
#include "tslab/compat/slab_alloc.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <new>

#include "src/allocator/allocator.h"
#include "src/allocator/compat_registry.h"
#include "src/allocator/size_class.h"
#include "tslab/compat/epoch_domain.h"

namespace tslab::internal {
uint64_t DomainEra(const tslab_domain* d);  // domain.cc
Allocator* ImplOf(tslab_allocator* a);      // c_api.cc
}  // namespace tslab::internal

using tslab::internal::Allocator;
using tslab::internal::ImplOf;

namespace {

// The thread's entered domains, innermost last (epoch_domain_current).
constexpr int kDomainStack = 32;
thread_local epoch_domain_t* tl_domains[kDomainStack];
thread_local int tl_depth = 0;  // may exceed kDomainStack (not recorded)

void PushDomain(epoch_domain_t* d) {
  if (tl_depth < kDomainStack) tl_domains[tl_depth] = d;
  ++tl_depth;
}

// Takes d's innermost entry off the stack (exits may come out of order).
void PopDomain(epoch_domain_t* d) {
  const int top = tl_depth < kDomainStack ? tl_depth : kDomainStack;
  for (int i = top - 1; i >= 0; --i) {
    if (tl_domains[i] != d) continue;
    for (int j = i; j + 1 < top; ++j) tl_domains[j] = tl_domains[j + 1];
    --tl_depth;
    return;
  }
  if (tl_depth > kDomainStack) --tl_depth;  // an unrecorded deep entry
}

bool OnStack(const epoch_domain_t* d) {
  const int top = tl_depth < kDomainStack ? tl_depth : kDomainStack;
  for (int i = 0; i < top; ++i) {
    if (tl_domains[i] == d) return true;
  }
  return false;
}

epoch_domain_t* Wrap(SlabAllocator* alloc, tslab_domain* d, bool auto_close) {
  if (d == nullptr) return nullptr;
  auto* out = new (std::nothrow) epoch_domain_t{};
  if (out == nullptr) {
    tslab_domain_destroy(d);
    return nullptr;
  }
  out->alloc = alloc;
  out->epoch_id = tslab_domain_epoch(d);
  out->epoch_era = tslab::internal::DomainEra(d);
  out->refcount = 0;
  out->auto_close = auto_close;
  out->impl = d;
  return out;
}

// The allocator and a checked epoch, or nullptr (last error set).
Allocator* EpochArgs(SlabAllocator* alloc, EpochId epoch) {
  Allocator* impl = ImplOf(alloc);
  if (impl == nullptr || epoch >= TSLAB_NUM_EPOCHS) {
    tslab::internal::SetLastError(impl == nullptr ? TSLAB_E_INVALID_ARG
                                                  : TSLAB_E_EPOCH_RANGE);
    return nullptr;
  }
  return impl;
}

}  // namespace

extern "C" {

// ---- lifetime ----
SlabAllocator* slab_allocator_create(void) {
  SlabAllocator* a = tslab_create(nullptr);
  if (a != nullptr) tslab::internal::CompatRegister(a);
  return a;
}
void slab_allocator_free(SlabAllocator* alloc) {
  if (alloc == nullptr) return;
  tslab::internal::CompatUnregister(alloc);
  tslab_destroy(alloc);
}

// Declared with a compile-time error on calls (slab_alloc.h says why);
// defined for the address-taking and a compiler without the attribute: a
// call changes nothing (no storage of ours is there to initialise).
void allocator_init(SlabAllocator* alloc) {
  (void)alloc;
  tslab::internal::SetLastError(TSLAB_E_INVALID_ARG);
}
void allocator_destroy(SlabAllocator* alloc) {
  (void)alloc;
  tslab::internal::SetLastError(TSLAB_E_INVALID_ARG);
}

// ---- handles and malloc-style ----
void* alloc_obj_epoch(SlabAllocator* alloc, uint32_t size, EpochId epoch,
                      SlabHandle* out) {
  return tslab_alloc(alloc, size, epoch, out);
}
void* alloc_obj(SlabAllocator* alloc, uint32_t size, SlabHandle* out) {
  if (alloc == nullptr) return tslab_alloc(nullptr, size, 0, out);
  return tslab_alloc(alloc, size, tslab_epoch_current(alloc), out);
}
bool free_obj(SlabAllocator* alloc, SlabHandle h) {
  return tslab_free_handle(alloc, h) == TSLAB_OK;
}

void* slab_malloc_epoch(SlabAllocator* alloc, size_t size, EpochId epoch) {
  return tslab_malloc(alloc, size, epoch);
}
void* slab_malloc(SlabAllocator* alloc, size_t size) {
  if (alloc == nullptr) return tslab_malloc(nullptr, size, 0);
  return tslab_malloc(alloc, size, tslab_epoch_current(alloc));
}
void slab_free(SlabAllocator* alloc, void* ptr) {
  if (ptr != nullptr) (void)tslab_free(alloc, ptr);
}

// ---- epochs ----
EpochId epoch_current(SlabAllocator* alloc) {
  return tslab_epoch_current(alloc);
}
// The original's advance marks the previous epoch CLOSING (no more
// allocations into it); tslab's leaves it open until tslab_epoch_close, so
// the compat advance closes it: the same state, plus tslab's reclamation
// of its empty slabs (a heap visit per advance: docs/compat.md).
void epoch_advance(SlabAllocator* alloc) {
  const tslab_epoch_id old = tslab_epoch_current(alloc);
  if (old == TSLAB_INVALID_EPOCH) return;
  if (tslab_epoch_advance(alloc) != old) (void)tslab_epoch_close(alloc, old);
}
void epoch_close(SlabAllocator* alloc, EpochId epoch) {
  (void)tslab_epoch_close(alloc, epoch);
}

void slab_epoch_set_label(SlabAllocator* alloc, EpochId epoch,
                          const char* label) {
  if (label != nullptr) (void)tslab_epoch_set_label(alloc, epoch, label);
}
void slab_epoch_inc_refcount(SlabAllocator* alloc, EpochId epoch) {
  if (Allocator* a = EpochArgs(alloc, epoch)) (void)a->EpochRefAdd(epoch, 0, +1);
}
void slab_epoch_dec_refcount(SlabAllocator* alloc, EpochId epoch) {
  if (Allocator* a = EpochArgs(alloc, epoch)) (void)a->EpochRefAdd(epoch, 0, -1);
}
uint64_t slab_epoch_get_refcount(SlabAllocator* alloc, EpochId epoch) {
  Allocator* a = EpochArgs(alloc, epoch);
  return a == nullptr ? 0 : a->EpochRefcount(epoch);
}

// ---- instrumentation and utilities ----
void get_perf_counters(SlabAllocator* alloc, uint32_t size_class,
                       PerfCounters* out) {
  if (out == nullptr) return;
  std::memset(out, 0, sizeof(*out));
  SlabClassStats c;
  if (tslab_stats_class(alloc, size_class, &c) != TSLAB_OK) return;
  out->slow_path_hits = c.slow_path_hits;
  out->new_slab_count = c.new_slab_count;
  out->list_move_partial_to_full = c.list_move_partial_to_full;
  out->list_move_full_to_partial = c.list_move_full_to_partial;
  out->current_partial_null = c.current_partial_null;
  out->current_partial_full = c.current_partial_full;
  out->empty_slab_recycled = c.empty_slab_recycled;
  out->empty_slab_overflowed = c.empty_slab_overflowed;
}

uint32_t slab_object_count(uint32_t obj_size) {
  const int cls = tslab::internal::SizeToClass(obj_size);
  if (cls < 0) return 0;
  return tslab::internal::SlotsPerSlab(static_cast<uint32_t>(cls),
                                       tslab_page_size());
}

uint64_t read_rss_bytes_linux(void) {
  FILE* f = std::fopen("/proc/self/statm", "re");
  if (f == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * tslab_page_size() : 0;
}

uint64_t now_ns(void) {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// ---- domains ----
epoch_domain_t* epoch_domain_create(SlabAllocator* alloc) {
  return Wrap(alloc, tslab_domain_create(alloc, true), true);
}

epoch_domain_t* epoch_domain_wrap(SlabAllocator* alloc, EpochId epoch_id,
                                  bool auto_close) {
  return Wrap(alloc, tslab_domain_wrap(alloc, epoch_id, auto_close),
              auto_close);
}

void epoch_domain_enter(epoch_domain_t* domain) {
  if (domain == nullptr) return;
  if (tslab_domain_enter(domain->impl) == TSLAB_OK) PushDomain(domain);
  domain->refcount = tslab_domain_refcount(domain->impl);
}

void epoch_domain_exit(epoch_domain_t* domain) {
  if (domain == nullptr) return;
  const uint32_t before = tslab_domain_refcount(domain->impl);
  (void)tslab_domain_exit(domain->impl);
  // Refused (no enter) or not: the stack follows the domain's count.
  if (before != 0) PopDomain(domain);
  domain->refcount = tslab_domain_refcount(domain->impl);
}

epoch_domain_t* epoch_domain_current(void) {
  if (tl_depth == 0) return nullptr;
  return tl_domains[(tl_depth < kDomainStack ? tl_depth : kDomainStack) - 1];
}

SlabAllocator* epoch_domain_allocator(void) {
  epoch_domain_t* d = epoch_domain_current();
  return d == nullptr ? nullptr : d->alloc;
}

void epoch_domain_force_close(epoch_domain_t* domain) {
  if (domain == nullptr) return;
  (void)tslab_domain_close(domain->impl);
}

void epoch_domain_destroy(epoch_domain_t* domain) {
  if (domain == nullptr) return;
  // No dangling entry on this thread's stack.
  while (OnStack(domain)) PopDomain(domain);
  // The original closes an auto-close domain's epoch here (era-checked: a
  // reopened slot is refused). Not while a scope of it is still entered,
  // this domain's (it stays counted in the epoch's refcount: a leak the
  // doctor shows) or another domain's (a nested domain's destroy must not
  // close the epoch under its enclosing one, as its exit does not).
  if (domain->auto_close && tslab_domain_refcount(domain->impl) == 0 &&
      slab_epoch_get_refcount(domain->alloc, domain->epoch_id) == 0) {
    (void)tslab_domain_close(domain->impl);
  }
  tslab_domain_destroy(domain->impl);
  delete domain;
}

}  // extern "C"
