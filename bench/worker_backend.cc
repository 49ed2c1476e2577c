// The backend-specific half of a worker: compiled once per backend with
// -DTSLAB_BENCH_BACKEND_{MALLOC,MIMALLOC,TSLAB} (see worker.h, backend.h).
// Kept free of heavy headers so that three compiles stay cheap.
#include "bench/backend.h"
#include "bench/workloads.h"

namespace tslab::bench {

#if defined(TSLAB_BENCH_BACKEND_TSLAB)
const char* BackendName() { return TslabOps<false>::kName; }

bool RunWorkload(const WorkerConfig& cfg, WorkerResult* r) {
  if (cfg.handle_api) return RunWith<TslabOps<true>>(cfg, r);
  return RunWith<TslabOps<false>>(cfg, r);
}
#else
const char* BackendName() { return BackendOps::kName; }

bool RunWorkload(const WorkerConfig& cfg, WorkerResult* r) {
  if (cfg.handle_api) {
    r->error = "--api handle needs the tslab backend";
    return false;
  }
  return RunWith<BackendOps>(cfg, r);
}
#endif

}  // namespace tslab::bench
