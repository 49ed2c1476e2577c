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

#include <cctype>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/tool_test_util.h"

namespace {

using tslab::tool_test::BinDir;
using tslab::tool_test::Run;

std::string Source() { return TSLAB_SOURCE_DIR; }
std::string LibDir() { return BinDir() + "/../lib"; }

// Function names declared in a C header. A scan, not std::regex (GCC 12's
// SAN=address build fails -Wmaybe-uninitialized inside <regex>): comments,
// preprocessor lines and TSLAB_STATIC_ASSERT(...) are dropped; the text is
// cut into statements at ; { and }; a statement that is not a typedef and
// has "TYPE... NAME(" declares NAME.
std::string StripForScan(const std::string& in) {
  std::string out;
  for (size_t i = 0; i < in.size();) {
    if (in.compare(i, 2, "/*") == 0) {
      const size_t e = in.find("*/", i + 2);
      i = e == std::string::npos ? in.size() : e + 2;
      out += ' ';
    } else if (in.compare(i, 2, "//") == 0) {
      i = in.find('\n', i);
      if (i == std::string::npos) i = in.size();
    } else if (in[i] == '#' && (i == 0 || in[i - 1] == '\n')) {
      // A directive, with its continuation lines.
      while (i < in.size() && !(in[i] == '\n' && in[i - 1] != '\\')) ++i;
    } else if (in.compare(i, 20, "TSLAB_STATIC_ASSERT(") == 0) {
      int depth = 0;
      for (; i < in.size(); ++i) {
        if (in[i] == '(') ++depth;
        if (in[i] == ')' && --depth == 0) {
          ++i;
          break;
        }
      }
      out += ';';
    } else {
      out += in[i++];
    }
  }
  return out;
}

bool IdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::set<std::string> DeclaredFunctions(const std::string& header) {
  std::ifstream in(header);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = StripForScan(ss.str());
  std::set<std::string> names;
  size_t begin = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != ';' && text[i] != '{' && text[i] != '}') continue;
    const std::string st = text.substr(begin, i - begin);
    begin = i + 1;
    const size_t paren = st.find('(');
    if (paren == std::string::npos) continue;
    // The statement's words before the '(': TYPE... NAME.
    std::vector<std::string> words;
    std::string w;
    for (size_t k = 0; k <= paren; ++k) {
      if (k < paren && IdentChar(st[k])) {
        w += st[k];
      } else if (!w.empty()) {
        words.push_back(w);
        w.clear();
      }
    }
    if (words.size() < 2) continue;  // no type: a macro call, a cast
    // Only blanks between the name and its '(' (not a function pointer).
    size_t k = paren;
    while (k > 0 && std::isspace(static_cast<unsigned char>(st[k - 1]))) --k;
    if (k == 0 || !IdentChar(st[k - 1])) continue;
    const std::string& first = words.front();
    if (first == "typedef" || first == "static" || first == "return") continue;
    names.insert(words.back());
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
  const size_t at = r.out.find("(SONAME)");
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string line = r.out.substr(at, r.out.find('\n', at) - at);
  const size_t name = line.find("[libtslab.so.");
  ASSERT_NE(name, std::string::npos) << line;
  EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(line[name + 13]))) << line;
  EXPECT_EQ(line.back(), ']') << line;
}

}  // namespace
