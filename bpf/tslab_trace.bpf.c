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
/* stats_dump --doctor --trace: maxima, epoch_close without its nested
 * madvise, user stacks (struct tt_extra, the maps below). */
const volatile bool doctor = false;

struct tt_totals totals = {};
struct tt_extra extra = {};

/* User stacks of epoch_closed_alloc, invalid_free and slab_new (arena),
 * and how often each was seen; tslab-trace shrinks both to one entry. */
struct {
  __uint(type, BPF_MAP_TYPE_STACK_TRACE);
  __uint(max_entries, TT_STACK_SLOTS);
  __uint(key_size, sizeof(__u32));
  __uint(value_size, TT_STACK_DEPTH * sizeof(__u64));
} tt_stacks SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, TT_STACK_KEYS);
  __type(key, struct tt_stack_key);
  __type(value, __u64);
} tt_stack_counts SEC(".maps");

/* Per thread: madvise time since its last slow path or epoch_close. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 1024);
  __type(key, __u32);
  __type(value, __u64);
} tt_nested SEC(".maps");

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
  __sync_fetch_and_add(&c->sum, dur_ns);  /* in ns whatever the unit */
  if (doctor) {
    __u64 *m = &extra.max[h][sub & (TT_NSUB - 1)];
    if (v > *m) *m = v;
  }
}

static __always_inline __u32 tt_tid(void) {
  return (__u32)bpf_get_current_pid_tgid();
}

/* Counts the calling user stack under (probe, sub): every event's up to
 * TT_STACK_ALL of them, then each with probability 1/TT_STACK_EVERY,
 * counted for as many (tslab_trace.h). Random, not every 32nd: a caller
 * whose events alternate between sites with a period dividing 32 would
 * otherwise be sampled at one site only. The clock is read after its own
 * increment, not fetched with it: under a race two events may both see
 * TT_STACK_ALL or less (a stack or two more, exact ones). */
static __always_inline void tt_stack(void *ctx, __u32 probe, __u32 sub) {
  if (!doctor || probe >= TT_NPROBES) return;
  __u64 *seen = &extra.stack_seen[probe][sub & (TT_NSUB - 1)];
  __sync_fetch_and_add(seen, 1);
  __u64 weight = 1;
  if (*seen > TT_STACK_ALL) {
    if ((bpf_get_prandom_u32() & (TT_STACK_EVERY - 1)) != 0) return;
    weight = TT_STACK_EVERY;
  }
  struct tt_stack_key k = {};
  k.probe = probe;
  k.sub = sub;
  k.stack_id = bpf_get_stackid(ctx, &tt_stacks, BPF_F_USER_STACK);
  if (k.stack_id < 0) {
    __sync_fetch_and_add(&extra.stack_errors, weight);
    return;
  }
  __u64 *c = bpf_map_lookup_elem(&tt_stack_counts, &k);
  if (c) {
    __sync_fetch_and_add(c, weight);
    return;
  }
  if (bpf_map_update_elem(&tt_stack_counts, &k, &weight, BPF_NOEXIST) != 0) {
    c = bpf_map_lookup_elem(&tt_stack_counts, &k);
    if (c) __sync_fetch_and_add(c, weight);
    else __sync_fetch_and_add(&extra.stack_errors, weight);
  }
}

SEC("usdt")
int BPF_USDT(tt_slow_path, long cls, long epoch, long reason, __u64 dur_ns) {
  __u32 sub = tt_class(cls);
  struct tt_cell *c = tt_count(TT_SLOW_PATH, sub);
  if (reason == TSLAB_SLOW_CURRENT_FULL) __sync_fetch_and_add(&c->a, 1);
  if (reason == TSLAB_SLOW_EPOCH_CLOSED) __sync_fetch_and_add(&c->b, 1);
  tt_time(c, TT_H_SLOW_PATH, sub, dur_ns);
  if (doctor) {
    /* The thread allocates: it is not inside an epoch_close. A lookup
     * first: most threads have no entry, and a delete costs more. */
    __u32 tid = tt_tid();
    if (bpf_map_lookup_elem(&tt_nested, &tid)) bpf_map_delete_elem(&tt_nested, &tid);
  }
  return 0;
}

SEC("usdt")
int BPF_USDT(tt_slab_new, long cls, long epoch, long from_cache) {
  struct tt_cell *c = tt_count(TT_SLAB_NEW, tt_class(cls));
  if (from_cache) __sync_fetch_and_add(&c->a, 1);
  else tt_stack(ctx, TT_SLAB_NEW, (__u32)cls & (TT_NSUB - 1));
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
  if (doctor) {
    __u32 tid = tt_tid();
    __u64 nested = 0, *p = bpf_map_lookup_elem(&tt_nested, &tid);
    if (p) {
      nested = *p;
      bpf_map_delete_elem(&tt_nested, &tid);
    }
    __u64 own = (dur_ns > nested ? dur_ns - nested : 0) / time_div;
    __sync_fetch_and_add(&extra.close_own_hist[tt_log2(own) & (TT_NBUCKETS - 1)],
                         1);
    __sync_fetch_and_add(&extra.close_own_sum, own);
    __sync_fetch_and_add(&extra.close_nested_sum,
                         (dur_ns > nested ? nested : dur_ns) / time_div);
    if (own > extra.close_own_max) extra.close_own_max = own;
  }
  return 0;
}

SEC("usdt")
int BPF_USDT(tt_madvise, long cls, __u64 bytes, long err, __u64 dur_ns) {
  __u32 sub = tt_class(cls);
  struct tt_cell *c = tt_count(TT_MADVISE, sub);
  __sync_fetch_and_add(&c->a, bytes);
  if (err != 0) __sync_fetch_and_add(&c->b, 1);
  tt_time(c, TT_H_MADVISE, sub, dur_ns);
  if (doctor) {
    __u32 tid = tt_tid();
    __u64 *p = bpf_map_lookup_elem(&tt_nested, &tid);
    if (p) {
      __sync_fetch_and_add(p, dur_ns);
    } else {
      __u64 d = dur_ns;
      bpf_map_update_elem(&tt_nested, &tid, &d, BPF_ANY);
    }
  }
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
  __u32 sub = (__u64)kind < TSLAB_FREE_KIND_COUNT ? (__u32)kind : TT_NSUB - 1;
  tt_count(TT_INVALID_FREE, sub);
  tt_stack(ctx, TT_INVALID_FREE, sub);
  return 0;
}

SEC("usdt")
int BPF_USDT(tt_epoch_closed_alloc, long cls, long epoch) {
  tt_count(TT_EPOCH_CLOSED_ALLOC, tt_class(cls));
  tt_stack(ctx, TT_EPOCH_CLOSED_ALLOC, (__u32)cls & (TT_NSUB - 1));
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
