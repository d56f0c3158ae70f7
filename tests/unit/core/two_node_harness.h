// A deterministic two-node harness for the replication core: two
// Replicators wired together through in-order channels that carry real
// encoded frames (net/frame.h), in-memory disks that execute the cores'
// local I/O in whatever order the test (or a seeded random scheduler)
// chooses, and a record of every application request and its completion.
// The simulator (tests/sim) is meant to grow from this.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/range_set.h"
#include "core/replicator.h"
#include "net/frame.h"

namespace tandem::core::testing {

ReplicatorConfig make_config(const std::string& self, uint32_t self_id, const std::string& peer,
                             WireProtocol protocol = WireProtocol::kC, bool two_primaries = false);

// Metadata of a disk that has never been synchronized / holds good data.
Metadata fresh_metadata();
Metadata uptodate_metadata(uint64_t current_uuid);

struct AppRequest {
  enum class Kind { kWrite, kRead, kFlush } kind = Kind::kWrite;
  uint64_t offset = 0;
  std::vector<std::byte> buffer;   // write source / read destination
  std::vector<std::byte> written;  // copy of a write's data (buffer is scribbled at completion)
  bool done = false;
  int result = 0;
};

class SimNode {
 public:
  SimNode(ReplicatorConfig config, uint64_t disk_bytes);

  Replicator& core() { return core_; }
  Status status() const { return core_.status(); }

  // Application requests; the id is the core's request id.
  uint64_t write(uint64_t offset, std::vector<std::byte> data, bool fua = false);
  uint64_t write_pattern(uint64_t offset, uint32_t length, uint8_t seed, bool fua = false);
  uint64_t read(uint64_t offset, uint32_t length);
  uint64_t flush();
  const AppRequest& request(uint64_t id) const { return requests_.at(id); }
  bool done(uint64_t id) const { return requests_.at(id).done; }
  size_t unfinished_requests() const;

  std::vector<std::byte> disk;
  std::vector<SubmitIo> pending_ios;
  RangeSet bitmap;  // the runtime's out-of-sync bitmap (byte ranges)
  Metadata metadata;
  size_t metadata_writes = 0;
  std::vector<CloseConnection> closes;
  std::vector<std::string> state_log;
  std::vector<net::FrameType> sent;  // every frame type sent, in order
  std::vector<bool> timer_armed = std::vector<bool>(kTimerCount, false);
  std::vector<SubmitIo> submitted;         // every I/O ever submitted (for FUA checks)
  std::vector<uint64_t> completion_order;  // request ids as they completed
  std::vector<RunHandler> handlers;        // every handler the core asked to run
  std::vector<std::string> events;         // LogEvent texts
  // Exit status the harness reports for a handler (default: not configured).
  std::function<int(Handler)> handler_exit;
  // When set, handlers keep running until the test calls on_handler_done.
  bool hold_handlers = false;
  // Returns the errno a local I/O completes with (default: 0).
  std::function<int(const SubmitIo&)> io_result;

 private:
  friend class TwoNodeHarness;
  Replicator core_;
  std::vector<std::pair<uint64_t, int>> finished_handlers;  // reported at the next drain()
  std::map<uint64_t, AppRequest> requests_;
  uint64_t next_request_ = 1;
};

class TwoNodeHarness {
 public:
  TwoNodeHarness(ReplicatorConfig a, ReplicatorConfig b, uint64_t disk_bytes, uint64_t seed = 1);

  SimNode& node(int i) { return *nodes_[i]; }
  SimNode& a() { return *nodes_[0]; }
  SimNode& b() { return *nodes_[1]; }

  // Executes every pending action of both cores (sends go to the channels,
  // I/O to the pending lists, completions to the request records).
  void drain();
  // Both nodes connect() and the handshake completes.
  void connect_both();
  // The handshake completes on both sides (they must be Connecting) and
  // their NodeState frames are exchanged.
  void establish();
  // The handshake completes on both sides and each sends its NodeState,
  // which stays in flight (deliver_one delivers it): a test can let one
  // side decide and cut the link before the other hears of it.
  void open_link();
  // The TCP connection breaks: frames in flight are lost, both sides told.
  void cut_link();
  bool link_up() const { return link_up_; }

  size_t in_flight(int from) const { return channel_[from].size(); }
  // The type of the next frame node `from` sent (nullopt: none in flight).
  std::optional<net::FrameType> next_frame_type(int from);
  // Flips a bit in the last byte of the next frame node `from` sent (for a
  // data frame, its payload's last byte): data changed on the way.
  void corrupt_next(int from);
  // Delivers the next frame sent by node `from` to the other node.
  bool deliver_one(int from);
  // Completes node's pending I/O number `index` with io_result's errno.
  bool complete_io(int node, size_t index = 0);
  void complete_all_io(int node);
  // One random event: an I/O completion or a frame delivery. False when
  // nothing is pending.
  bool step();
  // Steps until nothing is pending; returns the number of steps.
  size_t run_until_quiet(size_t max_steps = 10'000'000);
  std::mt19937_64& rng() { return rng_; }
  // The reason of the first CloseConnection either node emitted ("" if none).
  std::string first_close_reason() const;

 private:
  void drain_node(int i);

  std::unique_ptr<SimNode> nodes_[2];
  std::deque<std::vector<std::byte>> channel_[2];  // encoded frames sent by node i
  bool link_up_ = false;
  bool exchanging_ = false;  // establish(): the first NodeStates are both in flight
  bool lost_after_exchange_[2] = {false, false};
  std::mt19937_64 rng_;
  std::vector<Action> scratch_;
};

}  // namespace tandem::core::testing
