// tools/tslab-trace/elf_probes.h: reading USDT probe notes and symbols from
// ELF files (executables, shared libraries, objects, archives), and mapping
// a file offset to an address in a running process.
//
// Purpose: tslab-trace uses it to find which files of a process carry tslab
// probes and to list them (--list); the tests use it to check the notes and
// to read the probes' semaphores out of a live process's memory.
//
// Invariants: addresses in UsdtNote are link-time addresses, already
// corrected for prelink the way libbpf does (.stapsdt.base); they are 0 in a
// relocatable object, whose notes are filled by relocations at link time.
// Thread-safety: functions are independent and reentrant (libelf handles
// are per call).
#ifndef TSLAB_TOOLS_TSLAB_TRACE_ELF_PROBES_H_
#define TSLAB_TOOLS_TSLAB_TRACE_ELF_PROBES_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tslab::trace {

// One argument of a probe as sdt.h writes it: "[-]SIZE@OPERAND".
struct UsdtArg {
  enum class Kind {
    kConst,     // $123
    kReg,       // %rdi
    kRegDeref,  // -16(%rbp)
    kOther,     // anything libbpf 1.1 cannot parse (e.g. (%rax,%rdx,8))
  };
  int size = 0;  // bytes: 1, 2, 4 or 8 (0 if unparsable)
  bool is_signed = false;
  Kind kind = Kind::kOther;
  std::string text;
};

struct UsdtNote {
  std::string provider;
  std::string name;
  std::string args_text;
  std::vector<UsdtArg> args;
  uint64_t pc = 0;         // address of the probe's nop
  uint64_t semaphore = 0;  // address of its semaphore, 0 if none
};

UsdtArg ParseUsdtArg(std::string_view text);
// Splits sdt.h's space-separated argument string.
std::vector<UsdtArg> ParseUsdtArgs(std::string_view text);

// The notes of one ELF file. False (and *err) if it cannot be read or is
// not ELF; a file without notes is not an error.
bool ReadUsdtNotes(const std::string& path, std::vector<UsdtNote>* out,
                   std::string* err);

// The notes of every member of an ar archive (libtslab.a), by member name.
struct ArchiveMemberNotes {
  std::string member;
  std::vector<UsdtNote> notes;
};
bool ReadArchiveUsdtNotes(const std::string& path,
                          std::vector<ArchiveMemberNotes>* out,
                          std::string* err);

// st_value of a defined symbol in .symtab (or else .dynsym).
std::optional<uint64_t> FindSymbol(const std::string& path,
                                   const std::string& name);

// The file offset that a link-time address is loaded from (PT_LOAD).
std::optional<uint64_t> VaddrToFileOffset(const std::string& path,
                                          uint64_t vaddr);

// One line of /proc/PID/maps.
struct MapsEntry {
  uint64_t start = 0, end = 0, offset = 0;
  std::string perms;
  unsigned dev_major = 0, dev_minor = 0;
  uint64_t inode = 0;
  std::string path;  // as the kernel shows it (may end in " (deleted)")
};
bool ReadProcMaps(pid_t pid, std::vector<MapsEntry>* out, std::string* err);

// Where file offset `offset` of the file (dev, inode) is mapped in pid, if
// it is. dev/inode come from stat() of the file.
std::optional<uint64_t> FileOffsetToAddress(pid_t pid, dev_t dev,
                                            ino_t inode, uint64_t offset);

}  // namespace tslab::trace

#endif  // TSLAB_TOOLS_TSLAB_TRACE_ELF_PROBES_H_
