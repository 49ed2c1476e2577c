#include "tools/stats_dump/label_text.h"

#include <cstdint>
#include <cstring>
#include <string_view>

#include "tools/common/terminal_text.h"

namespace tslab::stats_dump {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

std::string CleanLabel(const char* label, size_t max) {
  std::string out;
  if (label == nullptr) return out;
  const std::string_view s(label, strnlen(label, max));
  for (size_t i = 0; i < s.size();) {
    const size_t len = tools::Utf8CharLength(s, i);
    if (len == 0 || tools::IsControlChar(s, i, len)) {
      out += kReplacement;
      i += len == 0 ? 1 : len;
      continue;
    }
    out.append(s.substr(i, len));
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
