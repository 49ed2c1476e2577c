// show_stats (TSLAB_OPTIONS=show_stats=1, env_options.h): each allocator's
// numbers on stderr when it is destroyed, and, at normal process exit, those
// of every allocator still alive; the library's answer to
// MIMALLOC_SHOW_STATS=1 and MALLOC_CONF=stats_print:true, for a
// short-lived process whose stats region goes away with it.
//
// The renderer is a compact one of the library's own (a few lines, plain
// snprintf): stats_dump's text view lives in tools/ and needs the C++
// runtime's strings and the tools' JSON library, which a malloc-like
// library must not pull in. The numbers are the same counters
// (TslabSnapshot); `stats_dump -p PID` gives the full view of a live one.
//
// Thread-safety: ShowStats may run on any thread; the lines of one
// allocator are one write(2), so two allocators' reports never interleave.
// Cost: nothing unless show_stats=1; then one snapshot per allocator at its
// end.
#ifndef TSLAB_SRC_ALLOCATOR_SHOW_STATS_H_
#define TSLAB_SRC_ALLOCATOR_SHOW_STATS_H_

#include <stddef.h>

#include "tslab/stats.h"

namespace tslab::internal {

class Allocator;

// Renders s (allocator id, name) into buf, at most len bytes, NUL-ended;
// returns the length. Pure: for the tests.
size_t RenderShowStats(const TslabSnapshot& s, unsigned id, const char* name,
                       const char* why, char* buf, size_t len);

// Writes a's report to stderr if show_stats=1 (why: "destroyed", "exit").
void ShowStatsIfAsked(Allocator* a, const char* why);

// Installs the exit handler once, if show_stats=1 (tslab_create).
void InstallShowStatsAtExit();

}  // namespace tslab::internal

#endif  // TSLAB_SRC_ALLOCATOR_SHOW_STATS_H_
