// What tracing with tslab-trace costs: tslab-demo's throughput traced vs
// not, and the cost per probe hit vs a bare uprobe (see usdt_cost.h).
#include "bench/usdt_cost.h"

#include <bpf/libbpf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "bench/runner.h"
#include "tools/stats_dump/doctor_trace.h"
#include "tools/tslab-trace/elf_probes.h"
#include "tools/tslab-trace/probes.h"

// The generated skeleton is C; silence what C++ warns about in it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wpedantic"
#include "bench_empty_uprobe.skel.h"
#pragma GCC diagnostic pop

namespace tslab::bench {

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// "key=value" out of tslab-demo's "done ..." line.
bool DemoField(const std::string& line, const std::string& key, double* v) {
  const std::string k = " " + key + "=";
  size_t p = line.find(k);
  if (p == std::string::npos) return false;
  *v = std::strtod(line.c_str() + p + k.size(), nullptr);
  return true;
}

// utime + stime of a live process, seconds (/proc/PID/stat, clock ticks).
bool ProcessCpuSeconds(pid_t pid, double* out) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  if (!std::getline(f, s)) return false;
  size_t rp = s.rfind(')');
  if (rp == std::string::npos) return false;
  std::istringstream in(s.substr(rp + 2));
  std::string field;
  double utime = 0, stime = 0;
  // After "pid (comm) ": state is field 3; utime and stime are 14 and 15.
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::atof(field.c_str());
    if (i == 15) stime = std::atof(field.c_str());
  }
  if (!in) return false;
  *out = (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return true;
}

// Signals our own child and waits for it (exit 0 expected).
bool Stop(WorkerProcess* w, const char* what, double timeout_s, std::string* err) {
  if (w->pid() <= 0) return true;
  kill(w->pid(), SIGTERM);
  std::string line;
  while (w->ReadLine(timeout_s, &line, err)) {
  }
  if (!w->Finish(timeout_s, err)) {
    *err = std::string(what) + ": " + *err;
    return false;
  }
  return true;
}

// Stops a child of ours with SIGTERM (not the SIGKILL of ~WorkerProcess,
// which would leave tslab-demo's region file behind) when a step fails.
class StopGuard {
 public:
  StopGuard(WorkerProcess* w, const char* what) : w_(w), what_(what) {}
  StopGuard(const StopGuard&) = delete;
  StopGuard& operator=(const StopGuard&) = delete;
  ~StopGuard() {
    std::string ignored;
    Stop(w_, what_, 10, &ignored);
  }

 private:
  WorkerProcess* w_;
  const char* what_;
};

// tslab-trace with stderr merged into stdout (through sh, which execs it:
// same pid), so its "Tracing ..." line tells when every probe is attached.
class TraceProcess {
 public:
  TraceProcess() = default;
  TraceProcess(const TraceProcess&) = delete;
  TraceProcess& operator=(const TraceProcess&) = delete;
  ~TraceProcess() {
    std::string ignored;
    Stop(&w_, "tslab-trace", 10, &ignored);  // detaches cleanly on SIGTERM
  }
  bool Start(const std::string& trace, pid_t pid, const std::vector<std::string>& extra,
             double timeout_s, std::string* err) {
    WorkerCommand cmd{"/bin/sh",
                      {"-c", "exec \"$0\" \"$@\" 2>&1", trace, "-p", std::to_string(pid), "--json"},
                      {}};
    cmd.args.insert(cmd.args.end(), extra.begin(), extra.end());
    cmd.args.push_back("3600");  // interval: one document, at SIGTERM
    if (!w_.Start(cmd, false, err)) return false;
    std::string line, seen;
    while (w_.ReadLine(timeout_s, &line, err)) {
      if (line.rfind("Tracing ", 0) == 0) return true;
      seen += line + " ";
    }
    *err = "tslab-trace did not attach (" + *err + "): " + seen.substr(0, 300);
    return false;
  }
  // SIGTERM; its last document's probes.<name>.total, summed over names.
  bool StopAndCount(const std::vector<std::string>& names, double timeout_s, uint64_t* total,
                    std::string* err) {
    kill(w_.pid(), SIGTERM);
    std::string line, last;
    while (w_.ReadLine(timeout_s, &line, err))
      if (!line.empty() && line[0] == '{') last = line;
    if (!w_.Finish(timeout_s, err)) {
      *err = "tslab-trace: " + *err;
      return false;
    }
    auto doc = nlohmann::json::parse(last, nullptr, false);
    if (doc.is_discarded() || !doc.contains("probes")) {
      *err = "tslab-trace: no JSON document at exit";
      return false;
    }
    *total = 0;
    for (const auto& [name, p] : doc["probes"].items())
      if (names.empty() || std::find(names.begin(), names.end(), name) != names.end())
        *total += p.value("total", uint64_t{0});
    return true;
  }

