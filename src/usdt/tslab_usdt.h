// src/usdt/tslab_usdt.h: the one wrapper over <sys/sdt.h> for tslab's USDT
// probes (provider "tslab").
//
// Purpose: static tracepoints that tslab-trace and bpftrace attach to in a
// running process. Each probe has a semaphore that the kernel raises while a
// tracer is attached, so that work done only for a probe (reading the clock
// for a duration) runs only then: guard it with TSLAB_PROBE_ENABLED(name),
// or time the operation with tslab::usdt::ProbeTimer.
//
// Durations measure the operation, not the tracing: a probe that fires
// inside a timed operation (slab_new inside a slow path, madvise inside an
// epoch close) is fired with TSLAB_PROBEn_NESTED, which, while a tracer is
// attached, adds the time spent in the probe (the uprobe trap and the BPF
// program, microseconds) to a per-thread total that ProbeTimer subtracts.
//
// Every TSLAB_PROBEn sits behind its own semaphore: untraced, a probe site
// costs one load and a not-taken branch, and its arguments (a duration, a
// reason kept alive across a slow path) are neither computed nor held in
// registers; the nop is in the branch. A probe still fires once per event
// for a tracer that attached while the event was under way (the semaphore
// is read at the probe, after the event's counter was bumped).
// With TSLAB_USDT=0 every macro compiles to nothing,
// TSLAB_PROBE_ENABLED is false and ProbeTimer measures 0.
//
// Invariants: arguments are plain integer scalars (libbpf 1.1 parses only
// those); the probes and their arguments are listed once, in
// src/usdt/tslab_probes.h (TSLAB_USDT_PROBE_LIST): a probe site with
// another argument count does not compile, and tests/usdt_notes_test.cc
// checks the notes and docs/probes.md against the list. Each probe fires
// exactly once per event its counter counts (docs/probes.md).
// Thread-safety: the nested-probe total is thread-local.
#ifndef TSLAB_SRC_USDT_TSLAB_USDT_H_
#define TSLAB_SRC_USDT_TSLAB_USDT_H_

#ifndef TSLAB_USDT
#define TSLAB_USDT 1
#endif

// The probe list and the constants of its arguments (reasons, kinds).
#include "src/usdt/tslab_probes.h"

#include <stdint.h>

#if TSLAB_USDT

#include <time.h>

#define _SDT_HAS_SEMAPHORES 1  // NOLINT: the name is sdt.h's own.
#include <sys/sdt.h>

#ifdef __cplusplus
extern "C" {
#endif
#define TSLAB_USDT_DECLARE_SEMAPHORE(name, NAME, args) \
  extern volatile unsigned short tslab_##name##_semaphore;
TSLAB_USDT_PROBE_LIST(TSLAB_USDT_DECLARE_SEMAPHORE)
#undef TSLAB_USDT_DECLARE_SEMAPHORE
#ifdef __cplusplus
}
#endif

#ifdef __cplusplus
namespace tslab::usdt {
// The argument count of a probe's args text in TSLAB_USDT_PROBE_LIST.
constexpr int ArgCount(const char* args) {
  int n = *args != 0 ? 1 : 0;
  for (; *args != 0; ++args) n += *args == ',';
  return n;
}
#define TSLAB_USDT_ARG_COUNT_(name, NAME, args) \
  inline constexpr int kArgCount_##name = ArgCount(args);
TSLAB_USDT_PROBE_LIST(TSLAB_USDT_ARG_COUNT_)
#undef TSLAB_USDT_ARG_COUNT_
}  // namespace tslab::usdt
// A probe site passes as many arguments as the list says: a mismatch would
// only show as a wrong note, caught by a test long after the build.
#define TSLAB_USDT_CHECK_ARGS_(name, n)                           \
  static_assert(::tslab::usdt::kArgCount_##name == (n),           \
                "tslab:" #name ": another argument count than in "  \
                "src/usdt/tslab_probes.h")
#else
#define TSLAB_USDT_CHECK_ARGS_(name, n) ((void)0)
#endif

