// Replicator: resync (docs/resync.md).
//
// When a sync starts, the source sends its out-of-sync ranges (OutOfSync
// frames, reply requested); the target merges them and answers with its
// own; the source merges those and then copies the union, a bounded number
// of chunks at a time, at the pace the rate controller allows. A full sync
// is the same with every block marked first. Both nodes clear ranges as
// they land (the target when the data is on its disk, the source when the
// target acknowledged it), so an interrupted sync resumes where it stopped.
//
// With csums-alg the source asks the target for a digest of each chunk and
// sends the data only when the digests differ (ResyncInSync otherwise).
//
// Serialization with application writes:
//   - a chunk starts only when no disk write and no received-but-unwritten
//     peer write overlaps it, so what it reads is the newest data;
//   - an application write overlapping a chunk in flight waits for the
//     chunk (replicator_data.cc), so the write's frame follows the chunk;
//   - a peer write arriving over a chunk in flight marks the chunk for a
//     second pass (replicator_receive.cc), because the chunk may carry data
//     older than what the target already wrote.
#include <algorithm>
#include <cerrno>

#include "core/digest.h"
#include "core/invariant.h"
#include "core/replicator.h"
#include "core/replicator_wire.h"
#include "peer.pb.h"

namespace tandem::core {

namespace {

// Runs (gap, length pairs count twice) per OutOfSync frame: at most 10
// bytes each as varints, so a frame stays well under kMaxMessageBytes.
constexpr int kMaxRunsPerFrame = 4096;
// DigestRequests the peer may have outstanding with us; its chunks in
// flight (resync-max-in-flight) are capped at the same number.
constexpr uint64_t kMaxServedDigests = 256;
// Ranges one out-of-sync set may hold. A set more fragmented than this
// (a peer could send every other sector) is taken as "everything differs",
// so that memory stays bounded whatever the peer sends.
constexpr uint64_t kMaxRangesPerSet = 262'144;

bool range_fits(uint64_t offset, uint64_t length, uint64_t size) {
  return length > 0 && offset % kSectorBytes == 0 && length % kSectorBytes == 0 && offset <= size &&
         length <= size - offset;
}

}  // namespace

// ---------------------------------------------------------------- start/stop

void Replicator::start_sync_source(bool full) {
  TANDEM_INVARIANT(has_data(disk_) && size_ > 0, "sync source without a disk");
  if (verify_running_) stop_verify(false, true);
  repl_ = ReplState::kSyncSource;
  if (full || !bitmap_complete_) mark_out_of_sync(0, size_);
  to_send_.clear();
  redo_chunks_.clear();
  sync_issuing_ = false;
  sync_total_ = out_of_sync_.total_bytes();
  sync_done_ = 0;
  awaiting_peer_set_ = true;
  send_out_of_sync_set(true);
}

void Replicator::start_sync_target(bool full) {
  TANDEM_INVARIANT(has_data(disk_) && size_ > 0, "sync target without a disk");
  if (verify_running_) stop_verify(false, true);
  repl_ = ReplState::kSyncTarget;
  set_disk(DiskState::kInconsistent);
  md_.consistent = false;
  md_.up_to_date = false;
  md_.outdated = false;
  persist_metadata();
  if (full || !bitmap_complete_) mark_out_of_sync(0, size_);
  sync_total_ = out_of_sync_.total_bytes();
  sync_done_ = 0;
  send_node_state();
}

// Both sets are known: copy the union.
void Replicator::begin_sync_issuing() {
  to_send_ = out_of_sync_;
  sync_total_ = to_send_.total_bytes();
  sync_done_ = 0;
  sync_issuing_ = true;
  controller_.reset();
  rate_budget_ = 0;
  rate_acked_bytes_ = 0;
  start_resync_ticks();
}

void Replicator::abort_sync() {
  if (repl_ == ReplState::kSyncSource) {
    drop_chunks(ChunkKind::kSync);
    redo_chunks_.clear();
    to_send_.clear();
    cancel(TimerId::kResync);
  }
  sync_issuing_ = false;
  awaiting_peer_set_ = false;
  csums_served_.clear();
  repl_ = handshake_done_ && have_peer_state_ ? ReplState::kEstablished : ReplState::kOff;
}

void Replicator::resync_connection_lost() {
  if (repl_ == ReplState::kSyncSource || repl_ == ReplState::kSyncTarget) abort_sync();
  if (verify_running_) stop_verify(false, false);
  drop_chunks(ChunkKind::kServeDigest);
  drop_chunks(ChunkKind::kSync);
  drop_chunks(ChunkKind::kVerify);
  awaiting_peer_set_ = false;
  oos_receiving_ = false;
  oos_cursor_sectors_ = 0;
  peer_sync_paused_ = false;
  csums_served_.clear();
}

// Chunks whose read or digest reply is still due stay (abandoned) until it
// arrives, so that the answer finds its chunk; the rest go at once.
void Replicator::drop_chunks(ChunkKind kind) {
  for (uint64_t id : chunks_.ids()) {
    ResyncChunk& c = chunks_.at(id);
    if (c.kind != kind) continue;
    c.abandoned = true;
    erase_chunk(id);
  }
}

void Replicator::erase_chunk(uint64_t id) {
  ResyncChunk& c = chunks_.at(id);
  if (c.stage == ChunkStage::kReading && !c.read_done) return;
  if (c.digest_requested && !c.have_peer_digest && handshake_done_ && c.conn_gen == conn_gen_) {
    return;
  }
  retire_buffer(std::move(c.data));
  chunks_.erase(id);
}

uint64_t Replicator::live_chunks(ChunkKind kind) const {
  uint64_t n = 0;
  chunks_.for_each([&](uint64_t, const ResyncChunk& c) {
    if (c.kind == kind && !c.abandoned) ++n;
  });
  return n;
}

// ---------------------------------------------------------------- out-of-sync sets

void Replicator::send_out_of_sync_set(bool reply_requested) {
  proto::OutOfSync m;
  m.set_reply_requested(reply_requested);
  // Too fragmented for the peer to accept as ranges: say "everything".
  const bool too_many = out_of_sync_.ranges().size() > kMaxRangesPerSet;
  m.set_incomplete(!bitmap_complete_ || too_many);
  uint64_t cursor = 0;  // sectors
  for (const auto& [start, end] : out_of_sync_.ranges()) {
    if (too_many) break;
    if (m.runs_size() >= kMaxRunsPerFrame) {
      send(net::FrameType::kOutOfSync, m);
      m.clear_runs();
    }
    // Marks are sector aligned; round outward should one ever not be.
    const uint64_t s = start / kSectorBytes;
    const uint64_t e = (end + kSectorBytes - 1) / kSectorBytes;
    const uint64_t from = std::max(s, cursor);
    if (e <= from) continue;
    m.add_runs(from - cursor);
    m.add_runs(e - from);
    cursor = e;
  }
  m.set_last(true);
  send(net::FrameType::kOutOfSync, m);
}

void Replicator::on_out_of_sync(const net::Frame& frame) {
  proto::OutOfSync m;
  if (!wire::parse(frame, m)) return protocol_error("malformed OutOfSync");
  if (m.runs_size() % 2 != 0 || m.runs_size() > kMaxRunsPerFrame) {
    return protocol_error("OutOfSync with " + std::to_string(m.runs_size()) +
                          " runs (must be even and at most " + std::to_string(kMaxRunsPerFrame) +
                          ")");
  }
  const uint64_t limit = device_size() / kSectorBytes;
  if (!oos_receiving_) {
    oos_receiving_ = true;
    oos_cursor_sectors_ = 0;
    oos_set_ranges_ = 0;
  }
  // Validate the whole frame before marking anything.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  ranges.reserve(static_cast<size_t>(m.runs_size() / 2));
  uint64_t cursor = oos_cursor_sectors_;
  for (int i = 0; i < m.runs_size(); i += 2) {
    const uint64_t gap = m.runs(i);
    const uint64_t length = m.runs(i + 1);
    // Ranges are merged, so only the first range of a set may start right
    // at the cursor (at sector 0).
    if (length == 0 || (gap == 0 && cursor != 0) || gap > limit - cursor ||
        length > limit - cursor - gap) {
      return protocol_error("OutOfSync range (gap " + std::to_string(gap) + ", length " +
                            std::to_string(length) + " sectors after sector " +
                            std::to_string(cursor) + ") is empty, unordered or beyond the " +
                            std::to_string(limit) + "-sector device");
    }
    ranges.emplace_back(cursor + gap, length);
    cursor += gap + length;
  }
  oos_cursor_sectors_ = cursor;
  oos_set_ranges_ += ranges.size();
  if (m.incomplete() || oos_set_ranges_ > kMaxRangesPerSet) {
    // The peer cannot say what differs: everything does.
    ranges.clear();
    ranges.emplace_back(0, limit);
  }
  if (has_data(disk_) && !detaching_) {
    for (const auto& [start, length] : ranges) {
      const uint64_t offset = start * kSectorBytes;
      const uint64_t bytes = length * kSectorBytes;
      if (repl_ == ReplState::kSyncSource && sync_issuing_) {
        // A set that arrives while copying (a late answer): add what is new.
        RangeSet fresh;
        fresh.insert(offset, bytes);
        for (const auto& [s, e] : out_of_sync_.ranges()) {
          if (s < offset + bytes && e > offset) fresh.erase(s, e - s);
        }
        for (const auto& [s, e] : fresh.ranges()) to_send_.insert(s, e - s);
        sync_total_ += fresh.total_bytes();
      }
      mark_out_of_sync(offset, bytes);
    }
  }
  if (!m.last()) return;
  oos_receiving_ = false;
  oos_cursor_sectors_ = 0;
  oos_set_ranges_ = 0;
  if (m.reply_requested()) {
    if (repl_ == ReplState::kSyncTarget) sync_total_ = out_of_sync_.total_bytes() + sync_done_;
    send_out_of_sync_set(false);
  } else if (awaiting_peer_set_) {
    awaiting_peer_set_ = false;
    if (repl_ == ReplState::kSyncSource) begin_sync_issuing();
  }
}

// ---------------------------------------------------------------- rate control

bool Replicator::sync_paused() const {
  return sync_paused_user_ || sync_paused_dependency_ || peer_sync_paused_;
}

bool Replicator::rate_allows(uint32_t length) {
  if (controller_.unlimited()) return true;
  if (rate_budget_ <= 0) return false;
  rate_budget_ -= static_cast<int64_t>(length);
  return true;
}

// The first tick runs at once (its grant lets the first chunks start now,
// not one tick later) and arms the next.
void Replicator::start_resync_ticks() {
  if (controller_.unlimited() || !handshake_done_) return;
  on_resync_tick();
}

void Replicator::on_resync_tick() {
  const bool active =
      (repl_ == ReplState::kSyncSource && sync_issuing_) || (verify_running_ && verify_source_);
  if (!active) return;  // the timer stays off until the next sync or verify
  uint64_t in_flight = 0;
  chunks_.for_each([&](uint64_t, const ResyncChunk& c) {
    if (c.kind != ChunkKind::kServeDigest && !c.abandoned && c.stage != ChunkStage::kBlocked) {
      in_flight += c.length;
    }
  });
  const uint64_t grant = controller_.on_tick({rate_acked_bytes_, in_flight, app_io_bytes_});
  rate_acked_bytes_ = 0;
  app_io_bytes_ = 0;
  // A chunk may overdraw the budget (debt is paid by later ticks); unused
  // budget does not pile up beyond one tick's grant.
  rate_budget_ = std::min(rate_budget_ + static_cast<int64_t>(grant), static_cast<int64_t>(grant));
  arm(TimerId::kResync, ResyncController::kTickMs);
}

// ---------------------------------------------------------------- source

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

bool Replicator::next_sync_chunk(ResyncChunk& c) {
  c.kind = ChunkKind::kSync;
  if (!redo_chunks_.empty()) {
    if (!rate_allows(redo_chunks_.front().second)) return false;
    c.offset = redo_chunks_.front().first;
    c.length = redo_chunks_.front().second;
    c.counted = true;
    redo_chunks_.pop_front();
    return true;
  }
  if (to_send_.empty()) return false;
  const auto [start, end] = *to_send_.ranges().begin();
  const auto length =
      static_cast<uint32_t>(std::min<uint64_t>(config_.resync_chunk_bytes, end - start));
  if (!rate_allows(length)) return false;
  c.offset = start;
  c.length = length;
  to_send_.erase(start, length);
  return true;
}

void Replicator::pump_resync() {
  check_verify_conditions();
  const bool syncing = repl_ == ReplState::kSyncSource && sync_issuing_ &&
                       conn_ == ConnState::kConnected && local_usable() && !sync_paused();
  const bool verifying = verify_running_ && verify_source_;
  if (syncing || verifying) {
    // Up to `limit` chunks being read (or compared), and as many more sent
    // and waiting for the peer's acknowledgement: the source reads on
    // while the target writes, instead of waiting a whole round trip per
    // slot.
    const uint64_t limit = std::min<uint64_t>(config_.resync_max_in_flight, kMaxServedDigests);
    uint64_t live = 0;
    uint64_t early = 0;
    chunks_.for_each([&](uint64_t, const ResyncChunk& c) {
      if (c.kind == ChunkKind::kServeDigest || c.abandoned) return;
      ++live;
      if (c.stage != ChunkStage::kAwaitAck) ++early;
    });
    while (early < limit && live < 2 * limit) {
      ResyncChunk c;
      if (!(syncing ? next_sync_chunk(c) : next_verify_chunk(c))) break;
      chunks_.insert(std::move(c));
      ++live;
      ++early;
    }
  }
  // submit_io and send only add to other containers, so iterating chunks_
  // in place is safe.
  chunks_.for_each([&](uint64_t id, ResyncChunk& c) {
    if (c.stage != ChunkStage::kBlocked || c.abandoned || !chunk_may_start(c)) return;
    start_chunk(id, c);
  });
}

void Replicator::start_chunk(uint64_t id, ResyncChunk& c) {
  c.data = take_buffer(c.length);
  c.stage = ChunkStage::kReading;
  c.redo = false;
  c.read_done = false;
  c.digest_requested = false;
  c.have_peer_digest = false;
  c.peer_error = 0;
  c.peer_digest.clear();
  c.conn_gen = conn_gen_;
  const bool compare = c.kind == ChunkKind::kVerify ||
                       (c.kind == ChunkKind::kSync && config_.csums_alg != DigestAlg::kNone);
  if (compare) {
    c.alg = c.kind == ChunkKind::kVerify ? config_.verify_alg : config_.csums_alg;
    proto::DigestRequest m;
    m.set_id(id);
    m.set_offset(c.offset);
    m.set_length(c.length);
    m.set_purpose(c.kind == ChunkKind::kVerify ? proto::DIGEST_PURPOSE_VERIFY
                                               : proto::DIGEST_PURPOSE_RESYNC);
    m.set_alg(static_cast<uint32_t>(c.alg));
    if (c.kind == ChunkKind::kVerify) m.set_verify_total(verify_total_);
    send(net::FrameType::kDigestRequest, m);
    c.digest_requested = true;
  }
  submit_io(IoOwner::kResyncRead, id, LocalIoKind::kRead, c.offset, c.length, c.data.data(), false);
}

void Replicator::on_resync_read_done(uint64_t chunk_id, int error) {
  ResyncChunk* c = chunks_.find(chunk_id);
  TANDEM_INVARIANT(c != nullptr && c->stage == ChunkStage::kReading, "resync chunk lost");
  c->read_done = true;
  if (c->kind == ChunkKind::kServeDigest) return serve_digest_read_done(chunk_id, error);
  const bool wanted = c->kind == ChunkKind::kSync ? repl_ == ReplState::kSyncSource
                                                  : verify_running_ && verify_source_;
  if (c->abandoned || error != 0 || !wanted || !handshake_done_) {
    c->abandoned = true;
    c->stage = ChunkStage::kAwaitDigest;
    erase_chunk(chunk_id);
    return;
  }
  if (c->digest_requested) {
    c->stage = ChunkStage::kAwaitDigest;
    if (c->have_peer_digest) chunk_compare(chunk_id);
    return;
  }
  send_resync_data(chunk_id, *c);
}

// The chunk's data goes to the target; the chunk waits for its ResyncAck.
void Replicator::send_resync_data(uint64_t id, ResyncChunk& c) {
  proto::ResyncData m;
  m.set_id(id);
  m.set_offset(c.offset);
  m.set_digest(integrity_digest(c.data.data(), c.length));
  send(net::FrameType::kResyncData, m, c.data.data(), c.length);
  sync_bytes_sent_ += c.length;
  c.stage = ChunkStage::kAwaitAck;
}

void Replicator::on_digest_reply(const net::Frame& frame) {
  proto::DigestReply m;
  if (!wire::parse(frame, m)) return protocol_error("malformed DigestReply");
  ResyncChunk* c = chunks_.find(m.id());
  if (c == nullptr || c->kind == ChunkKind::kServeDigest || !c->digest_requested ||
      c->have_peer_digest || c->conn_gen != conn_gen_) {
    return protocol_error("DigestReply for unknown request " + std::to_string(m.id()));
  }
  if (m.error() == 0 && m.digest().size() != digest_size(c->alg)) {
    return protocol_error("DigestReply with a " + std::to_string(m.digest().size()) +
                          "-byte digest for " + std::string(to_string(c->alg)));
  }
  ++acks_since_check_;
  c->have_peer_digest = true;
  c->peer_error = m.error();
  c->peer_digest = m.digest();
  if (c->abandoned) {
    erase_chunk(m.id());
  } else if (c->read_done) {
    chunk_compare(m.id());
  }
}

// Both the local data and the peer's digest are here.
void Replicator::chunk_compare(uint64_t id) {
  ResyncChunk& c = chunks_.at(id);
  const std::string own = compute_digest(c.alg, c.data);
  const bool equal = c.peer_error == 0 && !own.empty() && own == c.peer_digest;
  if (c.kind == ChunkKind::kVerify) return verify_chunk_compared(id, equal);
  if (equal) {
    csums_equal_bytes_ += c.length;
    proto::ResyncInSync m;
    m.set_id(id);
    m.set_offset(c.offset);
    m.set_length(c.length);
    send(net::FrameType::kResyncInSync, m);
    complete_sync_chunk(id);
    return;
  }
  csums_differ_bytes_ += c.length;
  send_resync_data(id, c);
}

void Replicator::on_resync_ack(const net::Frame& frame) {
  proto::ResyncAck m;
  if (!wire::parse(frame, m)) return protocol_error("malformed ResyncAck");
  ResyncChunk* c = chunks_.find(m.id());
  if (c == nullptr || c->kind != ChunkKind::kSync || c->stage != ChunkStage::kAwaitAck ||
      repl_ != ReplState::kSyncSource) {
    return protocol_error("ResyncAck for unknown chunk " + std::to_string(m.id()));
  }
  ++acks_since_check_;
  if (m.error() != 0) {
    // The target could not write: it reports its failed disk separately.
    retire_buffer(std::move(c->data));
    chunks_.erase(m.id());
    abort_sync();
    return;
  }
  complete_sync_chunk(m.id());
}

// The target holds the chunk's data (acknowledged, or equal digests).
void Replicator::complete_sync_chunk(uint64_t id) {
  ResyncChunk& c = chunks_.at(id);
  const uint64_t offset = c.offset;
  const uint32_t length = c.length;
  const bool redo = c.redo;
  const bool counted = c.counted;
  retire_buffer(std::move(c.data));
  chunks_.erase(id);
  rate_acked_bytes_ += length;
  if (!counted) sync_done_ = std::min(sync_total_, sync_done_ + length);
  if (redo) {
    redo_chunks_.emplace_back(offset, length);
    return;
  }
  clear_out_of_sync(offset, length);
}

void Replicator::finish_sync_source_if_done() {
  if (repl_ != ReplState::kSyncSource || !sync_issuing_ || !to_send_.empty() ||
      !redo_chunks_.empty() || live_chunks(ChunkKind::kSync) > 0) {
    return;
  }
  repl_ = ReplState::kEstablished;
  sync_issuing_ = false;
  cancel(TimerId::kResync);
  bitmap_complete_ = true;
  peer_disk_ = DiskState::kUpToDate;
  peer_view_.disk = DiskState::kUpToDate;
  sync_end_unconfirmed_ = true;
  peer_view_.current_uuid = md_.current_uuid;
  sync_done_ = sync_total_;
  bool changed = forget_crash_as_primary();
  if (md_.bitmap_uuid != 0) {
    md_.history_uuids[1] = md_.history_uuids[0];
    md_.history_uuids[0] = md_.bitmap_uuid;
    md_.bitmap_uuid = 0;
    changed = true;
  }
  if (changed) persist_metadata();
  send_node_state(false, true);
}

// A finished sync copied this node's hot extents to the peer (or replaced
// its data): a crash while primary before it no longer matters, and the
// metadata must stop saying so, or a later unclean stop as secondary would
// be taken for a crashed primary's (equal generations: rules 42 and 43).
// Returns whether the metadata changed.
bool Replicator::forget_crash_as_primary() {
  crashed_primary_ = false;
  if (role_ == Role::kPrimary || !md_.primary) return false;
  md_.primary = false;
  return true;
}

// ---------------------------------------------------------------- target

void Replicator::on_resync_data_written(uint64_t offset, uint32_t length) {
  if (repl_ != ReplState::kSyncTarget) return;
  if (csums_served_.intersects(offset, length)) {
    csums_differ_bytes_ += length;  // our digest differed from the source's
    csums_served_.erase(offset, length);
  }
  sync_done_ = std::min(sync_total_, sync_done_ + length);
  clear_out_of_sync(offset, length);
}

void Replicator::on_resync_in_sync(const net::Frame& frame) {
  proto::ResyncInSync m;
  if (!wire::parse(frame, m)) return protocol_error("malformed ResyncInSync");
  if (!range_fits(m.offset(), m.length(), device_size()) || m.length() > net::kMaxPayloadBytes) {
    return protocol_error("ResyncInSync of " + std::to_string(m.length()) + " bytes at offset " +
                          std::to_string(m.offset()) + " does not fit the device");
  }
  if (repl_ != ReplState::kSyncTarget) return;  // our sync was aborted meanwhile
  csums_equal_bytes_ += m.length();
  csums_served_.erase(m.offset(), m.length());
  on_resync_data_written(m.offset(), m.length());
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
  forget_crash_as_primary();
  persist_metadata();
  clear_out_of_sync(0, size_);
  bitmap_complete_ = true;
  repl_ = ReplState::kEstablished;
  sync_done_ = sync_total_;
  send_node_state();
}

// ---------------------------------------------------------------- digests for the peer

void Replicator::on_digest_request(const net::Frame& frame) {
  proto::DigestRequest m;
  if (!wire::parse(frame, m)) return protocol_error("malformed DigestRequest");
  const auto alg = digest_alg_from_wire(m.alg());
  if (m.purpose() != proto::DIGEST_PURPOSE_RESYNC && m.purpose() != proto::DIGEST_PURPOSE_VERIFY) {
    return protocol_error("DigestRequest with unknown purpose " + std::to_string(m.purpose()));
  }
  if (!alg)
    return protocol_error("DigestRequest with unknown algorithm " + std::to_string(m.alg()));
  if (m.length() > net::kMaxPayloadBytes || !range_fits(m.offset(), m.length(), device_size())) {
    return protocol_error("DigestRequest of " + std::to_string(m.length()) + " bytes at offset " +
                          std::to_string(m.offset()) + " does not fit the device of " +
                          std::to_string(device_size()) + " bytes");
  }
  if (live_chunks(ChunkKind::kServeDigest) >= kMaxServedDigests) {
    return protocol_error("more than " + std::to_string(kMaxServedDigests) +
                          " DigestRequests outstanding");
  }
  const bool verify = m.purpose() == proto::DIGEST_PURPOSE_VERIFY;
  const bool usable =
      local_usable() && (verify ? disk_ == DiskState::kUpToDate : repl_ == ReplState::kSyncTarget);
  if (!usable) {
    proto::DigestReply r;
    r.set_id(m.id());
    r.set_error(static_cast<uint32_t>(local_usable() ? EAGAIN : EIO));
    send(net::FrameType::kDigestReply, r);
    return;
  }
  if (verify && !verify_running_) {
    // The peer started a verify run: follow its progress.
    verify_running_ = true;
    verify_source_ = false;
    verify_total_ = std::min(m.verify_total(), device_size());
    verify_done_ = 0;
    verify_mismatch_ = 0;
  }
  ResyncChunk c;
  c.kind = ChunkKind::kServeDigest;
  c.offset = m.offset();
  c.length = m.length();
  c.wire_id = m.id();
  c.purpose = static_cast<uint8_t>(m.purpose());
  c.alg = *alg;
  c.conn_gen = conn_gen_;
  chunks_.insert(std::move(c));
}

void Replicator::serve_digest_read_done(uint64_t chunk_id, int error) {
  ResyncChunk& c = chunks_.at(chunk_id);
  if (handshake_done_ && c.conn_gen == conn_gen_ && !c.abandoned) {
    proto::DigestReply r;
    r.set_id(c.wire_id);
    std::string digest = error == 0 ? compute_digest(c.alg, c.data) : std::string();
    if (digest.empty()) {
      r.set_error(static_cast<uint32_t>(EIO));
    } else {
      r.set_digest(std::move(digest));
      if (c.purpose == proto::DIGEST_PURPOSE_RESYNC) csums_served_.insert(c.offset, c.length);
    }
    send(net::FrameType::kDigestReply, r);
  }
  retire_buffer(std::move(c.data));
  chunks_.erase(chunk_id);
}

}  // namespace tandem::core
