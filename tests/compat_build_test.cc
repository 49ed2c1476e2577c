// The compat headers as a user of the original temporal-slab meets them:
// tests/compat/every_decl.c uses every declaration of include/tslab/
// compat/ and checks what each returns; it is built as C11 and as C++
// with only -I include/tslab/compat (mk/tests_core.mk). This test runs
// both builds, and checks that the one call tslab cannot honour
// (allocator_init, caller-provided storage of an opaque type) fails at
// compile time with a message that names the replacement.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/tool_test_util.h"

namespace {

using namespace tslab::tool_test;  // NOLINT: test helpers

void RunProgram(const std::string& name) {
  RunResult r = Run({BinDir() + "/tests/compat/" + name}, {}, 60);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\nok "), std::string::npos) << r.out << r.err;
  // tls_print_stats() printed the allocator's line to stdout.
  EXPECT_NE(r.out.find("allocator 0: allocs 1, frees 1"), std::string::npos) << r.out;
}

TEST(CompatBuild, EveryDeclarationAsC11) { RunProgram("every_decl_c11"); }
TEST(CompatBuild, EveryDeclarationAsCpp) { RunProgram("every_decl_cxx"); }

// name as found on $PATH (the test's Run does not search it).
std::string OnPath(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return name;
}

// A call of allocator_init compiles to an error naming the replacement,
// in C and in C++ (compiled, not linked: GCC reports the error attribute
// when it emits the call).
TEST(CompatBuild, AllocatorInitIsACompileTimeError) {
  ScratchDir dir;
  const std::string cc = OnPath(TSLAB_CC), cxx = OnPath(TSLAB_CXX);
  const std::string obj = dir / "init.o";
  const std::string src = dir / "init.c";
  ASSERT_TRUE(WriteFile(src,
                        "#include <slab_alloc.h>\n"
                        "void f(SlabAllocator* a) { allocator_init(a); }\n"));
  const std::string inc = std::string("-I") + TSLAB_SOURCE_DIR + "/include/tslab/compat";
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{cc, "-std=c11", "-c", "-o", obj, inc, src},
        std::vector<std::string>{cxx, "-x", "c++", "-std=c++17", "-c", "-o", obj, inc,
                                 src}}) {
    RunResult r = tslab::tool_test::Run(argv);
    EXPECT_NE(r.code, 0) << argv[0] << " accepted a call of allocator_init";
    EXPECT_NE(r.err.find("use slab_allocator_create()"), std::string::npos)
        << argv[0] << ": " << r.err;
  }
  // The same file without the call compiles: the headers themselves are fine.
  ASSERT_TRUE(WriteFile(src, "#include <slab_alloc.h>\nint main(void) { return 0; }\n"));
  RunResult ok = tslab::tool_test::Run(
      {cc, "-std=c11", "-pedantic", "-Wall", "-Wextra", "-Werror", "-c", "-o", obj, inc, src});
  EXPECT_EQ(ok.code, 0) << ok.err;
}

}  // namespace
