/* tslab/tslab.h: the C API of libtslab, the temporal-slab allocator.
 *
 * Purpose: a lifetime-aware slab allocator. Objects of up to 768 bytes are
 * placed in one of eight size classes (64, 96, 128, 192, 256, 384, 512,
 * 768 B); each slab is one page and belongs to one epoch of a ring of 16.
 * Objects allocated in one epoch are reclaimed together: tslab_epoch_close()
 * recycles the epoch's empty slabs into a per-class pool; slabs that still
 * hold live objects are recycled when their last object is freed. A
 * recycled slab keeps its pages for the purge delay (purge_delay_ms,
 * default 10 ms) and is reused warm; a background thread of libtslab
 * ("tslab-purge") then gives the pages of slabs still unused back to the OS
 * (madvise(MADV_DONTNEED)), with no further call needed.
 *
 * Invariants:
 *   - Every pointer returned is aligned to at least 16 bytes.
 *   - No call aborts, throws or crashes on bad input: it returns NULL, false
 *     or a tslab_status, and sets the calling thread's tslab_last_error().
 *   - A free of an invalid, stale, already freed or foreign handle/pointer
 *     changes nothing and is counted (SlabGlobalStats.*_frees).
 *   - Pointer frees cannot tell a pointer freed and then handed out again
 *     from a live one (no allocator can); handle frees can, up to 65,536
 *     reuses of one slot (16-bit generation).
 *
 * Thread-safety: every function may be called from any thread, on any
 * number of allocators at once, except tslab_destroy(), which REQUIRES that
 * no other call on that allocator is in flight or follows it.
 * Each thread allocates from its own slabs: an allocation, and a free by
 * the thread that allocated the object, use no lock and no atomic
 * read-modify-write instruction; a free by another thread is one CAS. A
 * new slab takes a per-class lock; tslab_epoch_close() briefly excludes
 * other threads from their slabs (a membarrier when other threads have
 * allocated). A double free racing with itself on two threads may be
 * found only later: see docs/counters.md. The library starts one
 * background thread (the purge) when the first slab goes to the pool with
 * a non-zero purge delay.
 *
 * fork(): safe from a multithreaded process. A pthread_atfork handler
 * waits until no other thread is inside a tslab call (or holds a tslab
 * lock) and keeps it so until fork() returns; the child's allocators keep
 * working, with the objects the parent had (any thread of the child may
 * free them). A fork() thus waits for tslab calls in flight.
 *
 * Ring wrap: tslab_epoch_advance() onto a slot still ACTIVE keeps that
 * epoch open (its old and new objects share a lifetime); onto a CLOSING
 * slot it reopens the slot and moves the old life's slabs to a per-class
 * "draining" list, from which each is recycled when its last object is
 * freed. Both are counted in SlabGlobalStats.epoch_wraps_live.
 */
#ifndef TSLAB_TSLAB_H_
#define TSLAB_TSLAB_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Relative to this file, so that -I<prefix>/include/tslab/compat alone
 * finds it (tslab/compat/slab_alloc.h). */
#include "stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* libtslab is built with -fvisibility=hidden: only what is declared between
 * these pragmas is in the shared library's dynamic symbol table. */
#pragma GCC visibility push(default)

typedef struct tslab_allocator tslab_allocator;
typedef uint32_t tslab_epoch_id;
typedef uint64_t tslab_handle; /* 0 is never a valid handle */

#define TSLAB_MAX_OBJECT_SIZE 768u
#define TSLAB_INVALID_EPOCH ((tslab_epoch_id)0xffffffffu)

