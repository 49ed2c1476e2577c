/* Seed for fuzz/elf_notes_fuzz.cc: a small object with USDT notes of the
 * tslab provider, with semaphores, compiled by `make fuzz`. */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

__extension__ unsigned short tslab_slow_path_semaphore
    __attribute__((unused, section(".probes")));
__extension__ unsigned short tslab_epoch_advance_semaphore
    __attribute__((unused, section(".probes")));

int seed_probe(int cls, long epoch, unsigned long dur) {
  DTRACE_PROBE3(tslab, slow_path, cls, epoch, dur);
  DTRACE_PROBE2(tslab, epoch_advance, cls, epoch);
  return cls + (int)epoch + (int)dur;
}
