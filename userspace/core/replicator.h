// The replication core of ONE resource (one volume) on ONE node: a
// deterministic state machine. It takes events (admin commands, connection
// up/down, frames from the peer, application requests, local I/O
// completions, timers) and produces actions (replication_actions.h) that a
// runtime executes. It never calls the OS, reads a clock, or spawns
// threads; new generation UUIDs come from a generator seeded by the
// runtime. docs/replication.md describes the protocol and its rules.
//
// Usage: call an event method, then take_actions() and execute the actions
// in order. Application buffers stay owned by the runtime until the core
// completes the request that brought them.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/io_buffer.h"
#include "common/result.h"
#include "core/range_set.h"
#include "core/replication_actions.h"
#include "core/replication_types.h"
#include "core/resync_controller.h"
#include "core/slot_pool.h"
#include "core/sync_decision.h"
#include "net/frame.h"

namespace google::protobuf {
class MessageLite;
}
namespace tandem::proto {
class NodeState;
}

namespace tandem::core {

class Replicator {
 public:
  explicit Replicator(ReplicatorConfig config);

  // ---- admin commands; errors name the resource/peer and say what to do
  Result<void> attach(const DiskInfo& disk);
  Result<void> detach();
  // discard_my_data: at the next connection this node's data is declared
  // Inconsistent and resynchronized from an UpToDate peer.
  Result<void> connect(bool discard_my_data = false);
  Result<void> disconnect();
  // force: make an Inconsistent/Outdated/Consistent disk UpToDate (with
  // generation `new_uuid`, or a generated one when 0) and, when connected,
  // overwrite the peer with a full sync.
  Result<void> promote(bool force = false, uint64_t new_uuid = 0);
  Result<void> demote();
  // This node becomes the target of a full sync from the connected peer;
  // without a connection, at the next one (refused on a primary then).
  Result<void> invalidate();
  // The connected peer becomes the target of a full sync from this node.
  Result<void> invalidate_remote();
  // Unfreezes application I/O frozen by fencing resource-and-stonith.
  Result<void> resume_io();

  // ---- a handler started by a RunHandler action ended (exit status, or
  // kHandlerNotConfigured / kHandlerFailed)
  void on_handler_done(uint64_t handler_id, int exit_code);

  // ---- resync and online verify (docs/resync.md)
  // Online verify of the whole device (verify-alg) against the connected
  // peer; both disks must be UpToDate and no resync may be running.
  Result<void> start_verify();
  // The administrator's pause-sync / resume-sync: no resync data is issued
  // while paused on either node.
  Result<void> pause_sync();
  Result<void> resume_sync();
  // resync-after: the runtime pauses this resource's resync while the
  // resource it must follow is syncing.
  void set_sync_dependency_paused(bool paused);

  // ---- connection (the handshake of core/peer_handshake.h has finished)
  void on_connection_established(uint32_t protocol_version);
  void on_connection_lost(std::string_view reason);
  void on_frame(net::Frame&& frame);

  // ---- application requests; each ends with one CompleteRequest action
  void submit_write(uint64_t request_id, uint64_t offset, ConstBuffer data, bool fua);
  void submit_read(uint64_t request_id, uint64_t offset, MutableBuffer dest);
  void submit_flush(uint64_t request_id);

  // ---- local I/O and timers
  void on_io_complete(uint64_t io_id, int error);
  void on_timer(TimerId timer);

  // Moves the pending actions to `out` (which is cleared first).
  void take_actions(std::vector<Action>& out);
  bool has_actions() const { return !actions_.empty(); }

  Status status() const;
  const RangeSet& out_of_sync() const { return out_of_sync_; }
  const ReplicatorConfig& config() const { return config_; }
  // Event counters for status output and tests.
  struct Counters {
    uint64_t write_conflicts = 0;  // dual-primary: peer writes that overlapped pending writes
    uint64_t resync_redos = 0;     // resync chunks sent again after an overlapping peer write
  };
  const Counters& counters() const { return counters_; }
  // No request, I/O, received frame or resync chunk in flight.
  bool idle() const;

