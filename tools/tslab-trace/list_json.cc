#include "tools/tslab-trace/list_json.h"

namespace tslab::trace {

nlohmann::ordered_json ListJson(const std::string& shown,
                                const std::vector<UsdtNote>& notes) {
  nlohmann::ordered_json probes = nlohmann::ordered_json::array();
  for (const UsdtNote& n : notes) {
    probes.push_back({{"provider", n.provider},
                      {"name", n.name},
                      {"args", n.args_text},
                      {"pc", n.pc},
                      {"semaphore", n.semaphore}});
  }
  return {{"path", shown}, {"probes", probes}};
}

}  // namespace tslab::trace
