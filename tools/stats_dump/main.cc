// stats_dump: snapshots a running tslab process from outside, through the
// stats regions its allocators publish (see region_reader.h), without
// relinking, pausing or ptrace-ing it.
//
//   stats_dump [-p PID] [--allocator NAME|ID]   JSON on stdout, text on stderr
//   stats_dump --json | --no-text               JSON only
//   stats_dump --interval S [--count N]         one JSON document per line
//   stats_dump --doctor [--window S] [--config FILE] [--json]
//              [--trace [--stacks N]]          + BPF latencies, call sites
//   stats_dump --list | --gc | --show-config
//   stats_dump --format openmetrics|prometheus [--output FILE] [--window S]
//                                               every live process, once
//
// Every JSON document is written whole, on one line (--pretty indents it),
// and only once it is complete: an error never leaves partial JSON on
// stdout. Errors print one line on stderr and exit with the codes of
// status.h (docs/stats_dump.md).
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tools/common/cli_checks.h"
#include "tools/common/json_text.h"
#include "tools/common/terminal_text.h"
#include "tools/common/version.h"
#include "tools/stats_dump/doctor.h"
#include "tools/stats_dump/doctor_config.h"
#include "tools/stats_dump/doctor_trace.h"
#include "tools/stats_dump/exposition.h"
#include "tools/stats_dump/fleet.h"
#include "tools/stats_dump/region_reader.h"
#include "tools/stats_dump/snapshot_json.h"
#include "tools/stats_dump/status.h"
#include "tools/stats_dump/text_view.h"