 private:
  // An application write from submission to its last acknowledgement.
  struct AppWrite {
    uint64_t request_id = 0;
    uint64_t offset = 0;
    uint32_t length = 0;
    const std::byte* data = nullptr;
    bool fua = false;
    uint64_t seq = 0;  // submission order
    bool issued = false;
    bool local_in_flight = false;
    bool local_ok = false;
    bool sent = false;
    uint64_t conn_gen = 0;
    bool recv_acked = false;
    bool write_acked = false;
    bool peer_has_it = false;
    bool peer_gone = false;
    bool completed = false;
    bool local_error_passed_on = false;  // on-io-error pass_on: the application gets EIO
  };
  struct AppRead {
    uint64_t request_id = 0;
    uint64_t offset = 0;
    uint32_t length = 0;
    std::byte* dest = nullptr;
    bool via_peer = false;
    uint64_t conn_gen = 0;
  };
  struct AppFlush {
    uint64_t request_id = 0;
    bool used_local = false;
    bool local_pending = false;
    bool local_ok = false;
    bool sent = false;
    uint64_t conn_gen = 0;
    bool barrier_acked = false;
    bool peer_ok = false;
    bool peer_gone = false;
    bool completed = false;
  };
  enum class IoOwner : uint8_t {
    kAppWrite,
    kAppRead,
    kAppFlush,
    kReceived,  // a peer write, resync data or barrier
    kPeerRead,
    kResyncRead,
  };
  struct LocalIo {
    IoOwner owner = IoOwner::kAppWrite;
    uint64_t owner_id = 0;
    LocalIoKind kind = LocalIoKind::kRead;
    uint64_t offset = 0;
    uint32_t length = 0;
  };
  enum class ReceivedKind : uint8_t { kWrite, kResyncData, kBarrier };
  // A frame from the peer that changes our disk, from arrival until done.
  struct Received {
    ReceivedKind kind = ReceivedKind::kWrite;
    uint64_t wire_id = 0;
    uint64_t offset = 0;
    uint32_t length = 0;
    uint64_t epoch = 0;
    bool fua = false;
    IoBuffer data;
    // Parts to write; less than the whole write on a dual-primary conflict
    // winner (its own pending writes win the overlap).
    std::vector<std::pair<uint64_t, uint32_t>> pieces;
    uint64_t conn_gen = 0;
    bool submitted = false;
    uint32_t ios_in_flight = 0;
    int error = 0;
  };
  struct PeerRead {
    uint64_t wire_id = 0;
    IoBuffer data;
    uint64_t conn_gen = 0;
  };
  // kSync: the sync source copies (or, with csums-alg, compares) a block;
  // kVerify: the verify source compares a block; kServeDigest: this node
  // reads a block to answer the peer's DigestRequest.
  enum class ChunkKind : uint8_t { kSync, kVerify, kServeDigest };
  enum class ChunkStage : uint8_t { kBlocked, kReading, kAwaitDigest, kAwaitAck };
  struct ResyncChunk {
    ChunkKind kind = ChunkKind::kSync;
    uint64_t offset = 0;
    uint32_t length = 0;
    ChunkStage stage = ChunkStage::kBlocked;
    IoBuffer data;
    bool redo = false;              // a peer write overlapped it while in flight: send again
    bool abandoned = false;         // the connection went away while its read was in flight
    bool counted = false;           // already counted in sync progress
    bool digest_requested = false;  // a DigestRequest for it is on its way
    bool have_peer_digest = false;
    bool read_done = false;
    uint32_t peer_error = 0;
    std::string peer_digest;
    uint64_t wire_id = 0;  // kServeDigest: the requester's id
    uint64_t conn_gen = 0;
    uint8_t purpose = 0;  // kServeDigest: proto::DigestPurpose
    DigestAlg alg = DigestAlg::kNone;
  };

  // ---- helpers: state
  // Constructs the action in place (no temporary variant to move).
  template <typename T>
  void emit(T&& action) {
    actions_.emplace_back(std::in_place_type<std::decay_t<T>>, std::forward<T>(action));
  }
  void note_state();
  void begin_event();
  void set_disk(DiskState d);
  void persist_metadata();
  void mark_out_of_sync(uint64_t offset, uint64_t length);
  void clear_out_of_sync(uint64_t offset, uint64_t length);
  DiskState advertised_disk() const;
  DiskView local_view() const;
  uint64_t new_uuid();
  void rotate_for_divergence();
  void rotate_for_peer_without_disk();
  Result<void> invalidate_unconnected();
  bool local_usable() const;
  // An UpToDate copy on this node / on the connected peer.
  bool local_authoritative() const;
  bool peer_authoritative() const;
  bool peer_gets_writes() const;
  bool peer_readable() const;
  uint64_t device_size() const;
  bool winner_on_conflict() const;
  std::string peer_desc() const;
  IoBuffer take_buffer(uint32_t length);
  void retire_buffer(IoBuffer&& buffer);
  uint64_t submit_io(IoOwner owner, uint64_t owner_id, LocalIoKind kind, uint64_t offset,
                     uint32_t length, std::byte* data, bool fua);
  void arm(TimerId t, uint32_t ms);
  void cancel(TimerId t);
  void send(net::FrameType type, const google::protobuf::MessageLite& msg,
            const std::byte* payload = nullptr, uint32_t payload_length = 0);
  void send_node_state(bool overwrite_peer = false, bool sync_done = false, uint64_t sync_uuid = 0,
                       bool request_sync = false, bool request_invalidate = false,
                       bool request_sync_source = false);
  void pump();

