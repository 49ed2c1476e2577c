// tools/tslab-trace/symbolize.h: user addresses of a live process to
// "Function+0xOFF" (demangled, without the parameter list).
//
// Purpose: stats_dump --doctor --trace names the call sites of the stacks
// its BPF programs counted. An address is found in /proc/PID/maps, turned
// into a file offset, then into the ELF file's virtual address through its
// PT_LOAD headers, and looked up among the file's function symbols
// (.symtab, else .dynsym). The file is opened through /proc/PID/root, as
// the tracer does.
// Invariants: never fails: an address it cannot name is shown as
// "file+0xOFF" or "0xADDR". The maps are read once, at construction, so
// symbolise while the process lives (before it unmaps a library).
// Thread-safety: single-threaded use.
#ifndef TSLAB_TOOLS_TSLAB_TRACE_SYMBOLIZE_H_
#define TSLAB_TOOLS_TSLAB_TRACE_SYMBOLIZE_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tslab::trace {

class Symbolizer {
 public:
  explicit Symbolizer(pid_t pid);
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // return_address: the address is a caller's return address (any frame
  // but the innermost), looked up one byte earlier so that a call at the
  // very end of a function is still named after it.
  std::string Name(uint64_t addr, bool return_address) const;

 private:
  struct Mapping {
    uint64_t start = 0, end = 0, offset = 0;
    std::string path;
  };
  struct ElfSyms;  // the function symbols and load segments of one file

  const ElfSyms* Load(const std::string& path) const;

  pid_t pid_;
  std::vector<Mapping> maps_;
  mutable std::map<std::string, std::unique_ptr<ElfSyms>> files_;
};

// "ns::Class::Method(int, char*) const" -> "ns::Class::Method"; an
// "(anonymous namespace)" is kept.
std::string WithoutParameters(const std::string& demangled);

}  // namespace tslab::trace

#endif  // TSLAB_TOOLS_TSLAB_TRACE_SYMBOLIZE_H_
