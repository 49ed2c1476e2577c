// The allocators made by the compat API's slab_allocator_create, for
// tls_print_stats (tslab/compat/slab_stats.h), which names no allocator.
// Thread-safety: all functions lock the registry's mutex; CompatForEach
// calls fn under it (fn must not create or free compat allocators).
#ifndef TSLAB_SRC_ALLOCATOR_COMPAT_REGISTRY_H_
#define TSLAB_SRC_ALLOCATOR_COMPAT_REGISTRY_H_

#include "tslab/tslab.h"

namespace tslab::internal {

void CompatRegister(tslab_allocator* a);
void CompatUnregister(tslab_allocator* a);
void CompatForEach(void (*fn)(tslab_allocator* a, void* ctx), void* ctx);

}  // namespace tslab::internal

#endif  // TSLAB_SRC_ALLOCATOR_COMPAT_REGISTRY_H_
