// TSLAB_STAT_*: every counter update goes through these, so that a build
// with TSLAB_STATS=0 (used by the benchmark to price the counters) has none.
//
// Two kinds of update:
//   - TSLAB_STAT_ADD(field, n): a relaxed atomic add on a shared counter.
//     For slow paths only: it is a locked instruction on a shared line.
//   - TSLAB_STAT_SHARD_ADD(shard_ref, field, n): a per-thread shard counter.
//     The owner thread is its only writer, so a plain load+store suffices
//     (no lock prefix); the overflow shard shared by extra threads uses an
//     atomic add instead (see region.h, ShardAdd).
//   - TSLAB_STAT_OWNER_ADD(field, n): the same, where the caller knows its
//     shard is exclusive (the owner fast paths: the shared shard has none).
// Gauges that the allocator's logic needs are not counters and are kept
// whatever TSLAB_STATS says.
#ifndef TSLAB_SRC_ALLOCATOR_STATS_MACROS_H_
#define TSLAB_SRC_ALLOCATOR_STATS_MACROS_H_

#include <atomic>
#include <cstdint>

#ifndef TSLAB_STATS
#define TSLAB_STATS 1
#endif

namespace tslab::internal {

inline void AtomicAdd(uint64_t& field, uint64_t n) {
  std::atomic_ref<uint64_t>(field).fetch_add(n, std::memory_order_relaxed);
}
inline void AtomicStore(uint64_t& field, uint64_t v) {
  std::atomic_ref<uint64_t>(field).store(v, std::memory_order_relaxed);
}
inline uint64_t AtomicLoad(const uint64_t& field) {
  return std::atomic_ref<uint64_t>(const_cast<uint64_t&>(field))
      .load(std::memory_order_relaxed);
}
// Single-writer add: readers in other threads or processes see either the
// old or the new value, never a torn one (aligned 64-bit store). On x86-64
// one unlocked `add` to memory (its store is a single aligned 8-byte write;
// no lock prefix, since only the owner writes): 1 instruction instead of a
// load, an add and a store. Under TSan the atomic_ref form, which it models.
inline void OwnerAdd(uint64_t& field, uint64_t n) {
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
  asm volatile("addq %1, %0" : "+m"(field) : "er"(n));
#else
  std::atomic_ref<uint64_t> r(field);
  r.store(r.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
#endif
}

}  // namespace tslab::internal

#if TSLAB_STATS
#define TSLAB_STAT_ADD(field, n) ::tslab::internal::AtomicAdd((field), (n))
#define TSLAB_STAT_INC(field) ::tslab::internal::AtomicAdd((field), 1)
#define TSLAB_STAT_SHARD_ADD(shared, field, n)                       \
  do {                                                               \
    if (__builtin_expect(shared, 0))                                 \
      ::tslab::internal::AtomicAdd((field), (n));                    \
    else                                                             \
      ::tslab::internal::OwnerAdd((field), (n));                     \
  } while (0)
// The owner thread's add into its own exclusive shard (fast paths only).
#define TSLAB_STAT_OWNER_ADD(field, n) ::tslab::internal::OwnerAdd((field), (n))
#define TSLAB_STAT_ONLY(...) __VA_ARGS__
#else
// sizeof: names the operands (no unused-variable warnings), evaluates none.
#define TSLAB_STAT_ADD(field, n) ((void)sizeof(field), (void)sizeof(n))
#define TSLAB_STAT_INC(field) ((void)sizeof(field))
#define TSLAB_STAT_SHARD_ADD(shared, field, n) ((void)sizeof(field))
#define TSLAB_STAT_OWNER_ADD(field, n) ((void)sizeof(field))
#define TSLAB_STAT_ONLY(...)
#endif

#endif  // TSLAB_SRC_ALLOCATOR_STATS_MACROS_H_
