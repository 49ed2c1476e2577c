// tests/symbols_test.cc: the shared libraries export the public C API and
// nothing else (mk/lib.mk: -fvisibility=hidden, the public headers'
// #pragma GCC visibility).
//
// libtslab.so: exactly the functions declared in tslab/tslab.h and
// tslab/stats_region.h. libtslab_compat.so: those plus the functions of
// tslab/compat/*.h. The expected names are read from the headers
// themselves (the one source), the exported ones from `nm -D
// --defined-only`; any difference either way fails, with the names.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "tests/tool_test_util.h"

namespace {

using tslab::tool_test::BinDir;
using tslab::tool_test::Run;

std::string Source() { return TSLAB_SOURCE_DIR; }
std::string LibDir() { return BinDir() + "/../lib"; }

// Function names declared in a C header: an identifier followed by '(' at
// the start of a declaration (after its return type), skipping comments,
// macros and typedefs of function pointers.
std::set<std::string> DeclaredFunctions(const std::string& header) {
  std::ifstream in(header);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  text = std::regex_replace(text, std::regex(R"(/\*[\s\S]*?\*/)"), " ");
  text = std::regex_replace(text, std::regex(R"(//[^\n]*)"), " ");
  text = std::regex_replace(text, std::regex(R"(#[^\n]*(\\\n[^\n]*)*)"), " ");
  std::set<std::string> names;
  // A declaration: "type ... name(" after ; } { or ) (a TSLAB_STATIC_ASSERT
  // ends with one), where the name is not preceded by (
  // (a function pointer typedef) and the statement is not a typedef.
  std::regex decl(R"((^|[;}{)])\s*((?:[A-Za-z_][A-Za-z_0-9]*[\s\*]+)+)([A-Za-z_][A-Za-z_0-9]*)\s*\()");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), decl);
       it != std::sregex_iterator(); ++it) {
    const std::string type = (*it)[2];
    if (type.find("typedef") != std::string::npos) continue;
    if (type.find("return") != std::string::npos) continue;
    if (type.find("static") != std::string::npos) continue;  // inline helpers
    names.insert((*it)[3]);
  }
  return names;
}

std::set<std::string> Exported(const std::string& lib) {
  auto r = Run({"/usr/bin/nm", "-D", "--defined-only", lib});
  EXPECT_EQ(r.code, 0) << r.err;
  std::set<std::string> names;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    // "ADDRESS TYPE NAME"; a sanitizer build's runtime hooks are not ours.
    std::istringstream f(line);
    std::string addr, type, name;
    if (!(f >> addr >> type >> name)) continue;
    names.insert(name.substr(0, name.find('@')));
  }
  return names;
}

std::string Diff(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::string out;
  for (const std::string& n : a) {
    if (!b.count(n)) out += " " + n;
  }
  return out;
}

std::set<std::string> CoreApi() {
  std::set<std::string> want = DeclaredFunctions(Source() + "/include/tslab/tslab.h");
  for (const std::string& n : DeclaredFunctions(Source() + "/include/tslab/stats_region.h")) {
    want.insert(n);
  }
  return want;
}

TEST(Symbols, HeadersDeclareTheApi) {
  // The parser itself: known names found, no keyword taken for one.
  const std::set<std::string> core = CoreApi();
  EXPECT_TRUE(core.count("tslab_create"));
  EXPECT_TRUE(core.count("tslab_epoch_set_label"));
  EXPECT_TRUE(core.count("tslab_region_snapshot"));
  EXPECT_FALSE(core.count("tslab_madvise_fn"));  // a typedef
  EXPECT_GT(core.size(), 30u);
  const std::set<std::string> compat =
      DeclaredFunctions(Source() + "/include/tslab/compat/slab_alloc.h");
  EXPECT_TRUE(compat.count("epoch_close"));
  EXPECT_TRUE(compat.count("slab_free"));
}

TEST(Symbols, LibtslabExportsExactlyTheCApi) {
  const std::set<std::string> want = CoreApi();
  const std::set<std::string> got = Exported(LibDir() + "/libtslab.so");
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(Diff(got, want), "") << "exported but not in tslab/tslab.h, tslab/stats_region.h";
  EXPECT_EQ(Diff(want, got), "") << "declared but not exported";
  // No C++ name at all (tslab::internal stays inside).
  for (const std::string& n : got) EXPECT_NE(n.rfind("_Z", 0), 0u) << n;
}

TEST(Symbols, CompatLibraryAddsOnlyTheCompatApi) {
  std::set<std::string> want = CoreApi();
  for (const char* h : {"slab_alloc.h", "epoch_domain.h", "slab_stats.h", "slab_diagnostics.h"}) {
    for (const std::string& n :
         DeclaredFunctions(Source() + "/include/tslab/compat/" + std::string(h))) {
      want.insert(n);
    }
  }
  const std::set<std::string> got = Exported(LibDir() + "/libtslab_compat.so");
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(Diff(got, want), "") << "exported but not declared in a public header";
  // allocator_init/allocator_destroy are declared so that a call fails to
  // compile with a message; they exist as symbols only if defined.
  std::set<std::string> missing;
  for (const std::string& n : want) {
    if (!got.count(n)) missing.insert(n);
  }
  missing.erase("allocator_init");
  missing.erase("allocator_destroy");
  EXPECT_EQ(Diff(missing, {}), "") << "declared but not exported";
}

TEST(Symbols, SonameCarriesTheMajorVersion) {
  auto r = tslab::tool_test::Run({"/usr/bin/readelf", "-d", LibDir() + "/libtslab.so"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(\(SONAME\).*\[libtslab\.so\.[0-9]+\])")))
      << r.out;
}

}  // namespace
