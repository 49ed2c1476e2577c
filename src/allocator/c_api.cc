// The C API (tslab/tslab.h): argument checks and error codes around the
// internal Allocator. Nothing here throws: the library is built with
// -fno-exceptions and allocates with std::nothrow.
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <new>

#include "src/allocator/allocator.h"
#include "src/allocator/env_options.h"
#include "src/allocator/show_stats.h"
#include "src/allocator/size_class.h"
#include "tslab/tslab.h"

struct tslab_allocator {
  tslab::internal::Allocator* impl;
};

namespace tslab::internal {
tslab_status LastError();
}  // namespace tslab::internal

using tslab::internal::Allocator;
using tslab::internal::SetLastError;

namespace {

inline Allocator* Impl(tslab_allocator* a) { return a->impl; }

// One range check for size 0 and size > 768 (0 - 1 wraps above 767), one
// for the epoch; which error it was is sorted out off the fast path.
__attribute__((cold, noinline)) bool FailAllocArgs(tslab_allocator* a,
                                                   size_t size) {
  SetLastError(a == nullptr || size == 0     ? TSLAB_E_INVALID_ARG
               : size > TSLAB_MAX_OBJECT_SIZE ? TSLAB_E_TOO_LARGE
                                              : TSLAB_E_EPOCH_RANGE);
  return true;
}
inline bool BadAllocArgs(tslab_allocator* a, size_t size, tslab_epoch_id e) {
  if (__builtin_expect(a != nullptr && size - 1 < TSLAB_MAX_OBJECT_SIZE &&
                           e < TSLAB_NUM_EPOCHS,
                       1)) {
    return false;
  }
  return FailAllocArgs(a, size);
}

tslab_status Fail(tslab_status s) {
  SetLastError(s);
  return s;
}

}  // namespace