typedef enum tslab_status {
  TSLAB_OK = 0,
  TSLAB_E_INVALID_ARG = 1,      /* NULL allocator, size 0, bad class... */
  TSLAB_E_TOO_LARGE = 2,        /* size above TSLAB_MAX_OBJECT_SIZE */
  TSLAB_E_EPOCH_RANGE = 3,      /* epoch id not in [0, 16) */
  TSLAB_E_EPOCH_CLOSED = 4,     /* allocation into a CLOSING/DRAINED epoch */
  TSLAB_E_NO_MEMORY = 5,        /* address space reservation exhausted */
  TSLAB_E_FREE_INVALID = 6,     /* not a handle/pointer of any live slot */
  TSLAB_E_FREE_STALE = 7,       /* handle of a slot since freed and reused */
  TSLAB_E_FREE_DOUBLE = 8,      /* slot already free */
  TSLAB_E_FREE_FOREIGN = 9,     /* belongs to another live allocator */
  TSLAB_E_STALE_DOMAIN = 10,    /* domain's epoch slot was reopened since */
  TSLAB_E_REGION_CORRUPT = 11,  /* stats region: bad magic or offsets */
  TSLAB_E_REGION_VERSION = 12,  /* stats region: other layout version */
  TSLAB_E_REGION_TRUNCATED = 13,/* stats region: shorter than it says */
  TSLAB_E_SYSTEM = 14,          /* an OS call failed; errno kept */
  TSLAB_E_TOO_MANY = 15         /* 4,095 allocators live already (ids are
                                   12 bits of every handle) */
} tslab_status;

/* Where the counter region lives. DEFAULT: a file in the directory named
 * by $TSLAB_STATS_DIR, else /dev/shm/tslab; $TSLAB_STATS_DIR=off means
 * anonymous memory. OFF: always anonymous memory (no file). */
typedef enum tslab_region_mode {
  TSLAB_REGION_DEFAULT = 0,
  TSLAB_REGION_OFF = 1
} tslab_region_mode;

/* Test and instrumentation hook: replaces madvise(2) for slab pages.
 * Must behave like madvise: 0, or -1 with errno set. */
typedef int (*tslab_madvise_fn)(void* addr, size_t len, int advice,
                                void* ctx);

typedef struct tslab_options {
  uint32_t struct_size;     /* sizeof(tslab_options), set by _init */
  uint32_t cache_capacity;  /* empty slabs kept per class; default 32 */
  uint64_t max_bytes;       /* address space for slabs; default 16 GiB */
  const char* name;         /* shown by stats_dump; may be NULL */
  tslab_region_mode region_mode;
  const char* stats_dir;    /* overrides $TSLAB_STATS_DIR when non-NULL */
  tslab_madvise_fn madvise_fn; /* NULL: the real madvise */
  void* madvise_ctx;
  /* Purge delay: how long the pages of an empty slab (recycled by a close
   * or by its last free) stay resident for reuse before they go back to
   * the OS (madvise). -1 (the default): $TSLAB_PURGE_DELAY_MS if set to a
   * number, else 10 ms. 0: at once, at the recycle (no resident cache).
   * The purge runs on a background thread of libtslab; tslab_purge() does
   * it now. Added after madvise_ctx: a caller built against the older,
   * shorter struct gets the default. */
  int32_t purge_delay_ms;
} tslab_options;

/* Fills *opts with the defaults. */
void tslab_options_init(tslab_options* opts);

/* Creates an allocator; opts may be NULL for the defaults. NULL on error
 * (tslab_last_error() says why). A failure to create the stats file is not
 * an error: the region falls back to anonymous memory. */
tslab_allocator* tslab_create(const tslab_options* opts);

/* REQUIRES: no other call on a is in flight or follows, and every domain
 * of a was destroyed first. NULL is a no-op. Unmaps every slab: pointers
 * into a are dangling afterwards. Using a, or one of its domains, after
 * tslab_destroy (a second destroy included) is undefined behaviour, as a
 * use of freed memory is: tslab cannot detect it without a check on every
 * call. What stays safe: a handle of a destroyed allocator given to a live
 * one is refused (TSLAB_E_FREE_INVALID, counted in invalid_frees). */
void tslab_destroy(tslab_allocator* a);

/* The calling thread's last error, and its message. */
tslab_status tslab_last_error(void);
const char* tslab_strerror(tslab_status s);

/* Allocates size bytes (1..768) in epoch e. *out (if out is non-NULL)
 * receives a handle for tslab_free_handle. NULL on error. */
void* tslab_alloc(tslab_allocator* a, uint32_t size, tslab_epoch_id e,
                  tslab_handle* out);
tslab_status tslab_free_handle(tslab_allocator* a, tslab_handle h);

/* malloc-style: sizes 1..768, freed by pointer. */
void* tslab_malloc(tslab_allocator* a, size_t size, tslab_epoch_id e);
tslab_status tslab_free(tslab_allocator* a, void* p);

/* The pointer a handle designates, or NULL if the handle is not live. */
void* tslab_handle_ptr(tslab_allocator* a, tslab_handle h);

