// Feeds arbitrary post-handshake bytes, as frames, to a Replicator in one
// of several starting states (chosen by the first input byte). Whatever
// arrives, the core must neither crash nor trip an invariant: bad input only
// ever closes the connection. Local I/O completes at once against an
// in-memory disk, sometimes with an error.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <variant>
#include <vector>

#include "core/replicator.h"
#include "net/frame.h"
#include "peer.pb.h"

namespace {

using namespace tandem;
using namespace tandem::core;

constexpr uint64_t kSize = 64 * 1024;

struct Runner {
  Runner(Replicator& c, std::vector<std::byte>& d) : core(c), disk(d) {}
  Replicator& core;
  std::vector<std::byte>& disk;
  bool fail_some_io = false;
  bool closed = false;
  uint64_t io_count = 0;
  std::vector<Action> actions;
  std::vector<SubmitIo> pending;
  std::vector<uint64_t> completed;

  void run() {
    for (int round = 0; round < 64; ++round) {
      core.take_actions(actions);
      for (auto& a : actions) {
        if (auto* io = std::get_if<SubmitIo>(&a)) pending.push_back(*io);
        if (auto* c = std::get_if<CompleteRequest>(&a)) completed.push_back(c->request_id);
        if (std::holds_alternative<CloseConnection>(a)) closed = true;
        if (auto* f = std::get_if<SendFrame>(&a)) {
          // The runtime would encode it: the frame must respect the limits.
          std::vector<std::byte> out;
          const auto* m = reinterpret_cast<const std::byte*>(f->message.data());
          if (!net::encode_frame(f->type, f->flags, {m, f->message.size()},
                                 {f->payload, f->payload_length}, out)
                   .ok()) {
            __builtin_trap();
          }
        }
      }
      if (pending.empty()) return;
      std::vector<SubmitIo> now;
      now.swap(pending);
      for (const SubmitIo& io : now) {
        if (io.offset + io.length > disk.size()) __builtin_trap();
        const int error = fail_some_io && (++io_count % 3 == 0) ? 5 : 0;
        if (error == 0 && io.kind == LocalIoKind::kWrite) {
          std::memcpy(disk.data() + io.offset, io.data, io.length);
        } else if (error == 0 && io.kind == LocalIoKind::kRead) {
          std::memcpy(io.data, disk.data() + io.offset, io.length);
        }
        core.on_io_complete(io.io_id, error);
      }
    }
  }
};

net::Frame peer_node_state(uint8_t mode, DigestAlg integrity) {
  proto::NodeState ns;
  ns.set_node_name("mail02");
  ns.set_node_id(2);
  ns.set_size_bytes(kSize);
  ns.set_role((mode & 0x20) ? proto::ROLE_PRIMARY : proto::ROLE_SECONDARY);
  ns.set_disk((mode & 0x40) ? proto::DISK_UPTODATE : proto::DISK_INCONSISTENT);
  ns.set_current_uuid(0x77);
  ns.set_protocol(proto::WIRE_PROTOCOL_C);
  ns.set_allow_two_primaries(true);
  ns.set_integrity_alg(static_cast<uint32_t>(integrity));
  const std::string msg = ns.SerializeAsString();
  net::Frame f;
  f.header.type = net::FrameType::kNodeState;
  f.header.message_bytes = static_cast<uint32_t>(msg.size());
  const auto* p = reinterpret_cast<const std::byte*>(msg.data());
  f.message.assign(p, p + msg.size());
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t mode = data[0];
  const size_t chunk = size_t{data[1]} + 1;

  std::vector<std::byte> disk(kSize, std::byte{0x5A});
  std::vector<std::byte> app_write(8192, std::byte{0x11});
  std::vector<std::byte> app_read(4096);

  ReplicatorConfig cfg;
  cfg.resource = "r0";
  cfg.local_node = "mail01";
  cfg.local_node_id = 1;
  cfg.peer_node = "mail02";
  cfg.protocol = WireProtocol::kC;
  cfg.allow_two_primaries = (mode & 0x10) != 0;
  cfg.resync_chunk_bytes = 16 * 1024;
  // data-integrity-alg on in half the inputs: fuzzed data frames then
  // mostly fail the digest check.
  cfg.integrity_alg = (data[1] & 0x80) != 0 ? DigestAlg::kCrc32c : DigestAlg::kNone;
  Replicator core(cfg);
  Runner run(core, disk);
  run.fail_some_io = (mode & 0x80) != 0;

  Metadata md;
  md.current_uuid = 0x77;
  md.consistent = (mode & 3) != 1;
  md.up_to_date = (mode & 3) != 1;
  if ((mode & 3) != 2) (void)core.attach(DiskInfo{kSize, md});
  if ((mode & 3) == 3) (void)core.promote();
  (void)core.connect();
  core.on_connection_established(1);
  run.run();
  if (mode & 4) {
    core.on_frame(peer_node_state(mode, cfg.integrity_alg));
    run.run();
  }
  if (mode & 8) {
    core.submit_write(1, 4096, ConstBuffer{app_write.data(), 8192}, true);
    core.submit_read(2, 0, MutableBuffer{app_read.data(), 4096});
    core.submit_flush(3);
    core.submit_write(4, 8192, ConstBuffer{app_write.data(), 4096}, false);
  }

  net::FrameDecoder dec;
  const auto* bytes = reinterpret_cast<const std::byte*>(data + 2);
  const size_t n = size - 2;
  for (size_t off = 0; off < n && !run.closed; off += chunk) {
    const size_t len = off + chunk <= n ? chunk : n - off;
    dec.feed(std::span<const std::byte>(bytes + off, len));
    for (;;) {
      auto r = dec.next();
      if (!r.ok() || !r->has_value()) break;
      core.on_frame(std::move(**r));
      run.run();
      if (run.closed) break;
    }
  }
  core.on_timer(TimerId::kPing);
  core.on_timer(TimerId::kAckTimeout);
  run.run();
  core.on_connection_lost("fuzz input ended");
  run.run();
  // Whatever happened, every application request has been answered once.
  if ((mode & 8) && run.completed.size() != 4) __builtin_trap();
  return 0;
}