#define TSLAB_PROBE_ENABLED(name) \
  __builtin_expect(tslab_##name##_semaphore != 0, 0)
#define TSLAB_PROBE_GATED_(name, n, probe) \
  do {                                      \
    TSLAB_USDT_CHECK_ARGS_(name, n);        \
    if (TSLAB_PROBE_ENABLED(name)) {        \
      probe;                                \
    }                                       \
  } while (0)
#define TSLAB_PROBE1(name, a) \
  TSLAB_PROBE_GATED_(name, 1, STAP_PROBE1(tslab, name, a))
#define TSLAB_PROBE2(name, a, b) \
  TSLAB_PROBE_GATED_(name, 2, STAP_PROBE2(tslab, name, a, b))
#define TSLAB_PROBE3(name, a, b, c) \
  TSLAB_PROBE_GATED_(name, 3, STAP_PROBE3(tslab, name, a, b, c))
#define TSLAB_PROBE4(name, a, b, c, d) \
  TSLAB_PROBE_GATED_(name, 4, STAP_PROBE4(tslab, name, a, b, c, d))
#define TSLAB_PROBE5(name, a, b, c, d, e) \
  TSLAB_PROBE_GATED_(name, 5, STAP_PROBE5(tslab, name, a, b, c, d, e))

#ifdef __cplusplus
namespace tslab::usdt {

// Nanoseconds this thread has spent in nested probes while traced.
extern constinit thread_local uint64_t tl_nested_probe_ns
    __attribute__((tls_model("initial-exec")));

inline uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// Times one operation for a probe's duration argument. Reads the clock only
// if `on` (pass TSLAB_PROBE_ENABLED(probe)); ElapsedNs() is then the time
// since construction minus the nested probes fired meanwhile, else 0 (also
// when the tracer attached while the operation was running).
class ProbeTimer {
 public:
  explicit ProbeTimer(bool on) : on_(on) {
    if (on_) {
      nested0_ = tl_nested_probe_ns;
      t0_ = NowNs();
    }
  }
  uint64_t ElapsedNs() const {
    if (!on_) return 0;
    const uint64_t dt = NowNs() - t0_;
    const uint64_t nested = tl_nested_probe_ns - nested0_;
    return dt > nested ? dt - nested : 0;
  }

 private:
  bool on_;
  uint64_t t0_ = 0;
  uint64_t nested0_ = 0;
};

}  // namespace tslab::usdt

// One probe site (one note), behind one semaphore read like every probe:
// only when traced, the clock is read around it and the time goes to the
// nested total.
#define TSLAB_NESTED_(name, n, stap_probe)                          \
  do {                                                              \
    TSLAB_USDT_CHECK_ARGS_(name, n);                                \
    if (TSLAB_PROBE_ENABLED(name)) {                                \
      const uint64_t tslab_t0_ = ::tslab::usdt::NowNs();            \
      stap_probe;                                                   \
      ::tslab::usdt::tl_nested_probe_ns +=                          \
          ::tslab::usdt::NowNs() - tslab_t0_;                       \
    }                                                               \
  } while (0)
#define TSLAB_PROBE1_NESTED(name, a) \
  TSLAB_NESTED_(name, 1, STAP_PROBE1(tslab, name, a))
#define TSLAB_PROBE2_NESTED(name, a, b) \
  TSLAB_NESTED_(name, 2, STAP_PROBE2(tslab, name, a, b))
#define TSLAB_PROBE3_NESTED(name, a, b, c) \
  TSLAB_NESTED_(name, 3, STAP_PROBE3(tslab, name, a, b, c))
#define TSLAB_PROBE4_NESTED(name, a, b, c, d) \
  TSLAB_NESTED_(name, 4, STAP_PROBE4(tslab, name, a, b, c, d))
#endif  // __cplusplus

#else  // !TSLAB_USDT

// sizeof names the arguments (no unused-variable warnings) and evaluates
// none of them.
#define TSLAB_PROBE_ENABLED(name) 0
#define TSLAB_PROBE1(name, a) ((void)sizeof(a))
#define TSLAB_PROBE2(name, a, b) ((void)sizeof(a), (void)sizeof(b))
#define TSLAB_PROBE3(name, a, b, c) \
  ((void)sizeof(a), (void)sizeof(b), (void)sizeof(c))
#define TSLAB_PROBE4(name, a, b, c, d) \
  ((void)sizeof(a), (void)sizeof(b), (void)sizeof(c), (void)sizeof(d))
#define TSLAB_PROBE5(name, a, b, c, d, e)                                 \
  ((void)sizeof(a), (void)sizeof(b), (void)sizeof(c), (void)sizeof(d), \
   (void)sizeof(e))
#define TSLAB_PROBE1_NESTED TSLAB_PROBE1
#define TSLAB_PROBE2_NESTED TSLAB_PROBE2
#define TSLAB_PROBE3_NESTED TSLAB_PROBE3
#define TSLAB_PROBE4_NESTED TSLAB_PROBE4

#ifdef __cplusplus
namespace tslab::usdt {
class ProbeTimer {
 public:
  explicit constexpr ProbeTimer(bool) {}
  constexpr uint64_t ElapsedNs() const { return 0; }
};
}  // namespace tslab::usdt
#endif  // __cplusplus

#endif  // TSLAB_USDT

#endif  // TSLAB_SRC_USDT_TSLAB_USDT_H_
