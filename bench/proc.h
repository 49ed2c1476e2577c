// bench/proc.h: what the benchmark reads about a process (its own, or a
// worker's from the driver) and about the allocator's environment.
//
// Purpose: resident set size from /proc/self/statm, and RssAnon from
// /proc/PID/status, read with plain open/read into a stack buffer so that
// reading them allocates nothing (the workers measure malloc
// implementations; a std::ifstream would call them); the process's CPU
// time (CLOCK_PROCESS_CPUTIME_ID); CLOCK_MONOTONIC, which the driver and a
// worker share; the purge delay tslab will use; and the definition of the
// share of memory given back after that delay.
//
// Thread-safety: any thread.
#ifndef TSLAB_BENCH_PROC_H_
#define TSLAB_BENCH_PROC_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace tslab::bench {

// Resident bytes (statm field 2 times the page size); 0 if unreadable.
uint64_t RssBytes();

// RssAnon of /proc/PID/status in bytes (pid 0: this process); 0 if
// unreadable. Anonymous pages only: the stats region file in /dev/shm
// (RssShmem) and the mapped binaries (RssFile) are left out, so what moves
// is the heap and the slabs.
uint64_t RssAnonBytes(pid_t pid);

// CPU time of the whole process (every thread, user + system), seconds.
double ProcessCpuSeconds();

// CLOCK_MONOTONIC in ns: system-wide, so a worker's timestamp means the
// same in the driver.
uint64_t MonotonicNs();
// Sleeps until MonotonicNs() >= t (absolute; no drift from early wake-ups).
void SleepUntilNs(uint64_t t);

// The purge delay libtslab uses when tslab_options.purge_delay_ms is -1
// (the default, and what the workers pass), read the way tslab.h states
// it: $TSLAB_PURGE_DELAY_MS if set to a number (a whole non-negative
// decimal that fits int32), else 10 ms. secure_getenv, as libtslab reads
// $TSLAB_STATS_DIR. *source says where the value came from, for the
// report. If the engine parses it otherwise, this must follow.
int32_t PurgeDelayMs(std::string* source);
// How long the benchmark waits after the last close: the delay plus
// 100 ms for the purge thread to wake and finish.
inline int64_t PurgeWaitMs(int32_t delay_ms) { return static_cast<int64_t>(delay_ms) + 100; }

// The share of the memory the emptied slabs still had at the last close
// that went back by the end of the wait, in percent:
//   (at_close - after_wait) / (at_close - before) * 100
// with before = RssAnon before the workload's first allocation. nullopt
// when less than min_bytes was above `before` at the close: then nothing
// was left to give back (the pages went back at the close itself), and a
// fraction of a few pages would be noise. Not clamped: above 100 means the
// process ended below where it started, below 0 that it grew meanwhile.
std::optional<double> PurgeReturnedPct(uint64_t before, uint64_t at_close, uint64_t after_wait,
                                       uint64_t min_bytes);
// The min_bytes the benchmark uses: a quarter of one batch's payload. An
// allocator that keeps the emptied slabs until the delay has one to two
// batches' pages resident at the last close, 4 to 8 times this.
inline uint64_t PurgeMinBytes(uint32_t batch, uint32_t size) {
  return static_cast<uint64_t>(batch) * size / 4;
}

}  // namespace tslab::bench

#endif  // TSLAB_BENCH_PROC_H_
