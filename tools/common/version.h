// tools/common/version.h: the `--version` line every tool prints.
//
// Purpose: one format for stats_dump, tslab-trace and tslab-exporter
// (GNU's "PROGRAM (PACKAGE) VERSION"), with the build's git revision.
// TSLAB_VERSION and TSLAB_GIT_VERSION come from mk/version.mk (the one
// source of truth); a build outside the Makefile says "unknown".
// Thread-safety: pure.
#ifndef TSLAB_TOOLS_COMMON_VERSION_H_
#define TSLAB_TOOLS_COMMON_VERSION_H_

#include <string>

#ifndef TSLAB_VERSION
#define TSLAB_VERSION "unknown"
#endif
#ifndef TSLAB_GIT_VERSION
#define TSLAB_GIT_VERSION "unknown"
#endif

namespace tslab::tools {

// "stats_dump (tslab) 0.1.0 (git e03de13)\n".
inline std::string VersionLine(const char* program) {
  return std::string(program) + " (tslab) " TSLAB_VERSION " (git " TSLAB_GIT_VERSION ")\n";
}

}  // namespace tslab::tools

#endif  // TSLAB_TOOLS_COMMON_VERSION_H_