extern "C" {

void tslab_options_init(tslab_options* opts) {
  if (opts == nullptr) return;
  std::memset(opts, 0, sizeof(*opts));
  opts->struct_size = sizeof(*opts);
  opts->cache_capacity = 32;
  opts->region_mode = TSLAB_REGION_DEFAULT;
  opts->purge_delay_ms = -1;
}

tslab_allocator* tslab_create(const tslab_options* opts) {
  tslab_options o;
  tslab_options_init(&o);
  if (opts != nullptr) {
    // The struct grows at its end: a caller built against the older, shorter
    // one (it ended at madvise_ctx) keeps the defaults of the fields it
    // does not know. Any other size is another layout.
    constexpr size_t kOldest = offsetof(tslab_options, purge_delay_ms);
    if (opts->struct_size != kOldest &&
        opts->struct_size != sizeof(tslab_options)) {
      Fail(TSLAB_E_INVALID_ARG);
      return nullptr;
    }
    std::memcpy(&o, opts, opts->struct_size);
    o.struct_size = sizeof(tslab_options);
  }
  // $TSLAB_OPTIONS (read at the first call) wins over opts: the operator's
  // word, as MALLOC_CONF's (env_options.h).
  tslab::internal::ApplyEnvOptions(&o);
  tslab::internal::InstallShowStatsAtExit();
  tslab_status err = TSLAB_OK;
  Allocator* impl = Allocator::Create(o, &err);
  if (impl == nullptr) {
    Fail(err);
    return nullptr;
  }
  auto* a = new (std::nothrow) tslab_allocator{impl};
  if (a == nullptr) {
    delete impl;
    Fail(TSLAB_E_NO_MEMORY);
  }
  return a;
}

void tslab_destroy(tslab_allocator* a) {
  if (a == nullptr) return;
  tslab::internal::ShowStatsIfAsked(a->impl, "destroyed");
  delete a->impl;
  delete a;
}

tslab_status tslab_last_error(void) { return tslab::internal::LastError(); }

const char* tslab_strerror(tslab_status s) {
  switch (s) {
    case TSLAB_OK: return "ok";
    case TSLAB_E_INVALID_ARG: return "invalid argument";
    case TSLAB_E_TOO_LARGE: return "size above 768 bytes";
    case TSLAB_E_EPOCH_RANGE: return "epoch id out of range [0, 16)";
    case TSLAB_E_EPOCH_CLOSED: return "epoch is closed (CLOSING or DRAINED)";
    case TSLAB_E_NO_MEMORY: return "out of memory (slab address space)";
    case TSLAB_E_FREE_INVALID: return "free of an invalid handle or pointer";
    case TSLAB_E_FREE_STALE: return "free of a stale handle (slot reused)";
    case TSLAB_E_FREE_DOUBLE: return "double free";
    case TSLAB_E_FREE_FOREIGN: return "free of another allocator's object";
    case TSLAB_E_STALE_DOMAIN: return "domain's epoch was reopened since";
    case TSLAB_E_REGION_CORRUPT: return "stats region is corrupt";
    case TSLAB_E_REGION_VERSION: return "stats region has another layout version";
    case TSLAB_E_REGION_TRUNCATED: return "stats region is truncated";
    case TSLAB_E_SYSTEM: return "system call failed";
    case TSLAB_E_TOO_MANY: return "too many live allocators (at most 4,095)";
  }
  return "unknown tslab status";
}

void* tslab_alloc(tslab_allocator* a, uint32_t size, tslab_epoch_id e,
                  tslab_handle* out) {
  if (__builtin_expect(BadAllocArgs(a, size, e), 0)) return nullptr;
  return Impl(a)->Alloc(static_cast<uint32_t>(tslab::internal::SizeClassOf(size)), e, out);
}

tslab_status tslab_free_handle(tslab_allocator* a, tslab_handle h) {
  if (__builtin_expect(a == nullptr, 0)) return Fail(TSLAB_E_INVALID_ARG);
  return Impl(a)->FreeHandle(h);
}

void* tslab_malloc(tslab_allocator* a, size_t size, tslab_epoch_id e) {
  if (__builtin_expect(BadAllocArgs(a, size, e), 0)) return nullptr;
  return Impl(a)->Alloc(static_cast<uint32_t>(tslab::internal::SizeClassOf(size)), e, nullptr);
}

tslab_status tslab_free(tslab_allocator* a, void* p) {
  if (__builtin_expect(a == nullptr, 0)) return Fail(TSLAB_E_INVALID_ARG);
  return Impl(a)->FreePtr(p);
}

void* tslab_handle_ptr(tslab_allocator* a, tslab_handle h) {
  return a == nullptr ? nullptr : Impl(a)->HandlePtr(h);
}

tslab_epoch_id tslab_epoch_current(tslab_allocator* a) {
  if (a == nullptr) {
    Fail(TSLAB_E_INVALID_ARG);
    return TSLAB_INVALID_EPOCH;
  }
  return Impl(a)->EpochCurrent();
}

tslab_epoch_id tslab_epoch_advance(tslab_allocator* a) {
  if (a == nullptr) {
    Fail(TSLAB_E_INVALID_ARG);
    return TSLAB_INVALID_EPOCH;
  }
  return Impl(a)->EpochAdvance();
}

tslab_status tslab_epoch_close(tslab_allocator* a, tslab_epoch_id e) {
  if (a == nullptr) return Fail(TSLAB_E_INVALID_ARG);
  if (e >= TSLAB_NUM_EPOCHS) return Fail(TSLAB_E_EPOCH_RANGE);
  return Impl(a)->EpochClose(e);
}

tslab_status tslab_epoch_set_label(tslab_allocator* a, tslab_epoch_id e,
                                   const char* label) {
  if (a == nullptr) return Fail(TSLAB_E_INVALID_ARG);
  if (e >= TSLAB_NUM_EPOCHS) return Fail(TSLAB_E_EPOCH_RANGE);
  Impl(a)->SetEpochLabel(e, label);
  return TSLAB_OK;
}

tslab_status tslab_epoch_get_label(tslab_allocator* a, tslab_epoch_id e,
                                   char* buf, size_t len) {
  if (a == nullptr || buf == nullptr || len == 0) {
    return Fail(TSLAB_E_INVALID_ARG);
  }
  if (e >= TSLAB_NUM_EPOCHS) return Fail(TSLAB_E_EPOCH_RANGE);
  char text[TSLAB_EPOCH_LABEL_MAX];
  Impl(a)->EpochLabel(e, text);
  std::snprintf(buf, len, "%s", text);
  return TSLAB_OK;
}

tslab_epoch_state tslab_epoch_get_state(tslab_allocator* a,
                                        tslab_epoch_id e) {
  if (a == nullptr || e >= TSLAB_NUM_EPOCHS) {
    Fail(a == nullptr ? TSLAB_E_INVALID_ARG : TSLAB_E_EPOCH_RANGE);
    return TSLAB_EPOCH_IDLE;
  }
  return Impl(a)->EpochState(e);
}

tslab_status tslab_purge(tslab_allocator* a) {
  if (a == nullptr) return Fail(TSLAB_E_INVALID_ARG);
  Impl(a)->Purge();
  return TSLAB_OK;
}

uint32_t tslab_class_count(void) { return tslab::internal::kNumClasses; }

uint32_t tslab_class_size(uint32_t cls) {
  return cls < tslab::internal::kNumClasses ? tslab::internal::kClassSizes[cls]
                                            : 0;
}

int tslab_size_to_class(size_t size) {
  return tslab::internal::SizeToClass(size);
}

uint64_t tslab_page_size(void) {
  long ps = sysconf(_SC_PAGESIZE);
  return ps > 0 ? static_cast<uint64_t>(ps) : 4096;
}

tslab_status tslab_snapshot(tslab_allocator* a, TslabSnapshot* out) {
  if (a == nullptr || out == nullptr) return Fail(TSLAB_E_INVALID_ARG);
  return Impl(a)->Snapshot(out);
}

tslab_status tslab_stats_global(tslab_allocator* a, SlabGlobalStats* out) {
  if (a == nullptr || out == nullptr) return Fail(TSLAB_E_INVALID_ARG);
  TslabSnapshot snap;
  tslab_status s = Impl(a)->Snapshot(&snap);
  if (s == TSLAB_OK) *out = snap.global;
  return s;
}

tslab_status tslab_stats_class(tslab_allocator* a, uint32_t cls,
                               SlabClassStats* out) {
  if (a == nullptr || out == nullptr || cls >= TSLAB_NUM_CLASSES) {
    return Fail(TSLAB_E_INVALID_ARG);
  }
  TslabSnapshot snap;
  tslab_status s = Impl(a)->Snapshot(&snap);
  if (s == TSLAB_OK) *out = snap.classes[cls];
  return s;
}

tslab_status tslab_stats_epoch(tslab_allocator* a, tslab_epoch_id e,
                               TslabEpochStats* out) {
  if (a == nullptr || out == nullptr) return Fail(TSLAB_E_INVALID_ARG);
  if (e >= TSLAB_NUM_EPOCHS) return Fail(TSLAB_E_EPOCH_RANGE);
  TslabSnapshot snap;
  tslab_status s = Impl(a)->Snapshot(&snap);
  if (s == TSLAB_OK) *out = snap.epochs[e];
  return s;
}

const char* tslab_region_path(tslab_allocator* a) {
  return a == nullptr ? "" : Impl(a)->region().path().c_str();
}

const void* tslab_region_base(tslab_allocator* a) {
  return a == nullptr ? nullptr : Impl(a)->region().base();
}

}  // extern "C"

// Used by domain.cc: the internal allocator of a handle.
namespace tslab::internal {
Allocator* ImplOf(tslab_allocator* a) { return a == nullptr ? nullptr : a->impl; }
}  // namespace tslab::internal
