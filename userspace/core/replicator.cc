// Replicator: state helpers, admin commands, connection life cycle, frame
// dispatch, NodeState exchange and keepalive. The data path, the receiving
// side and resync live in replicator_data.cc, replicator_receive.cc and
// replicator_resync.cc.
#include "core/replicator.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "core/digest.h"
#include "core/generation_ids.h"
#include "core/invariant.h"
#include "core/replicator_wire.h"
#include "peer.pb.h"

namespace tandem::core {

Replicator::Replicator(ReplicatorConfig config)
    : config_(std::move(config)),
      uuid_state_(config_.uuid_seed ^ (uint64_t{config_.local_node_id} << 40) ^
                  0x6A09E667F3BCC909ULL) {
  if (config_.resync_chunk_bytes == 0 || config_.resync_chunk_bytes % kSectorBytes != 0 ||
      config_.resync_chunk_bytes > net::kMaxPayloadBytes) {
    config_.resync_chunk_bytes = 256 * 1024;
  }
  if (config_.resync_max_in_flight == 0) config_.resync_max_in_flight = 1;
  actions_.reserve(64);
  last_status_ = status();
}

// ---------------------------------------------------------------- helpers

std::string Replicator::peer_desc() const {
  return "resource " + config_.resource + ", peer " + config_.peer_node;
}

void Replicator::begin_event() {
  for (auto& b : retired_buffers_) {
    if (spare_buffers_.size() < 32) spare_buffers_.push_back(std::move(b));
  }
  retired_buffers_.clear();
}

IoBuffer Replicator::take_buffer(uint32_t length) {
  IoBuffer b;
  if (!spare_buffers_.empty()) {
    b = std::move(spare_buffers_.back());
    spare_buffers_.pop_back();
  }
  b.resize(length);
  return b;
}

void Replicator::retire_buffer(IoBuffer&& buffer) {
  if (buffer.capacity() == 0) return;
  retired_buffers_.push_back(std::move(buffer));
}

Status Replicator::status() const {
  Status s;
  s.role = role_;
  s.disk = disk_;
  s.conn = conn_;
  s.peer_role = have_peer_state_ ? peer_role_ : Role::kUnknown;
  s.peer_disk = have_peer_state_ ? peer_disk_ : DiskState::kDUnknown;
  s.repl = repl_;
  s.size_bytes = device_size();
  s.sync_total_bytes = sync_total_;
  s.sync_done_bytes = sync_done_;
  s.out_of_sync_bytes = out_of_sync_.total_bytes();
  s.sync_paused_user = sync_paused_user_;
  s.sync_paused_dependency = sync_paused_dependency_;
  s.sync_paused_peer = have_peer_state_ && peer_sync_paused_;
  s.sync_bytes_sent = sync_bytes_sent_;
  s.sync_bytes_received = sync_bytes_received_;
  s.csums_equal_bytes = csums_equal_bytes_;
  s.csums_differ_bytes = csums_differ_bytes_;
  s.verify_total_bytes = verify_total_;
  s.verify_done_bytes = verify_done_;
  s.verify_mismatch_bytes = verify_mismatch_;
  s.verify_running = verify_running_;
  s.io_suspended = io_suspended_;
  s.metadata = md_;
  return s;
}

void Replicator::note_state() {
  Status s = status();
  if (last_status_.repl == ReplState::kSyncSource && s.repl == ReplState::kEstablished &&
      s.peer_disk == DiskState::kUpToDate) {
    unfence_peer_if_needed();
  }
  std::string what;
  auto add = [&](const char* name, std::string_view from, std::string_view to) {
    if (from == to) return;
    if (!what.empty()) what += ", ";
    what += std::string(name) + " " + std::string(from) + " -> " + std::string(to);
  };
  add("role", to_string(last_status_.role), to_string(s.role));
  add("disk", to_string(last_status_.disk), to_string(s.disk));
  add("conn", to_string(last_status_.conn), to_string(s.conn));
  add("peer-role", to_string(last_status_.peer_role), to_string(s.peer_role));
  add("peer-disk", to_string(last_status_.peer_disk), to_string(s.peer_disk));
  add("repl", to_string(last_status_.repl), to_string(s.repl));
  last_status_ = s;
  if (what.empty()) return;
  emit(StateChanged{std::move(s), "resource " + config_.resource + ": " + what});
}

void Replicator::set_disk(DiskState d) {
  disk_ = d;
}

void Replicator::persist_metadata() {
  emit(PersistMetadata{md_});
}

void Replicator::mark_out_of_sync(uint64_t offset, uint64_t length) {
  if (length == 0) return;
  out_of_sync_.insert(offset, length);
  emit(MarkOutOfSync{offset, length});
}

void Replicator::clear_out_of_sync(uint64_t offset, uint64_t length) {
  if (length == 0) return;
  out_of_sync_.erase(offset, length);
  emit(ClearOutOfSync{offset, length});
}

uint64_t Replicator::new_uuid() {
  // splitmix64: a deterministic stream from the runtime's seed.
  for (;;) {
    uint64_t z = (uuid_state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    if (z != 0) return z;
  }
}

// A primary whose writes stop reaching the peer's disk starts a new data
// generation, so that a later connection can tell "the peer only missed
// our writes" (peer current == our bitmap UUID) from "both sides wrote".
void Replicator::rotate_for_divergence() {
  if (role_ != Role::kPrimary) return;
  rotate_for_peer_without_disk();
}

// The peer's disk went away (detached or failed) while connected: whatever
// our role, writes from now on reach only our disk (ours, or a diskless
// primary's through us), so the generation the detached disk carries must
// stop being current. When that disk comes back, the handshake sees our
// bitmap UUID as its current UUID and resyncs it from our bitmap.
void Replicator::rotate_for_peer_without_disk() {
  if (disk_ != DiskState::kUpToDate || detaching_) return;
  if (!start_new_generation(md_, new_uuid(), role_ == Role::kPrimary)) return;
  persist_metadata();
  // The diskless peer decides the handshake of its next attach against the
  // generations we sent last: it must see the new ones.
  if (conn_ == ConnState::kConnected && have_peer_state_) send_node_state();
}

bool Replicator::local_usable() const {
  return has_data(disk_) && !detaching_;
}

void Replicator::set_primary_indicator(bool primary) {
  if (!has_data(disk_)) return;
  const bool uuid_changed = core::set_primary_indicator(md_, primary);
  if (md_.primary == primary && !uuid_changed) return;
  md_.primary = primary;
  persist_metadata();
}

bool Replicator::local_authoritative() const {
  return local_usable() && disk_ == DiskState::kUpToDate;
}

bool Replicator::peer_authoritative() const {
  return peer_gets_writes() && peer_disk_ == DiskState::kUpToDate;
}

bool Replicator::peer_gets_writes() const {
  return conn_ == ConnState::kConnected && have_peer_state_ && has_data(peer_disk_);
}

bool Replicator::peer_readable() const {
  return conn_ == ConnState::kConnected && have_peer_state_ && peer_disk_ == DiskState::kUpToDate;
}

uint64_t Replicator::device_size() const {
  if (disk_ != DiskState::kDiskless && size_ > 0) return size_;
  if (have_peer_state_) return peer_size_;
  return 0;
}

DiskState Replicator::advertised_disk() const {
  return detaching_ && has_data(disk_) ? DiskState::kFailed : disk_;
}

DiskView Replicator::local_view() const {
  DiskView v{advertised_disk(), md_.current_uuid, md_.bitmap_uuid,
             md_.history_uuids, crashed_primary_, config_.local_node_id};
  v.unclean = unclean_;
  v.role = role_;
  v.out_of_sync_bytes = out_of_sync_.total_bytes();
  v.discard_my_data = discard_my_data_;
  v.node_name = config_.local_node;
  v.rr_conflict = config_.rr_conflict;
  return v;
}

bool Replicator::winner_on_conflict() const {
  if (config_.local_node_id != peer_node_id_) return config_.local_node_id < peer_node_id_;
  return config_.local_node < config_.peer_node;
}

uint64_t Replicator::submit_io(IoOwner owner, uint64_t owner_id, LocalIoKind kind, uint64_t offset,
                               uint32_t length, std::byte* data, bool fua) {
  const uint64_t id = ios_.insert(LocalIo{owner, owner_id, kind, offset, length});
  emit(SubmitIo{id, kind, offset, length, data, fua});
  return id;
}

void Replicator::arm(TimerId t, uint32_t ms) {
  timer_armed_[static_cast<size_t>(t)] = true;
  emit(ArmTimer{t, ms});
}

void Replicator::cancel(TimerId t) {
  if (!timer_armed_[static_cast<size_t>(t)]) return;
  timer_armed_[static_cast<size_t>(t)] = false;
  emit(CancelTimer{t});
}

void Replicator::send(net::FrameType type, const google::protobuf::MessageLite& msg,
                      const std::byte* payload, uint32_t payload_length) {
  TANDEM_INVARIANT(handshake_done_, "frame sent without a connection");
  emit(SendFrame{type, 0, msg.SerializeAsString(), payload, payload_length});
}

std::string Replicator::integrity_digest(const std::byte* data, uint32_t length) const {
  if (config_.integrity_alg == DigestAlg::kNone) return {};
  return compute_digest(config_.integrity_alg, std::span(data, length));
}

bool Replicator::integrity_ok(const char* frame, uint64_t offset, const std::string& digest,
                              std::span<const std::byte> payload) {
  if (config_.integrity_alg == DigestAlg::kNone) return true;
  if (digest == compute_digest(config_.integrity_alg, payload)) return true;
  protocol_error(std::string("data integrity check failed: ") + frame + " of " +
                 std::to_string(payload.size()) + " bytes at offset " + std::to_string(offset) +
                 " does not match its " + std::string(to_string(config_.integrity_alg)) +
                 " digest (data-integrity-alg); the data changed on the way");
  return false;
}

void Replicator::send_node_state(bool overwrite_peer, bool sync_done, uint64_t sync_uuid,
                                 bool request_sync, bool request_invalidate,
                                 bool request_sync_source) {
  if (!handshake_done_) return;
  // The peer decides the sync direction from the first NodeState it gets,
  // so this node decides from the same view of itself.
  if (!have_peer_state_ && !handshake_view_sent_) {
    handshake_view_ = local_view();
    handshake_view_sent_ = true;
  }
  proto::NodeState ns;
  ns.set_node_name(config_.local_node);
  ns.set_node_id(config_.local_node_id);
  ns.set_size_bytes(has_data(disk_) ? size_ : 0);
  ns.set_role(wire::to_proto(role_));
  ns.set_disk(wire::to_proto(advertised_disk()));
  ns.set_current_uuid(md_.current_uuid);
  ns.set_bitmap_uuid(md_.bitmap_uuid);
  for (uint64_t h : md_.history_uuids) ns.add_history_uuids(h);
  ns.set_protocol(wire::to_proto(config_.protocol));
  ns.set_allow_two_primaries(config_.allow_two_primaries);
  ns.set_overwrite_peer(overwrite_peer);
  ns.set_sync_done(sync_done);
  ns.set_crashed_primary(crashed_primary_);
  ns.set_sync_paused(sync_paused_user_);
  ns.set_unclean(unclean_);
  ns.set_discard_my_data(discard_my_data_);
  ns.set_out_of_sync_bytes(out_of_sync_.total_bytes());
  ns.set_after_sb(packed_after_sb());
  ns.set_discard_node(config_.discard_node);
  ns.set_integrity_alg(static_cast<uint32_t>(config_.integrity_alg));
  ns.set_sync_uuid(sync_uuid);
  ns.set_request_sync(request_sync);
  ns.set_request_invalidate(request_invalidate);
  ns.set_request_sync_source(request_sync_source);
  ns.set_rr_conflict(static_cast<uint32_t>(config_.rr_conflict) + 1);
  send(net::FrameType::kNodeState, ns);
}

void Replicator::take_actions(std::vector<Action>& out) {
  out.clear();
  out.swap(actions_);
  actions_.reserve(64);
}

bool Replicator::idle() const {
  return writes_.empty() && reads_.empty() && flushes_.empty() && ios_.empty() &&
         received_.empty() && peer_reads_.empty() && chunks_.empty();
}

void Replicator::pump() {
  // Each pass can only unblock work that a previous step finished, so a few
  // passes reach the fixpoint; the bound keeps a bug from spinning forever.
  for (int pass = 0; pass < 16; ++pass) {
    const size_t before = actions_.size();
    for (size_t i = 0; i < waiting_writes_.size();) {
      const uint64_t id = waiting_writes_[i];
      AppWrite* w = writes_.find(id);
      TANDEM_INVARIANT(w != nullptr && !w->issued, "waiting write vanished");
      if (write_may_issue(id, *w)) {
        waiting_writes_.erase(waiting_writes_.begin() + static_cast<std::ptrdiff_t>(i));
        issue_write(id, *w);
      } else {
        ++i;
      }
    }
    pump_received();
    pump_resync();
    finish_sync_source_if_done();
    finish_detach_if_drained();
    if (actions_.size() == before) return;
  }
}

// ---------------------------------------------------------------- admin

Result<void> Replicator::attach(const DiskInfo& disk) {
  begin_event();
  const std::string res = "resource " + config_.resource;
  if (disk_ != DiskState::kDiskless || detaching_) {
    return make_error(res + ": already attached (disk " + std::string(to_string(disk_)) +
                      "); detach first");
  }
  if (disk.size_bytes == 0 || disk.size_bytes % kSectorBytes != 0) {
    return make_error(res + ": backing device size " + std::to_string(disk.size_bytes) +
                      " is not a positive multiple of " + std::to_string(kSectorBytes) +
                      " bytes; check the disk line");
  }
  // Our NodeState of this connection is already sent (diskless) and the
  // peer decides on it, while this node would decide with the disk: the two
  // would disagree about whether a disk takes part (as for promote).
  if (handshake_done_ && !have_peer_state_) {
    return make_error(res + ": the connection to peer " + config_.peer_node +
                      " is being set up (node states not yet exchanged); retry once it is "
                      "Connected, or disconnect first");
  }
  // Writes a diskless primary has in flight exist on the peer only (or
  // nowhere yet): the disk attached now would miss them, and its handshake
  // would decide on a view of the peer from before they arrived there. As
  // DRBD's attach, which waits for application I/O to drain.
  if (!writes_.empty() || !flushes_.empty()) {
    return make_error(res + ": application writes are in flight (to peer " + config_.peer_node +
                      "); retry once they completed");
  }
  if (have_peer_state_ && peer_size_ != 0 && peer_size_ != disk.size_bytes) {
    return make_error(res + ": the backing device has " + std::to_string(disk.size_bytes) +
                      " bytes but peer " + config_.peer_node + "'s has " +
                      std::to_string(peer_size_) + "; both must be the same size");
  }
  set_disk(DiskState::kAttaching);
  note_state();
  md_ = disk.metadata;
  crashed_primary_ = md_.primary;  // attach happens as secondary
  // Found set, the primary flag means the node stopped while primary.
  unclean_ = disk.unclean || md_.primary;
  size_ = disk.size_bytes;
  // The runtime's bitmap (and hot activity-log extents): already on disk,
  // so no MarkOutOfSync actions. Ranges are widened to whole sectors.
  for (const auto& [offset, length] : disk.out_of_sync) {
    if (length == 0 || offset >= size_) continue;
    const uint64_t begin = offset / kSectorBytes * kSectorBytes;
    const uint64_t end =
        std::min<uint64_t>(size_, (std::min<uint64_t>(offset + length, size_) + kSectorBytes - 1) /
                                      kSectorBytes * kSectorBytes);
    out_of_sync_.insert(begin, end - begin);
  }
  bitmap_complete_ =
      (md_.bitmap_uuid == 0 && md_.consistent) || !disk.out_of_sync.empty() || disk.unclean;
  if (!md_.consistent) {
    set_disk(DiskState::kInconsistent);
  } else if (md_.up_to_date) {
    set_disk(DiskState::kUpToDate);
  } else if (md_.outdated) {
    set_disk(DiskState::kOutdated);
  } else {
    set_disk(DiskState::kConsistent);
  }
  if (have_peer_state_) {
    send_node_state();
    if (repl_ == ReplState::kEstablished) {
      apply_sync_verdict(decide_sync(local_view(), peer_view_, handshake_policy()));
    }
    // Connected to a peer without a disk: from now on writes (a diskless
    // primary's, or ours) reach this disk only, so the generation the
    // peer's detached disk may still carry must stop being current, as
    // when the peer's disk goes away while connected.
    if (repl_ == ReplState::kEstablished && !has_data(peer_disk_)) rotate_for_peer_without_disk();
  }
  pump();
  note_state();
  return {};
}

Result<void> Replicator::detach() {
  begin_event();
  const std::string res = "resource " + config_.resource;
  if (disk_ == DiskState::kDiskless) return make_error(res + ": no disk is attached");
  if (detaching_) return make_error(res + ": a detach is already in progress");
  if (role_ == Role::kPrimary && !peer_readable()) {
    return make_error(res + ": cannot detach: this node is primary and peer " + config_.peer_node +
                      " has no up-to-date data it could serve; demote first or connect the peer");
  }
  if (repl_ == ReplState::kSyncSource || repl_ == ReplState::kSyncTarget) abort_sync();
  detaching_ = true;
  send_node_state();
  finish_detach_if_drained();
  pump();
  note_state();
  return {};
}

Result<void> Replicator::connect(bool discard_my_data) {
  begin_event();
  const std::string res = "resource " + config_.resource;
  if (conn_ != ConnState::kStandAlone) {
    return make_error(res + ": already connecting or connected (" + std::string(to_string(conn_)) +
                      "); disconnect first");
  }
  if (discard_my_data && role_ == Role::kPrimary) {
    return make_error(res + ": cannot discard the data of a primary; demote it first");
  }
  discard_my_data_ = discard_my_data;
  conn_ = ConnState::kConnecting;
  note_state();
  return {};
}

Result<void> Replicator::disconnect() {
  begin_event();
  if (conn_ == ConnState::kStandAlone) return {};
  if (handshake_done_) {
    proto::Disconnect d;
    d.set_reason("disconnected by the administrator of " + config_.local_node);
    send(net::FrameType::kDisconnect, d);
  }
  close_connection(ConnState::kDisconnecting, peer_desc() + ": disconnected by the administrator",
                   false);
  pump();
  note_state();
  return {};
}

Result<void> Replicator::promote(bool force, uint64_t uuid) {
  begin_event();
  auto refuse_promote = [&](const std::string& why) {
    return make_error("resource " + config_.resource + ": cannot become primary: " + why);
  };
  if (role_ == Role::kPrimary) return {};
  if (discard_my_data_) {
    return refuse_promote(
        "'connect --discard-my-data' is pending, so this node's data is to be replaced by the "
        "peer's; run disconnect, then connect without --discard-my-data, before promoting");
  }
  const bool connected = conn_ == ConnState::kConnected && have_peer_state_;
  if (connected && peer_role_ == Role::kPrimary) {
    if (!config_.allow_two_primaries || !peer_allow_two_primaries_) {
      return refuse_promote("peer " + config_.peer_node +
                            " is primary and allow-two-primaries is not set" +
                            (config_.allow_two_primaries ? " on the peer" : ""));
    }
    if (config_.protocol != WireProtocol::kC) {
      return refuse_promote("allow-two-primaries requires protocol C, this resource uses " +
                            std::string(to_string(config_.protocol)));
    }
  }
  if (detaching_) return refuse_promote("the disk is being detached");
  // A primary's writes until the peer's answer would exist on this disk
  // alone (protocol A, or a broken link), and the answer makes it a sync
  // target that gives them up.
  if (invalidate_asked_) {
    return refuse_promote("invalidate is waiting for peer " + config_.peer_node +
                          " to become the sync source; retry once the sync started");
  }
  // Our NodeState of this connection is already sent and the handshake
  // decides on it: a generation started now, and the writes after it, would
  // be invisible to that decision (both sides could see "same generation").
  if (handshake_done_ && !have_peer_state_) {
    return refuse_promote("the connection to peer " + config_.peer_node +
                          " is being set up (node states not yet exchanged); retry once it is "
                          "Connected, or disconnect first");
  }
  // Peer writes of a closed connection are still being written (see
  // connection_cleanup): until they are on the disk, a read here could
  // return data older than what the old primary acknowledged.
  bool old_writes_pending = false;
  received_.for_each([&](uint64_t, const Received& r) {
    if (r.kind == ReceivedKind::kWrite && (!handshake_done_ || r.conn_gen != conn_gen_)) {
      old_writes_pending = true;
    }
  });
  if (old_writes_pending) {
    return refuse_promote("writes received from peer " + config_.peer_node +
                          " before the connection broke are still being written; retry in a "
                          "moment");
  }
  if (force && disk_ != DiskState::kUpToDate) {
    if (!has_data(disk_)) {
      return refuse_promote("--force needs a local disk (disk state " +
                            std::string(to_string(disk_)) + "); attach first");
    }
    if (connected && peer_role_ == Role::kPrimary) {
      return refuse_promote("peer " + config_.peer_node +
                            " is primary; --force would overwrite data it is using");
    }
    if (repl_ == ReplState::kSyncTarget) abort_sync();
    md_.history_uuids[1] = md_.history_uuids[0];
    md_.history_uuids[0] = md_.current_uuid;
    md_.current_uuid = with_role(uuid != 0 ? uuid : new_uuid(), true);
    md_.bitmap_uuid = 0;
    md_.consistent = true;
    md_.up_to_date = true;
    md_.outdated = false;
    set_disk(DiskState::kUpToDate);
    md_.primary = true;
    persist_metadata();
    role_ = Role::kPrimary;
    if (connected) {
      if (has_data(peer_disk_)) {
        log_event(5, "handshake: full-sync-source (primary --force overwrites the peer)");
        become_sync_source(true, true);
      } else {
        send_node_state();
      }
    }
    pump();
    note_state();
    return {};
  }
  if (disk_ != DiskState::kUpToDate && !(connected && peer_disk_ == DiskState::kUpToDate)) {
    return refuse_promote(
        "no up-to-date data is reachable (this node " + std::string(to_string(disk_)) + ", peer " +
        (connected ? std::string(to_string(peer_disk_)) : std::string("not connected")) +
        "); use primary --force to declare this node's data up to date");
  }
  role_ = Role::kPrimary;
  // The new generation first: its bitmap UUID keeps the primary indicator
  // of the generation the nodes shared (discard-younger/older-primary).
  if (!peer_gets_writes()) rotate_for_divergence();
  set_primary_indicator(true);
  send_node_state();
  note_state();
  return {};
}

Result<void> Replicator::demote() {
  begin_event();
  if (role_ != Role::kPrimary) return {};
  // A write still in flight would reach the peer from a secondary, which
  // the peer must refuse; its data would then be on one disk only, with no
  // new generation to show it. Like DRBD refusing to demote an open
  // device, the caller stops writing and retries.
  if (!writes_.empty() || !flushes_.empty()) {
    return make_error("resource " + config_.resource + ": cannot become secondary: " +
                      std::to_string(writes_.size() + flushes_.size()) +
                      " application write(s)/flush(es) still in flight; stop the "
                      "application's I/O and retry");
  }
  role_ = Role::kSecondary;
  set_primary_indicator(false);
  send_node_state();
  note_state();
  return {};
}

Result<void> Replicator::invalidate() {
  begin_event();
  const std::string res = "resource " + config_.resource;
  auto refuse_invalidate = [&](const std::string& why) {
    return make_error(res + ": cannot invalidate this node's data: " + why);
  };
  if (!has_data(disk_) || detaching_) return refuse_invalidate("no disk is attached");
  if (conn_ != ConnState::kConnected) return invalidate_unconnected();
  if (!have_peer_state_ || peer_disk_ != DiskState::kUpToDate) {
    return refuse_invalidate("peer " + config_.peer_node +
                             " is not connected with UpToDate data to copy from; connect it "
                             "first");
  }
  if (repl_ != ReplState::kEstablished) {
    return refuse_invalidate("a " + std::string(to_string(repl_)) +
                             " is running; wait for it to finish");
  }
  if (role_ == Role::kPrimary) {
    // A primary cannot wait for the peer's answer: its writes meanwhile
    // would exist on this disk alone (protocol A, or a broken link) and the
    // answer gives them up. It becomes the target at once, trusting its
    // view of the peer, as long as no write is in flight.
    if (!writes_.empty()) {
      return refuse_invalidate("application writes are in flight; retry when they finished");
    }
    // Our view that the peer is UpToDate comes from the sync this node
    // just ended; should the link break before the peer hears of that end,
    // it stays Inconsistent, and neither node would have data to copy.
    if (sync_end_unconfirmed_) {
      return refuse_invalidate("peer " + config_.peer_node +
                               " has not yet confirmed the end of the sync that made it "
                               "UpToDate; retry in a moment");
    }
    log_event(5, "handshake: full-sync-target (invalidate)");
    start_sync_target(true);
    send_node_state(false, false, 0, true);
    pump();
    note_state();
    return {};
  }
  // Two steps (invalidate-remote ends in them): this node keeps its data until the
  // peer confirmed, by becoming the sync source, that it still has an
  // UpToDate copy. Our view of the peer may be stale (its disk may have
  // failed, the NodeState saying so still on the wire); giving up our data
  // at once could leave no UpToDate copy at all.
  log_event(5, "invalidate: asking the peer to become the sync source");
  invalidate_asked_ = true;
  send_node_state(false, false, 0, false, false, true);
  note_state();
  return {};
}

// As DRBD 8.4 does without a connection: every block is marked out of sync
// and the disk Inconsistent, both written before the call returns (the
// runtime writes the dirty bitmap ahead of the superblock). At the next
// connection the disk states make this node the sync target and its bitmap,
// all set, has everything copied.
Result<void> Replicator::invalidate_unconnected() {
  if (role_ == Role::kPrimary) {
    return make_error("resource " + config_.resource +
                      ": cannot invalidate this node's data: this node is primary and peer " +
                      config_.peer_node +
                      " is not connected, so no UpToDate copy would remain; connect the peer, "
                      "or demote this node first");
  }
  log_event(5,
            "invalidate without a connection: the whole device is out of sync; this node "
            "becomes sync target when peer " +
                config_.peer_node + " connects");
  mark_out_of_sync(0, size_);
  set_disk(DiskState::kInconsistent);
  md_.consistent = false;
  md_.up_to_date = false;
  md_.outdated = false;
  persist_metadata();
  note_state();
  return {};
}

Result<void> Replicator::invalidate_remote() {
  begin_event();
  const std::string res = "resource " + config_.resource;
  auto refuse_invalidate = [&](const std::string& why) {
    return make_error(res + ": cannot invalidate peer " + config_.peer_node + "'s data: " + why);
  };
  if (disk_ != DiskState::kUpToDate || detaching_) {
    return refuse_invalidate("this node's disk is " + std::string(to_string(disk_)) +
                             ", not UpToDate");
  }
  if (conn_ != ConnState::kConnected || !have_peer_state_ || !has_data(peer_disk_)) {
    return refuse_invalidate("the peer is not connected with a disk; connect it first");
  }
  if (peer_role_ == Role::kPrimary) {
    return refuse_invalidate("the peer is primary; demote it first");
  }
  if (repl_ != ReplState::kEstablished) {
    return refuse_invalidate("a " + std::string(to_string(repl_)) +
                             " is running; wait for it to finish");
  }
  // Three steps, as DRBD's cluster-wide state change: the peer must agree
  // (answering request_sync_source) before this node becomes the source,
  // and it becomes the target only when this node, still UpToDate, tells
  // it so (overwrite_peer). A source that switched at once could be cut off
  // before the peer heard of it; the peer would go on as UpToDate (and be
  // written to), while this node, as a sync source, starts no new generation
  // when the link breaks, so the next handshake would overwrite one side's
  // writes.
  log_event(5, "invalidate-remote: asking the peer to become the sync target");
  send_node_state(false, false, 0, false, true);
  note_state();
  return {};
}

Result<void> Replicator::pause_sync() {
  begin_event();
  if (sync_paused_user_) {
    return make_error("resource " + config_.resource + ": the resync is already paused");
  }
  sync_paused_user_ = true;
  send_node_state();
  note_state();
  return {};
}

Result<void> Replicator::resume_sync() {
  begin_event();
  if (!sync_paused_user_) {
    return make_error("resource " + config_.resource + ": the resync is not paused");
  }
  sync_paused_user_ = false;
  send_node_state();
  pump();
  note_state();
  return {};
}

void Replicator::set_sync_dependency_paused(bool paused) {
  begin_event();
  sync_paused_dependency_ = paused;
  pump();
  note_state();
}

// ---------------------------------------------------------------- connection

void Replicator::on_connection_established(uint32_t protocol_version) {
  begin_event();
  if (conn_ != ConnState::kConnecting || handshake_done_) return;  // stale
  handshake_done_ = true;
  handshake_view_sent_ = false;
  ++conn_gen_;
  protocol_version_ = protocol_version;
  have_peer_state_ = false;
  last_peer_epoch_ = 0;
  ping_seq_ = 0;
  ko_strikes_ = 0;
  acks_since_check_ = 0;
  send_node_state();
  arm(TimerId::kPing, config_.ping_int_ms);
  note_state();
}

void Replicator::on_connection_lost(std::string_view reason) {
  begin_event();
  if (!handshake_done_) return;  // a connect attempt failed: still Connecting
  (void)reason;                  // the runtime logs it; the state says the rest
  conn_ = ConnState::kNetworkFailure;
  note_state();
  connection_cleanup();
  conn_ = ConnState::kConnecting;
  pump();
  note_state();
}

void Replicator::close_connection(ConnState via, std::string reason, bool reconnect) {
  emit(CloseConnection{std::move(reason), reconnect});
  conn_ = via;
  note_state();
  connection_cleanup();
  conn_ = reconnect ? ConnState::kConnecting : ConnState::kStandAlone;
  note_state();
}

void Replicator::protocol_error(std::string what) {
  close_connection(ConnState::kProtocolError,
                   peer_desc() + ": protocol error: " + what + "; connection closed, retrying",
                   true);
}

void Replicator::refuse(std::string reason) {
  close_connection(ConnState::kStandAlone, std::move(reason), false);
}

void Replicator::connection_cleanup() {
  const bool peer_had_data = have_peer_state_ && has_data(peer_disk_);
  handshake_done_ = false;
  invalidate_asked_ = false;
  have_peer_state_ = false;
  sync_end_unconfirmed_ = false;
  peer_role_ = Role::kUnknown;
  peer_disk_ = DiskState::kDUnknown;
  peer_size_ = 0;
  peer_view_ = DiskView{};
  for (size_t t = 0; t < kTimerCount; ++t) cancel(static_cast<TimerId>(t));

  // Writes the peer has not confirmed: completed locally, remembered as out
  // of sync. With protocol C this is the "peer declared gone" case. A
  // primary's new generation is persisted before any of them completes: the
  // runtime executes actions in order, so a write acknowledged on this disk
  // alone is never covered by the old generation only (a crash would bring
  // the node back looking like its peer's copy, and the handshake could
  // overwrite the write).
  for (uint64_t id : writes_.ids()) {
    AppWrite& w = writes_.at(id);
    if (w.sent && !w.write_acked && !w.peer_gone) {
      w.peer_gone = true;
      mark_out_of_sync(w.offset, w.length);
    }
  }
  if (peer_had_data) rotate_for_divergence();
  for (uint64_t id : writes_.ids()) try_finish_write(id);
  for (uint64_t id : flushes_.ids()) {
    AppFlush& f = flushes_.at(id);
    if (f.sent && !f.barrier_acked) f.peer_gone = true;
    try_finish_flush(id);
  }
  for (uint64_t id : reads_.ids()) {
    if (!reads_.at(id).via_peer) continue;
    start_read(id);  // locally if possible, else EIO
  }
  // Peer writes that arrived are still written, in their order, as DRBD's
  // receiver writes every data packet it got before it tears a connection
  // down: with protocol B the peer may already have acknowledged them to its
  // application on our RecvAck, so after a failover this disk must hold
  // them. They finish without an acknowledgement; the peer has them marked
  // out of sync anyway (no WriteAck came), so a later resync only rewrites
  // what we wrote. Resync data and barriers not yet submitted are dropped:
  // nobody was promised them, and their ranges stay out of sync.
  for (uint64_t id : received_.ids()) {
    Received& item = received_.at(id);
    if (!item.submitted && item.kind != ReceivedKind::kWrite) {
      retire_buffer(std::move(item.data));
      received_.erase(id);
    }
  }
  std::erase_if(received_order_, [&](uint64_t id) { return received_.find(id) == nullptr; });
  resync_connection_lost();
  repl_ = ReplState::kOff;
  if (peer_had_data) fence_peer_if_needed();
}

void Replicator::on_frame(net::Frame&& frame) {
  begin_event();
  if (!handshake_done_) return;  // stale frame of a closed connection
  const auto type = frame.header.type;
  if (frame.header.flags != 0) {
    protocol_error("frame type " + std::to_string(static_cast<unsigned>(type)) +
                   " with unknown flags " + std::to_string(frame.header.flags));
  } else {
    switch (type) {
      case net::FrameType::kHello:
      case net::FrameType::kAuthChallenge:
      case net::FrameType::kAuthResponse:
      case net::FrameType::kAuthVerdict:
        protocol_error("handshake frame type " + std::to_string(static_cast<unsigned>(type)) +
                       " after the handshake");
        break;
      case net::FrameType::kNodeState:
        on_node_state(frame);
        break;
      case net::FrameType::kPing: {
        proto::Ping p;
        if (!wire::parse(frame, p)) {
          protocol_error("malformed Ping");
          break;
        }
        proto::PingAck a;
        a.set_seq(p.seq());
        send(net::FrameType::kPingAck, a);
        break;
      }
      case net::FrameType::kPingAck: {
        proto::PingAck a;
        if (!wire::parse(frame, a)) {
          protocol_error("malformed PingAck");
          break;
        }
        if (a.seq() == ping_seq_ && timer_armed_[static_cast<size_t>(TimerId::kPingTimeout)]) {
          cancel(TimerId::kPingTimeout);
          arm(TimerId::kPing, config_.ping_int_ms);
        }
        break;
      }
      case net::FrameType::kDisconnect: {
        proto::Disconnect d;
        (void)wire::parse(frame, d);
        std::string why = d.reason().substr(0, 200);
        close_connection(ConnState::kDisconnecting,
                         peer_desc() + ": the peer disconnected (" + why + "); waiting for it",
                         true);
        break;
      }
      default:
        if (!have_peer_state_) {
          protocol_error("frame type " + std::to_string(static_cast<unsigned>(type)) +
                         " before the peer's NodeState");
          break;
        }
        switch (type) {
          case net::FrameType::kWrite:
            on_peer_write(std::move(frame));
            break;
          case net::FrameType::kRecvAck:
            on_write_ack(frame, true);
            break;
          case net::FrameType::kWriteAck:
            on_write_ack(frame, false);
            break;
          case net::FrameType::kBarrier:
            on_peer_barrier(frame);
            break;
          case net::FrameType::kBarrierAck:
            on_barrier_ack(frame);
            break;
          case net::FrameType::kReadRequest:
            on_peer_read_request(frame);
            break;
          case net::FrameType::kReadReply:
            on_read_reply(std::move(frame));
            break;
          case net::FrameType::kResyncData:
            on_resync_data(std::move(frame));
            break;
          case net::FrameType::kResyncAck:
            on_resync_ack(frame);
            break;
          case net::FrameType::kOutOfSync:
            on_out_of_sync(frame);
            break;
          case net::FrameType::kDigestRequest:
            on_digest_request(frame);
            break;
          case net::FrameType::kDigestReply:
            on_digest_reply(frame);
            break;
          case net::FrameType::kResyncInSync:
            on_resync_in_sync(frame);
            break;
          case net::FrameType::kVerifyResult:
            on_verify_result(frame);
            break;
          default:
            protocol_error("unexpected frame type " + std::to_string(static_cast<unsigned>(type)));
            break;
        }
    }
  }
  pump();
  note_state();
}

// ---------------------------------------------------------------- NodeState

void Replicator::on_node_state(const net::Frame& frame) {
  proto::NodeState ns;
  if (!wire::parse(frame, ns) || !proto::PeerRole_IsValid(ns.role()) ||
      ns.role() == proto::ROLE_UNKNOWN || !proto::PeerDiskState_IsValid(ns.disk()) ||
      ns.disk() == proto::DISK_DUNKNOWN || !proto::WireProtocol_IsValid(ns.protocol()) ||
      ns.protocol() == proto::WIRE_PROTOCOL_UNSET || ns.history_uuids_size() > 2 ||
      ns.rr_conflict() > static_cast<uint32_t>(RrConflict::kCallPriLost) + 1) {
    protocol_error("malformed NodeState");
    return;
  }
  if (ns.node_name() != config_.peer_node) {
    protocol_error("NodeState names node '" + ns.node_name().substr(0, 64) + "'");
    return;
  }
  const DiskState pdisk = wire::from_proto(ns.disk());
  const Role prole = wire::from_proto(ns.role());
  const WireProtocol pproto = wire::from_proto(ns.protocol());
  if (ns.size_bytes() % kSectorBytes != 0 || (has_data(pdisk) && ns.size_bytes() == 0)) {
    protocol_error("NodeState with device size " + std::to_string(ns.size_bytes()));
    return;
  }
  if (pproto != config_.protocol) {
    refuse(peer_desc() + ": the peer uses protocol " + std::string(to_string(pproto)) +
           ", this node protocol " + std::string(to_string(config_.protocol)) +
           "; configure the same protocol on both hosts");
    return;
  }
  if (has_data(pdisk) && has_data(disk_) && ns.size_bytes() != size_) {
    refuse(peer_desc() + ": the peer's backing device has " + std::to_string(ns.size_bytes()) +
           " bytes, this node's " + std::to_string(size_) +
           "; both must be the same size (check the disk lines)");
    return;
  }
  if (prole == Role::kPrimary && role_ == Role::kPrimary) {
    if (!config_.allow_two_primaries || !ns.allow_two_primaries()) {
      refuse(peer_desc() +
             ": both nodes are primary and allow-two-primaries is not set on both; demote one "
             "node (tandemadm secondary) and connect again");
      return;
    }
    if (config_.protocol != WireProtocol::kC) {
      refuse(peer_desc() + ": both nodes are primary, which requires protocol C");
      return;
    }
  }
  if (ns.after_sb() != packed_after_sb() || ns.discard_node() != config_.discard_node) {
    refuse(peer_desc() + ": the split-brain policies differ (this node " + after_sb_text() +
           ", the peer " + after_sb_text(ns.after_sb(), ns.discard_node().substr(0, 64)) +
           "); configure the same after-sb-0pri, after-sb-1pri and after-sb-2pri on both hosts");
    return;
  }
  if (ns.integrity_alg() != static_cast<uint32_t>(config_.integrity_alg)) {
    const auto peer_alg = digest_alg_from_wire(ns.integrity_alg());
    refuse(peer_desc() + ": data-integrity-alg differs (this node " +
           std::string(to_string(config_.integrity_alg)) + ", the peer " +
           (ns.integrity_alg() == 0 ? std::string("none")
            : peer_alg              ? std::string(to_string(*peer_alg))
                                    : "unknown (" + std::to_string(ns.integrity_alg()) + ")") +
           "); configure the same on both hosts");
    return;
  }
  uint64_t uuids[2] = {0, 0};
  for (int i = 0; i < ns.history_uuids_size(); ++i) uuids[i] = ns.history_uuids(i);

  const bool first = !have_peer_state_;
  const DiskState old_peer_disk = first ? DiskState::kDUnknown : peer_disk_;
  have_peer_state_ = true;
  peer_role_ = prole;
  peer_disk_ = pdisk;
  // The peer cannot be the source of our invalidate any more (its disk
  // failed or went away; it ignores the request): promotion is free again.
  if (invalidate_asked_ && pdisk != DiskState::kUpToDate) invalidate_asked_ = false;
  // A target reports UpToDate only once it has our sync_done.
  if (pdisk == DiskState::kUpToDate) sync_end_unconfirmed_ = false;
  peer_size_ = ns.size_bytes();
  peer_node_id_ = ns.node_id();
  peer_allow_two_primaries_ = ns.allow_two_primaries();
  peer_sync_paused_ = ns.sync_paused();
  peer_view_ = DiskView{
      pdisk,       ns.current_uuid(), ns.bitmap_uuid(), {uuids[0], uuids[1]}, ns.crashed_primary(),
      ns.node_id()};
  peer_view_.unclean = ns.unclean();
  peer_view_.role = prole;
  peer_view_.out_of_sync_bytes = ns.out_of_sync_bytes();
  peer_view_.discard_my_data = ns.discard_my_data();
  peer_view_.node_name = config_.peer_node;
  if (ns.rr_conflict() != 0) peer_view_.rr_conflict = static_cast<RrConflict>(ns.rr_conflict() - 1);
  if (first) {
    conn_ = ConnState::kConnected;
    if (io_suspended_) {
      // Fencing froze writes; the peer is back and gets them again.
      io_suspended_ = false;
      log_event(5, "the peer reconnected: application writes resume");
    }
    repl_ = ReplState::kEstablished;
    arm(TimerId::kAckTimeout, config_.timeout_ms);
  }

  if (ns.overwrite_peer()) {
    const bool asked = invalidate_asked_;
    invalidate_asked_ = false;
    if (asked && has_data(disk_) && !detaching_) {
      log_event(5, "handshake: full-sync-target (invalidate)");
      start_sync_target(true);
      adopt_sync_uuid(ns.sync_uuid());
      return;
    }
    if (role_ == Role::kPrimary) {
      refuse(peer_desc() +
             ": the peer was made primary with --force and would overwrite this node's data, "
             "but this node is primary; demote it and connect again");
      return;
    }
    if (has_data(disk_) && !detaching_) {
      log_event(5,
                "handshake: full-sync-target (the peer overwrites this node: primary --force "
                "or invalidate-remote)");
      start_sync_target(true);
      adopt_sync_uuid(ns.sync_uuid());
    }
    return;
  }
  if (ns.sync_done()) {
    on_sync_done_from_peer(ns);
    // The target keeps its own role in the adopted generation's indicator;
    // the sync also resolved an unclean stop.
    if (repl_ == ReplState::kEstablished && disk_ == DiskState::kUpToDate) {
      unclean_ = false;
      if (core::set_primary_indicator(md_, role_ == Role::kPrimary)) persist_metadata();
    }
    return;
  }
  adopt_sync_uuid(ns.sync_uuid());
  // (Only on a later NodeState: the first one is for the handshake.)
  if (ns.request_invalidate() && !first) {
    if (repl_ == ReplState::kEstablished && has_data(disk_) && !detaching_ &&
        role_ != Role::kPrimary && peer_disk_ == DiskState::kUpToDate) {
      // Agreed, but this node keeps its data until the peer, answering,
      // has become the sync source: the peer's disk may have failed since
      // it asked (the NodeState saying so still on the wire), and giving up
      // our data now could leave no UpToDate copy. From here on it is the
      // two steps of this node's own invalidate.
      log_event(5, "the peer ran invalidate-remote: asking it to become the sync source");
      invalidate_asked_ = true;
      send_node_state(false, false, 0, false, false, true);
    } else {
      // The peer asked in another state of this node (a race with a
      // promotion, a detach or a sync): nothing happens, its administrator
      // sees no sync start and may retry.
      log_event(4, "the peer ran invalidate-remote, but this node is " +
                       std::string(to_string(role_)) + " " + std::string(to_string(disk_)) + "/" +
                       std::string(to_string(repl_)) + ": not becoming its sync target");
    }
    return;
  }
  if (ns.request_sync_source() && !first) {
    if (repl_ == ReplState::kEstablished && disk_ == DiskState::kUpToDate && !detaching_ &&
        has_data(peer_disk_)) {
      log_event(5, "handshake: full-sync-source (invalidate or invalidate-remote confirmed)");
      become_sync_source(true, true);
    } else {
      // The peer's view of this node was stale (the disk failed or is being
      // detached, a sync started): it keeps its data, its administrator
      // sees no sync start and may retry.
      log_event(4, "the peer ran invalidate, but this node is " + std::string(to_string(disk_)) +
                       "/" + std::string(to_string(repl_)) + ": not becoming its sync source");
    }
    return;
  }
  if (ns.request_sync()) {
    if (repl_ == ReplState::kEstablished && disk_ == DiskState::kUpToDate && !detaching_ &&
        has_data(peer_disk_)) {
      log_event(5, "handshake: full-sync-source (the peer ran invalidate)");
      become_sync_source(true, false);
    } else {
      protocol_error("the peer asked to be synchronized (invalidate), but this node is " +
                     std::string(to_string(disk_)) + "/" + std::string(to_string(repl_)));
    }
    return;
  }
  if (first) {
    DiskView local = handshake_view_;
    local.disk = advertised_disk();  // a disk lost meanwhile counts
    apply_sync_verdict(decide_sync(local, peer_view_, handshake_policy()));
    // A diskless peer: what is written from now on misses its disk, which
    // may still carry our generation (it was detached, or restarted without
    // attaching).
    if (repl_ == ReplState::kEstablished && !has_data(peer_disk_)) rotate_for_peer_without_disk();
    return;
  }
  if (has_data(old_peer_disk) && !has_data(peer_disk_)) {
    if (repl_ == ReplState::kSyncSource || repl_ == ReplState::kSyncTarget) abort_sync();
    rotate_for_peer_without_disk();
  } else if (!has_data(old_peer_disk) && has_data(peer_disk_) && repl_ == ReplState::kEstablished) {
    apply_sync_verdict(decide_sync(local_view(), peer_view_, handshake_policy()));
  } else if (repl_ == ReplState::kSyncTarget && peer_disk_ != DiskState::kUpToDate) {
    abort_sync();  // the source lost its data
  }
}

void Replicator::apply_sync_verdict(const SyncDecision& d) {
  // connect --discard-my-data applies to one handshake.
  discard_my_data_ = false;
  log_event(d.verdict == SyncVerdict::kRefuse || d.split_brain ? 3 : 6,
            "handshake: " + d.outcome + " (" + d.detail + ")");
  if (d.split_brain) run_handler(Handler::kSplitBrain);
  if (d.run_pri_lost_after_sb) run_handler(Handler::kPriLostAfterSb);
  if (d.run_pri_lost) run_handler(Handler::kPriLost);
  switch (d.verdict) {
    case SyncVerdict::kRefuse:
      if (d.reconnect) {
        close_connection(ConnState::kDisconnecting, peer_desc() + ": " + d.reason, true);
      } else {
        refuse(peer_desc() + ": " + d.reason);
      }
      return;
    case SyncVerdict::kSource:
      unclean_ = false;
      become_sync_source(d.full, false);
      return;
    case SyncVerdict::kTarget:
      if (d.demote_first) {
        // call-pri-lost-after-sb: the decision required that writes were
        // idle (HandshakePolicy::local_can_demote), so this cannot fail.
        role_ = Role::kSecondary;
        set_primary_indicator(false);
        log_event(4, "gave up the primary role after losing the split brain");
      }
      unclean_ = false;
      start_sync_target(d.full);
      return;
    case SyncVerdict::kAdoptUpToDate:
      set_disk(DiskState::kUpToDate);
      md_.consistent = true;
      md_.up_to_date = true;
      md_.outdated = false;
      persist_metadata();
      send_node_state();
      return;
    case SyncVerdict::kNoSync:
      return;
  }
}

void Replicator::become_sync_source(bool full, bool overwrite_peer) {
  // The sync UUID is persisted before the peer can adopt it.
  const uint64_t sync_uuid = begin_sync_as_source(md_, new_uuid());
  persist_metadata();
  send_node_state(overwrite_peer, false, sync_uuid);
  start_sync_source(full);
}

void Replicator::adopt_sync_uuid(uint64_t sync_uuid) {
  if (sync_uuid == 0 || repl_ != ReplState::kSyncTarget) return;
  if (begin_sync_as_target(md_, sync_uuid, role_ == Role::kPrimary)) persist_metadata();
}

HandshakePolicy Replicator::handshake_policy() const {
  HandshakePolicy p;
  p.split_brain = SplitBrainPolicy{config_.after_sb_0pri, config_.after_sb_1pri,
                                   config_.after_sb_2pri, config_.discard_node};
  p.rr_conflict = config_.rr_conflict;
  p.local_can_demote = writes_.empty() && flushes_.empty();
  return p;
}

uint32_t Replicator::packed_after_sb() const {
  return static_cast<uint32_t>(config_.after_sb_0pri) |
         static_cast<uint32_t>(config_.after_sb_1pri) << 8 |
         static_cast<uint32_t>(config_.after_sb_2pri) << 16;
}

std::string Replicator::after_sb_text() const {
  return after_sb_text(packed_after_sb(), config_.discard_node);
}

std::string Replicator::after_sb_text(uint32_t packed, const std::string& discard_node) {
  const auto p0 = packed & 0xFF;
  const auto p1 = (packed >> 8) & 0xFF;
  const auto p2 = (packed >> 16) & 0xFF;
  auto name0 = p0 <= static_cast<uint32_t>(AfterSb0Pri::kDiscardNode)
                   ? std::string(to_string(static_cast<AfterSb0Pri>(p0)))
                   : "?";
  if (p0 == static_cast<uint32_t>(AfterSb0Pri::kDiscardNode)) name0 += "-" + discard_node;
  const auto name1 = p1 <= static_cast<uint32_t>(AfterSb1Pri::kCallPriLostAfterSb)
                         ? std::string(to_string(static_cast<AfterSb1Pri>(p1)))
                         : "?";
  const auto name2 = p2 <= static_cast<uint32_t>(AfterSb2Pri::kCallPriLostAfterSb)
                         ? std::string(to_string(static_cast<AfterSb2Pri>(p2)))
                         : "?";
  return "after-sb-0pri " + name0 + ", after-sb-1pri " + name1 + ", after-sb-2pri " + name2;
}

void Replicator::run_handler(Handler h) {
  emit(RunHandler{next_handler_id_++, h});
}

void Replicator::log_event(int priority, std::string text) {
  emit(LogEvent{priority, peer_desc() + ": " + text});
}

// ---------------------------------------------------------------- timers

uint32_t Replicator::outstanding_peer_acks() {
  uint32_t n = 0;
  writes_.for_each([&](uint64_t, AppWrite& w) {
    if (w.sent && !w.write_acked && !w.peer_gone) ++n;
  });
  flushes_.for_each([&](uint64_t, AppFlush& f) {
    if (f.sent && !f.barrier_acked && !f.peer_gone) ++n;
  });
  reads_.for_each([&](uint64_t, AppRead& r) {
    if (r.via_peer) ++n;
  });
  chunks_.for_each([&](uint64_t, ResyncChunk& c) {
    if (c.stage == ChunkStage::kAwaitAck || c.stage == ChunkStage::kAwaitDigest) ++n;
  });
  return n;
}

void Replicator::on_timer(TimerId timer) {
  begin_event();
  const auto index = static_cast<size_t>(timer);
  if (index >= kTimerCount || !timer_armed_[index]) return;  // cancelled meanwhile
  timer_armed_[index] = false;
  if (!handshake_done_) return;
  switch (timer) {
    case TimerId::kPing: {
      proto::Ping p;
      p.set_seq(++ping_seq_);
      send(net::FrameType::kPing, p);
      arm(TimerId::kPingTimeout, config_.ping_timeout_ms);
      break;
    }
    case TimerId::kPingTimeout:
      close_connection(ConnState::kNetworkFailure,
                       peer_desc() + ": no answer to a ping within " +
                           std::to_string(config_.ping_timeout_ms) +
                           " ms (ping-timeout); connection closed, reconnecting",
                       true);
      break;
    case TimerId::kResync:
      on_resync_tick();
      break;
    case TimerId::kAckTimeout:
      if (conn_ != ConnState::kConnected) break;
      if (outstanding_peer_acks() > 0 && acks_since_check_ == 0) {
        ++ko_strikes_;
        if (config_.ko_count != 0 && ko_strikes_ >= config_.ko_count) {
          close_connection(ConnState::kNetworkFailure,
                           peer_desc() + ": no acknowledgement for " +
                               std::to_string(uint64_t{config_.timeout_ms} * config_.ko_count) +
                               " ms (timeout x ko-count); peer declared dead, reconnecting",
                           true);
          break;
        }
      } else {
        ko_strikes_ = 0;
      }
      acks_since_check_ = 0;
      arm(TimerId::kAckTimeout, config_.timeout_ms);
      break;
  }
  pump();
  note_state();
}

}  // namespace tandem::core
