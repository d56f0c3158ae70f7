// Feeds arbitrary bytes, in arbitrary chunk sizes, to the control socket's
// frame reader and parses every message as a ControlRequest, as tandemd
// does. Frames must respect the length limit; nothing may crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "control.pb.h"
#include "daemon/control_framing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tandem::daemon;
  if (size == 0) return 0;
  // First byte picks the chunk size so that reassembly is exercised.
  const size_t chunk = size_t{data[0]} + 1;
  const auto* bytes = reinterpret_cast<const std::byte*>(data + 1);
  const size_t n = size - 1;
  ControlFrameReader reader;
  for (size_t off = 0; off < n; off += chunk) {
    const size_t len = off + chunk <= n ? chunk : n - off;
    reader.feed(std::span<const std::byte>(bytes + off, len));
    for (;;) {
      auto m = reader.next();
      if (!m.ok()) {
        if (!reader.failed()) std::abort();
        return 0;
      }
      if (!m->has_value()) break;
      if ((*m)->size() > kMaxControlMessageBytes) std::abort();
      tandem::proto::ControlRequest request;
      if (request.ParseFromString(**m)) {
        // Re-encoding what was parsed must fit a frame again.
        std::vector<std::byte> out;
        if (!append_control_frame(request.SerializeAsString(), out).ok()) std::abort();
      }
    }
    if (reader.buffered_bytes() > kMaxControlMessageBytes + 4 + chunk) std::abort();
  }
  return 0;
}
