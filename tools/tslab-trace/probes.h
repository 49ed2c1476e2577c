// tools/tslab-trace/probes.h: the tslab probes as tslab-trace knows them.
//
// Purpose: one table (name, arguments, what the BPF side records) used by
// the command line (--probe), the tracer (which program to attach), the
// report, and the tests' expectations (tests/trace_test_util.h).
//
// Invariants: the table is computed at compile time from
// TSLAB_USDT_PROBE_LIST (src/usdt/tslab_probes.h), in its order, which is
// that of enum tt_probe (bpf/tslab_trace.h): nothing here names a probe.
// A probe has a histogram if it has a dur_ns argument (index: its rank
// among those, checked against enum tt_timed below), and is split by
// --per-class if its first argument is cls.
#ifndef TSLAB_TOOLS_TSLAB_TRACE_PROBES_H_
#define TSLAB_TOOLS_TSLAB_TRACE_PROBES_H_

#include <array>
#include <cstdint>
#include <iterator>
#include <string_view>

#include "bpf/tslab_trace.h"

namespace tslab::trace {

// TSLAB_PROBE1..5: the most arguments a tslab probe has (epoch_close: 5;
// the BPF programs read the ones they use, epoch_close not its label).
inline constexpr int kMaxProbeArgs = 5;

// One argument, from its "type name" in the list.
struct ProbeArg {
  std::string_view type;  // u32, s32 or u64
  std::string_view name;
  int size = 0;  // bytes; 0: a type this table does not know
  bool is_signed = false;
};

struct ProbeInfo {
  const char* name = nullptr;
  const char* args_text = nullptr;  // the list's text
  int nargs = 0;
  std::array<ProbeArg, kMaxProbeArgs> args{};
  int hist = -1;          // index into tt_totals.hist, -1 if no duration
  bool by_class = false;  // first argument is a size class (--per-class)
};

namespace internal {

constexpr ProbeArg ParseProbeArg(std::string_view text) {
  const size_t space = text.find(' ');
  ProbeArg a;
  a.type = text.substr(0, space);
  a.name = space == std::string_view::npos ? "" : text.substr(space + 1);
  if (a.type == "u32") a.size = 4;
  if (a.type == "s32") a.size = 4, a.is_signed = true;
  if (a.type == "u64") a.size = 8;
  return a;
}

constexpr ProbeInfo ParseProbe(const char* name, const char* args) {
  ProbeInfo p;
  p.name = name;
  p.args_text = args;
  std::string_view rest(args);
  while (!rest.empty()) {
    const size_t comma = rest.find(", ");
    if (p.nargs < kMaxProbeArgs) {
      p.args[p.nargs] = ParseProbeArg(rest.substr(0, comma));
    }
    ++p.nargs;
    rest = comma == std::string_view::npos ? std::string_view()
                                           : rest.substr(comma + 2);
  }
  p.by_class = p.nargs > 0 && p.args[0].name == "cls";
  return p;
}

constexpr bool HasDuration(const ProbeInfo& p) {
  for (int i = 0; i < p.nargs && i < kMaxProbeArgs; ++i) {
    if (p.args[i].name == "dur_ns") return true;
  }
  return false;
}

constexpr std::array<ProbeInfo, TT_NPROBES> MakeProbes() {
  std::array<ProbeInfo, TT_NPROBES> out{};
  int i = 0;
#define TT_PROBE_INFO_(name, NAME, args) out[i++] = ParseProbe(#name, args);
  TSLAB_USDT_PROBE_LIST(TT_PROBE_INFO_)
#undef TT_PROBE_INFO_
  int timed = 0;
  for (ProbeInfo& p : out) {
    if (HasDuration(p)) p.hist = timed++;
  }
  return out;
}

constexpr bool WellFormed(const std::array<ProbeInfo, TT_NPROBES>& probes) {
  for (const ProbeInfo& p : probes) {
    if (p.nargs < 1 || p.nargs > kMaxProbeArgs) return false;
    for (int i = 0; i < p.nargs; ++i) {
      if (p.args[i].size == 0 || p.args[i].name.empty()) return false;
    }
  }
  return true;
}

}  // namespace internal

inline constexpr std::array<ProbeInfo, TT_NPROBES> kProbes =
    internal::MakeProbes();

static_assert(internal::WellFormed(kProbes),
              "TSLAB_USDT_PROBE_LIST: each probe takes 1 to 5 arguments, "
              "each \"u32|s32|u64 name\", separated by \", \"");
// The BPF programs record durations in the histogram enum tt_timed names.
static_assert(kProbes[TT_SLOW_PATH].hist == TT_H_SLOW_PATH &&
                  kProbes[TT_EPOCH_CLOSE].hist == TT_H_EPOCH_CLOSE &&
                  kProbes[TT_MADVISE].hist == TT_H_MADVISE,
              "enum tt_timed and the probes with a dur_ns argument differ");
static_assert(
    [] {
      int timed = 0;
      for (const ProbeInfo& p : kProbes) timed += p.hist >= 0;
      return timed;
    }() == TT_NTIMED,
    "enum tt_timed and the probes with a dur_ns argument differ");

// The object sizes of tslab's size classes (include/tslab/tslab.h); the
// tracer does not link libtslab, tslab_trace_test checks the two agree.
inline constexpr uint32_t kClassSizes[TT_NSUB] = {64,  96,  128, 192,
                                                  256, 384, 512, 768};

// invalid_free's kinds, by TSLAB_FREE_KIND_* value.
inline constexpr const char* kFreeKinds[] = {"invalid", "stale", "double",
                                             "foreign"};
static_assert(std::size(kFreeKinds) == TSLAB_FREE_KIND_COUNT);

// Index of a probe by name, -1 if unknown.
inline int ProbeIndex(std::string_view name) {
  for (int i = 0; i < TT_NPROBES; ++i) {
    if (name == kProbes[i].name) return i;
  }
  return -1;
}

}  // namespace tslab::trace

#endif  // TSLAB_TOOLS_TSLAB_TRACE_PROBES_H_
