// The USDT notes of libtslab: every documented probe, with its argument
// count, sizes and signedness, in libtslab.so, in libtslab.a's objects and
// in tslab-demo (linked with libtslab.a); each argument in a form libbpf
// 1.1 parses; each semaphore where its ELF symbol is; no tslab probe at all
// in the TSLAB_USDT=0 variant; and docs/probes.md's table says what the
// probe list (src/usdt/tslab_probes.h) says.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/trace_test_util.h"
#include "tools/tslab-trace/elf_probes.h"
#include "tools/tslab-trace/probes.h"

namespace {

using tslab::trace::ArchiveMemberNotes;
using tslab::trace::UsdtArg;
using tslab::trace::UsdtNote;
using tslab::trace_test::BuildDir;
using tslab::trace_test::ExpectedProbe;
using tslab::trace_test::ExpectedProbes;
using tslab::trace_test::SourceDir;

// Checks one note against the documented probe: argument count, sizes,
// signedness, and that libbpf 1.1 can fetch every argument.
void CheckNote(const UsdtNote& n, const ExpectedProbe& want,
               const std::string& where) {
  SCOPED_TRACE(where + ": tslab:" + n.name + " args \"" + n.args_text + "\"");
  ASSERT_EQ(n.args.size(), want.args.size());
  for (size_t i = 0; i < n.args.size(); ++i) {
    const UsdtArg& a = n.args[i];
    EXPECT_EQ(a.size, want.args[i] < 0 ? -want.args[i] : want.args[i])
        << "argument " << i;
    EXPECT_EQ(a.is_signed, want.args[i] < 0) << "argument " << i;
    EXPECT_NE(a.kind, UsdtArg::Kind::kOther)
        << "argument " << i << " (" << a.text
        << ") is not a constant, register or register+offset";
  }
}

// Every expected probe is there (at least one site), every tslab note is
// an expected probe with the documented arguments.
void CheckNotes(const std::vector<UsdtNote>& notes, const std::string& where) {
  std::set<std::string> found;
  for (const UsdtNote& n : notes) {
    if (n.provider != "tslab") continue;
    const ExpectedProbe* want = nullptr;
    for (const ExpectedProbe& p : ExpectedProbes()) {
      if (n.name == p.name) want = &p;
    }
    ASSERT_NE(want, nullptr) << where << ": undocumented probe tslab:"
                             << n.name;
    CheckNote(n, *want, where);
    found.insert(n.name);
  }
  for (const ExpectedProbe& p : ExpectedProbes()) {
    EXPECT_TRUE(found.count(p.name)) << where << ": no tslab:" << p.name;
  }
}

// A linked file (executable or shared library): notes, and semaphores at
// the address of their symbols, loadable from the file (the kernel's
// ref_ctr_offset is a file offset).
class LinkedFileNotes : public ::testing::TestWithParam<const char*> {};

TEST_P(LinkedFileNotes, EveryProbeWithSemaphore) {
  const std::string path = BuildDir() + "/" + GetParam();
  std::vector<UsdtNote> notes;
  std::string err;
  ASSERT_TRUE(tslab::trace::ReadUsdtNotes(path, &notes, &err)) << err;
  CheckNotes(notes, path);
  for (const UsdtNote& n : notes) {
    if (n.provider != "tslab") continue;
    SCOPED_TRACE(path + ": tslab:" + n.name);
    EXPECT_NE(n.pc, 0u);
    auto sym = tslab::trace::FindSymbol(path, "tslab_" + n.name + "_semaphore");
    ASSERT_TRUE(sym.has_value());
    EXPECT_EQ(n.semaphore, *sym);
    EXPECT_TRUE(tslab::trace::VaddrToFileOffset(path, n.semaphore).has_value());
    EXPECT_TRUE(tslab::trace::VaddrToFileOffset(path, n.pc).has_value());
  }
}

INSTANTIATE_TEST_SUITE_P(Files, LinkedFileNotes,
                         ::testing::Values("lib/libtslab.so", "bin/tslab-demo"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return s;
                         });

// The notes of every object in BUILD/lib/name.
void ReadArchive(const std::string& name,
                 std::vector<ArchiveMemberNotes>* members) {
  const std::string path = BuildDir() + "/lib/" + name;
  std::string err;
  ASSERT_TRUE(tslab::trace::ReadArchiveUsdtNotes(path, members, &err)) << err;
  ASSERT_FALSE(members->empty()) << path;
}

// The static library: the notes are in its members' objects (addresses
// are filled by relocation when a program links them).
TEST(StaticLibraryNotes, EveryProbeInTheObjects) {
  std::vector<ArchiveMemberNotes> members;
  ASSERT_NO_FATAL_FAILURE(ReadArchive("libtslab.a", &members));
  std::vector<UsdtNote> all;
  for (const ArchiveMemberNotes& m : members) {
    for (const UsdtNote& n : m.notes) all.push_back(n);
  }
  CheckNotes(all, "libtslab.a");
}

// TSLAB_USDT=0 compiles every probe out.
TEST(StaticLibraryNotes, NoUsdtVariantHasNone) {
  std::vector<ArchiveMemberNotes> members;
  ASSERT_NO_FATAL_FAILURE(ReadArchive("libtslab_nousdt.a", &members));
  for (const ArchiveMemberNotes& m : members) {
    for (const UsdtNote& n : m.notes) {
      EXPECT_NE(n.provider, "tslab") << m.member << ": tslab:" << n.name;
    }
  }
}

// The argument parser itself, on the forms sdt.h emits.
TEST(UsdtArgParse, Forms) {
  UsdtArg a = tslab::trace::ParseUsdtArg("-4@%esi");
  EXPECT_EQ(a.size, 4);
  EXPECT_TRUE(a.is_signed);
  EXPECT_EQ(a.kind, UsdtArg::Kind::kReg);
  a = tslab::trace::ParseUsdtArg("8@40(%rsp)");
  EXPECT_EQ(a.size, 8);
  EXPECT_FALSE(a.is_signed);
  EXPECT_EQ(a.kind, UsdtArg::Kind::kRegDeref);
  a = tslab::trace::ParseUsdtArg("8@-16(%rbp)");
  EXPECT_EQ(a.kind, UsdtArg::Kind::kRegDeref);
  a = tslab::trace::ParseUsdtArg("4@$7");
  EXPECT_EQ(a.kind, UsdtArg::Kind::kConst);
  a = tslab::trace::ParseUsdtArg("8@(%rax,%rdx,8)");
  EXPECT_EQ(a.kind, UsdtArg::Kind::kOther);
  a = tslab::trace::ParseUsdtArg("3@%eax");
  EXPECT_EQ(a.size, 0);
  EXPECT_EQ(tslab::trace::ParseUsdtArgs(" 4@%edi  -4@%esi 8@%rax").size(), 3u);
}

// docs/probes.md's table is text: it must say what the probe list
// (src/usdt/tslab_probes.h) says. Every listed probe has one row whose
// Arguments column is the list's arguments (`name` type, ...), and every
// row is a listed probe.
TEST(ProbeDocs, TableMatchesTheProbeList) {
  std::ifstream in(SourceDir() + "/docs/probes.md");
  ASSERT_TRUE(in) << SourceDir() << "/docs/probes.md";
  std::map<std::string, std::string> rows;  // probe -> Arguments column
  for (std::string line; std::getline(in, line);) {
    const std::string head = "| `tslab:";
    if (line.rfind(head, 0) != 0) continue;
    const size_t name_end = line.find('`', head.size());
    ASSERT_NE(name_end, std::string::npos) << line;
    const std::string name = line.substr(head.size(), name_end - head.size());
    const size_t c1 = line.find('|', 1), c2 = line.find('|', c1 + 1);
    ASSERT_NE(c2, std::string::npos) << line;
    std::string args = line.substr(c1 + 1, c2 - c1 - 1);
    args = args.substr(args.find_first_not_of(' '));
    args = args.substr(0, args.find_last_not_of(' ') + 1);
    EXPECT_TRUE(rows.emplace(name, args).second) << "two rows for " << name;
  }
  for (const tslab::trace::ProbeInfo& p : tslab::trace::kProbes) {
    std::string want;
    for (int i = 0; i < p.nargs; ++i) {
      want += (i == 0 ? "`" : ", `") + std::string(p.args[i].name) + "` " +
              std::string(p.args[i].type);
    }
    auto it = rows.find(p.name);
    ASSERT_NE(it, rows.end()) << "docs/probes.md: no row | `tslab:" << p.name
                              << "` |";
    EXPECT_EQ(it->second, want) << "docs/probes.md: tslab:" << p.name
                                << " arguments (list: \"" << p.args_text
                                << "\")";
    rows.erase(it);
  }
  for (const auto& [name, args] : rows) {
    ADD_FAILURE() << "docs/probes.md documents tslab:" << name
                  << ", which is not in TSLAB_USDT_PROBE_LIST";
  }
}

}  // namespace
