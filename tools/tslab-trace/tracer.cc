// libbpf: open, configure, load, attach; read totals; detach in reverse.
#include "tools/tslab-trace/tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>

#include "tools/tslab-trace/probes.h"

// The generated skeleton is C; its struct needs struct tt_totals first.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wpedantic"
#include "tslab_trace.skel.h"
#pragma GCC diagnostic pop

namespace tslab::trace {
namespace {

int PrintAll(enum libbpf_print_level, const char* fmt, va_list ap) {
  return std::vfprintf(stderr, fmt, ap);
}

// Each probe's program is tt_<probe> (bpf/tslab_trace.bpf.c): a probe of
// the list without its program is a compile error here.
bpf_program* ProgramOf(tslab_trace_bpf* s, int probe) {
  switch (probe) {
#define TT_PROGRAM_OF_(name, NAME, args) \
  case TT_##NAME: return s->progs.tt_##name;
    TSLAB_USDT_PROBE_LIST(TT_PROGRAM_OF_)
#undef TT_PROGRAM_OF_
    default: return nullptr;
  }
}

std::string Hint(bool verbose) {
  return verbose ? "" : " (rerun with -v for libbpf's log)";
}

}  // namespace

void SetLibbpfVerbose(bool verbose) {
  libbpf_set_print(verbose ? PrintAll : nullptr);
}

void Tracer::SkelDeleter::operator()(tslab_trace_bpf* s) const {
  tslab_trace_bpf__destroy(s);
}
void Tracer::LinkDeleter::operator()(bpf_link* l) const {
  bpf_link__destroy(l);
}

Tracer::~Tracer() {
  // Newest link first, then the object its programs live in.
  while (!links_.empty()) links_.pop_back();
  skel_.reset();
}

Status Tracer::Start(const TraceConfig& cfg, std::unique_ptr<Tracer>* out) {
  SetLibbpfVerbose(cfg.verbose);
  std::unique_ptr<Tracer> t(new Tracer());
  // 1. Open: parse the embedded object.
  t->skel_.reset(tslab_trace_bpf__open());
  if (!t->skel_) {
    return Status::Error(kExitFailure, std::string("opening the BPF object: ") +
                                           std::strerror(errno));
  }
  tslab_trace_bpf* s = t->skel_.get();
  // 2. Read-only settings, fixed at load (the verifier sees constants).
  s->rodata->time_div = cfg.time_div;
  s->rodata->per_class = cfg.per_class;
  s->rodata->doctor = cfg.doctor;
  if (!cfg.doctor) {
    // tslab-trace keeps no stacks: one-entry maps cost next to nothing.
    bpf_map__set_max_entries(s->maps.tt_stacks, 1);
    bpf_map__set_max_entries(s->maps.tt_stack_counts, 1);
    bpf_map__set_max_entries(s->maps.tt_nested, 1);
  }
  // Programs of probes not asked for are not even loaded.
  for (int p = 0; p < TT_NPROBES; ++p) {
    bool wanted = false;
    for (int q : cfg.probes) wanted |= q == p;
    int err = bpf_program__set_autoload(ProgramOf(s, p), wanted);
    if (err != 0) {
      return Status::Error(kExitFailure,
                           std::string("bpf_program__set_autoload: ") +
                               std::strerror(-err));
    }
  }
  // 3. Load: CO-RE relocation against the kernel's BTF, then the verifier.
  if (int err = tslab_trace_bpf__load(s); err != 0) {
    if (err == -EPERM || err == -EACCES) {
      return Status::Error(kExitNoPrivilege,
                           std::string("the kernel refused to load BPF "
                                       "programs: ") +
                               std::strerror(-err) + Hint(cfg.verbose));
    }
    return Status::Error(kExitFailure,
                         std::string("loading the BPF programs failed: ") +
                             std::strerror(-err) + Hint(cfg.verbose));
  }
  // 4. Attach every selected probe in every target file.
  for (const TraceTarget& target : cfg.targets) {
    for (int p : cfg.probes) {
      const char* name = kProbes[p].name;
      if (!target.HasProbe(name)) continue;  // an older libtslab
      bpf_link* link = bpf_program__attach_usdt(
          ProgramOf(s, p), cfg.pid, target.path.c_str(), kProvider, name,
          nullptr);
      if (link == nullptr) {
        const int e = errno;
        std::string where = std::string(kProvider) + ":" + name + " in " +
                            target.shown;
        if (e == ENOENT) {
          // libbpf 1.1 says only ENOENT, for a missing probe or file.
          return Status::Error(
              cfg.pid > 0 ? kExitNoTarget : kExitNoProbes,
              "cannot attach to " + where +
                  ": the probe or the file is gone (did the process exit?)");
        }
        if (e == ESRCH) {
          return Status::Error(kExitNoTarget,
                               "cannot attach to " + where +
                                   ": the process exited");
        }
        if (e == EPERM || e == EACCES) {
          return Status::Error(kExitNoPrivilege,
                               "cannot attach to " + where + ": " +
                                   std::strerror(e));
        }
        return Status::Error(kExitFailure, "cannot attach to " + where + ": " +
                                               std::strerror(e) +
                                               Hint(cfg.verbose));
      }
      t->links_.emplace_back(link);
    }
  }
  if (t->links_.empty()) {
    return Status::Error(kExitNoProbes,
                         "none of the requested probes is in the target");
  }
  *out = std::move(t);
  return Status::Ok();
}

void Tracer::Read(tt_totals* out) const {
  // The .bss is memory-mapped: plain 64-bit loads, each one atomic.
  const uint64_t* src =
      reinterpret_cast<const uint64_t*>(&skel_->bss->totals);
  uint64_t* dst = reinterpret_cast<uint64_t*>(out);
  for (size_t i = 0; i < sizeof(tt_totals) / sizeof(uint64_t); ++i) {
    dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
  }
}

void Tracer::ReadExtra(tt_extra* out) const {
  const uint64_t* src = reinterpret_cast<const uint64_t*>(&skel_->bss->extra);
  uint64_t* dst = reinterpret_cast<uint64_t*>(out);
  for (size_t i = 0; i < sizeof(tt_extra) / sizeof(uint64_t); ++i) {
    dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
  }
}

std::vector<StackCount> Tracer::ReadStacks() const {
  std::vector<StackCount> out;
  const int counts_fd = bpf_map__fd(skel_->maps.tt_stack_counts);
  const int stacks_fd = bpf_map__fd(skel_->maps.tt_stacks);
  tt_stack_key key{}, next{};
  const tt_stack_key* prev = nullptr;
  // Bounded: the map holds at most TT_STACK_KEYS entries.
  for (int i = 0; i < TT_STACK_KEYS &&
                  bpf_map_get_next_key(counts_fd, prev, &next) == 0;
       ++i) {
    key = next;
    prev = &key;
    uint64_t n = 0;
    if (bpf_map_lookup_elem(counts_fd, &key, &n) != 0) continue;
    uint64_t ips[TT_STACK_DEPTH] = {};
    if (bpf_map_lookup_elem(stacks_fd, &key.stack_id, ips) != 0) continue;
    StackCount sc;
    sc.probe = static_cast<int>(key.probe);
    sc.sub = key.sub;
    sc.count = n;
    for (uint64_t ip : ips) {
      if (ip == 0) break;
      sc.frames.push_back(ip);
    }
    out.push_back(std::move(sc));
  }
  return out;
}

}  // namespace tslab::trace
