// The JSON document of `tslab-trace --list --json`: per target file, its
// tslab probes as the ELF notes give them.
//
// Purpose: one place for the shape, used by the tool and by the ELF-note
// fuzz target (fuzz/elf_notes_fuzz.cc), which feeds it crafted notes.
// Invariants: strings are the notes' bytes, unvalidated; serialise with
// tools::JsonText (tools/common/json_text.h), never a bare dump().
// Thread-safety: pure functions.
#ifndef TSLAB_TOOLS_TSLAB_TRACE_LIST_JSON_H_
#define TSLAB_TOOLS_TSLAB_TRACE_LIST_JSON_H_

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/tslab-trace/elf_probes.h"

namespace tslab::trace {

// {"path": shown, "probes": [{"provider", "name", "args", "pc",
// "semaphore"}, ...]}
nlohmann::ordered_json ListJson(const std::string& shown,
                                const std::vector<UsdtNote>& notes);

}  // namespace tslab::trace

#endif  // TSLAB_TOOLS_TSLAB_TRACE_LIST_JSON_H_
