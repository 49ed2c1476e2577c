// The USDT semaphores: one per probe of TSLAB_USDT_PROBE_LIST
// (src/usdt/tslab_probes.h), in the .probes section where the
// kernel's uprobe reference counter finds them; and the per-thread time
// spent in nested probes (tslab_usdt.h). Defined once, here.
#include "src/usdt/tslab_usdt.h"

#if TSLAB_USDT
extern "C" {
#define TSLAB_USDT_DEFINE_SEMAPHORE(name, NAME, args)               \
  __attribute__((section(".probes"), used)) volatile unsigned short \
      tslab_##name##_semaphore = 0;
TSLAB_USDT_PROBE_LIST(TSLAB_USDT_DEFINE_SEMAPHORE)
#undef TSLAB_USDT_DEFINE_SEMAPHORE
}

namespace tslab::usdt {
constinit thread_local uint64_t tl_nested_probe_ns
    __attribute__((tls_model("initial-exec"))) = 0;
}  // namespace tslab::usdt
#endif