 private:
  WorkerProcess w_;
};

}  // namespace

std::string UsdtCostUnavailable() {
  if (geteuid() != 0)
    return "not measured: tracing needs root (BPF programs and uprobes); rerun tslab-bench as "
           "root";
  return "";
}

struct UsdtCostBench::State {
  WorkerProcess loop;
  pid_t loop_pid = -1;
  bench_empty_uprobe_bpf* skel = nullptr;

  // The empty program, loaded once (first use).
  bool Load(std::string* err) {
    if (skel != nullptr) return true;
    skel = bench_empty_uprobe_bpf__open_and_load();
    if (skel == nullptr) {
      *err = std::string("loading bpf/bench_empty_uprobe.bpf.c: ") + std::strerror(errno);
      return false;
    }
    return true;
  }
};

namespace {

// Whether the kernel put its breakpoint (int3) at file offset `off` of
// path as mapped in pid: an attached uprobe that never fires would
// otherwise price as free.
bool BreakpointAt(const std::string& path, pid_t pid, uint64_t off) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return false;
  auto addr = trace::FileOffsetToAddress(pid, st.st_dev, st.st_ino, off);
  if (!addr) return false;
  const int fd = open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  unsigned char byte = 0;
  const bool ok = pread(fd, &byte, 1, static_cast<off_t>(*addr)) == 1;
  close(fd);
  return ok && byte == 0xCC;
}

// The empty program as a plain uprobe at every site of the tslab probes of
// `path` (only `probe`'s if not null) in process pid; detached on
// destruction. The same sites tslab-trace attaches to, with the same
// semaphores raised (ref_ctr_offset): every tslab probe sits behind its
// semaphore, so a uprobe that did not raise it would never be hit.
class BareUprobes {
 public:
  BareUprobes() = default;
  BareUprobes(const BareUprobes&) = delete;
  BareUprobes& operator=(const BareUprobes&) = delete;
  ~BareUprobes() {
    for (bpf_link* l : links_) bpf_link__destroy(l);
  }
  bool Attach(bench_empty_uprobe_bpf* skel, const std::string& path, pid_t pid, const char* probe,
              std::string* err) {
    std::vector<trace::UsdtNote> notes;
    if (!trace::ReadUsdtNotes(path, &notes, err)) return false;
    for (const auto& n : notes) {
      if (n.provider != "tslab" || (probe != nullptr && n.name != probe)) continue;
      auto off = trace::VaddrToFileOffset(path, n.pc);
      if (!off) {
        *err = path + ": tslab:" + n.name + " at an address outside every segment";
        return false;
      }
      auto sem = n.semaphore != 0 ? trace::VaddrToFileOffset(path, n.semaphore) : std::nullopt;
      if (!sem) {
        *err = path + ": tslab:" + n.name + " has no semaphore in any segment";
        return false;
      }
      LIBBPF_OPTS(bpf_uprobe_opts, opts, .ref_ctr_offset = static_cast<size_t>(*sem));
      bpf_link* l = bpf_program__attach_uprobe_opts(skel->progs.bench_empty, pid, path.c_str(),
                                                    static_cast<size_t>(*off), &opts);
      if (l == nullptr) {
        *err = "attaching the empty uprobe at tslab:" + n.name + " in " + path + ": " +
               std::strerror(errno);
        return false;
      }
      links_.push_back(l);
      if (!BreakpointAt(path, pid, *off)) {
        *err = "the empty uprobe at tslab:" + n.name + " in " + path +
               " is attached but no breakpoint is in process " + std::to_string(pid);
        return false;
      }
    }
    if (links_.empty()) {
      *err = path + " has no tslab" + (probe ? std::string(":") + probe : "") +
             " probe (built with TSLAB_USDT=0?)";
      return false;
    }
    return true;
  }

