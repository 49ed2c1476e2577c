// bench/stats_util.h: percentiles and medians for the benchmark.
//
// Purpose: one definition of "percentile" and "median" shared by the
// workers (latency samples) and the driver (values over rounds).
// Percentile: nearest-rank on sorted data, rank = ceil(p/100 * n), so p99.9
// of 500,000 samples is the 499,500th smallest (500 samples above it) and
// p99.99 of 100,000 the 99,990th (10 above it).
// Median: the mean of the two middle values for an even count.
//
// Thread-safety: pure functions.
#ifndef TSLAB_BENCH_STATS_UTIL_H_
#define TSLAB_BENCH_STATS_UTIL_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace tslab::bench {

// REQUIRES: v sorted ascending. 0 for an empty vector.
template <class T>
double SortedPercentile(const std::vector<T>& v, double p) {
  if (v.empty()) return 0;
  // p/100 * n is rarely exact in binary (99.9 / 100 * 500000 gives
  // 499500.00000000006, whose ceil is one rank too high); its true value
  // is a multiple of 1/1000 for the percentiles used, so 1e-6 is safe.
  double rank = std::ceil(p / 100.0 * static_cast<double>(v.size()) - 1e-6);
  size_t i = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  if (i >= v.size()) i = v.size() - 1;
  return static_cast<double>(v[i]);
}

// Median of an unsorted vector (copied). NaN for an empty vector.
inline double Median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

}  // namespace tslab::bench

#endif  // TSLAB_BENCH_STATS_UTIL_H_
