// tests/install_test.cc: `make install` and a consumer outside the tree
// (tests/consumer/run.sh, which says what it builds and checks).
//
// One run of the script (a few seconds: an install into a temporary
// prefix, a handful of small compiles, a CMake project); each step it
// passes prints "ok: STEP", and each test here asserts its steps.
#include <gtest/gtest.h>

#include <string>

#include "tests/tool_test_util.h"

namespace {

using tslab::tool_test::Run;
using tslab::tool_test::RunResult;

const RunResult& Consumer() {
  static const RunResult r = Run({"/bin/bash", std::string(TSLAB_SOURCE_DIR) +
                                                   "/tests/consumer/run.sh",
                                  TSLAB_SOURCE_DIR, TSLAB_SAN, TSLAB_SANFLAGS},
                                 {}, 600);
  return r;
}

bool Passed(const std::string& step) {
  return Consumer().out.find("\nok: " + step) != std::string::npos ||
         Consumer().out.rfind("ok: " + step, 0) == 0;
}

TEST(Install, WholeRunPasses) {
  EXPECT_EQ(Consumer().code, 0) << Consumer().out << Consumer().err;
  EXPECT_NE(Consumer().out.find("consumer: all passed"), std::string::npos) << Consumer().out;
}

TEST(Install, LayoutSonameSymlinksPkgConfigCMake) {
  EXPECT_TRUE(Passed("install")) << Consumer().out;
  EXPECT_TRUE(Passed("layout")) << Consumer().out;
}

TEST(Install, ReadmeSnippetsBuildAndRunWithPkgConfig) {
  EXPECT_TRUE(Passed("readme-c.1: cc main.c $(pkg-config --cflags --libs tslab)"))
      << Consumer().out;
  if (std::string(TSLAB_SAN).empty()) {
    EXPECT_TRUE(Passed("readme-c.2: cc -static main.c $(pkg-config --static")) << Consumer().out;
  }
  EXPECT_TRUE(Passed("readme-cxx.1: c++ -std=c++17 main.cc $(pkg-config")) << Consumer().out;
}

TEST(Install, ReadmeCMakeProjectFindsTheTargets) {
  EXPECT_TRUE(Passed("cmake: find_package(tslab)")) << Consumer().out;
}

TEST(Install, CompatProgramLinksLibtslabCompat) {
  EXPECT_TRUE(Passed("compat: pkg-config tslab_compat")) << Consumer().out;
}

TEST(Install, ToolsManPagesCompletion) {
  EXPECT_TRUE(Passed("tools: --version, share/tslab/doctor.yaml")) << Consumer().out;
  EXPECT_TRUE(Passed("man pages render")) << Consumer().out;
  EXPECT_TRUE(Passed("completion")) << Consumer().out;
}

TEST(Install, DestdirAndUninstallLeaveNothing) {
  EXPECT_TRUE(Passed("destdir and uninstall")) << Consumer().out;
}

}  // namespace
