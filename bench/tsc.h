// bench/tsc.h: the benchmark's cycle timer (x86-64 TSC).
//
// Purpose: time single allocator calls (tens of ns), where clock_gettime's
// own cost (~20-40 ns through the vDSO, more under kvm-clock) would swamp
// the result. A timed region is TscBegin() ... TscEnd(); both are
// "lfence; rdtsc; lfence", which keeps the measured instructions from
// drifting out of the region on Intel and AMD (Linux makes lfence
// dispatch-serializing on AMD). rdtscp is not used: some hypervisors (this
// project's 2-core VM among them) do not expose it.
//
// Invariants: ticks are converted to ns with a rate calibrated against
// CLOCK_MONOTONIC (CalibrateTicksPerNs), which assumes an invariant TSC
// (cpuid 0x80000007 EDX bit 8; TscIsInvariant() says). Every latency
// includes the timer's own floor (MeasureTimerFloor), printed beside it.
//
// Thread-safety: all functions may be called from any thread.
#ifndef TSLAB_BENCH_TSC_H_
#define TSLAB_BENCH_TSC_H_

#include <x86intrin.h>

#include <cstdint>

namespace tslab::bench {

inline uint64_t TscBegin() {
  _mm_lfence();
  uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
}

inline uint64_t TscEnd() {
  _mm_lfence();
  uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
}

// True if the CPU says its TSC runs at a constant rate in every P/C-state.
bool TscIsInvariant();

// TSC ticks per nanosecond, measured over `ms` milliseconds of
// CLOCK_MONOTONIC (busy-waits; ~100 ms gives 4-5 significant digits).
double CalibrateTicksPerNs(int ms);

// Percentiles (in ticks) of `samples` back-to-back empty timed regions.
struct TimerFloor {
  double p50_ticks = 0;
  double p99_ticks = 0;
};
TimerFloor MeasureTimerFloor(uint32_t samples);

// The smallest non-zero step between consecutive TSC reads over `reads`
// reads: the timer's resolution (1 on bare metal; a hypervisor may scale
// the TSC so that it advances in coarser steps, ~21 ticks on our VM).
uint64_t TimerGranularityTicks(uint32_t reads);

}  // namespace tslab::bench

#endif  // TSLAB_BENCH_TSC_H_
