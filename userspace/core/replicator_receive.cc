// Replicator: the receiving side. Peer writes, resync data and barriers are
// kept in arrival order and submitted to the local disk as soon as the
// ordering rules allow (docs/replication.md, "Write ordering"):
//   - a write of epoch e waits for every earlier write of an older epoch;
//   - anything waits for earlier overlapping items (arrival order wins);
//   - a barrier waits for everything that arrived before it;
//   - nothing is submitted over one of our own in-flight disk writes.
// Reads requested by the peer are served directly.
#include <algorithm>
#include <cerrno>

#include "core/invariant.h"
#include "core/replicator.h"
#include "core/replicator_wire.h"
#include "peer.pb.h"

namespace tandem::core {

namespace {

bool valid_range(uint64_t offset, uint64_t length, uint64_t size) {
  return length > 0 && offset % kSectorBytes == 0 && length % kSectorBytes == 0 && offset <= size &&
         length <= size - offset;
}

std::string range_text(uint64_t offset, uint64_t length) {
  return std::to_string(length) + " bytes at offset " + std::to_string(offset);
}

}  // namespace

void Replicator::on_peer_write(net::Frame&& frame) {
  proto::Write m;
  if (!wire::parse(frame, m)) return protocol_error("malformed Write");
  const auto length = static_cast<uint32_t>(frame.payload.size());
  if (!valid_range(m.offset(), length, device_size())) {
    return protocol_error("Write of " + range_text(m.offset(), length) +
                          " does not fit the device of " + std::to_string(device_size()) +
                          " bytes or is not sector aligned");
  }
  if (peer_role_ != Role::kPrimary) return protocol_error("Write from a peer that is not primary");
  if (!integrity_ok("Write", m.offset(), m.digest(), frame.payload)) return;
  if (m.epoch() < last_peer_epoch_) {
    return protocol_error("Write epoch " + std::to_string(m.epoch()) + " after epoch " +
                          std::to_string(last_peer_epoch_));
  }
  last_peer_epoch_ = m.epoch();
  // RecvAck promises that the write will reach this disk (the primary may
  // complete it on that alone), so only a node that still has a disk sends
  // it: a disk being detached still takes the write (submit_received); a
  // diskless or failed node answers only with the WriteAck's error, which
  // the primary marks out of sync, as DRBD's NegAck.
  if (config_.protocol == WireProtocol::kB && has_data(disk_)) {
    proto::RecvAck a;
    a.set_id(m.id());
    send(net::FrameType::kRecvAck, a);
  }
  // A diskless peer keeps no bitmap: we remember what it lacks.
  if (!has_data(peer_disk_)) mark_out_of_sync(m.offset(), length);

  Received item;
  item.kind = ReceivedKind::kWrite;
  item.wire_id = m.id();
  item.offset = m.offset();
  item.length = length;
  item.epoch = m.epoch();
  item.fua = m.fua();
  item.data = std::move(frame.payload);
  item.conn_gen = conn_gen_;

  // Dual-primary conflict: the peer's write overlaps writes of ours that the
  // peer has not acknowledged yet. The winner keeps its own data on the
  // overlap; the loser writes the peer's data over its own (after its own
  // disk writes finished, which the ordering rules ensure).
  // (Checked whatever our role is now: a node demoted with writes still
  // pending is in the same race.)
  RangeSet pending;
  writes_.for_each([&](uint64_t, AppWrite& w) {
    if (w.sent && !w.write_acked && !w.peer_gone && w.conn_gen == conn_gen_ &&
        overlaps(w.offset, w.length, item.offset, item.length)) {
      pending.insert(w.offset, w.length);
    }
  });
  if (!pending.empty()) ++counters_.write_conflicts;
  if (!pending.empty() && winner_on_conflict() && !config_.test_break_conflict_rule) {
    RangeSet keep;
    keep.insert(item.offset, item.length);
    for (const auto& [s, e] : pending.ranges()) keep.erase(s, e - s);
    for (const auto& [s, e] : keep.ranges())
      item.pieces.emplace_back(s, static_cast<uint32_t>(e - s));
  } else {
    item.pieces.emplace_back(item.offset, item.length);
  }
  // A resync chunk in flight over this range may carry older data to the
  // peer; send it again after this write is on our disk.
  chunks_.for_each([&](uint64_t, ResyncChunk& c) {
    if (c.kind != ChunkKind::kServeDigest && c.stage != ChunkStage::kBlocked && !c.abandoned &&
        overlaps(c.offset, c.length, item.offset, item.length)) {
      if (!c.redo) ++counters_.resync_redos;
      c.redo = true;
    }
  });
  received_order_.push_back(received_.insert(std::move(item)));
}

void Replicator::on_peer_barrier(const net::Frame& frame) {
  proto::Barrier m;
  if (!wire::parse(frame, m)) return protocol_error("malformed Barrier");
  Received item;
  item.kind = ReceivedKind::kBarrier;
  item.wire_id = m.id();
  item.conn_gen = conn_gen_;
  received_order_.push_back(received_.insert(std::move(item)));
}

void Replicator::on_resync_data(net::Frame&& frame) {
  proto::ResyncData m;
  if (!wire::parse(frame, m)) return protocol_error("malformed ResyncData");
  if (repl_ != ReplState::kSyncTarget) return protocol_error("ResyncData while not sync target");
  const auto length = static_cast<uint32_t>(frame.payload.size());
  if (!valid_range(m.offset(), length, device_size())) {
    return protocol_error("ResyncData of " + range_text(m.offset(), length) +
                          " does not fit the device of " + std::to_string(device_size()) +
                          " bytes");
  }
  if (!integrity_ok("ResyncData", m.offset(), m.digest(), frame.payload)) return;
  sync_bytes_received_ += length;
  Received item;
  item.kind = ReceivedKind::kResyncData;
  item.wire_id = m.id();
  item.offset = m.offset();
  item.length = length;
  item.data = std::move(frame.payload);
  item.conn_gen = conn_gen_;
  item.pieces.emplace_back(item.offset, item.length);
  received_order_.push_back(received_.insert(std::move(item)));
}

void Replicator::on_peer_read_request(const net::Frame& frame) {
  proto::ReadRequest m;
  if (!wire::parse(frame, m)) return protocol_error("malformed ReadRequest");
  if (m.length() > net::kMaxPayloadBytes || !valid_range(m.offset(), m.length(), device_size())) {
    return protocol_error("ReadRequest of " + range_text(m.offset(), m.length()) +
                          " does not fit the device of " + std::to_string(device_size()) +
                          " bytes");
  }
  if (!(local_usable() && disk_ == DiskState::kUpToDate)) {
    proto::ReadReply r;
    r.set_id(m.id());
    r.set_error(static_cast<uint32_t>(EIO));
    send(net::FrameType::kReadReply, r);
    return;
  }
  PeerRead pr;
  pr.wire_id = m.id();
  pr.data = take_buffer(m.length());
  pr.conn_gen = conn_gen_;
  std::byte* dest = pr.data.data();
  const uint64_t id = peer_reads_.insert(std::move(pr));
  submit_io(IoOwner::kPeerRead, id, LocalIoKind::kRead, m.offset(), m.length(), dest, false);
}

bool Replicator::received_may_submit(size_t order_index, const Received& item) const {
  for (size_t j = 0; j < order_index; ++j) {
    const Received* e = received_.find(received_order_[j]);
    if (e == nullptr) continue;
    if (item.kind == ReceivedKind::kBarrier) return false;
    if (e->kind == ReceivedKind::kBarrier) continue;
    if (item.kind == ReceivedKind::kWrite && e->kind == ReceivedKind::kWrite &&
        e->epoch < item.epoch) {
      return false;
    }
    if (overlaps(e->offset, e->length, item.offset, item.length)) return false;
  }
  if (item.kind == ReceivedKind::kBarrier) return true;
  bool blocked = false;
  ios_.for_each([&](uint64_t, const LocalIo& io) {
    if (blocked || io.kind != LocalIoKind::kWrite || io.owner != IoOwner::kAppWrite) return;
    for (const auto& [off, len] : item.pieces) {
      if (overlaps(io.offset, io.length, off, len)) blocked = true;
    }
  });
  return !blocked;
}

// Peer writes and barriers still go to a disk that is being detached: the
// detach waits for them (finish_detach_if_drained), as DRBD's detach waits
// for local I/O, because with protocol B the peer may have completed them on
// our RecvAck. Resync data is dropped: the sync was aborted and its ranges
// stay out of sync.
bool Replicator::received_goes_to_disk(const Received& item) const {
  return item.kind == ReceivedKind::kResyncData ? local_usable() : has_data(disk_);
}

void Replicator::submit_received(uint64_t id, Received& item) {
  item.submitted = true;
  if (!received_goes_to_disk(item)) {
    item.error = ENODEV;
  } else if (item.kind == ReceivedKind::kBarrier) {
    item.ios_in_flight = 1;
    submit_io(IoOwner::kReceived, id, LocalIoKind::kFlush, 0, 0, nullptr, false);
  } else {
    for (const auto& [off, len] : item.pieces) {
      ++item.ios_in_flight;
      submit_io(IoOwner::kReceived, id, LocalIoKind::kWrite, off, len,
                item.data.data() + (off - item.offset), item.fua);
    }
  }
  if (item.ios_in_flight == 0) finish_received(id);
}

void Replicator::finish_received(uint64_t id) {
  Received* item = received_.find(id);
  TANDEM_INVARIANT(item != nullptr && item->ios_in_flight == 0, "received item finished twice");
  const bool can_send = handshake_done_ && item->conn_gen == conn_gen_;
  const auto error = static_cast<uint32_t>(item->error);
  switch (item->kind) {
    case ReceivedKind::kWrite:
      if (can_send) {
        proto::WriteAck a;
        a.set_id(item->wire_id);
        a.set_error(error);
        send(net::FrameType::kWriteAck, a);
      }
      break;
    case ReceivedKind::kResyncData:
      if (can_send) {
        if (error == 0) on_resync_data_written(item->offset, item->length);
        proto::ResyncAck a;
        a.set_id(item->wire_id);
        a.set_error(error);
        send(net::FrameType::kResyncAck, a);
      }
      break;
    case ReceivedKind::kBarrier:
      if (can_send) {
        proto::BarrierAck a;
        a.set_id(item->wire_id);
        a.set_error(error);
        send(net::FrameType::kBarrierAck, a);
      }
      break;
  }
  retire_buffer(std::move(item->data));
  received_.erase(id);
}

void Replicator::pump_received() {
  for (size_t i = 0; i < received_order_.size(); ++i) {
    const uint64_t id = received_order_[i];
    Received* item = received_.find(id);
    if (item == nullptr || item->submitted) continue;
    if (received_may_submit(i, *item)) submit_received(id, *item);
  }
  std::erase_if(received_order_, [&](uint64_t id) { return received_.find(id) == nullptr; });
}

}  // namespace tandem::core
