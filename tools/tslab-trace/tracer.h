// tools/tslab-trace/tracer.h: the libbpf side of tslab-trace.
//
// Purpose: open the skeleton, set its read-only settings, load it, attach
// one USDT program per selected probe to every target file, and read the
// cumulative totals the programs keep. Every step is checked and mapped to
// an exit code (status.h).
//
// Invariants: a Tracer that Start() returned is fully attached. Its
// destructor detaches every link, newest first, then frees the BPF object;
// the kernel then drops the uprobes and lowers the probes' semaphores.
// If the process is killed instead, closing its file descriptors does the
// same (the uprobes are perf events owned by those descriptors).
// Thread-safety: single-threaded use.
#ifndef TSLAB_TOOLS_TSLAB_TRACE_TRACER_H_
#define TSLAB_TOOLS_TSLAB_TRACE_TRACER_H_

#include <sys/types.h>

#include <memory>
#include <vector>

#include "bpf/tslab_trace.h"
#include "tools/tslab-trace/status.h"
#include "tools/tslab-trace/target.h"

struct bpf_link;
struct tslab_trace_bpf;

namespace tslab::trace {

struct TraceConfig {
  pid_t pid = -1;  // -1: every process that maps a target (--binary)
  std::vector<TraceTarget> targets;
  std::vector<int> probes;  // indices into kProbes
  uint64_t time_div = 1;    // ns per histogram unit
  bool per_class = false;
  bool verbose = false;     // libbpf's log on stderr
  // stats_dump --doctor --trace: maxima, epoch_close without its nested
  // madvise, user stacks (tt_extra, ReadStacks). Off: the stack maps are
  // shrunk to one entry and the programs skip that work.
  bool doctor = false;
};

// One user stack of a probe (doctor mode): addresses innermost first.
struct StackCount {
  int probe = 0;     // TT_<PROBE>
  uint32_t sub = 0;  // class, or invalid_free's kind
  uint64_t count = 0;
  std::vector<uint64_t> frames;
};

class Tracer {
 public:
  static Status Start(const TraceConfig& cfg, std::unique_ptr<Tracer>* out);
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // A copy of the cumulative totals since attach.
  void Read(tt_totals* out) const;
  // Doctor mode: the maxima and epoch_close's own time since attach.
  void ReadExtra(tt_extra* out) const;
  // Doctor mode: every stack counted since attach (unordered).
  std::vector<StackCount> ReadStacks() const;
  // One link per probe and target file (a link covers all of the probe's
  // sites in that file).
  size_t link_count() const { return links_.size(); }

 private:
  struct SkelDeleter {
    void operator()(tslab_trace_bpf* s) const;
  };
  struct LinkDeleter {
    void operator()(bpf_link* l) const;
  };
  Tracer() = default;

  std::unique_ptr<tslab_trace_bpf, SkelDeleter> skel_;
  std::vector<std::unique_ptr<bpf_link, LinkDeleter>> links_;
};

// Routes libbpf's log to stderr (verbose) or nowhere.
void SetLibbpfVerbose(bool verbose);

}  // namespace tslab::trace

#endif  // TSLAB_TOOLS_TSLAB_TRACE_TRACER_H_