/* Epochs. */
tslab_epoch_id tslab_epoch_current(tslab_allocator* a);
/* Opens the next slot of the ring and makes it current; returns it. */
tslab_epoch_id tslab_epoch_advance(tslab_allocator* a);
/* Puts e into CLOSING, recycles its empty slabs. Closing a closed epoch
 * again scans it again (idempotent). */
tslab_status tslab_epoch_close(tslab_allocator* a, tslab_epoch_id e);
tslab_epoch_state tslab_epoch_get_state(tslab_allocator* a,
                                        tslab_epoch_id e);
/* Labels the current life of epoch e (a request, a phase: "request:
 * checkout"), for stats_dump (JSON, text, --doctor) and the epoch_close
 * probe. At most TSLAB_EPOCH_LABEL_MAX - 1 (31) bytes are kept, cut on a
 * UTF-8 character boundary; NULL or "" clears it. A reopen of the slot by
 * the ring clears it too. Cold path: a lock and a few stores; readers in
 * other processes never see a torn label (tslab/stats_region.h). */
tslab_status tslab_epoch_set_label(tslab_allocator* a, tslab_epoch_id e,
                                   const char* label);
/* Copies e's label into buf (len bytes, NUL-terminated, cut if short). */
tslab_status tslab_epoch_get_label(tslab_allocator* a, tslab_epoch_id e,
                                   char* buf, size_t len);
/* Gives back to the OS (madvise) the pages of every empty slab that the
 * purge delay keeps resident, now, without waiting for the delay. */
tslab_status tslab_purge(tslab_allocator* a);

/* Epoch domains: a scoped lifetime bound to one epoch, with a reference
 * count. Enter/exit nest and may come from any thread; with auto_close the
 * last exit closes the epoch, unless another domain is still inside a
 * scope of the same epoch (its refcount below is not 0): then the last of
 * them to exit, if it has auto_close, closes it. A domain remembers the epoch's era: if the
 * slot was reopened since, its close is refused (TSLAB_E_STALE_DOMAIN).
 * The epoch's refcount (TslabEpochStats.refcount) counts the domains
 * inside a scope of it: +1 on a domain's first enter, -1 on its last exit
 * (nested enters do not count again). */
typedef struct tslab_domain tslab_domain;
/* Binds to the current epoch. */
tslab_domain* tslab_domain_create(tslab_allocator* a, bool auto_close);
tslab_domain* tslab_domain_wrap(tslab_allocator* a, tslab_epoch_id e,
                                bool auto_close);
tslab_status tslab_domain_enter(tslab_domain* d);
tslab_status tslab_domain_exit(tslab_domain* d);
tslab_status tslab_domain_close(tslab_domain* d);
tslab_epoch_id tslab_domain_epoch(const tslab_domain* d);
/* tslab_epoch_set_label of the domain's epoch; TSLAB_E_STALE_DOMAIN if the
 * slot was reopened since (the label would name another life). */
tslab_status tslab_domain_set_label(tslab_domain* d, const char* label);
uint32_t tslab_domain_refcount(const tslab_domain* d);
/* Before its allocator's tslab_destroy (see there). */
void tslab_domain_destroy(tslab_domain* d);

/* Sizes. */
uint32_t tslab_class_count(void);
/* Object size of class cls, 0 if cls is out of range. */
uint32_t tslab_class_size(uint32_t cls);
/* Class serving size bytes, or -1 if size is 0 or above 768. */
int tslab_size_to_class(size_t size);
uint64_t tslab_page_size(void);

/* Snapshots (in-process). */
tslab_status tslab_stats_global(tslab_allocator* a, SlabGlobalStats* out);
tslab_status tslab_stats_class(tslab_allocator* a, uint32_t cls,
                               SlabClassStats* out);
tslab_status tslab_stats_epoch(tslab_allocator* a, tslab_epoch_id e,
                               TslabEpochStats* out);
tslab_status tslab_snapshot(tslab_allocator* a, TslabSnapshot* out);

/* The stats region: its file path ("" when anonymous) and base address. */
const char* tslab_region_path(tslab_allocator* a);
const void* tslab_region_base(tslab_allocator* a);

#pragma GCC visibility pop

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TSLAB_TSLAB_H_ */
