// The original temporal-slab C API (tslab/compat/slab_alloc.h), as thin
// wrappers over tslab.h.
#include "tslab/compat/slab_alloc.h"

#include <new>

namespace tslab::internal {
uint64_t DomainEra(const tslab_domain* d);  // domain.cc
}  // namespace tslab::internal

namespace {

epoch_domain_t* Wrap(SlabAllocator* alloc, tslab_domain* d) {
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
  out->impl = d;
  return out;
}

void Mirror(epoch_domain_t* domain) {
  domain->refcount = tslab_domain_refcount(domain->impl);
}

}  // namespace

extern "C" {

SlabAllocator* slab_allocator_create(void) { return tslab_create(nullptr); }
void slab_allocator_free(SlabAllocator* alloc) { tslab_destroy(alloc); }

void* alloc_obj_epoch(SlabAllocator* alloc, uint32_t size, EpochId epoch,
                      SlabHandle* out) {
  return tslab_alloc(alloc, size, epoch, out);
}

bool free_obj(SlabAllocator* alloc, SlabHandle h) {
  return tslab_free_handle(alloc, h) == TSLAB_OK;
}

void* slab_malloc_epoch(SlabAllocator* alloc, size_t size, EpochId epoch) {
  return tslab_malloc(alloc, size, epoch);
}

void slab_free(SlabAllocator* alloc, void* ptr) {
  if (ptr != nullptr) (void)tslab_free(alloc, ptr);
}

EpochId epoch_current(SlabAllocator* alloc) {
  return tslab_epoch_current(alloc);
}
void epoch_advance(SlabAllocator* alloc) { (void)tslab_epoch_advance(alloc); }
void epoch_close(SlabAllocator* alloc, EpochId epoch) {
  (void)tslab_epoch_close(alloc, epoch);
}

void slab_stats_global(SlabAllocator* alloc, SlabGlobalStats* out) {
  (void)tslab_stats_global(alloc, out);
}
void slab_stats_class(SlabAllocator* alloc, uint32_t cls,
                      SlabClassStats* out) {
  (void)tslab_stats_class(alloc, cls, out);
}

epoch_domain_t* epoch_domain_create(SlabAllocator* alloc) {
  epoch_domain_t* d = Wrap(alloc, tslab_domain_create(alloc, true));
  if (d != nullptr) d->auto_close = true;
  return d;
}

epoch_domain_t* epoch_domain_wrap(SlabAllocator* alloc, EpochId epoch_id,
                                  bool auto_close) {
  epoch_domain_t* d =
      Wrap(alloc, tslab_domain_wrap(alloc, epoch_id, auto_close));
  if (d != nullptr) d->auto_close = auto_close;
  return d;
}

void epoch_domain_enter(epoch_domain_t* domain) {
  if (domain == nullptr) return;
  (void)tslab_domain_enter(domain->impl);
  Mirror(domain);
}

void epoch_domain_exit(epoch_domain_t* domain) {
  if (domain == nullptr) return;
  (void)tslab_domain_exit(domain->impl);
  Mirror(domain);
}

void epoch_domain_force_close(epoch_domain_t* domain) {
  if (domain == nullptr) return;
  (void)tslab_domain_close(domain->impl);
}

void epoch_domain_destroy(epoch_domain_t* domain) {
  if (domain == nullptr) return;
  tslab_domain_destroy(domain->impl);
  delete domain;
}

}  // extern "C"
