// Epoch labels in the stats region: the sequence lock of TslabRegionLabel
// (tslab/stats_region.h) and the truncation of a label to its bound.
//
// Purpose: a label is written on cold paths (tslab_epoch_set_label, an
// epoch's reopen) and read by snapshots, in this process or another one
// (stats_dump maps the region read-only), while it may be changing. The
// reader must never see a torn or unterminated string.
// Invariants: one writer at a time per label (the caller holds the
// allocator's label lock); `text` is always NUL-terminated within
// TSLAB_EPOCH_LABEL_MAX bytes; a reader returns either a label that was
// whole at some instant or "" (and false) after kLabelReadTries torn reads.
// Cost: a write is ~6 stores; a read ~6 loads, retried only
// while a write is in flight (a write takes nanoseconds).
// Thread-safety: WriteLabel needs the caller's lock; ReadLabel is lock-free
// and may run concurrently with a write from any process.
#ifndef TSLAB_SRC_ALLOCATOR_EPOCH_LABEL_H_
#define TSLAB_SRC_ALLOCATOR_EPOCH_LABEL_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tslab/stats_region.h"

namespace tslab::internal {

inline constexpr int kLabelReadTries = 1000;
inline constexpr size_t kLabelWords = TSLAB_EPOCH_LABEL_MAX / 8;

// Copies label into out (TSLAB_EPOCH_LABEL_MAX bytes, NUL-padded): at most
// TSLAB_EPOCH_LABEL_MAX - 1 bytes, cut before a UTF-8 character that would
// not fit whole (never inside one). nullptr gives "". Pure.
inline void TruncateLabel(const char* label, char* out) {
  std::memset(out, 0, TSLAB_EPOCH_LABEL_MAX);
  if (label == nullptr) return;
  size_t n = 0;
  while (n < TSLAB_EPOCH_LABEL_MAX - 1 && label[n] != '\0') ++n;
  if (label[n] != '\0') {
    // Cut: back off over continuation bytes (10xxxxxx) to the lead byte of
    // the character the cut falls in, which is dropped with them when the
    // next byte continues it.
    size_t k = n;
    while (k > 0 &&
           (static_cast<unsigned char>(label[k]) & 0xC0) == 0x80) {
      --k;
    }
    n = k;
  }
  std::memcpy(out, label, n);
}

// REQUIRES: the caller's lock (one writer). text: TSLAB_EPOCH_LABEL_MAX
// bytes with a NUL among them (TruncateLabel's output).
inline void WriteLabel(TslabRegionLabel& l, const char* text) {
  uint64_t words[kLabelWords];
  std::memcpy(words, text, sizeof(words));
  const uint64_t seq = __atomic_load_n(&l.seq, __ATOMIC_RELAXED);
  __atomic_store_n(&l.seq, seq + 1, __ATOMIC_RELAXED);  // odd: writing
  // Release stores of the text: a reader that sees any new word sees the
  // odd seq too (no fence: GCC's TSan refuses them; on x86-64 these are
  // plain stores either way).
  for (size_t i = 0; i < kLabelWords; ++i) {
    __atomic_store_n(&l.text[i], words[i], __ATOMIC_RELEASE);
  }
  __atomic_store_n(&l.seq, seq + 2, __ATOMIC_RELEASE);  // even: whole
}

// Copies the label into out (TSLAB_EPOCH_LABEL_MAX bytes, NUL-terminated
// and NUL-padded after the text). False, with out "", if every try raced
// a write (a writer stalled mid-write) or the text found was not
// terminated (a corrupt region).
inline bool ReadLabel(const TslabRegionLabel& l, char* out) {
  uint64_t words[kLabelWords];
  for (int tries = 0; tries < kLabelReadTries; ++tries) {
    const uint64_t s1 = __atomic_load_n(&l.seq, __ATOMIC_ACQUIRE);
    if (s1 & 1) continue;  // a write in flight
    // Acquire loads: a new word read makes the writer's odd seq visible to
    // the second read of seq below, which then differs from s1.
    for (size_t i = 0; i < kLabelWords; ++i) {
      words[i] = __atomic_load_n(&l.text[i], __ATOMIC_ACQUIRE);
    }
    if (__atomic_load_n(&l.seq, __ATOMIC_RELAXED) != s1) continue;
    std::memcpy(out, words, sizeof(words));
    const void* nul = std::memchr(out, '\0', TSLAB_EPOCH_LABEL_MAX);
    if (nul == nullptr) break;
    const size_t len = static_cast<const char*>(nul) - out;
    std::memset(out + len, 0, TSLAB_EPOCH_LABEL_MAX - len);
    return true;
  }
  std::memset(out, 0, TSLAB_EPOCH_LABEL_MAX);
  return false;
}

}  // namespace tslab::internal

#endif  // TSLAB_SRC_ALLOCATOR_EPOCH_LABEL_H_