  // ---- connection
  void close_connection(ConnState via, std::string reason, bool reconnect);
  void protocol_error(std::string what);
  void refuse(std::string reason);
  void connection_cleanup();
  void on_node_state(const net::Frame& frame);
  void apply_sync_verdict(const SyncDecision& d);
  // ---- sync handshake helpers (replicator.cc)
  void become_sync_source(bool full, bool overwrite_peer);
  void adopt_sync_uuid(uint64_t sync_uuid);
  HandshakePolicy handshake_policy() const;
  uint32_t packed_after_sb() const;
  // data-integrity-alg: the digest of a data frame's payload ("" when off).
  std::string integrity_digest(const std::byte* data, uint32_t length) const;
  // Checks a received data frame's digest; a mismatch is a protocol error
  // (connection closed, logged) and returns false.
  bool integrity_ok(const char* frame, uint64_t offset, const std::string& digest,
                    std::span<const std::byte> payload);
  std::string after_sb_text() const;
  static std::string after_sb_text(uint32_t packed, const std::string& discard_node);
  void run_handler(Handler h);
  void log_event(int priority, std::string text);
  // ---- fencing (replicator_fencing.cc)
  void fence_peer_if_needed();
  void unfence_peer_if_needed();
  void on_fence_peer_done(int exit_code);
  void check_peer_state(const proto::NodeState& ns, bool first);

  // ---- data path (replicator_data.cc)
  void complete_request(uint64_t request_id, int error);
  bool write_may_issue(uint64_t id, const AppWrite& w);
  void issue_write(uint64_t id, AppWrite& w);
  void try_finish_write(uint64_t id);
  void try_finish_flush(uint64_t id);
  void start_read(uint64_t id);
  void on_write_ack(const net::Frame& frame, bool recv_ack_only);
  void on_barrier_ack(const net::Frame& frame);
  void on_read_reply(net::Frame&& frame);
  void handle_local_error();
  void finish_detach_if_drained();

  // ---- receiving side (replicator_receive.cc)
  void on_peer_write(net::Frame&& frame);
  void on_peer_barrier(const net::Frame& frame);
  void on_peer_read_request(const net::Frame& frame);
  void on_resync_data(net::Frame&& frame);
  bool received_may_submit(size_t order_index, const Received& item) const;
  bool received_goes_to_disk(const Received& item) const;
  void submit_received(uint64_t id, Received& item);
  void finish_received(uint64_t id);
  void pump_received();

  // ---- resync (replicator_resync.cc)
  // full: every block is out of sync first; otherwise only what either
  // node's bitmap holds is copied (both nodes exchange their sets).
  void start_sync_source(bool full);
  void start_sync_target(bool full);
  void abort_sync();
  void pump_resync();
  bool chunk_may_start(const ResyncChunk& c);
  void on_resync_ack(const net::Frame& frame);
  void on_resync_read_done(uint64_t chunk_id, int error);
  void finish_sync_source_if_done();
  bool forget_crash_as_primary();
  void on_sync_done_from_peer(const proto::NodeState& ns);
  void send_out_of_sync_set(bool reply_requested);
  void on_out_of_sync(const net::Frame& frame);
  void begin_sync_issuing();
  bool sync_paused() const;
  bool rate_allows(uint32_t length);
  void start_resync_ticks();
  void on_resync_tick();
  bool next_sync_chunk(ResyncChunk& c);
  void send_resync_data(uint64_t id, ResyncChunk& c);
  void resync_connection_lost();
  void erase_chunk(uint64_t id);
  void start_chunk(uint64_t id, ResyncChunk& c);
  void chunk_compare(uint64_t id);
  void complete_sync_chunk(uint64_t id);
  void on_digest_request(const net::Frame& frame);
  void on_digest_reply(const net::Frame& frame);
  void on_resync_in_sync(const net::Frame& frame);
  void on_resync_data_written(uint64_t offset, uint32_t length);
  void serve_digest_read_done(uint64_t chunk_id, int error);
  void drop_chunks(ChunkKind kind);
  uint64_t live_chunks(ChunkKind kind) const;

  // ---- online verify (replicator_verify.cc)
  bool next_verify_chunk(ResyncChunk& c);
  void verify_chunk_compared(uint64_t id, bool in_sync);
  void on_verify_result(const net::Frame& frame);
  void stop_verify(bool run_handler, bool notify_peer);
  void check_verify_conditions();

  // ---- keepalive
  uint32_t outstanding_peer_acks();

  ReplicatorConfig config_;
  std::vector<Action> actions_;

