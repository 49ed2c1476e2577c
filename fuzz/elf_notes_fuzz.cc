// Fuzz target: tslab-trace's ELF/USDT note parser (libelf underneath) on
// any bytes, read as a file the way `--binary FILE` and the targets of
// `-p PID` are (executable, shared object or ar archive), then the notes
// as `--list --json` prints them, and the argument specs of the notes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/mem_file.h"
#include "tools/common/json_text.h"
#include "tools/tslab-trace/elf_probes.h"
#include "tools/tslab-trace/list_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const tslab::fuzz::MemFile file("probes.elf", data, size);
  if (!file.ok()) return 0;
  const std::string path = file.path();
  std::vector<tslab::trace::UsdtNote> notes;
  std::string err;
  if (tslab::trace::ReadUsdtNotes(path, &notes, &err)) {
    (void)tslab::tools::JsonText(tslab::trace::ListJson(path, notes));
    for (const tslab::trace::UsdtNote& n : notes) {
      (void)tslab::trace::ParseUsdtArgs(n.args_text);
    }
  }
  std::vector<tslab::trace::ArchiveMemberNotes> members;
  (void)tslab::trace::ReadArchiveUsdtNotes(path, &members, &err);
  (void)tslab::trace::FindSymbol(path, "tslab_semaphore");
  return 0;
}
