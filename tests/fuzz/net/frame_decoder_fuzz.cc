// Feeds arbitrary bytes, in arbitrary chunk sizes, to the peer frame
// decoder, alternately through feed() and through prepare()/commit() as the
// peer link reads (a payload then lands in the frame's own buffer). Every decoded frame must
// respect the announced lengths and limits, and the decoder's buffer stays bounded.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "net/frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tandem::net;
  if (size == 0) return 0;
  // First byte picks the chunk size so that reassembly is exercised.
  const size_t chunk = size_t{data[0]} + 1;
  const auto* bytes = reinterpret_cast<const std::byte*>(data + 1);
  const size_t n = size - 1;
  FrameDecoder dec;
  for (size_t off = 0; off < n; off += chunk) {
    const size_t len = off + chunk <= n ? chunk : n - off;
    if ((off / chunk) % 2 == 0) {
      dec.feed(std::span<const std::byte>(bytes + off, len));
    } else {
      // prepare() may offer less than asked (the rest of a payload being
      // filled): copy in as many rounds as it takes, as the peer link reads.
      for (size_t done = 0; done < len;) {
        const std::span<std::byte> space = dec.prepare(len - done + 7);
        if (space.empty()) std::abort();
        const size_t m = space.size() < len - done ? space.size() : len - done;
        std::memcpy(space.data(), bytes + off + done, m);
        dec.commit(m);
        done += m;
      }
    }
    // At most one incomplete frame is buffered after next() ran dry.
    if (dec.buffered_bytes() > kFrameHeaderBytes + kMaxMessageBytes + kMaxPayloadBytes + chunk) {
      std::abort();
    }
    for (;;) {
      auto r = dec.next();
      if (!r.ok()) return 0;
      if (!r->has_value()) break;
      const Frame& f = **r;
      if (f.message.size() != f.header.message_bytes || f.message.size() > kMaxMessageBytes ||
          f.payload.size() != f.header.payload_bytes || f.payload.size() > kMaxPayloadBytes ||
          (!f.payload.empty() && !payload_allowed(f.header.type))) {
        std::abort();
      }
    }
  }
  return 0;
}