namespace tslab::stats_dump {
namespace {

struct Options {
  int pid = 0;
  std::string allocator;
  std::string dir_flag;
  bool json_only = false;
  bool text_only = false;  // --text: the text view alone, on stdout
  bool wide = false;       // --list --wide: whole command lines
  bool pretty = false;
  double interval = -1;  // < 0: not given
  long count = -1;       // < 0: not given
  bool doctor = false;
  double window = -1;
  std::string config;
  bool trace = false;  // --doctor --trace
  int stacks = 3;      // --stacks: call sites per probe and kind
  bool stacks_given = false;
  bool verbose = false;
  bool list = false;
  bool gc = false;
  bool show_config = false;
  std::string format = "json";  // json, openmetrics, prometheus
  std::string output;           // --output: the exposition's file
};

std::atomic<bool> g_stop{false};
std::atomic<int> g_stop_signal{0};
void OnStopSignal(int sig) {
  g_stop_signal.store(sig, std::memory_order_relaxed);
  g_stop.store(true, std::memory_order_relaxed);
}

// The end of a run a stop signal cut short, before it had its answer (the
// doctor's window): no verdict, so the shell's convention, 128 + signal,
// not "target exited" (16) or a success.
Status Interrupted(const char* during) {
  const int sig = g_stop_signal.load(std::memory_order_relaxed);
  return Status::Error(static_cast<Exit>(128 + sig),
                       std::string("interrupted by SIG") + sigabbrev_np(sig) +
                           " " + during + ": no verdict");
}

// Writes a whole chunk to stdout. The reader going away (EPIPE, as with
// `| head`) is not an error, for one-shot outputs and streams alike
// (*closed, if given, says so); neither is a write cut by a stop signal
// (Ctrl-C while a full pipe blocks us). Any other failure is kIo.
Status WriteOut(const std::string& s, bool* closed = nullptr) {
  if (std::fwrite(s.data(), 1, s.size(), stdout) == s.size() &&
      std::fflush(stdout) == 0) {
    return Status::Ok();
  }
  if (errno == EPIPE ||
      (errno == EINTR && g_stop.load(std::memory_order_relaxed))) {
    if (closed != nullptr) *closed = true;
    return Status::Ok();
  }
  return Status::Error(Exit::kIo, std::string("writing stdout: ") +
                                      std::strerror(errno));
}

void WriteErr(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stderr);
  std::fflush(stderr);
}

std::string Dump(const nlohmann::ordered_json& j, bool pretty) {
  return tools::JsonText(j, pretty ? 2 : -1) + "\n";
}

// Sleeps until the monotonic deadline; false if a stop signal came.
bool SleepUntil(uint64_t deadline_ns) {
  timespec ts;
  ts.tv_sec = static_cast<time_t>(deadline_ns / 1000000000ull);
  ts.tv_nsec = static_cast<long>(deadline_ns % 1000000000ull);
  while (!g_stop.load(std::memory_order_relaxed)) {
    int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
    if (rc == 0) return true;
    if (rc != EINTR) return true;
  }
  return false;
}

// The target is still the process we opened, and the allocators live.
Status CheckStillThere(const Target& t) {
  ProcInfo now;
  if (!ReadProcInfo(t.proc.pid, &now) || !IsAlive(now) ||
      now.start_ticks != t.proc.start_ticks) {
    return Status::Error(Exit::kTargetExited,
                         "process " + std::to_string(t.proc.pid) + " exited");
  }
  for (const auto& r : t.regions) {
    Status s = r->StillLive();
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status SnapshotAll(const Target& t, std::vector<Sample>* out) {
  out->resize(t.regions.size());
  for (size_t i = 0; i < t.regions.size(); ++i) {
    Status s = t.regions[i]->Snapshot(&(*out)[i]);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status OpenFromOptions(const Options& o, Target* t) {
  TargetQuery q;
  Status s = ResolveStatsDir(o.dir_flag, &q.dir);
  if (!s.ok()) return s;
  q.pid = o.pid;
  q.allocator = o.allocator;
  std::string listing;
  s = OpenTarget(q, t, &listing);
  if (!listing.empty()) WriteErr(listing);
  return s;
}

// "HH:MM:SS" (local time) of a realtime timestamp.
std::string ClockTime(uint64_t realtime_ns) {
  const time_t secs = static_cast<time_t>(realtime_ns / 1000000000ull);
  struct tm tm;
  char buf[32] = "";
  if (localtime_r(&secs, &tm) != nullptr) std::strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
  return buf;
}

// Default mode and --interval/--count: JSON on stdout, text on stderr
// (--text: the text alone, on stdout).
Status RunSnapshots(const Options& o) {
  Target t;
  Status s = OpenFromOptions(o, &t);
  if (!s.ok()) return s;
  // An exited process's pid may be another's now: its command line is not
  // ours to read.
  const std::string command = t.exited ? "exited" : ReadCmdline(t.proc, 60);
  const bool stream = o.interval >= 0 || o.count >= 0;
  const double interval = o.interval >= 0 ? o.interval : 1.0;
  const long count = o.count >= 0 ? o.count : (stream ? -1 : 1);  // -1: no end
  // A stream's timestamps: the realtime clock at the start plus monotonic
  // time since, so they strictly increase even if the wall clock steps.
  const uint64_t rt0 = RealtimeNs(), mono0 = MonotonicNs();
  uint64_t last_ts = 0;
  std::vector<Sample> prev;
  for (long n = 0; count < 0 || n < count; ++n) {
    if (n > 0 && t.exited) break;  // final numbers: one snapshot says it all
    if (n > 0) {
      const uint64_t deadline =
          mono0 + static_cast<uint64_t>(std::llround(interval * 1e9 * static_cast<double>(n)));
      if (!SleepUntil(deadline)) break;
      s = CheckStillThere(t);
      if (!s.ok()) return s;
    }
    std::vector<Sample> cur;
    s = SnapshotAll(t, &cur);
    if (!s.ok()) return s;
    std::string json, text;
    for (size_t i = 0; i < cur.size(); ++i) {
      if (stream) {
        cur[i].timestamp_ns = std::max(rt0 + (cur[i].mono_ns - mono0), last_ts + 1);
        last_ts = cur[i].timestamp_ns;
      }
      json += Dump(SnapshotJson(cur[i], t.regions[i]->identity()), o.pretty);
      if (!o.json_only) {
        // A stream's blocks carry their time, as vmstat -t's lines do.
        if (stream) text += ClockTime(cur[i].timestamp_ns) + "  ";
        text += TextView(cur[i], prev.empty() ? nullptr : &prev[i],
                         t.regions[i]->identity(), command);
      }
    }
    bool closed = false;
    if (o.text_only) {  // the text view alone, on stdout
      s = WriteOut(text + (stream ? "\n" : ""), &closed);
      if (!s.ok() || closed) return s;
      prev = std::move(cur);
      continue;
    }
    s = WriteOut(json, &closed);
    if (!s.ok() || closed) return s;
    if (!text.empty()) WriteErr(text + (stream ? "\n" : ""));
    prev = std::move(cur);
  }
  return Status::Ok();
}

Status LoadConfig(const Options& o, DoctorConfig* cfg) {
  return o.config.empty() ? LoadDefaultDoctorConfig(cfg)
                          : LoadDoctorConfig(o.config, cfg);
}

Status RunDoctor(const Options& o, Exit* verdict) {
  DoctorConfig cfg;
  Status s = LoadConfig(o, &cfg);
  if (!s.ok()) return s;
  Target t;
  s = OpenFromOptions(o, &t);
  if (!s.ok()) return s;
  if (t.exited) {
    return Status::Error(Exit::kTargetExited,
                         "process " + std::to_string(t.proc.pid) +
                             " has exited: --doctor watches a live process (stats_dump -p " +
                             std::to_string(t.proc.pid) + " shows its final numbers)");
  }
  const double window = o.window >= 0 ? o.window : cfg.window_seconds;
  const CheckConfig& growth = cfg.Get("net_slabs_growth");
  const int n = growth.enabled ? std::max(2, static_cast<int>(growth.param)) : 2;
  // --trace: attached before the first sample, read right before and right
  // after the first and the last one (doctor_trace.h), detached once the
  // report's call sites are named. A tracer that cannot attach leaves a
  // counters-only doctor and one line.
  std::unique_ptr<DoctorTrace> tracer;
  std::string no_trace;
  if (o.trace) tracer = DoctorTrace::Start(t.proc.pid, &no_trace);
  // per_alloc[i]: the samples of allocator i, oldest first.
  std::vector<std::vector<Sample>> per_alloc(t.regions.size());
  const uint64_t mono0 = MonotonicNs();
  for (int k = 0; k < n; ++k) {
    if (k > 0) {
      const double at = window * k / (n - 1);
      if (!SleepUntil(mono0 + static_cast<uint64_t>(std::llround(at * 1e9)))) {
        return Interrupted("during the window");
      }
      s = CheckStillThere(t);
      if (!s.ok()) return s;
    }
    const int edge = k == 0 ? 0 : k == n - 1 ? 1 : -1;
    if (tracer && edge >= 0) tracer->BeforeSample(edge);
    std::vector<Sample> cur;
    s = SnapshotAll(t, &cur);
    if (!s.ok()) return s;
    if (tracer && edge >= 0) tracer->AfterSample(edge);
    for (size_t i = 0; i < cur.size(); ++i) per_alloc[i].push_back(cur[i]);
  }
  DoctorRun run;
  run.pid = t.proc.pid;
  run.command = ReadCmdline(t.proc, 60);
  run.config_source = cfg.source;
  run.timestamp_ns = per_alloc[0].back().timestamp_ns;
  run.window_seconds =
      static_cast<double>(per_alloc[0].back().mono_ns - per_alloc[0].front().mono_ns) / 1e9;
  std::set<std::string> judged, not_judged;
  for (size_t i = 0; i < t.regions.size(); ++i) {
    const RegionIdentity& id = t.regions[i]->identity();
    run.allocators.push_back(id);
    Diagnosis d = Diagnose(per_alloc[i], id, cfg);
    for (Finding& f : d.findings) run.diagnosis.findings.push_back(std::move(f));
    judged.insert(d.judged.begin(), d.judged.end());
    not_judged.insert(d.not_judged.begin(), d.not_judged.end());
    // Each allocator's reason; named when there are several.
    for (const auto& [check, why] : d.not_judged_why) {
      std::string& all = run.diagnosis.not_judged_why[check];
      const std::string one =
          t.regions.size() > 1 ? (id.name.empty() ? "#" + std::to_string(id.allocator_id)
                                                  : id.name) + ": " + why
                               : why;
      all += (all.empty() ? "" : "; ") + one;
    }
  }
  for (const std::string& j : judged) {
    not_judged.erase(j);
    run.diagnosis.not_judged_why.erase(j);
  }
  run.diagnosis.judged.assign(judged.begin(), judged.end());
  run.diagnosis.not_judged.assign(not_judged.begin(), not_judged.end());
  if (tracer) {
    std::vector<const Sample*> first, last;
    for (const auto& v : per_alloc) {
      first.push_back(&v.front());
      last.push_back(&v.back());
    }
    const TraceReport tr = tracer->Finish(first, last, o.stacks);
    tracer.reset();
    JudgeTrace(tr, cfg, run.allocators, &run.diagnosis);
    run.trace_text = TraceText(tr);
    run.trace_json = TraceJson(tr, o.stacks);
  } else if (o.trace) {
    run.trace_text = NoTraceText(no_trace, cfg);
    run.trace_json = NoTraceJson(no_trace, cfg);
  }
  s = WriteOut(o.json_only ? Dump(DoctorJson(run), o.pretty) : DoctorText(run, o.verbose));
  if (!s.ok()) return s;
  *verdict = ExitFor(Worst(run.diagnosis.findings));
  return Status::Ok();
}

Status RunList(const Options& o) {
  std::string dir;
  Status s = ResolveStatsDir(o.dir_flag, &dir);
  if (!s.ok()) return s;
  // The live regions, then those kept at exit (keep_stats=1), marked as
  // exited: one scan.
  std::vector<LiveRegion> live;
  s = ListRegions(dir, kListLive | kListExited, &live);
  if (!s.ok()) return s;
  if (o.json_only) {
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (const LiveRegion& l : live) {
      nlohmann::ordered_json x;
      x["pid"] = l.pid;
      x["allocator_id"] = l.allocator_id;
      x["allocator_name"] = l.name;
      x["uptime_seconds"] = std::round(l.uptime_s * 10) / 10;
      x["command"] = l.command;
      x["exited"] = l.exited;
      if (l.exited) x["exit_timestamp_ns"] = l.exit_realtime_ns;
      if (!l.note.empty()) x["error"] = l.note;
      j.push_back(std::move(x));
    }
    return WriteOut(Dump(j, o.pretty));
  }
  if (live.empty()) {
    WriteErr("no live tslab process has a stats region in " + dir + "\n");
    return Status::Ok();
  }
  std::string out;
  char line[512];
  std::snprintf(line, sizeof(line), "%-8s %-6s %-20s %10s  %s\n", "PID", "ALLOC",
                "NAME", "UPTIME", "COMMAND");
  out += line;
  for (const LiveRegion& l : live) {
    const std::string id = l.note.empty() ? std::to_string(l.allocator_id) : "?";
    const std::string name = l.note.empty() ? l.name : "(" + l.note + ")";
    // An exited process's command is unknown; its UPTIME is how long the
    // allocator lived.
    const std::string command =
        l.exited ? "(exited" + (l.exit_realtime_ns ? " at " + ClockTime(l.exit_realtime_ns) : "") +
                       "; kept by keep_stats=1, stats_dump --gc removes it)"
                 : (o.wide ? l.command : l.short_command);
    std::snprintf(line, sizeof(line), "%-8d %-6s %-20s %9.1fs  %s\n", l.pid,
                  id.c_str(), tools::TerminalSafe(name).c_str(), l.uptime_s,
                  tools::TerminalSafe(command).c_str());
    out += line;
  }
  return WriteOut(out);
}

Status RunGc(const Options& o) {
  std::string dir;
  Status s = ResolveStatsDir(o.dir_flag, &dir);
  if (!s.ok()) return s;
  GcResult r;
  s = CollectGarbage(dir, &r);
  if (!s.ok()) return s;
  std::string out;
  for (const std::string& p : r.removed_paths) out += "removed " + p + "\n";
  for (const std::string& why : r.unknown_paths) out += "kept " + why + "\n";
  out += "gc: removed " + std::to_string(r.removed) + " stale region file(s), kept " +
         std::to_string(r.kept_live) + " live";
  if (r.kept_unknown) {
    out += ", " + std::to_string(r.kept_unknown) +
           " of PID namespaces not visible here (run --gc where they are)";
  }
  if (r.failed) out += ", " + std::to_string(r.failed) + " not removable (another user's)";
  return WriteOut(out + "\n");
}

// Writes data to path atomically: a temporary file in the same directory,
// flushed to disk, then renamed over path (a reader such as node_exporter's
// textfile collector sees the old file or the new one, never half of one).
Status WriteFileAtomically(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) {
    return Status::Error(Exit::kIo, "cannot create " + tmp + ": " + std::strerror(errno));
  }
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  int err = done == data.size() ? 0 : errno;
  if (err == 0 && fsync(fd) != 0) err = errno;
  if (close(fd) != 0 && err == 0) err = errno;
  if (err == 0 && rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    unlink(tmp.c_str());
    return Status::Error(Exit::kIo, "cannot write " + path + ": " + std::strerror(err));
  }
  return Status::Ok();
}

// --format openmetrics|prometheus: every live tslab process (or -p's),
// once, as tslab-exporter serves them. The doctor's verdicts are judged
// over --window (default 0: since each process started).
Status RunExposition(const Options& o) {
  FleetOptions fo;
  Status s = ResolveStatsDir(o.dir_flag, &fo.dir);
  if (!s.ok()) return s;
  s = LoadConfig(o, &fo.doctor);
  if (!s.ok()) return s;
  fo.only_pid = o.pid;
  fo.allocator = o.allocator;
  fo.min_history_spacing_s = 0;
  FleetCollector fleet(fo);
  Collection c = fleet.Collect();
  if (o.window > 0) {
    if (!SleepUntil(MonotonicNs() + static_cast<uint64_t>(std::llround(o.window * 1e9)))) {
      return Interrupted("during the window");
    }
    c = fleet.Collect();
  }
  const std::string text = RenderExposition(
      c, ExporterInfo{}, o.format == "openmetrics" ? ExpoFormat::kOpenMetrics
                                                   : ExpoFormat::kPrometheus);
  return o.output.empty() ? WriteOut(text) : WriteFileAtomically(o.output, text);
}

// Mode combinations CLI11 cannot express; one clear message each.
Status CheckModes(const Options& o) {
  const int modes = o.list + o.gc + o.show_config + o.doctor;
  const bool stream = o.interval >= 0 || o.count >= 0;
  const bool expo = o.format != "json";
  if (expo && (modes > 0 || stream)) {
    return Status::Error(Exit::kUsage,
                         "--format " + o.format + " is one snapshot of every process: no "
                         "--list, --gc, --show-config, --doctor, --interval or --count");
  }
  if (o.text_only && (o.json_only || o.pretty || modes > 0 || expo)) {
    return Status::Error(Exit::kUsage,
                         "--text is the snapshot's text view: no --json, --pretty, --list, "
                         "--gc, --show-config, --doctor or --format");
  }
  if (o.wide && !o.list) return Status::Error(Exit::kUsage, "--wide needs --list");
  if (!expo && !o.output.empty()) {
    return Status::Error(Exit::kUsage, "--output needs --format openmetrics or prometheus");
  }
  if (modes > 1) {
    return Status::Error(Exit::kUsage,
                         "--list, --gc, --show-config and --doctor exclude each other");
  }
  if ((o.list || o.gc || o.show_config) && (o.pid || !o.allocator.empty() || stream)) {
    return Status::Error(Exit::kUsage,
                         "--list, --gc and --show-config take no -p, --allocator, "
                         "--interval or --count");
  }
  if (o.trace && !o.doctor) return Status::Error(Exit::kUsage, "--trace needs --doctor");
  if (o.stacks_given && !o.trace) {
    return Status::Error(Exit::kUsage, "--stacks needs --doctor --trace");
  }
  if (o.doctor && stream) {
    return Status::Error(Exit::kUsage,
                         "--doctor takes --window, not --interval or --count");
  }
  if (!o.doctor && !expo && o.window >= 0) {
    return Status::Error(Exit::kUsage, "--window needs --doctor or --format");
  }
  if (!o.doctor && !expo && !o.show_config && !o.config.empty()) {
    return Status::Error(Exit::kUsage, "--config needs --doctor, --format or --show-config");
  }
  // CLI11's range check lets NaN through (every comparison with it is
  // false), and a NaN interval or window then read as "not given".
  if (std::isnan(o.interval)) {
    return Status::Error(Exit::kUsage, "--interval: not a number of seconds");
  }
  if (std::isnan(o.window)) {
    return Status::Error(Exit::kUsage, "--window: not a number of seconds");
  }
  return Status::Ok();
}

int Main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "stats_dump: snapshot a running tslab process from outside "
      "(docs/stats_dump.md)"};
  app.add_option("-p,--pid", o.pid, "target process (default: the only live one)")
      ->type_name("PID")
      ->check(tools::WholeNumber(1, 1 << 30));
  app.add_option("--allocator", o.allocator,
                 "only the allocator with this name or id (default: all)")
      ->type_name("NAME|ID");
  app.add_option("--dir", o.dir_flag,
                 "stats directory (default: $TSLAB_STATS_DIR, else /dev/shm/tslab)")
      ->type_name("DIR");
  app.add_flag("--json", o.json_only, "JSON only on stdout (no text on stderr)");
  app.add_flag("--no-text", o.json_only, "same as --json");
  app.add_flag("--pretty", o.pretty, "indent JSON documents");
  app.add_flag("--text", o.text_only, "the text view alone, on stdout (no JSON)");
  app.add_option("--interval", o.interval, "seconds between snapshots, 0 to 86400 (a stream)")
      ->type_name("SECONDS")
      ->check(tools::Seconds(0.0, 86400.0));
  app.add_option("--count", o.count, "number of snapshots, at least 1 (default: until stopped)")
      ->type_name("N")
      ->check(tools::WholeNumber(1, 1LL << 40));
  app.add_flag("--doctor", o.doctor, "diagnose: findings, exit 0 ok / 1 warning / 2 critical");
  app.add_option("--window", o.window,
                 "--doctor: seconds between first and last sample, 0 to 3600")
      ->type_name("SECONDS")
      ->check(tools::Seconds(0.0, 3600.0));
  app.add_option("--config", o.config, "--doctor thresholds (YAML, default configs/doctor.yaml)")
      ->type_name("FILE");
  app.add_flag("--trace", o.trace,
               "--doctor: also trace the window with BPF (root): latency percentiles, "
               "call sites, counters reconciled");
  app.add_option("--stacks", o.stacks, "--trace: call sites shown per probe, 1 to 100 (default 3)")
      ->type_name("N")
      ->check(tools::WholeNumber(1, 100));
  app.add_flag("-v,--verbose", o.verbose, "--doctor: also list the checks judged");
  app.add_flag("--list", o.list, "list live tslab processes and their allocators");
  app.add_flag("--gc", o.gc, "remove region files of dead processes");
  app.add_flag("--wide", o.wide, "--list: whole command lines (default: cut at 48 characters)");
  app.add_flag("--show-config", o.show_config, "print the doctor's thresholds as JSON");
  app.add_option("--format", o.format,
                 "json (default), or openmetrics / prometheus: every live process once, "
                 "as tslab-exporter serves it")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"json", "openmetrics", "prometheus"}).description(""));
  app.add_option("--output", o.output,
                 "--format openmetrics|prometheus: write to FILE atomically (temp + rename)")
      ->type_name("FILE");
  bool version = false;
  app.add_flag("--version", version, "print the version and exit");
  app.footer(
      "EXAMPLES:\n"
      "  stats_dump --text                  the text view of the only tslab process\n"
      "  stats_dump -p 4242 --json --pretty one indented JSON snapshot of process 4242\n"
      "  stats_dump -p 4242 --interval 1 --count 10 2>/dev/null\n"
      "                                     ten JSON lines, one a second\n"
      "  stats_dump --doctor -p 4242 --window 10\n"
      "                                     diagnose over 10 s: exit 0 ok, 1 warning, 2 critical\n"
      "  stats_dump --list                  which processes use tslab\n"
      "  stats_dump --format openmetrics --output /var/lib/node_exporter/tslab.prom\n"
      "                                     every process, for a textfile collector\n"
      "By default the JSON goes to stdout and the text view to stderr.\n"
      "Exit codes: docs/stats_dump.md (usage errors: 3; 2 is --doctor's critical).");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "stats_dump: %s (see --help)\n", e.what());
    return static_cast<int>(Exit::kUsage);
  }
  o.stacks_given = app.count("--stacks") > 0;
  if (version) {
    const Status vs = WriteOut(tools::VersionLine("stats_dump"));
    return vs.ok() ? 0 : static_cast<int>(vs.code);
  }

  signal(SIGPIPE, SIG_IGN);  // a closed pipe is EPIPE from fwrite, handled
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  Status s = CheckModes(o);
  Exit verdict = Exit::kOk;
  if (s.ok()) {
    if (o.list) {
      s = RunList(o);
    } else if (o.gc) {
      s = RunGc(o);
    } else if (o.show_config) {
      DoctorConfig cfg;
      s = LoadConfig(o, &cfg);
      if (s.ok()) s = WriteOut(Dump(DoctorConfigJson(cfg), true));
    } else if (o.doctor) {
      s = RunDoctor(o, &verdict);
    } else if (o.format != "json") {
      s = RunExposition(o);
    } else {
      s = RunSnapshots(o);
    }
  }
  if (!s.ok()) {
    std::fprintf(stderr, "stats_dump: %s\n", s.message.c_str());
    return static_cast<int>(s.code);
  }
  return static_cast<int>(verdict);
}

}  // namespace
}  // namespace tslab::stats_dump

// Nothing escapes main: an unexpected exception (out of memory, a library's
// error) is one line and exit code 15, like any other I/O failure.
int main(int argc, char** argv) {
  return tslab::stats_dump::CatchAllAtMain(
      "stats_dump", static_cast<int>(tslab::stats_dump::Exit::kIo),
      [&] { return tslab::stats_dump::Main(argc, argv); });
}
