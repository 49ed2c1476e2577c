// USDT notes and symbols through libelf; /proc/PID/maps parsing.
#include "tools/tslab-trace/elf_probes.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tslab::trace {
namespace {

constexpr uint32_t kNtStapsdt = 3;  // sdt.h's note type

// An open file with a libelf handle over it; both closed on destruction.
class ElfFile {
 public:
  ElfFile() = default;
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;
  ~ElfFile() {
    if (elf_ != nullptr) elf_end(elf_);
    if (fd_ >= 0) close(fd_);
  }
  bool Open(const std::string& path, std::string* err) {
    if (elf_version(EV_CURRENT) == EV_NONE) {
      *err = "libelf: " + std::string(elf_errmsg(-1));
      return false;
    }
    fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      *err = path + ": " + std::strerror(errno);
      return false;
    }
    elf_ = elf_begin(fd_, ELF_C_READ, nullptr);
    if (elf_ == nullptr) {
      *err = path + ": " + elf_errmsg(-1);
      return false;
    }
    return true;
  }
  int fd() const { return fd_; }
  Elf* elf() const { return elf_; }

 private:
  int fd_ = -1;
  Elf* elf_ = nullptr;
};

Elf_Scn* FindSection(Elf* elf, const char* want, GElf_Shdr* shdr_out) {
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf, &shstrndx) != 0) return nullptr;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr;
       scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr) continue;
    const char* name = elf_strptr(elf, shstrndx, shdr.sh_name);
    if (name != nullptr && std::strcmp(name, want) == 0) {
      if (shdr_out != nullptr) *shdr_out = shdr;
      return scn;
    }
  }
  return nullptr;
}

// Reads the .note.stapsdt notes of an ELF (file or archive member).
bool NotesOf(Elf* elf, std::vector<UsdtNote>* out, std::string* err) {
  if (elf_kind(elf) != ELF_K_ELF) {
    *err = "not an ELF file";
    return false;
  }
  const int cls = gelf_getclass(elf);
  const size_t addr_size = cls == ELFCLASS32 ? 4 : 8;
  GElf_Shdr base_shdr;
  const bool has_base =
      FindSection(elf, ".stapsdt.base", &base_shdr) != nullptr;
  GElf_Shdr shdr;
  Elf_Scn* scn = FindSection(elf, ".note.stapsdt", &shdr);
  if (scn == nullptr) return true;
  Elf_Data* data = elf_getdata(scn, nullptr);
  if (data == nullptr) return true;
  size_t off = 0, name_off = 0, desc_off = 0;
  GElf_Nhdr nhdr;
  while ((off = gelf_getnote(data, off, &nhdr, &name_off, &desc_off)) != 0) {
    const char* base = static_cast<const char*>(data->d_buf);
    if (nhdr.n_type != kNtStapsdt || nhdr.n_namesz != sizeof("stapsdt") ||
        std::strcmp(base + name_off, "stapsdt") != 0 ||
        nhdr.n_descsz < 3 * addr_size + 3) {
      continue;
    }
    const char* desc = base + desc_off;
    auto addr_at = [&](size_t i) {
      if (addr_size == 4) {
        uint32_t v;
        std::memcpy(&v, desc + i * 4, 4);
        return uint64_t{v};
      }
      uint64_t v;
      std::memcpy(&v, desc + i * 8, 8);
      return v;
    };
    UsdtNote n;
    n.pc = addr_at(0);
    const uint64_t note_base = addr_at(1);
    n.semaphore = addr_at(2);
    // A prelinked file moved its sections; .stapsdt.base says by how much.
    if (has_base && note_base != 0) n.pc += base_shdr.sh_addr - note_base;
    const char* p = desc + 3 * addr_size;
    const char* end = desc + nhdr.n_descsz;
    auto next_str = [&](std::string* s) {
      const void* z = std::memchr(p, '\0', end - p);
      if (z == nullptr) return false;
      s->assign(p, static_cast<const char*>(z));
      p = static_cast<const char*>(z) + 1;
      return true;
    };
    if (!next_str(&n.provider) || !next_str(&n.name)) continue;
    if (p < end) next_str(&n.args_text);
    n.args = ParseUsdtArgs(n.args_text);
    out->push_back(std::move(n));
  }
  return true;
}

}  // namespace

UsdtArg ParseUsdtArg(std::string_view text) {
  UsdtArg a;
  a.text = std::string(text);
  size_t at = text.find('@');
  if (at == std::string_view::npos) return a;
  std::string_view size = text.substr(0, at), op = text.substr(at + 1);
  if (!size.empty() && size[0] == '-') {
    a.is_signed = true;
    size.remove_prefix(1);
  }
  int n = 0;
  for (char c : size) {
    if (c < '0' || c > '9') return a;
    n = n * 10 + (c - '0');
  }
  if (n != 1 && n != 2 && n != 4 && n != 8) return a;
  a.size = n;
  if (op.empty()) return a;
  // The three operand forms libbpf 1.1's x86 parser accepts.
  auto is_reg = [](std::string_view r) {
    if (r.size() < 2 || r[0] != '%') return false;
    for (char c : r.substr(1)) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
    }
    return true;
  };
  auto is_int = [](std::string_view s) {
    if (!s.empty() && s[0] == '-') s.remove_prefix(1);
    if (s.empty()) return false;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
    }
    return true;
  };
  if (op[0] == '$' && is_int(op.substr(1))) {
    a.kind = UsdtArg::Kind::kConst;
  } else if (is_reg(op)) {
    a.kind = UsdtArg::Kind::kReg;
  } else if (op.back() == ')') {
    size_t lp = op.find('(');
    std::string_view disp = op.substr(0, lp);
    std::string_view reg = op.substr(lp + 1, op.size() - lp - 2);
    if (lp != std::string_view::npos && (disp.empty() || is_int(disp)) &&
        is_reg(reg)) {
      a.kind = UsdtArg::Kind::kRegDeref;
    }
  }
  return a;
}

