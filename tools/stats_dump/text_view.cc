#include "tools/stats_dump/text_view.h"

#include <ctime>

#include <cstdarg>
#include <cstdio>

#include "tools/common/terminal_text.h"
#include "tools/stats_dump/label_text.h"
#include "tools/stats_dump/snapshot_json.h"

namespace tslab::stats_dump {
namespace {

std::string Fmt(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string Fmt(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return buf;
}

double D(uint64_t v) { return static_cast<double>(v); }
double Delta(uint64_t now, uint64_t before) {
  return now >= before ? D(now - before) : 0.0;
}

bool Active(const SlabClassStats& c) {
  return c.new_slab_count != 0 || c.slabs_reused != 0 || c.live_objects != 0 ||
         c.slow_path_epoch_closed != 0;
}

}  // namespace

std::string HumanBytes(double b) {
  static const char* kUnit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  return u == 0 ? Fmt("%.0f B", b) : Fmt("%.1f %s", b, kUnit[u]);
}

std::string HumanCount(double n) {
  if (n < 10000) {
    const bool whole = n == static_cast<double>(static_cast<uint64_t>(n));
    return whole || n >= 100 ? Fmt("%.0f", n) : Fmt("%.1f", n);
  }
  if (n < 1e6) return Fmt("%.1fk", n / 1e3);
  if (n < 1e9) return Fmt("%.1fM", n / 1e6);
  return Fmt("%.1fG", n / 1e9);
}

std::string TextView(const Sample& cur, const Sample* prev,
                     const RegionIdentity& id, const std::string& command) {
  const SlabGlobalStats& g = cur.snap.global;
  std::string out;
  out += Fmt("tslab pid %d (%s) allocator %llu \"%s\"  epoch %u: %u active, "
             "%u closing, %u drained\n",
             cur.snap.pid, tools::TerminalSafe(command).c_str(),
             static_cast<unsigned long long>(id.allocator_id),
             tools::TerminalSafe(id.name).c_str(),
             g.current_epoch, g.active_epoch_count, g.closing_epoch_count,
             g.drained_epoch_count);
  if (id.exited) {
    // Kept at exit (keep_stats=1): say so first, and when.
    std::string when;
    if (id.exit_realtime_ns != 0) {
      const time_t secs = static_cast<time_t>(id.exit_realtime_ns / 1000000000ull);
      struct tm tm;
      char buf[40] = "";
      if (localtime_r(&secs, &tm) != nullptr) {
        std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z", &tm);
      }
      when = std::string(" at ") + buf;
      if (id.exit_realtime_ns > id.create_realtime_ns) {
        when += Fmt(" (allocator lived %.1f s)",
                    D(id.exit_realtime_ns - id.create_realtime_ns) / 1e9);
      }
    }
    out += "  process exited" + when +
           ": final numbers, kept by TSLAB_OPTIONS=keep_stats=1 (stats_dump --gc removes "
           "them)\n";
  }
  out += Fmt("  slabs   net %s (%s)  new %s  recycled %s  reused %s  "
             "overflowed %s   process rss %s\n",
             HumanCount(D(g.net_slabs)).c_str(),
             HumanBytes(D(g.estimated_slab_rss_bytes)).c_str(),
             HumanCount(D(g.total_slabs_allocated)).c_str(),
             HumanCount(D(g.total_slabs_recycled)).c_str(),
             HumanCount(D(g.total_slabs_reused)).c_str(),
             HumanCount(D(g.total_cache_overflows)).c_str(),
             HumanBytes(D(cur.rss_bytes)).c_str());
  // The purge delay's resident empty slabs sit with madvise: they are the
  // pages not given back yet.
  out += Fmt("  slow    %s paths (cache miss %s, epoch closed %s)  madvise %s "
             "calls %s, %s failed; %s empty slabs resident (purge delay "
             "%llu ms)\n",
             HumanCount(D(g.total_slow_path_hits)).c_str(),
             HumanCount(D(g.total_slow_cache_miss)).c_str(),
             HumanCount(D(g.total_slow_epoch_closed)).c_str(),
             HumanCount(D(g.total_madvise_calls)).c_str(),
             HumanBytes(D(g.total_madvise_bytes)).c_str(),
             HumanCount(D(g.total_madvise_failures)).c_str(),
             HumanCount(D(g.total_resident_empty_slabs)).c_str(),
             static_cast<unsigned long long>(g.purge_delay_ms));
  out += Fmt("  live    %s objects %s  allocs %s  frees %s  refused frees: "
             "%llu invalid, %llu stale, %llu double, %llu foreign\n",
             HumanCount(D(g.live_objects)).c_str(),
             HumanBytes(D(g.live_bytes)).c_str(),
             HumanCount(D(g.total_allocs)).c_str(),
             HumanCount(D(g.total_frees)).c_str(),
             static_cast<unsigned long long>(g.invalid_frees),
             static_cast<unsigned long long>(g.stale_frees),
             static_cast<unsigned long long>(g.double_frees),
             static_cast<unsigned long long>(g.foreign_frees));
  double secs = 0;
  if (prev != nullptr && cur.mono_ns > prev->mono_ns) {
    secs = D(cur.mono_ns - prev->mono_ns) / 1e9;
    const SlabGlobalStats& p = prev->snap.global;
    const double allocs = Delta(g.total_allocs, p.total_allocs);
    const double slow = Delta(g.total_slow_path_hits, p.total_slow_path_hits);
    out += Fmt("  rates   over %.2f s: allocs %s/s  frees %s/s  slow paths %s/s "
               "(%.1f%% of allocs)  recycled %s/s  madvise %s/s  epoch "
               "closes %s/s\n",
               secs, HumanCount(allocs / secs).c_str(),
               HumanCount(Delta(g.total_frees, p.total_frees) / secs).c_str(),
               HumanCount(slow / secs).c_str(),
               allocs > 0 ? 100.0 * slow / allocs : 0.0,
               HumanCount(Delta(g.total_slabs_recycled, p.total_slabs_recycled) / secs).c_str(),
               HumanBytes(Delta(g.total_madvise_bytes, p.total_madvise_bytes) / secs).c_str(),
               HumanCount(Delta(g.epoch_closes, p.epoch_closes) / secs).c_str());
  }
  out += Fmt("  %5s %5s %8s %7s %5s %5s %5s %8s %8s %6s %7s %9s", "class",
             "size", "live", "net", "part", "full", "cache", "allocs", "slow",
             "new", "recyc", "madvised");
  out += secs > 0 ? Fmt(" %9s %8s\n", "allocs/s", "slow/s") : "\n";
  for (int i = 0; i < TSLAB_NUM_CLASSES; ++i) {
    const SlabClassStats& c = cur.snap.classes[i];
    if (!Active(c)) continue;
    out += Fmt("  %5u %5u %8s %7s %5u %5u %5u %8s %8s %6s %7s %9s", c.class_index,
               c.object_size, HumanCount(D(c.live_objects)).c_str(),
               HumanCount(D(c.net_slabs)).c_str(), c.total_partial_slabs,
               c.total_full_slabs, c.cache_size,
               HumanCount(D(c.bitmap_alloc_attempts)).c_str(),
               HumanCount(D(c.slow_path_hits)).c_str(),
               HumanCount(D(c.new_slab_count)).c_str(),
               HumanCount(D(c.empty_slab_recycled)).c_str(),
               HumanBytes(D(c.madvise_bytes)).c_str());
    if (secs > 0) {
      const SlabClassStats& pc = prev->snap.classes[i];
      out += Fmt(" %9s %8s\n",
                 HumanCount(Delta(c.bitmap_alloc_attempts, pc.bitmap_alloc_attempts) / secs).c_str(),
                 HumanCount(Delta(c.slow_path_hits, pc.slow_path_hits) / secs).c_str());
    } else {
      out += "\n";
    }
  }
  // Epochs that are open, closing or held by a domain scope: idle and
  // drained ones hold nothing to look at.
  bool header = false;
  for (const TslabEpochStats& e : cur.snap.epochs) {
    const bool open = e.state == TSLAB_EPOCH_ACTIVE || e.state == TSLAB_EPOCH_CLOSING;
    if (!open && e.refcount == 0) continue;
    if (!header) {
      out += Fmt("  %5s %-8s %8s %8s %9s %4s  %s\n", "epoch", "state", "age",
                 "live", "bytes", "refs", "label");
      header = true;
    }
    out += Fmt("  %5u %-8s %8s %8s %9s %4llu  %s\n", e.epoch_id,
               EpochStateName(e.state), Fmt("%.1f s", D(e.age_ns) / 1e9).c_str(),
               HumanCount(D(e.live_objects)).c_str(),
               HumanBytes(D(e.live_bytes)).c_str(),
               static_cast<unsigned long long>(e.refcount),
               CleanLabel(e.label, sizeof(e.label)).c_str());
  }
  return out;
}

}  // namespace tslab::stats_dump
