// show_stats (show_stats.h): the compact report and its two moments.
#include "src/allocator/show_stats.h"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "src/allocator/allocator.h"
#include "src/allocator/env_options.h"
#include "tslab/stats_region.h"

namespace tslab::internal {

namespace {

// Appends to buf[*pos..len), never past its end.
void Append(char* buf, size_t len, size_t* pos, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));
void Append(char* buf, size_t len, size_t* pos, const char* fmt, ...) {
  if (*pos + 1 >= len) return;
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf + *pos, len - *pos, fmt, ap);
  va_end(ap);
  if (n > 0) *pos += static_cast<size_t>(n) < len - *pos ? static_cast<size_t>(n) : len - *pos - 1;
}

double KiB(uint64_t b) { return static_cast<double>(b) / 1024.0; }
// For %llu.
unsigned long long U(uint64_t v) { return static_cast<unsigned long long>(v); }

}  // namespace

size_t RenderShowStats(const TslabSnapshot& s, unsigned id, const char* name,
                       const char* why, char* buf, size_t len) {
  if (len == 0) return 0;
  buf[0] = '\0';
  size_t pos = 0;
  const SlabGlobalStats& g = s.global;
  Append(buf, len, &pos,
         "tslab: pid %d allocator %u%s%s%s (%s): %llu allocs, %llu frees, "
         "%llu live objects (%.1f KiB)\n",
         static_cast<int>(s.pid), id, name && *name ? " \"" : "", name ? name : "",
         name && *name ? "\"" : "", why, U(g.total_allocs), U(g.total_frees),
         U(g.live_objects), KiB(g.live_bytes));
  Append(buf, len, &pos,
         "  slabs: %llu new, %llu recycled, %llu reused, %llu now (%.1f KiB); slow path %llu; "
         "madvise %llu (%.1f KiB)\n",
         U(g.total_slabs_allocated), U(g.total_slabs_recycled), U(g.total_slabs_reused),
         U(g.net_slabs), KiB(g.estimated_slab_rss_bytes), U(g.total_slow_path_hits),
         U(g.total_madvise_calls), KiB(g.total_madvise_bytes));
  Append(buf, len, &pos,
         "  epochs: %llu advances, %llu closes; refused frees: %llu invalid, %llu stale, "
         "%llu double, %llu foreign; failed allocs %llu\n",
         U(g.epoch_advances), U(g.epoch_closes), U(g.invalid_frees), U(g.stale_frees),
         U(g.double_frees), U(g.foreign_frees), U(g.alloc_failures));
  bool header = false;
  for (const SlabClassStats& c : s.classes) {
    if (c.new_slab_count == 0 && c.live_objects == 0) continue;  // never used
    if (!header) {
      Append(buf, len, &pos, "  %5s %10s %10s %8s %8s\n", "class", "live objs", "slow path",
             "slabs", "recycled");
      header = true;
    }
    Append(buf, len, &pos, "  %5u %10llu %10llu %8llu %8llu\n", c.object_size,
           U(c.live_objects),
           U(c.slow_path_hits),
           U(c.net_slabs),
           U(c.empty_slab_recycled));
  }
  return pos;
}

void ShowStatsIfAsked(Allocator* a, const char* why) {
  if (!EnvOptions().show_stats || a == nullptr) return;
  TslabSnapshot s;
  if (a->Snapshot(&s) != TSLAB_OK) return;
  char buf[2048];
  const size_t n = RenderShowStats(s, a->id(),
                                   static_cast<const TslabRegionHeader*>(a->region().base())->name,
                                   why, buf, sizeof(buf));
  size_t done = 0;
  while (done < n) {
    const ssize_t w = write(STDERR_FILENO, buf + done, n - done);
    if (w <= 0) break;
    done += static_cast<size_t>(w);
  }
}

void InstallShowStatsAtExit() {
  if (!EnvOptions().show_stats) return;
  // A function-local static, not std::call_once (whose helper would be
  // exported from libtslab.so).
  static const int installed = std::atexit([] {
    ForEachLiveAllocator([](Allocator* a, void*) { ShowStatsIfAsked(a, "exit"); }, nullptr);
  });
  (void)installed;
}

}  // namespace tslab::internal