  Role role_ = Role::kSecondary;
  DiskState disk_ = DiskState::kDiskless;
  ConnState conn_ = ConnState::kStandAlone;
  ReplState repl_ = ReplState::kOff;
  Metadata md_;
  uint64_t size_ = 0;
  bool detaching_ = false;
  // invalidate asked the peer to become the sync source; its answer
  // (overwrite_peer) makes this node the target. No promotion meanwhile.
  bool invalidate_asked_ = false;
  // This node ended a sync as its source and took the peer for UpToDate;
  // the peer has not yet said so itself (its NodeState answering sync_done).
  bool sync_end_unconfirmed_ = false;
  bool discard_my_data_ = false;
  bool crashed_primary_ = false;  // attached with md_.primary set; cleared by a sync
  bool unclean_ = false;          // stopped uncleanly; cleared when a sync starts
  uint64_t next_handler_id_ = 1;
  uint64_t fence_handler_id_ = 0;  // the fence-peer handler running, 0: none
  bool io_suspended_ = false;      // resource-and-stonith: new writes wait
  void set_primary_indicator(bool primary);
  uint64_t uuid_state_;

  // Peer, valid while connected.
  bool handshake_done_ = false;
  bool have_peer_state_ = false;
  uint64_t conn_gen_ = 0;
  uint32_t protocol_version_ = 0;
  Role peer_role_ = Role::kUnknown;
  DiskState peer_disk_ = DiskState::kDUnknown;
  uint64_t peer_size_ = 0;
  uint32_t peer_node_id_ = 0;
  bool peer_allow_two_primaries_ = false;
  DiskView peer_view_;
  // This node as its first NodeState of the connection described it.
  DiskView handshake_view_;
  bool handshake_view_sent_ = false;
  uint64_t last_peer_epoch_ = 0;

  // Application requests and local I/O.
  SlotPool<AppWrite> writes_;
  SlotPool<AppRead> reads_;
  SlotPool<AppFlush> flushes_;
  SlotPool<LocalIo> ios_;
  std::vector<uint64_t> waiting_writes_;  // not yet issued, in submission order
  uint64_t next_write_seq_ = 1;
  uint64_t epoch_ = 1;
  bool epoch_close_pending_ = false;

  // Receiving side: items in arrival order.
  SlotPool<Received> received_;
  std::vector<uint64_t> received_order_;
  SlotPool<PeerRead> peer_reads_;

  // Resync.
  SlotPool<ResyncChunk> chunks_;
  std::deque<std::pair<uint64_t, uint32_t>> redo_chunks_;
  uint64_t sync_total_ = 0;
  uint64_t sync_done_ = 0;
  bool sync_paused_user_ = false;
  bool sync_paused_dependency_ = false;
  bool peer_sync_paused_ = false;
  // out_of_sync_ holds every block this node knows differs from the peer.
  // Not so after attaching with a diverged generation or an Inconsistent
  // disk, as long as the on-disk bitmap is not handed to the core; a full
  // sync then follows, after which it is complete again.
  bool bitmap_complete_ = true;
  RangeSet to_send_;                 // sync source: ranges not yet issued
  bool sync_issuing_ = false;        // sync source: both sets known, chunks may go
  bool awaiting_peer_set_ = false;   // sync source: our set is out, the peer's reply pending
  bool oos_receiving_ = false;       // a multi-frame OutOfSync set is arriving
  uint64_t oos_cursor_sectors_ = 0;  // end of its previous range
  uint64_t oos_set_ranges_ = 0;      // ranges of that set so far
  ResyncController controller_{config_.rate};
  int64_t rate_budget_ = 0;        // bytes the rate controller still allows until its next tick
  uint64_t rate_acked_bytes_ = 0;  // completed since the last tick
  uint64_t app_io_bytes_ = 0;      // application I/O since the last tick
  uint64_t sync_bytes_sent_ = 0;
  uint64_t sync_bytes_received_ = 0;
  uint64_t csums_equal_bytes_ = 0;
  uint64_t csums_differ_bytes_ = 0;
  RangeSet csums_served_;  // sync target: digests sent, verdict (data or in-sync) pending
  // Online verify.
  bool verify_running_ = false;
  bool verify_source_ = false;  // this node walks the device
  uint64_t verify_cursor_ = 0;
  uint64_t verify_total_ = 0;
  uint64_t verify_done_ = 0;
  uint64_t verify_mismatch_ = 0;

  RangeSet out_of_sync_;

  // Keepalive.
  bool timer_armed_[kTimerCount] = {};
  uint64_t ping_seq_ = 0;
  uint64_t acks_since_check_ = 0;
  uint32_t ko_strikes_ = 0;

  // Buffers for local reads sent to the peer; retired ones are kept until
  // the next event because SendFrame actions may point into them.
  std::vector<IoBuffer> spare_buffers_;
  std::vector<IoBuffer> retired_buffers_;

  Status last_status_;
  Counters counters_;
};

}  // namespace tandem::core