std::vector<UsdtArg> ParseUsdtArgs(std::string_view text) {
  std::vector<UsdtArg> args;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    size_t j = text.find(' ', i);
    if (j == std::string_view::npos) j = text.size();
    if (j > i) args.push_back(ParseUsdtArg(text.substr(i, j - i)));
    i = j;
  }
  return args;
}

bool ReadUsdtNotes(const std::string& path, std::vector<UsdtNote>* out,
                   std::string* err) {
  ElfFile f;
  if (!f.Open(path, err)) return false;
  if (!NotesOf(f.elf(), out, err)) {
    *err = path + ": " + *err;
    return false;
  }
  return true;
}

bool ReadArchiveUsdtNotes(const std::string& path,
                          std::vector<ArchiveMemberNotes>* out,
                          std::string* err) {
  ElfFile f;
  if (!f.Open(path, err)) return false;
  if (elf_kind(f.elf()) != ELF_K_AR) {
    *err = path + ": not an archive";
    return false;
  }
  Elf_Cmd cmd = ELF_C_READ;
  while (Elf* member = elf_begin(f.fd(), cmd, f.elf())) {
    Elf_Arhdr* h = elf_getarhdr(member);
    if (h != nullptr && h->ar_name != nullptr &&
        elf_kind(member) == ELF_K_ELF) {
      ArchiveMemberNotes m;
      m.member = h->ar_name;
      std::string e;
      if (!NotesOf(member, &m.notes, &e)) {
        *err = path + "(" + m.member + "): " + e;
        elf_end(member);
        return false;
      }
      out->push_back(std::move(m));
    }
    cmd = elf_next(member);
    elf_end(member);
  }
  return true;
}

std::optional<uint64_t> FindSymbol(const std::string& path,
                                   const std::string& name) {
  ElfFile f;
  std::string err;
  if (!f.Open(path, &err)) return std::nullopt;
  for (const char* tab : {".symtab", ".dynsym"}) {
    GElf_Shdr shdr;
    Elf_Scn* scn = FindSection(f.elf(), tab, &shdr);
    if (scn == nullptr || shdr.sh_entsize == 0) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data == nullptr) continue;
    const size_t n = shdr.sh_size / shdr.sh_entsize;
    for (size_t i = 0; i < n; ++i) {
      GElf_Sym sym;
      if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) continue;
      if (sym.st_shndx == SHN_UNDEF) continue;
      const char* s = elf_strptr(f.elf(), shdr.sh_link, sym.st_name);
      if (s != nullptr && name == s) return sym.st_value;
    }
  }
  return std::nullopt;
}

std::optional<uint64_t> VaddrToFileOffset(const std::string& path,
                                          uint64_t vaddr) {
  ElfFile f;
  std::string err;
  if (!f.Open(path, &err)) return std::nullopt;
  size_t n = 0;
  if (elf_getphdrnum(f.elf(), &n) != 0) return std::nullopt;
  for (size_t i = 0; i < n; ++i) {
    GElf_Phdr ph;
    if (gelf_getphdr(f.elf(), static_cast<int>(i), &ph) == nullptr) continue;
    if (ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr &&
        vaddr < ph.p_vaddr + ph.p_filesz) {
      return vaddr - ph.p_vaddr + ph.p_offset;
    }
  }
  return std::nullopt;
}

bool ReadProcMaps(pid_t pid, std::vector<MapsEntry>* out, std::string* err) {
  const std::string path = "/proc/" + std::to_string(pid) + "/maps";
  std::ifstream in(path);
  if (!in) {
    *err = path + ": " + std::strerror(errno);
    return false;
  }
  std::string line;
  while (std::getline(in, line)) {
    MapsEntry e;
    char perms[8] = {};
    int path_pos = 0;
    unsigned long long start, end, offset, inode;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %x:%x %llu %n", &start,
                    &end, perms, &offset, &e.dev_major, &e.dev_minor, &inode,
                    &path_pos) < 7) {
      continue;
    }
    e.start = start;
    e.end = end;
    e.offset = offset;
    e.inode = inode;
    e.perms = perms;
    if (path_pos > 0 && static_cast<size_t>(path_pos) <= line.size()) {
      e.path = line.substr(path_pos);
    }
    out->push_back(std::move(e));
  }
  return true;
}

std::optional<uint64_t> FileOffsetToAddress(pid_t pid, dev_t dev,
                                            ino_t inode, uint64_t offset) {
  std::vector<MapsEntry> maps;
  std::string err;
  if (!ReadProcMaps(pid, &maps, &err)) return std::nullopt;
  for (const MapsEntry& m : maps) {
    if (m.inode != inode || m.dev_major != major(dev) ||
        m.dev_minor != minor(dev)) {
      continue;
    }
    if (offset >= m.offset && offset < m.offset + (m.end - m.start)) {
      return m.start + (offset - m.offset);
    }
  }
  return std::nullopt;
}

}  // namespace tslab::trace
