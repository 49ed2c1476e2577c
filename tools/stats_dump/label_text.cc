#include "tools/stats_dump/label_text.h"

#include <cstdint>

namespace tslab::stats_dump {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// Bytes of the valid UTF-8 character at s[0..n), 0 if none starts there
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
size_t Utf8Length(const unsigned char* s, size_t n) {
  const unsigned char b = s[0];
  if (b < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
  if (b >= 0xC2 && b <= 0xDF) {
    len = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    len = 3;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    len = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; ++i) {
    if ((s[i] & 0xC0) != 0x80) return 0;
  }
  return len;
}

}  // namespace

std::string CleanLabel(const char* label, size_t max) {
  std::string out;
  if (label == nullptr) return out;
  size_t n = 0;
  while (n < max && label[n] != '\0') ++n;
  const auto* s = reinterpret_cast<const unsigned char*>(label);
  for (size_t i = 0; i < n;) {
    const size_t len = Utf8Length(s + i, n - i);
    if (len == 0 || (len == 1 && (s[i] < 0x20 || s[i] == 0x7F))) {
      out += kReplacement;
      ++i;
      continue;
    }
    out.append(label + i, len);
    i += len;
  }
  return out;
}

std::string EpochName(unsigned epoch, const char* label, size_t max) {
  std::string out = "epoch " + std::to_string(epoch);
  const std::string l = CleanLabel(label, max);
  if (!l.empty()) out += " `" + l + "`";
  return out;
}

std::string GroupedCount(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace tslab::stats_dump
