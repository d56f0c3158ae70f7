// Feeds arbitrary client bytes, in arbitrary chunk sizes, to NbdSession,
// either from the first handshake byte or after a valid handshake (with or
// without structured replies), and
// completes the requests it produces in a scrambled order, some with errors.
// Every request handed to the volume must respect the export's size,
// read-only flag, block limits and payload length; anything else aborts.
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "nbd/protocol.h"
#include "nbd/session.h"

namespace {

using tandem::nbd::BlockOp;
using tandem::nbd::BlockRequest;
using tandem::nbd::ExportInfo;
using tandem::nbd::NbdSession;

using Bytes = std::vector<std::byte>;

void be(Bytes& out, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
}

// A valid client handshake, so that most inputs reach the transmission phase.
Bytes handshake(bool use_go, bool structured) {
  Bytes b;
  be(b, 3, 4);  // FIXED_NEWSTYLE | NO_ZEROES
  if (structured) {
    be(b, tandem::nbd::kOptionMagic, 8);
    be(b, tandem::nbd::kOptStructuredReply, 4);
    be(b, 0, 4);
  }
  be(b, tandem::nbd::kOptionMagic, 8);
  if (use_go) {
    be(b, tandem::nbd::kOptGo, 4);
    be(b, 6, 4);
    be(b, 0, 4);  // empty name
    be(b, 0, 2);  // no information requests
  } else {
    be(b, tandem::nbd::kOptExportName, 4);
    be(b, 0, 4);
  }
  return b;
}

void check(const BlockRequest& r, const ExportInfo& e) {
  const bool changes =
      r.op == BlockOp::kWrite || r.op == BlockOp::kTrim || r.op == BlockOp::kWriteZeroes;
  if (e.read_only && changes) std::abort();
  if (r.op == BlockOp::kFlush) {
    if (r.offset != 0 || r.length != 0) std::abort();
    return;
  }
  if (r.length == 0 || r.offset > e.size || r.length > e.size - r.offset) std::abort();
  if ((r.op == BlockOp::kRead || r.op == BlockOp::kWrite) && r.length > e.limits.maximum) {
    std::abort();
  }
  if (r.offset % e.limits.minimum != 0 || r.length % e.limits.minimum != 0) std::abort();
  if (r.op == BlockOp::kWrite ? r.data.size() != r.length : !r.data.empty()) std::abort();
  if (r.no_hole && r.op != BlockOp::kWriteZeroes) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t mode = data[0];
  const size_t chunk = size_t{data[1]} + 1;
  const auto* bytes = reinterpret_cast<const std::byte*>(data + 2);
  Bytes input;
  if (mode & 1) input = handshake((mode & 2) != 0, (mode & 16) != 0);
  input.insert(input.end(), bytes, bytes + (size - 2));

  ExportInfo e;
  e.size = 1 << 20;
  e.read_only = (mode & 4) != 0;
  if (mode & 8) e.limits.minimum = 512;
  tandem::nbd::SessionLimits limits;
  limits.max_inflight_requests = 8;
  NbdSession s({e}, "fuzz", limits);

  std::vector<BlockRequest> pending;
  uint32_t rng = mode * 2654435761u + 1;
  auto complete_some = [&](bool all) {
    while (!pending.empty()) {
      rng = rng * 1103515245u + 12345u;
      if (!all && (rng >> 16) % 3 == 0) break;
      const size_t pick = (rng >> 8) % pending.size();
      BlockRequest r = std::move(pending[pick]);
      pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(pick));
      int err = 0;
      if ((rng >> 20) % 5 == 0) {
        err = EIO;
      } else if (r.op == BlockOp::kRead) {
        r.data.assign(r.length, std::byte{0x5a});
      }
      s.complete(std::move(r), err);
    }
  };

  for (size_t off = 0; off < input.size();) {
    if (s.wants_input()) {
      const size_t len = std::min(chunk, input.size() - off);
      s.receive(std::span<const std::byte>(input.data() + off, len));
      off += len;
    } else if (pending.empty() && s.inflight() == 0) {
      break;  // closed or draining with nothing left to do
    }
    while (auto r = s.next_request()) {
      check(*r, e);
      pending.push_back(std::move(*r));
    }
    if (s.inflight() > limits.max_inflight_requests) std::abort();
    complete_some(!s.wants_input());
    s.take_output();
  }
  s.peer_closed();
  complete_some(true);
  if (s.inflight() != 0) std::abort();
  return 0;
}