 private:
  std::vector<bpf_link*> links_;
};

// Conditions of the demo runs (kTracingConditions), rotated by round.
constexpr int kConditions = kDemoConditions;
constexpr const auto& kRows = kTracingConditions;
// bench_usdt_loop's two loops (usdt_loop.cc).
constexpr UsdtCostBench::HitLoop kHitLoops[] = {
    {"epoch_advance", SIGUSR1, "probe-hit"},
    {"invalid_free", SIGUSR2, "probe-hit-stack"},
};
// Conditions of the probe-hit loops: the demo's, then the doctor's tracer.
constexpr const auto& kHitRows = kTracingConditions;

}  // namespace

UsdtCostBench::UsdtCostBench(UsdtCostConfig cfg) : cfg_(std::move(cfg)), st_(new State) {}

UsdtCostBench::~UsdtCostBench() {
  std::string err;
  Stop(&st_->loop, "bench_usdt_loop", 10, &err);
  if (st_->skel != nullptr) bench_empty_uprobe_bpf__destroy(st_->skel);
}

// One tslab-demo run under condition c. *late: the tracer attached after
// the work began (the run is void; a longer delay may fix it).
bool UsdtCostBench::DemoRun(int c, int round, double delay, DemoResult* out, bool* late,
                            std::string* err) {
  *late = false;
  WorkerCommand cmd{
      cfg_.demo,
      {"--duration", std::to_string(cfg_.demo_seconds), "--threads",
       std::to_string(cfg_.demo_threads), "--delay", std::to_string(delay), "--linger", "600",
       "--seed", std::to_string(round + 1), "--name", "tslab-bench-demo"},
      {}};
  WorkerProcess demo;
  if (!demo.Start(cmd, false, err)) return false;
  StopGuard demo_guard(&demo, "tslab-demo");
  std::string line;
  if (!demo.ReadLine(cfg_.timeout_s, &line, err) || line.rfind("ready pid=", 0) != 0) {
    *err = "tslab-demo: no ready line (" + *err + ")";
    return false;
  }
  const auto t_ready = Clock::now();
  BareUprobes bare;
  TraceProcess trace;
  if (c == 1 && !bare.Attach(st_->skel, cfg_.demo, demo.pid(), nullptr, err)) return false;
  if (c == 2 && !trace.Start(cfg_.trace, demo.pid(), {}, cfg_.timeout_s, err)) return false;
  if (const double took = Since(t_ready); c != 0 && took > delay - 0.05) {
    *late = true;
    *err = std::string(kRows[c]) + " took " + std::to_string(took).substr(0, 4) +
           " s to attach, past the demo's --delay " + std::to_string(delay).substr(0, 4) + " s";
    return false;  // the destructors stop both
  }
  if (!demo.ReadLine(cfg_.demo_seconds + cfg_.timeout_s, &line, err) ||
      line.rfind("done ", 0) != 0) {
    *err = "tslab-demo: no done line (" + *err + ")";
    return false;
  }
  double allocs = 0, frees = 0, seconds = 0, cpu_s = 0;
  if (!DemoField(line, "allocs", &allocs) || !DemoField(line, "frees", &frees) ||
      !DemoField(line, "seconds", &seconds) || seconds <= 0 ||
      !ProcessCpuSeconds(demo.pid(), &cpu_s) || cpu_s <= 0) {
    *err = "tslab-demo: unreadable done line or /proc stat: '" + line + "'";
    return false;
  }
  if (c == 2) {
    uint64_t hits = 0;
    if (!trace.StopAndCount({}, cfg_.timeout_s, &hits, err)) return false;
    out->hits_per_s = static_cast<double>(hits) / seconds;
  }
  if (!Stop(&demo, "tslab-demo", cfg_.timeout_s, err)) return false;
  out->ops_per_s = (allocs + frees) / seconds;
  out->ops_per_cpu_s = (allocs + frees) / cpu_s;
  return true;
}

