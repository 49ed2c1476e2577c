// Text made of other people's bytes, for a terminal or a UTF-8 format.
//
// Purpose: allocator names, other users' command lines and epoch labels
// are any bytes. Sent raw to a terminal, an ESC or OSC sequence in them
// rewrites the screen, the window title or the clipboard of whoever runs
// stats_dump (root included), and a cut in the middle of a UTF-8
// character leaves a broken one. Every text view shows such strings
// through TerminalSafe, and shortens them with CutChars.
//
// Invariants: TerminalSafe's result is valid UTF-8 with no C0 or C1
// control character and no DEL: each such byte or character, and each
// byte that is not part of valid UTF-8, is shown as \xNN (its bytes);
// everything else is unchanged. CutChars never splits a character.
// Thread-safety: pure functions.
#ifndef TSLAB_TOOLS_COMMON_TERMINAL_TEXT_H_
#define TSLAB_TOOLS_COMMON_TERMINAL_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tslab::tools {

// Length of the valid UTF-8 character at s[i] (RFC 3629: no overlong form,
// no surrogate, at most U+10FFFF), or 0 if the bytes there are not one.
inline size_t Utf8CharLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  const uint8_t c = b(0);
  size_t n = 0;
  uint8_t lo = 0x80, hi = 0xbf;  // range of the second byte
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (i + n > s.size() || b(1) < lo || b(1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (b(k) < 0x80 || b(k) > 0xbf) return 0;
  }
  return n;
}

// Whether the character of n bytes at s[i] is a C0 control, DEL or a C1
// control (U+0080..U+009F, 0xc2 0x80..0x9f in UTF-8).
inline bool IsControlChar(std::string_view s, size_t i, size_t n) {
  const auto c = static_cast<uint8_t>(s[i]);
  return (n == 1 && (c < 0x20 || c == 0x7f)) ||
         (n == 2 && c == 0xc2 && static_cast<uint8_t>(s[i + 1]) <= 0x9f);
}

inline std::string TerminalSafe(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  const auto escape = [&](uint8_t byte) {
    out += "\\x";
    out += kHex[byte >> 4];
    out += kHex[byte & 15];
  };
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8CharLength(s, i);
    if (n == 0) {
      escape(static_cast<uint8_t>(s[i]));
      ++i;
    } else if (IsControlChar(s, i, n)) {
      for (size_t k = 0; k < n; ++k) escape(static_cast<uint8_t>(s[i + k]));
      i += n;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

// s with every byte that is not part of valid UTF-8, and every NUL,
// replaced by U+FFFD; for places that need valid UTF-8 but not escapes
// (Prometheus label values). Plain ASCII without NUL is returned as is.
inline std::string ValidUtf8(std::string_view s) {
  bool ascii = true;
  for (char c : s) ascii &= c > 0;
  if (ascii) return std::string(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8CharLength(s, i);
    if (n == 0 || s[i] == '\0') {
      out += "\xef\xbf\xbd";  // U+FFFD
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

// s if it has at most max_chars characters (a byte that is not valid UTF-8
// counts as one), else its first max_chars - 3 and "...". max_chars >= 4.
inline std::string CutChars(std::string_view s, size_t max_chars) {
  size_t chars = 0, keep = 0;
  for (size_t i = 0; i < s.size(); ++chars) {
    if (chars == max_chars - 3) keep = i;
    const size_t n = Utf8CharLength(s, i);
    i += n == 0 ? 1 : n;
  }
  if (chars <= max_chars) return std::string(s);
  return std::string(s.substr(0, keep)) + "...";
}

}  // namespace tslab::tools

#endif  // TSLAB_TOOLS_COMMON_TERMINAL_TEXT_H_
