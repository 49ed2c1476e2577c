// bench/proc.h: what the benchmark reads about its own process.
//
// Purpose: resident set size from /proc/self/statm, read with plain
// open/read into a stack buffer so that reading it allocates nothing (the
// workers measure malloc implementations; a std::ifstream would call them);
// the process's CPU time (CLOCK_PROCESS_CPUTIME_ID).
//
// Thread-safety: any thread.
#ifndef TSLAB_BENCH_PROC_H_
#define TSLAB_BENCH_PROC_H_

#include <cstdint>

namespace tslab::bench {

// Resident bytes (statm field 2 times the page size); 0 if unreadable.
uint64_t RssBytes();

// CPU time of the whole process (every thread, user + system), seconds.
double ProcessCpuSeconds();

}  // namespace tslab::bench

#endif  // TSLAB_BENCH_PROC_H_
