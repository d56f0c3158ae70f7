// Replicator: full resync. The sync source sweeps the device in chunks,
// a bounded number at a time: read locally, send ResyncData, wait for the
// target's ResyncAck. Serialization with application writes:
//   - a chunk starts only when no disk write and no received-but-unwritten
//     peer write overlaps it, so what it reads is the newest data;
//   - an application write overlapping a chunk in flight waits for the
//     chunk (replicator_data.cc), so the write's frame follows the chunk;
//   - a peer write arriving over a chunk in flight marks the chunk for a
//     second pass (replicator_receive.cc), because the chunk may carry data
//     older than what the target already wrote.
#include <algorithm>

#include "core/invariant.h"
#include "core/replicator.h"
#include "core/replicator_wire.h"
#include "peer.pb.h"

namespace tandem::core {

void Replicator::start_sync_source() {
  TANDEM_INVARIANT(has_data(disk_) && size_ > 0, "sync source without a disk");
  repl_ = ReplState::kSyncSource;
  sync_total_ = size_;
  sync_done_ = 0;
  next_chunk_offset_ = 0;
  redo_chunks_.clear();
  // The peer lacks everything until the sweep has passed.
  mark_out_of_sync(0, size_);
}

void Replicator::start_sync_target() {
  TANDEM_INVARIANT(has_data(disk_) && size_ > 0, "sync target without a disk");
  repl_ = ReplState::kSyncTarget;
  set_disk(DiskState::kInconsistent);
  md_.consistent = false;
  md_.up_to_date = false;
  md_.outdated = false;
  persist_metadata();
  sync_total_ = size_;
  sync_done_ = 0;
  mark_out_of_sync(0, size_);
  send_node_state();
}

void Replicator::abort_sync() {
  if (repl_ == ReplState::kSyncSource) {
    for (uint64_t id : chunks_.ids()) {
      ResyncChunk& c = chunks_.at(id);
      if (c.stage == ChunkStage::kReading) {
        c.abandoned = true;  // erased when its read completes
      } else {
        retire_buffer(std::move(c.data));
        chunks_.erase(id);
      }
    }
    redo_chunks_.clear();
  }
  repl_ = handshake_done_ && have_peer_state_ ? ReplState::kEstablished : ReplState::kOff;
}

bool Replicator::chunk_may_start(const ResyncChunk& c) {
  bool blocked = false;
  ios_.for_each([&](uint64_t, const LocalIo& io) {
    if (io.kind == LocalIoKind::kWrite && overlaps(io.offset, io.length, c.offset, c.length)) {
      blocked = true;
    }
  });
  if (blocked) return false;
  received_.for_each([&](uint64_t, const Received& r) {
    if (r.kind != ReceivedKind::kBarrier && overlaps(r.offset, r.length, c.offset, c.length)) {
      blocked = true;
    }
  });
  return !blocked;
}

void Replicator::pump_resync() {
  if (repl_ != ReplState::kSyncSource || conn_ != ConnState::kConnected || !local_usable()) return;
  size_t live = 0;
  chunks_.for_each([&](uint64_t, const ResyncChunk& c) {
    if (!c.abandoned) ++live;
  });
  while (live < config_.resync_max_in_flight) {
    ResyncChunk c;
    if (!redo_chunks_.empty()) {
      c.offset = redo_chunks_.front().first;
      c.length = redo_chunks_.front().second;
      c.counted = true;
      redo_chunks_.pop_front();
    } else if (next_chunk_offset_ < size_) {
      c.offset = next_chunk_offset_;
      c.length = static_cast<uint32_t>(
          std::min<uint64_t>(config_.resync_chunk_bytes, size_ - next_chunk_offset_));
      next_chunk_offset_ += c.length;
    } else {
      break;
    }
    chunks_.insert(std::move(c));
    ++live;
  }
  // submit_io only adds to ios_, so iterating chunks_ in place is safe.
  chunks_.for_each([&](uint64_t id, ResyncChunk& c) {
    if (c.stage != ChunkStage::kBlocked || c.abandoned || !chunk_may_start(c)) return;
    c.data = take_buffer(c.length);
    c.stage = ChunkStage::kReading;
    c.redo = false;
    submit_io(IoOwner::kResyncRead, id, LocalIoKind::kRead, c.offset, c.length, c.data.data(),
              false);
  });
}

void Replicator::on_resync_read_done(uint64_t chunk_id, int error) {
  ResyncChunk* c = chunks_.find(chunk_id);
  TANDEM_INVARIANT(c != nullptr && c->stage == ChunkStage::kReading, "resync chunk lost");
  if (c->abandoned || error != 0 || repl_ != ReplState::kSyncSource || !handshake_done_) {
    retire_buffer(std::move(c->data));
    chunks_.erase(chunk_id);
    return;
  }
  proto::ResyncData m;
  m.set_id(chunk_id);
  m.set_offset(c->offset);
  send(net::FrameType::kResyncData, m, c->data.data(), c->length);
  c->stage = ChunkStage::kAwaitAck;
}

void Replicator::on_resync_ack(const net::Frame& frame) {
  proto::ResyncAck m;
  if (!wire::parse(frame, m)) return protocol_error("malformed ResyncAck");
  ResyncChunk* c = chunks_.find(m.id());
  if (c == nullptr || c->stage != ChunkStage::kAwaitAck || repl_ != ReplState::kSyncSource) {
    return protocol_error("ResyncAck for unknown chunk " + std::to_string(m.id()));
  }
  ++acks_since_check_;
  const uint64_t offset = c->offset;
  const uint32_t length = c->length;
  const bool redo = c->redo;
  const bool counted = c->counted;
  retire_buffer(std::move(c->data));
  chunks_.erase(m.id());
  if (m.error() != 0) {
    // The target could not write: it reports its failed disk separately.
    abort_sync();
    return;
  }
  if (redo) {
    redo_chunks_.emplace_back(offset, length);
    if (!counted) sync_done_ = std::min(sync_total_, sync_done_ + length);
    return;
  }
  if (!counted) sync_done_ = std::min(sync_total_, sync_done_ + length);
  clear_out_of_sync(offset, length);
}

void Replicator::finish_sync_source_if_done() {
  if (repl_ != ReplState::kSyncSource || next_chunk_offset_ < size_ || !redo_chunks_.empty()) {
    return;
  }
  bool live = false;
  chunks_.for_each([&](uint64_t, const ResyncChunk& c) {
    if (!c.abandoned) live = true;
  });
  if (live) return;
  repl_ = ReplState::kEstablished;
  peer_disk_ = DiskState::kUpToDate;
  peer_view_.disk = DiskState::kUpToDate;
  peer_view_.current_uuid = md_.current_uuid;
  sync_done_ = sync_total_;
  crashed_primary_ = false;
  if (md_.bitmap_uuid != 0) {
    md_.history_uuids[1] = md_.history_uuids[0];
    md_.history_uuids[0] = md_.bitmap_uuid;
    md_.bitmap_uuid = 0;
    persist_metadata();
  }
  send_node_state(false, true);
}

void Replicator::on_sync_done_from_peer(const proto::NodeState& ns) {
  if (repl_ != ReplState::kSyncTarget) return;  // aborted meanwhile (our disk failed)
  if (ns.disk() != proto::DISK_UPTODATE)
    return protocol_error("sync done from a source that is not UpToDate");
  set_disk(DiskState::kUpToDate);
  md_.history_uuids[1] = md_.history_uuids[0];
  md_.history_uuids[0] = md_.current_uuid;
  md_.current_uuid = ns.current_uuid();
  md_.bitmap_uuid = 0;
  md_.consistent = true;
  md_.up_to_date = true;
  md_.outdated = false;
  crashed_primary_ = false;
  persist_metadata();
  clear_out_of_sync(0, size_);
  repl_ = ReplState::kEstablished;
  sync_done_ = sync_total_;
  send_node_state();
}

}  // namespace tandem::core
