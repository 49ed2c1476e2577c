// Fuzz target: stats_dump's doctor config loader (configs/doctor.yaml
// format, yaml-cpp underneath) on any bytes, as `--config FILE` reads
// them, then the effective config as JSON (--show-config).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/mem_file.h"
#include "tools/common/json_text.h"
#include "tools/stats_dump/doctor_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const tslab::fuzz::MemFile file("doctor.yaml", data, size);
  if (!file.ok()) return 0;
  tslab::stats_dump::DoctorConfig c = tslab::stats_dump::DefaultDoctorConfig();
  if (tslab::stats_dump::LoadDoctorConfig(file.path(), &c).ok()) {
    (void)tslab::tools::JsonText(tslab::stats_dump::DoctorConfigJson(c));
  }
  return 0;
}
