/* tslab/compat/epoch_domain.h: the original temporal-slab's epoch domains
 * (its include/epoch_domain.h), over tslab's domains (tslab/tslab.h).
 *
 * Purpose: a scoped lifetime bound to one epoch, with a nesting count;
 * with auto_close the last exit closes the epoch. Compiles as C11 and C++.
 *
 * Differences from the original (docs/compat.md):
 *   - A domain remembers its epoch's era: if the ring reopened the slot
 *     since, its close (auto or forced) is refused (TSLAB_E_STALE_DOMAIN)
 *     instead of closing the new life.
 *   - epoch_domain_exit() without a matching enter is refused and changes
 *     nothing (the original asserts).
 *   - epoch_domain_force_close() and epoch_domain_destroy() of a domain
 *     still entered do not assert: force_close closes anyway; destroy
 *     frees the domain without closing, and its scope stays counted in the
 *     epoch's refcount (stats_dump --doctor: epoch_refcount_age).
 *   - epoch_domain_create() binds to the current epoch with auto_close set
 *     (the original's header documents auto-close on exit; some of its
 *     versions defaulted to false).
 * As the original: the last exit auto-closes only when no other domain is
 * inside a scope of the same epoch; destroy closes an auto-close domain's
 * epoch (era-checked), under the same condition.
 *
 * The thread's current domain (epoch_domain_current) is the innermost
 * domain this thread entered and has not exited: a per-thread stack of up
 * to 32 domains; deeper nesting still counts, but the current domain stays
 * the 32nd until the stack unwinds below it.
 *
 * Invariants: the struct's fields mirror the domain after each call on it
 * (read them; do not write them). impl is tslab's domain.
 * Thread-safety: enter/exit of one domain may come from any threads; the
 * current-domain stack is per thread.
 */
#ifndef TSLAB_COMPAT_EPOCH_DOMAIN_H_
#define TSLAB_COMPAT_EPOCH_DOMAIN_H_

#include <stdbool.h>
#include <stdint.h>

#include "slab_alloc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* libtslab is built with -fvisibility=hidden: only what is declared between
 * these pragmas is in the shared library's dynamic symbol table. */
#pragma GCC visibility push(default)

typedef struct epoch_domain {
  SlabAllocator* alloc;
  EpochId epoch_id;
  uint64_t epoch_era;  /* the slot's era when the domain was made */
  uint32_t refcount;   /* nesting depth */
  bool auto_close;
  struct tslab_domain* impl;
} epoch_domain_t;

/* Binds to the current epoch, auto-closing on the last exit. */
epoch_domain_t* epoch_domain_create(SlabAllocator* alloc);
epoch_domain_t* epoch_domain_wrap(SlabAllocator* alloc, EpochId epoch_id,
                                  bool auto_close);
void epoch_domain_enter(epoch_domain_t* domain);
void epoch_domain_exit(epoch_domain_t* domain);
/* The calling thread's innermost entered domain, or NULL. */
epoch_domain_t* epoch_domain_current(void);
/* epoch_domain_current()'s allocator, or NULL. */
SlabAllocator* epoch_domain_allocator(void);
void epoch_domain_force_close(epoch_domain_t* domain);
/* Frees the domain (and takes it off this thread's stack). */
void epoch_domain_destroy(epoch_domain_t* domain);

#pragma GCC visibility pop

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TSLAB_COMPAT_EPOCH_DOMAIN_H_ */