bool UsdtCostBench::DemoRound(int round, ResultStore* store, std::string* err) {
  if (!st_->Load(err)) return false;
  DemoResult res[kConditions];
  for (int k = 0; k < kConditions; ++k) {
    const int c = (k + round) % kConditions;
    // The empty uprobes attach in milliseconds; tslab-trace loads and
    // verifies its programs first, most of a second on a busy machine.
    // Too late once: once more with twice the delay (kept for later runs).
    double& delay = c == 1 ? bare_delay_ : cfg_.demo_delay;
    bool late = false;
    for (int attempt = 0; !DemoRun(c, round, c == 0 ? 0.0 : delay, &res[c], &late, err);
         ++attempt) {
      if (!late || attempt == 1) return false;
      std::fprintf(stderr, "tslab-bench: %s; again with --delay %.1f\n", err->c_str(), delay * 2);
      delay *= 2;
    }
  }
  for (int c = 0; c < kConditions; ++c) {
    store->Add({kRows[c], "demo", "ops_per_s"}, round, res[c].ops_per_s);
    store->Add({kRows[c], "demo", "ops_per_cpu_s"}, round, res[c].ops_per_cpu_s);
    if (c == 0) continue;
    const std::string ratio = std::string(kRows[c]) + "/untraced";
    store->Add({ratio, "demo", "ops_per_s_ratio"}, round, res[c].ops_per_s / res[0].ops_per_s);
    store->Add({ratio, "demo", "ops_per_cpu_s_ratio"}, round,
               res[c].ops_per_cpu_s / res[0].ops_per_cpu_s);
  }
  store->Add({"tslab-trace", "demo", "probe_hits_per_s"}, round, res[2].hits_per_s);
  return true;
}

bool UsdtCostBench::ProbeHitRound(int round, ResultStore* store, std::string* err) {
  State& st = *st_;
  if (!st.Load(err)) return false;
  if (st.loop_pid <= 0) {  // first round: start the loop
    WorkerCommand cmd{
        cfg_.loop,
        {"--iters", std::to_string(cfg_.loop_iters), "--chunks", std::to_string(cfg_.loop_chunks)},
        {}};
    if (!st.loop.Start(cmd, false, err)) return false;
    std::string line;
    if (!st.loop.ReadLine(cfg_.timeout_s, &line, err)) {
      *err = "bench_usdt_loop: " + *err;
      return false;
    }
    st.loop_pid = st.loop.pid();
  }
  for (const HitLoop& loop : kHitLoops) {
    if (!ProbeHitLoop(loop, round, store, err)) {
      *err = std::string(loop.probe) + " loop: " + *err;
      return false;
    }
  }
  return true;
}

