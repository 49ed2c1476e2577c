// Fuzz target: the stats region reader (tslab_region_snapshot) and the
// renderers of what it reads (stats_dump's JSON and text view), on
// untrusted bytes: a region file is any user's file in the shared stats
// directory.
//
// Input: byte 0 picks the mode. Mode 0: the rest is the whole region (any
// size, so truncation and tiny files are covered). Otherwise: the rest is
// written over the start of a real region image (header, global and class
// sections: where every bound and name comes from) and byte 0 also cuts
// the image short or not. The region then goes through the renderers with
// its own name and a command line taken from the input.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tools/common/json_text.h"
#include "tools/stats_dump/region_reader.h"
#include "tools/stats_dump/snapshot_json.h"
#include "tools/stats_dump/text_view.h"
#include "tslab/stats_region.h"
#include "tslab/tslab.h"

namespace {

// A real region: an allocator that did a little of everything.
const std::vector<uint64_t>& RealImage() {
  static const std::vector<uint64_t> image = [] {
    tslab_options o;
    tslab_options_init(&o);
    o.region_mode = TSLAB_REGION_OFF;
    o.name = "fuzz";
    tslab_allocator* a = tslab_create(&o);
    std::vector<uint64_t> w(tslab_region_size() / 8);
    if (a == nullptr) return w;
    void* p = tslab_malloc(a, 100, 0);
    tslab_epoch_advance(a);
    tslab_free(a, p);
    tslab_epoch_close(a, 0);
    std::memcpy(w.data(), tslab_region_base(a), w.size() * 8);
    tslab_destroy(a);
    return w;
  }();
  return image;
}

void Render(const std::vector<uint64_t>& region, size_t size,
            const std::string& command) {
  tslab::stats_dump::Sample sample;
  if (tslab_region_snapshot(region.data(), size, 1, &sample.snap) !=
      TSLAB_OK) {
    return;
  }
  TslabRegionHeader h;
  std::memcpy(&h, region.data(), sizeof(h));
  tslab::stats_dump::RegionIdentity id;
  id.path = "/dev/shm/tslab/" + command;
  id.pid = static_cast<int>(h.pid);
  id.allocator_id = h.allocator_id;
  id.name.assign(h.name, strnlen(h.name, sizeof(h.name)));
  const std::string json =
      tslab::tools::JsonText(tslab::stats_dump::SnapshotJson(sample, id));
  if (json.empty()) __builtin_trap();
  (void)tslab::stats_dump::TextView(sample, &sample, id, command);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  ++data;
  --size;
  const std::string command(reinterpret_cast<const char*>(data),
                            size < 64 ? size : 64);
  if (mode == 0) {
    std::vector<uint64_t> region((size + 7) / 8);
    if (size != 0) std::memcpy(region.data(), data, size);
    Render(region, size, command);
    return 0;
  }
  std::vector<uint64_t> region = RealImage();
  const size_t bytes = region.size() * 8;
  std::memcpy(region.data(), data, size < bytes ? size : bytes);
  // Odd modes cut the image: a file still growing, or truncated.
  const size_t cut = (mode & 1) ? bytes - (mode * 997u) % bytes : bytes;
  Render(region, cut, command);
  return 0;
}
