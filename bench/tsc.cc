// The TSC timer's calibration and floor (see tsc.h).
#include "bench/tsc.h"

#include <cpuid.h>
#include <time.h>

#include <algorithm>
#include <vector>

#include "bench/stats_util.h"

namespace tslab::bench {

namespace {
uint64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}
}  // namespace

bool TscIsInvariant() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0x80000007, &a, &b, &c, &d) == 0) return false;
  return (d >> 8) & 1u;
}

double CalibrateTicksPerNs(int ms) {
  // Pair each TSC read with the clock read right after it; the clock read's
  // own cost (~tens of ns) is noise against a 100 ms window.
  uint64_t t0 = TscBegin();
  uint64_t n0 = MonoNs();
  const uint64_t until = n0 + static_cast<uint64_t>(ms) * 1000000ull;
  uint64_t n1 = n0;
  while (n1 < until) n1 = MonoNs();
  uint64_t t1 = TscEnd();
  return static_cast<double>(t1 - t0) / static_cast<double>(n1 - n0);
}

TimerFloor MeasureTimerFloor(uint32_t samples) {
  std::vector<uint32_t> v(samples);
  for (uint32_t i = 0; i < samples; ++i) {
    uint64_t t0 = TscBegin();
    uint64_t t1 = TscEnd();
    v[i] = static_cast<uint32_t>(t1 - t0);
  }
  std::sort(v.begin(), v.end());
  TimerFloor f;
  f.p50_ticks = SortedPercentile(v, 50.0);
  f.p99_ticks = SortedPercentile(v, 99.0);
  return f;
}

uint64_t TimerGranularityTicks(uint32_t reads) {
  uint64_t best = ~0ull;
  uint64_t prev = __rdtsc();
  for (uint32_t i = 0; i < reads; ++i) {
    uint64_t t = __rdtsc();
    if (t != prev && t - prev < best) best = t - prev;
    prev = t;
  }
  return best == ~0ull ? 0 : best;
}

}  // namespace tslab::bench
