// TSLAB_OPTIONS: libtslab's configuration from the environment, like
// jemalloc's MALLOC_CONF or mimalloc's MIMALLOC_* variables.
//
//   TSLAB_OPTIONS="cache_capacity=64,purge_delay_ms=10,stats_dir=/run/tslab,show_stats=1,verbose=1"
//
// Keys: the tslab_options fields an operator may set for every allocator
// of a process (cache_capacity, max_bytes, purge_delay_ms, stats_dir,
// region_mode=default|off) and switches of the process's own
// (show_stats, keep_stats, verbose: 0 or 1). Precedence: TSLAB_OPTIONS wins over the
// options the program passes to tslab_create, which win over the older
// single variables ($TSLAB_STATS_DIR, $TSLAB_PURGE_DELAY_MS); the operator
// has the last word, as with MALLOC_CONF. $TSLAB_STATS_DIR=off still
// turns every file off.
//
// Invariants: read once, at the first tslab_create of the process (later
// changes of the variable are not seen); an unknown key or a bad value is
// reported once on stderr, naming the key, and ignored (the rest applies);
// never an abort, never a failed tslab_create. Read with secure_getenv: a
// setuid program ignores it.
// Thread-safety: EnvOptions() is a function-local static (initialised
// once, whichever thread comes first); the result is immutable.
#ifndef TSLAB_SRC_ALLOCATOR_ENV_OPTIONS_H_
#define TSLAB_SRC_ALLOCATOR_ENV_OPTIONS_H_

#include <stdint.h>

#include "tslab/tslab.h"

namespace tslab::internal {

// X(key, kind, help): the one list of TSLAB_OPTIONS keys. kind: U32, U64,
// I32 (a number in the field's range), STR, MODE (default|off), BOOL (0|1).
#define TSLAB_ENV_OPTION_KEYS(X)                                            \
  X(cache_capacity, U32, "empty slabs kept per class")                      \
  X(max_bytes, U64, "address space for slabs, bytes")                       \
  X(purge_delay_ms, I32, "ms an empty slab stays resident (0..3600000)")    \
  X(stats_dir, STR, "directory of the stats region files")                  \
  X(region_mode, MODE, "default, or off: no stats file")                    \
  X(show_stats, BOOL, "print each allocator's stats to stderr at exit")     \
  X(keep_stats, BOOL, "keep the stats files at exit, marked exited")        \
  X(verbose, BOOL, "report fallbacks (stats file) on stderr")

struct EnvOptionValues {
  bool has_cache_capacity = false;
  uint32_t cache_capacity = 0;
  bool has_max_bytes = false;
  uint64_t max_bytes = 0;
  bool has_purge_delay_ms = false;
  int32_t purge_delay_ms = 0;
  bool has_stats_dir = false;
  const char* stats_dir = nullptr;  // static storage (the parse's copy)
  bool has_region_mode = false;
  tslab_region_mode region_mode = TSLAB_REGION_DEFAULT;
  bool has_show_stats = false;
  bool show_stats = false;
  bool has_keep_stats = false;
  bool keep_stats = false;
  bool has_verbose = false;
  bool verbose = false;
};

// Parses text (the variable's value, cut into pieces in place: out's
// strings point into it, so it must outlive *out) into *out; each problem
// is one line on err_fn (NULL: none). Exposed for the tests; the library
// uses EnvOptions().
void ParseEnvOptions(char* text, EnvOptionValues* out,
                     void (*err_fn)(const char* line, void* ctx), void* ctx);

// $TSLAB_OPTIONS, parsed at the first call; problems go to stderr then.
const EnvOptionValues& EnvOptions();

// Overrides the fields of *o that TSLAB_OPTIONS sets.
void ApplyEnvOptions(tslab_options* o);

}  // namespace tslab::internal

#endif  // TSLAB_SRC_ALLOCATOR_ENV_OPTIONS_H_
