// The doctor's config loader (tools/stats_dump/doctor_config.cc) as pure
// logic: YAML text in, thresholds or one error line out. No process.
#include <gtest/gtest.h>

#include <string>

#include "tests/tool_test_util.h"
#include "tools/stats_dump/doctor_config.h"

namespace tslab::stats_dump {
namespace {

using tool_test::ScratchDir;
using tool_test::WriteFile;

class DoctorConfigTest : public ::testing::Test {
 protected:
  Status Load(const std::string& yaml, DoctorConfig* out) {
    const std::string path = dir_ / "doctor.yaml";
    EXPECT_TRUE(WriteFile(path, yaml));
    return LoadDoctorConfig(path, out);
  }
  // The error of a config that must be refused: exit 14, one line that
  // names the file, the line and the key.
  std::string Refused(const std::string& yaml) {
    DoctorConfig c;
    Status s = Load(yaml, &c);
    EXPECT_EQ(s.code, Exit::kConfig) << yaml;
    EXPECT_EQ(s.message.find('\n'), std::string::npos) << s.message;
    EXPECT_EQ(s.message.rfind("config " + (dir_ / "doctor.yaml"), 0), 0u) << s.message;
    return s.message;
  }
  ScratchDir dir_;
};

TEST_F(DoctorConfigTest, ShippedValuesLoad) {
  DoctorConfig c;
  ASSERT_TRUE(Load("version: 1\nwindow_seconds: 2\nchecks:\n  slow_path_rate:\n"
                   "    warning: 0.1\n    critical: 0.5\n",
                   &c).ok());
  EXPECT_EQ(c.window_seconds, 2.0);
  EXPECT_EQ(c.Get("slow_path_rate").warning, 0.1);
  EXPECT_EQ(c.Get("slow_path_rate").critical, 0.5);
}

// Issue 9, finding 13: a duplicate key silently took the last value.
TEST_F(DoctorConfigTest, DuplicateKeysAreRefusedWithBothLines) {
  const std::string top = Refused("window_seconds: 1\nversion: 1\nwindow_seconds: 5\n");
  EXPECT_NE(top.find(":3: window_seconds: given twice (first on line 1)"), std::string::npos)
      << top;
  const std::string check = Refused(
      "checks:\n  slow_path_rate:\n    warning: 0.1\n    warning: 0.9\n");
  EXPECT_NE(check.find(":4: checks.slow_path_rate.warning: given twice (first on line 3)"),
            std::string::npos)
      << check;
  const std::string id = Refused(
      "checks:\n  slow_path_rate:\n    warning: 0.1\n  slow_path_rate:\n    enabled: false\n");
  EXPECT_NE(id.find(":4: checks.slow_path_rate: given twice"), std::string::npos) << id;
}

// Issue 9, finding 13: a second document (after ---) was ignored.
TEST_F(DoctorConfigTest, ASecondDocumentIsRefused) {
  const std::string m = Refused("window_seconds: 1\n---\nwindow_seconds: 9\n");
  EXPECT_NE(m.find("second YAML document"), std::string::npos) << m;
  EXPECT_NE(m.find(":2:"), std::string::npos) << m;  // the marker's line
}

// Issue 9, finding 13: 0x10 (a YAML 1.2 integer) was refused.
TEST_F(DoctorConfigTest, HexAndOctalIntegersAreNumbers) {
  DoctorConfig c;
  ASSERT_TRUE(Load("checks:\n  epoch_wraps_live:\n    warning: 0x10\n    critical: 0o20\n", &c)
                  .ok());
  EXPECT_EQ(c.Get("epoch_wraps_live").warning, 16.0);
  EXPECT_EQ(c.Get("epoch_wraps_live").critical, 16.0);
  EXPECT_NE(Refused("checks:\n  epoch_wraps_live:\n    warning: 0xZZ\n")
                .find("checks.epoch_wraps_live.warning: expected a number, got '0xZZ'"),
            std::string::npos);
}

// Issue 9, finding 13: errors that did not name the key.
TEST_F(DoctorConfigTest, EveryErrorNamesItsKey) {
  EXPECT_NE(Refused("? [a, b]\n: 1\n").find("(key): a key must be a plain name"),
            std::string::npos);
  EXPECT_NE(Refused("checks:\n  ? {x: 1}\n  : 1\n").find("checks.(key)"), std::string::npos);
  EXPECT_NE(Refused("window_seconds: [1]\n").find("window_seconds: expected a number"),
            std::string::npos);
  EXPECT_NE(Refused("checks:\n  nope: {}\n").find("checks.nope: unknown check"),
            std::string::npos);
  EXPECT_NE(Refused("checks:\n  slow_path_rate:\n    enabled: maybe\n")
                .find("checks.slow_path_rate.enabled: expected true or false"),
            std::string::npos);
  EXPECT_NE(Refused("window_seconds: .nan\n").find("window_seconds: must be a finite number"),
            std::string::npos);
}

}  // namespace
}  // namespace tslab::stats_dump
