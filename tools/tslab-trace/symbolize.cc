// /proc/PID/maps + libelf function symbols + __cxa_demangle.
#include "tools/tslab-trace/symbolize.h"

#include <cxxabi.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace tslab::trace {

struct Symbolizer::ElfSyms {
  struct Sym {
    uint64_t value = 0, size = 0;
    std::string name;
  };
  struct Load {
    uint64_t offset = 0, vaddr = 0, filesz = 0;
  };
  std::vector<Sym> syms;  // sorted by value
  std::vector<Load> loads;
};

namespace {

std::string Demangle(const std::string& name) {
  int status = 0;
  char* d = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status);
  if (status != 0 || d == nullptr) return name;
  std::string out = WithoutParameters(d);
  std::free(d);
  return out;
}

std::string Hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string Basename(const std::string& p) {
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

}  // namespace

std::string WithoutParameters(const std::string& demangled) {
  std::string s = demangled;
  // Qualifiers after the parameter list ("const", "&&").
  for (;;) {
    const size_t before = s.size();
    for (const char* q : {" const", " volatile", " &&", " &", " noexcept"}) {
      const std::string qs(q);
      if (s.size() > qs.size() && s.compare(s.size() - qs.size(), qs.size(), qs) == 0) {
        s.resize(s.size() - qs.size());
      }
    }
    if (s.size() == before) break;
  }
  if (s.empty() || s.back() != ')') return s;
  int depth = 0;
  for (size_t i = s.size(); i-- > 0;) {
    if (s[i] == ')') ++depth;
    if (s[i] == '(' && --depth == 0) {
      if (i == 0) return s;
      return s.substr(0, i);
    }
  }
  return s;
}

Symbolizer::Symbolizer(pid_t pid) : pid_(pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string range, perms, offset, dev, inode, path;
    ls >> range >> perms >> offset >> dev >> inode;
    std::getline(ls >> std::ws, path);
    if (path.empty() || path[0] != '/' || perms.size() < 3 || perms[2] != 'x') {
      continue;
    }
    Mapping m;
    const size_t dash = range.find('-');
    if (dash == std::string::npos) continue;
    m.start = std::strtoull(range.substr(0, dash).c_str(), nullptr, 16);
    m.end = std::strtoull(range.substr(dash + 1).c_str(), nullptr, 16);
    m.offset = std::strtoull(offset.c_str(), nullptr, 16);
    m.path = path;
    maps_.push_back(std::move(m));
  }
}

Symbolizer::~Symbolizer() = default;

const Symbolizer::ElfSyms* Symbolizer::Load(const std::string& path) const {
  auto it = files_.find(path);
  if (it != files_.end()) return it->second.get();
  auto syms = std::make_unique<ElfSyms>();
  const std::string file = "/proc/" + std::to_string(pid_) + "/root" + path;
  elf_version(EV_CURRENT);
  const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  Elf* e = fd >= 0 ? elf_begin(fd, ELF_C_READ, nullptr) : nullptr;
  if (e != nullptr && elf_kind(e) == ELF_K_ELF) {
    size_t nph = 0;
    elf_getphdrnum(e, &nph);
    for (size_t i = 0; i < nph; ++i) {
      GElf_Phdr ph;
      if (gelf_getphdr(e, static_cast<int>(i), &ph) != nullptr && ph.p_type == PT_LOAD) {
        syms->loads.push_back({ph.p_offset, ph.p_vaddr, ph.p_filesz});
      }
    }
    // .symtab (full) if present, else .dynsym (exported only).
    for (GElf_Word want : {GElf_Word{SHT_SYMTAB}, GElf_Word{SHT_DYNSYM}}) {
      for (Elf_Scn* scn = elf_nextscn(e, nullptr); scn != nullptr;
           scn = elf_nextscn(e, scn)) {
        GElf_Shdr sh;
        if (gelf_getshdr(scn, &sh) == nullptr || sh.sh_type != want) continue;
        Elf_Data* data = elf_getdata(scn, nullptr);
        const size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
        for (size_t i = 0; data != nullptr && i < n; ++i) {
          GElf_Sym sym;
          if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) continue;
          if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_value == 0) continue;
          const char* name = elf_strptr(e, sh.sh_link, sym.st_name);
          if (name == nullptr || *name == '\0') continue;
          syms->syms.push_back({sym.st_value, sym.st_size, name});
        }
      }
      if (!syms->syms.empty()) break;
    }
    std::sort(syms->syms.begin(), syms->syms.end(),
              [](const ElfSyms::Sym& a, const ElfSyms::Sym& b) { return a.value < b.value; });
  }
  if (e != nullptr) elf_end(e);
  if (fd >= 0) close(fd);
  const ElfSyms* out = syms.get();
  files_[path] = std::move(syms);
  return out;
}

std::string Symbolizer::Name(uint64_t addr, bool return_address) const {
  const uint64_t look = return_address && addr > 0 ? addr - 1 : addr;
  for (const Mapping& m : maps_) {
    if (look < m.start || look >= m.end) continue;
    const uint64_t file_off = look - m.start + m.offset;
    const ElfSyms* f = Load(m.path);
    uint64_t vaddr = file_off;
    for (const ElfSyms::Load& l : f->loads) {
      if (file_off >= l.offset && file_off < l.offset + l.filesz) {
        vaddr = file_off - l.offset + l.vaddr;
        break;
      }
    }
    auto it = std::upper_bound(
        f->syms.begin(), f->syms.end(), vaddr,
        [](uint64_t v, const ElfSyms::Sym& s) { return v < s.value; });
    if (it != f->syms.begin()) {
      const ElfSyms::Sym& s = *std::prev(it);
      if (vaddr < s.value + std::max<uint64_t>(s.size, 1)) {
        return Demangle(s.name) + "+" + Hex(vaddr + (addr - look) - s.value);
      }
    }
    return Basename(m.path) + "+" + Hex(file_off + (addr - look));
  }
  return Hex(addr);
}

}  // namespace tslab::trace