bool UsdtCostBench::ProbeHitLoop(const HitLoop& loop, int round, ResultStore* store,
                                 std::string* err) {
  State& st = *st_;
  auto measure = [&](nlohmann::json* m) {
    kill(st.loop_pid, loop.signal);
    std::string line;
    if (!st.loop.ReadLine(cfg_.timeout_s, &line, err)) {
      *err = "bench_usdt_loop: " + *err;
      return false;
    }
    auto doc = nlohmann::json::parse(line, nullptr, false);
    if (doc.is_discarded() || !doc.contains("metrics") ||
        doc["metrics"].value("probe", "") != loop.probe) {
      *err = "bench_usdt_loop: unreadable line '" + line.substr(0, 120) + "'";
      return false;
    }
    *m = doc["metrics"];
    return true;
  };
  // A tracer attached before the measurement began and until after it
  // ended must have seen every call (warm-up included) exactly once.
  auto check = [&](const char* who, uint64_t hits, const nlohmann::json& m) {
    const double calls = m.value("probe_events", 0.0);
    if (calls > 0 && static_cast<double>(hits) == calls) return true;
    *err = std::string(who) + " counted " + std::to_string(hits) + " " + loop.probe +
           " hits for " + std::to_string(static_cast<uint64_t>(calls)) + " calls";
    return false;
  };

  nlohmann::json res[kHitConditions];
  // BPF program runs per call, whatever probe they were (the bare uprobe
  // sits on the loop's probe only: 1).
  double hits_per_call[kHitConditions] = {0, 1, 1, 1};
  for (int k = 0; k < kHitConditions; ++k) {
    const int c = (k + round) % kHitConditions;
    if (c == 0) {
      if (!measure(&res[c])) return false;
    } else if (c == 1) {
      BareUprobes bare;
      if (!bare.Attach(st.skel, cfg_.loop, st.loop_pid, loop.probe, err) || !measure(&res[c]))
        return false;
    } else if (c == 2) {
      TraceProcess trace;
      if (!trace.Start(cfg_.trace, st.loop_pid, {"--probe", loop.probe}, cfg_.timeout_s, err))
        return false;
      uint64_t hits = 0;  // tslab-trace attached to this probe only
      if (!measure(&res[c]) || !trace.StopAndCount({loop.probe}, cfg_.timeout_s, &hits, err) ||
          !check("tslab-trace", hits, res[c]))
        return false;
      hits_per_call[c] = 1;
    } else {
      // The tracer of stats_dump --doctor --trace, attached as stats_dump
      // attaches it: every probe, per class, doctor mode (maxima, nested
      // madvise, user stacks).
      std::string why;
      std::unique_ptr<stats_dump::DoctorTrace> doctor =
          stats_dump::DoctorTrace::Start(st.loop_pid, &why);
      if (doctor == nullptr) {
        *err = "stats_dump --doctor --trace's tracer: " + why;
        return false;
      }
      if (!measure(&res[c])) return false;
      tt_totals t{};
      doctor->ReadTotals(&t);
      uint64_t hits = 0, all = 0;
      for (int p = 0; p < TT_NPROBES; ++p) {
        for (int sub = 0; sub < TT_NSUB; ++sub) {
          all += t.cells[p][sub].count;
          if (trace::kProbes[p].name == std::string(loop.probe)) hits += t.cells[p][sub].count;
        }
      }
      if (!check("the doctor's tracer", hits, res[c])) return false;
      hits_per_call[c] = static_cast<double>(all) / res[c].value("probe_events", 1.0);
    }
  }
  auto get = [&](int c, const char* metric) { return res[c].value(metric, 0.0); };
  for (int c = 0; c < kHitConditions; ++c) {
    store->Add({kHitRows[c], loop.workload, "ns_per_call"}, round, get(c, "wall_ns_per_iter"));
    store->Add({kHitRows[c], loop.workload, "ns_per_call_min"}, round,
               get(c, "wall_ns_per_iter_min"));
    store->Add({kHitRows[c], loop.workload, "cpu_ns_per_call"}, round, get(c, "cpu_ns_per_iter"));
  }
  double wall[kHitConditions] = {}, cpu[kHitConditions] = {};
  for (int c = 1; c < kHitConditions; ++c) {
    wall[c] = (get(c, "wall_ns_per_iter") - get(0, "wall_ns_per_iter")) / hits_per_call[c];
    cpu[c] = (get(c, "cpu_ns_per_iter") - get(0, "cpu_ns_per_iter")) / hits_per_call[c];
    store->Add({kHitRows[c], loop.workload, "ns_per_hit"}, round, wall[c]);
    store->Add({kHitRows[c], loop.workload, "cpu_ns_per_hit"}, round, cpu[c]);
    if (c >= 2) {
      store->Add({kHitRows[c], loop.workload, "hits_per_call"}, round, hits_per_call[c]);
      const std::string ratio = std::string(kHitRows[c]) + "/bare-uprobe";
      if (wall[1] > 0) store->Add({ratio, loop.workload, "cost_ratio"}, round, wall[c] / wall[1]);
      if (cpu[1] > 0) store->Add({ratio, loop.workload, "cpu_cost_ratio"}, round, cpu[c] / cpu[1]);
    }
  }
  return true;
}

}  // namespace tslab::bench
