/* src/usdt/tslab_probes.h: the list of tslab's USDT probes (provider
 * "tslab"), the one place a probe is declared.
 *
 * Purpose: every consumer derives its view of the probes from this list
 * instead of keeping a copy: the semaphores (tslab_usdt.h, semaphores.cc,
 * with a compile-time check of each probe site's argument count), the BPF
 * side of tslab-trace (enum tt_probe in bpf/tslab_trace.h; one program
 * tt_<probe> per probe, which tracer.cc looks up through this list), the
 * tool's table (tools/tslab-trace/probes.h) and the tests' expectations
 * (tests/trace_test_util.h), which check the ELF notes and docs/probes.md
 * against it.
 *
 * Preprocessor only, no #include: it is included by C++ and by the BPF C of
 * bpf/ (built against vmlinux.h, where libc headers would clash).
 *
 * Invariants: append only (the order is the index of enum tt_probe, which
 * tslab-trace's BPF object and its user space must share). Each probe fires
 * exactly once per event that its counter counts (docs/probes.md).
 */
#ifndef TSLAB_SRC_USDT_TSLAB_PROBES_H_
#define TSLAB_SRC_USDT_TSLAB_PROBES_H_

/* X(name, NAME, args):
 *   name  the probe, tslab:name, and its semaphore tslab_<name>_semaphore;
 *   NAME  the same in capitals, for enumerators (TT_<NAME>): the
 *         preprocessor cannot change case;
 *   args  the arguments in order, "type name" separated by ", ", with type
 *         u32, s32 or u64: the size and signedness that the probe's note
 *         carries (readelf -n shows 4@, -4@, 8@) and that tests check. An
 *         argument named dur_ns is the probe's duration; a first argument
 *         named cls is a size class. docs/probes.md's Arguments column is
 *         this text with the names in backquotes (tests check it). An
 *         argument named label is the address of a NUL-terminated string
 *         (the epoch's label, "" if none), valid while the probe fires. */
#define TSLAB_USDT_PROBE_LIST(X)                                           \
  X(slow_path, SLOW_PATH, "u32 cls, u32 epoch, s32 reason, u64 dur_ns")    \
  X(slab_new, SLAB_NEW, "u32 cls, u32 epoch, s32 from_cache")              \
  X(epoch_advance, EPOCH_ADVANCE, "u32 old, u32 new")                      \
  X(epoch_close, EPOCH_CLOSE,                                              \
    "u32 epoch, u64 scanned, u64 recycled, u64 dur_ns, u64 label")         \
  X(madvise, MADVISE, "u32 cls, u64 bytes, s32 err, u64 dur_ns")           \
  X(cache_overflow, CACHE_OVERFLOW, "u32 cls")                             \
  X(invalid_free, INVALID_FREE, "s32 kind")                                \
  X(epoch_closed_alloc, EPOCH_CLOSED_ALLOC, "u32 cls, u32 epoch")

/* Reasons of the slow_path probe's third argument. */
#define TSLAB_SLOW_CURRENT_NULL 0
#define TSLAB_SLOW_CURRENT_FULL 1
#define TSLAB_SLOW_EPOCH_CLOSED 2
/* Kinds of the invalid_free probe's argument, 0 .. TSLAB_FREE_KIND_COUNT-1. */
#define TSLAB_FREE_KIND_INVALID 0
#define TSLAB_FREE_KIND_STALE 1
#define TSLAB_FREE_KIND_DOUBLE 2
#define TSLAB_FREE_KIND_FOREIGN 3
#define TSLAB_FREE_KIND_COUNT 4

#endif /* TSLAB_SRC_USDT_TSLAB_PROBES_H_ */
