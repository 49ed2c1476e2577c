// Epoch labels as stats_dump shows them (JSON, text view, --doctor), and
// the small text helpers of the sentences that name an epoch.
//
// Purpose: a label comes from another process's memory (or a crafted
// region file): it may hold any bytes. JSON needs valid UTF-8 (nlohmann
// throws on anything else) and a terminal must not receive control
// characters, so every shown label passes through CleanLabel.
// Invariants: the result is valid UTF-8 with no C0 or C1 control
// character and no DEL; every byte of the input that is not part of a
// valid UTF-8 character, and every control character, becomes U+FFFD
// (tools/common/terminal_text.h decides both); reading stops at a NUL or
// after max bytes. (Allocator names are kept as they are and shown through
// tools::JsonText and tools::TerminalSafe instead.)
// Thread-safety: pure functions.
#ifndef TSLAB_TOOLS_STATS_DUMP_LABEL_TEXT_H_
#define TSLAB_TOOLS_STATS_DUMP_LABEL_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace tslab::stats_dump {

std::string CleanLabel(const char* label, size_t max);

// "epoch 7 `request:checkout`", or "epoch 7" when the label is empty.
std::string EpochName(unsigned epoch, const char* label, size_t max);

// 1764 -> "1,764": counts in sentences (the doctor's findings).
std::string GroupedCount(uint64_t n);

}  // namespace tslab::stats_dump

#endif  // TSLAB_TOOLS_STATS_DUMP_LABEL_TEXT_H_
