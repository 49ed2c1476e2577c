// src/usdt/tslab_usdt.h: the one wrapper over <sys/sdt.h> for tslab's USDT
// probes (provider "tslab").
//
// Purpose: static tracepoints that tslab-trace and bpftrace attach to in a
// running process. Each probe has a semaphore that the kernel raises while a
// tracer is attached, so that work done only for a probe (reading the clock
// for a duration) runs only then: guard it with TSLAB_PROBE_ENABLED(name).
//
// Cost when no tracer is attached: one nop per probe site, plus one load
// and a not-taken branch per TSLAB_PROBE_ENABLED check. With TSLAB_USDT=0
// every macro compiles to nothing and TSLAB_PROBE_ENABLED is false.
//
// Invariants: arguments are plain integer scalars (libbpf 1.1 parses only
// those); the probe list and argument meanings are in docs/probes.md, and
// tests/usdt_notes_test.cc checks the notes against it.
#ifndef TSLAB_SRC_USDT_TSLAB_USDT_H_
#define TSLAB_SRC_USDT_TSLAB_USDT_H_

#ifndef TSLAB_USDT
#define TSLAB_USDT 1
#endif

// Every probe: name, argument count. Keep in step with semaphores.cc and
// docs/probes.md.
#define TSLAB_USDT_PROBE_LIST(X) \
  X(slow_path, 4)                \
  X(slab_new, 3)                 \
  X(epoch_advance, 2)            \
  X(epoch_close, 4)              \
  X(madvise, 4)                  \
  X(cache_overflow, 1)           \
  X(invalid_free, 1)             \
  X(epoch_closed_alloc, 2)

// Reasons of the slow_path probe's third argument.
#define TSLAB_SLOW_CURRENT_NULL 0
#define TSLAB_SLOW_CURRENT_FULL 1
#define TSLAB_SLOW_EPOCH_CLOSED 2
// Kinds of the invalid_free probe's argument.
#define TSLAB_FREE_KIND_INVALID 0
#define TSLAB_FREE_KIND_STALE 1
#define TSLAB_FREE_KIND_DOUBLE 2
#define TSLAB_FREE_KIND_FOREIGN 3

#if TSLAB_USDT

#define _SDT_HAS_SEMAPHORES 1  // NOLINT: the name is sdt.h's own.
#include <sys/sdt.h>

#ifdef __cplusplus
extern "C" {
#endif
#define TSLAB_USDT_DECLARE_SEMAPHORE(name, nargs) \
  extern volatile unsigned short tslab_##name##_semaphore;
TSLAB_USDT_PROBE_LIST(TSLAB_USDT_DECLARE_SEMAPHORE)
#undef TSLAB_USDT_DECLARE_SEMAPHORE
#ifdef __cplusplus
}
#endif

#define TSLAB_PROBE_ENABLED(name) \
  __builtin_expect(tslab_##name##_semaphore != 0, 0)
#define TSLAB_PROBE1(name, a) STAP_PROBE1(tslab, name, a)
#define TSLAB_PROBE2(name, a, b) STAP_PROBE2(tslab, name, a, b)
#define TSLAB_PROBE3(name, a, b, c) STAP_PROBE3(tslab, name, a, b, c)
#define TSLAB_PROBE4(name, a, b, c, d) STAP_PROBE4(tslab, name, a, b, c, d)

#else  // !TSLAB_USDT

// sizeof names the arguments (no unused-variable warnings) and evaluates
// none of them.
#define TSLAB_PROBE_ENABLED(name) 0
#define TSLAB_PROBE1(name, a) ((void)sizeof(a))
#define TSLAB_PROBE2(name, a, b) ((void)sizeof(a), (void)sizeof(b))
#define TSLAB_PROBE3(name, a, b, c) \
  ((void)sizeof(a), (void)sizeof(b), (void)sizeof(c))
#define TSLAB_PROBE4(name, a, b, c, d) \
  ((void)sizeof(a), (void)sizeof(b), (void)sizeof(c), (void)sizeof(d))

#endif  // TSLAB_USDT

#endif  // TSLAB_SRC_USDT_TSLAB_USDT_H_
