// SPDX-License-Identifier: GPL-2.0
/* bpf/tslab_trace.bpf.c: the BPF side of tslab-trace. One USDT program per
 * tslab probe; each adds the event to cumulative totals (bpf/tslab_trace.h)
 * that user space reads through the skeleton's memory-mapped .bss.
 *
 * One program per probe of TSLAB_USDT_PROBE_LIST (src/usdt/tslab_probes.h),
 * named tt_<probe>: tslab-trace finds each probe's program by that name,
 * so a probe added to the list without its program here does not build.
 *
 * Cost per event: libbpf's argument fetch (one array lookup for the spec,
 * one register or stack read per argument) plus two or three atomic adds.
 * No map update, no ring buffer, no helper besides those.
 *
 * Read-only settings (rodata, fixed at load):
 *   time_div:  durations are divided by this before bucketing (1: ns,
 *              1000: us, 1000000: ms), as bcc's tools do; the sums stay in
 *              ns, so that an average keeps its digits (13 us in ms).
 *   per_class: split class-carrying probes by size class (else all in 0).
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#include "bpf/tslab_trace.h"

const volatile __u64 time_div = 1;
const volatile bool per_class = false;

struct tt_totals totals = {};

/* floor(log2(v)), 0 for v == 0: five compare-and-shift steps, no loop. */
static __always_inline __u32 tt_log2(__u64 v) {
  __u32 r = 0, shift;
  shift = (v > 0xffffffffULL) << 5;
  v >>= shift;
  r |= shift;
  shift = (v > 0xffff) << 4;
  v >>= shift;
  r |= shift;
  shift = (v > 0xff) << 3;
  v >>= shift;
  r |= shift;
  shift = (v > 0xf) << 2;
  v >>= shift;
  r |= shift;
  shift = (v > 0x3) << 1;
  v >>= shift;
  r |= shift;
  r |= (__u32)(v >> 1);
  return r;
}

static __always_inline __u32 tt_class(long cls) {
  return per_class ? (__u32)cls & (TT_NSUB - 1) : 0;
}

static __always_inline struct tt_cell *tt_count(int probe, __u32 sub) {
  struct tt_cell *c = &totals.cells[probe][sub & (TT_NSUB - 1)];
  __sync_fetch_and_add(&c->count, 1);
  return c;
}

static __always_inline void tt_time(struct tt_cell *c, int h, __u32 sub,
                                    __u64 dur_ns) {
  __u64 v = dur_ns / time_div;
  __u32 b = tt_log2(v) & (TT_NBUCKETS - 1);
  __sync_fetch_and_add(&totals.hist[h][sub & (TT_NSUB - 1)][b], 1);
  __sync_fetch_and_add(&c->sum, dur_ns);
}

SEC("usdt")
int BPF_USDT(tt_slow_path, long cls, long epoch, long reason, __u64 dur_ns) {
  __u32 sub = tt_class(cls);
  struct tt_cell *c = tt_count(TT_SLOW_PATH, sub);
  if (reason == TSLAB_SLOW_CURRENT_FULL) __sync_fetch_and_add(&c->a, 1);
  if (reason == TSLAB_SLOW_EPOCH_CLOSED) __sync_fetch_and_add(&c->b, 1);
  tt_time(c, TT_H_SLOW_PATH, sub, dur_ns);
  return 0;
}

SEC("usdt")
int BPF_USDT(tt_slab_new, long cls, long epoch, long from_cache) {
  struct tt_cell *c = tt_count(TT_SLAB_NEW, tt_class(cls));
  if (from_cache) __sync_fetch_and_add(&c->a, 1);
  return 0;
}

SEC("usdt")
int BPF_USDT(tt_epoch_advance, long old_epoch, long new_epoch) {
  tt_count(TT_EPOCH_ADVANCE, 0);
  return 0;
}

SEC("usdt")
int BPF_USDT(tt_epoch_close, long epoch, __u64 scanned, __u64 recycled,
             __u64 dur_ns) {
  struct tt_cell *c = tt_count(TT_EPOCH_CLOSE, 0);
  __sync_fetch_and_add(&c->a, scanned);
  __sync_fetch_and_add(&c->b, recycled);
  tt_time(c, TT_H_EPOCH_CLOSE, 0, dur_ns);
  return 0;
}

SEC("usdt")
int BPF_USDT(tt_madvise, long cls, __u64 bytes, long err, __u64 dur_ns) {
  __u32 sub = tt_class(cls);
  struct tt_cell *c = tt_count(TT_MADVISE, sub);
  __sync_fetch_and_add(&c->a, bytes);
  if (err != 0) __sync_fetch_and_add(&c->b, 1);
  tt_time(c, TT_H_MADVISE, sub, dur_ns);
  return 0;
}

SEC("usdt")
int BPF_USDT(tt_cache_overflow, long cls) {
  tt_count(TT_CACHE_OVERFLOW, tt_class(cls));
  return 0;
}

SEC("usdt")
int BPF_USDT(tt_invalid_free, long kind) {
  /* Kinds 0..3; anything else (a newer library) lands in the last cell. */
  tt_count(TT_INVALID_FREE,
           (__u64)kind < TSLAB_FREE_KIND_COUNT ? (__u32)kind : TT_NSUB - 1);
  return 0;
}

SEC("usdt")
int BPF_USDT(tt_epoch_closed_alloc, long cls, long epoch) {
  tt_count(TT_EPOCH_CLOSED_ALLOC, tt_class(cls));
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
