// tools/common/terminal_text.h: what the text views do to other people's
// bytes before a terminal sees them (issue 9, finding 6).
#include "tools/common/terminal_text.h"

#include <gtest/gtest.h>

#include <string>

namespace tslab::tools {
namespace {

TEST(TerminalText, PlainAndMultibyteTextIsUnchanged) {
  EXPECT_EQ(TerminalSafe("request:checkout v2"), "request:checkout v2");
  EXPECT_EQ(TerminalSafe("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa2"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa2");
}

TEST(TerminalText, ControlSequencesAreShownNotObeyed) {
  // OSC 0 (window title) and CSI 2J (clear screen), BEL, newline, DEL.
  EXPECT_EQ(TerminalSafe("x\x1b]0;pwned\x07y"), "x\\x1b]0;pwned\\x07y");
  EXPECT_EQ(TerminalSafe("\x1b[2J\n\x7f"), "\\x1b[2J\\x0a\\x7f");
  // C1 CSI (U+009B) as UTF-8, and as a bare byte (not valid UTF-8).
  EXPECT_EQ(TerminalSafe("a\xc2\x9b" "2Jb"), "a\\xc2\\x9b2Jb");
  EXPECT_EQ(TerminalSafe("a\x9b" "2Jb"), "a\\x9b2Jb");
  EXPECT_EQ(TerminalSafe("\xc2\xa0"), "\xc2\xa0");  // U+00A0 is printable
}

TEST(TerminalText, InvalidUtf8IsEscapedByteByByte) {
  EXPECT_EQ(TerminalSafe("bad\xff\xfe"), "bad\\xff\\xfe");
  EXPECT_EQ(TerminalSafe("\xc3"), "\\xc3");              // cut short
  EXPECT_EQ(TerminalSafe("\xc0\xaf"), "\\xc0\\xaf");     // overlong '/'
  EXPECT_EQ(TerminalSafe("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // surrogate
  EXPECT_EQ(TerminalSafe("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
  EXPECT_EQ(TerminalSafe(std::string("a\0b", 3)), "a\\x00b");
}

TEST(TerminalText, CutCharsNeverSplitsACharacter) {
  EXPECT_EQ(CutChars("short", 48), "short");
  const std::string e = "\xc3\xa9";  // 2 bytes, 1 character
  std::string many;
  for (int i = 0; i < 60; ++i) many += e;
  const std::string cut = CutChars(many, 48);
  std::string want;
  for (int i = 0; i < 45; ++i) want += e;
  EXPECT_EQ(cut, want + "...");
  EXPECT_EQ(CutChars("abcdefgh", 8), "abcdefgh");
  EXPECT_EQ(CutChars("abcdefghi", 8), "abcde...");
}

}  // namespace
}  // namespace tslab::tools
