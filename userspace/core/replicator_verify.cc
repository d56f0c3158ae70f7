// Replicator: online verify (docs/resync.md). The verify source walks the
// whole device in chunks at the pace of the rate controller; for each one
// it asks the peer for a digest (verify-alg) while reading its own copy,
// compares, and reports the result (VerifyResult) so that both nodes mark
// differing blocks out of sync and count them. The run ends after the last
// chunk, or early when the nodes stop being connected with both disks
// UpToDate. A run that found differences starts the out-of-sync handler on
// both nodes; the next resync (disconnect/connect) copies those blocks.
#include <algorithm>

#include "core/digest.h"
#include "core/replicator.h"
#include "core/replicator_wire.h"
#include "peer.pb.h"

namespace tandem::core {

Result<void> Replicator::start_verify() {
  begin_event();
  const std::string res = "resource " + config_.resource;
  auto refuse_verify = [&](const std::string& why) {
    return make_error(res + ": cannot start online verify: " + why);
  };
  if (config_.verify_alg == DigestAlg::kNone) {
    return refuse_verify(
        "no verify-alg is configured; set verify-alg (crc32c, md5, sha1 or "
        "sha256) in the net section");
  }
  if (conn_ != ConnState::kConnected || !have_peer_state_) {
    return refuse_verify("not connected to peer " + config_.peer_node + " (" +
                         std::string(to_string(conn_)) + "); connect first");
  }
  if (verify_running_) return refuse_verify("a verify run is already in progress");
  if (repl_ != ReplState::kEstablished) {
    return refuse_verify("a resync is running (" + std::string(to_string(repl_)) +
                         "); wait for it to finish");
  }
  if (!local_authoritative() || peer_disk_ != DiskState::kUpToDate) {
    return refuse_verify("both disks must be UpToDate (this node " + std::string(to_string(disk_)) +
                         ", peer " + std::string(to_string(peer_disk_)) + ")");
  }
  verify_running_ = true;
  verify_source_ = true;
  verify_cursor_ = 0;
  verify_total_ = size_;
  verify_done_ = 0;
  verify_mismatch_ = 0;
  controller_.reset();
  rate_budget_ = 0;
  rate_acked_bytes_ = 0;
  start_resync_ticks();
  pump();
  note_state();
  return {};
}

bool Replicator::next_verify_chunk(ResyncChunk& c) {
  if (verify_cursor_ >= verify_total_) return false;
  const auto length = static_cast<uint32_t>(
      std::min<uint64_t>(config_.resync_chunk_bytes, verify_total_ - verify_cursor_));
  if (!rate_allows(length)) return false;
  c.kind = ChunkKind::kVerify;
  c.offset = verify_cursor_;
  c.length = length;
  verify_cursor_ += length;
  return true;
}

void Replicator::verify_chunk_compared(uint64_t id, bool in_sync) {
  ResyncChunk& c = chunks_.at(id);
  if (c.redo) {
    // A peer write landed on the block meanwhile: compare it again.
    retire_buffer(std::move(c.data));
    c.stage = ChunkStage::kBlocked;
    c.redo = false;
    return;
  }
  const uint64_t offset = c.offset;
  const uint32_t length = c.length;
  retire_buffer(std::move(c.data));
  chunks_.erase(id);
  rate_acked_bytes_ += length;
  verify_done_ += length;
  if (!in_sync) {
    verify_mismatch_ += length;
    mark_out_of_sync(offset, length);
  }
  const bool finished = verify_cursor_ >= verify_total_ && live_chunks(ChunkKind::kVerify) == 0;
  proto::VerifyResult m;
  m.set_offset(offset);
  m.set_length(length);
  m.set_in_sync(in_sync);
  m.set_finished(finished);
  send(net::FrameType::kVerifyResult, m);
  if (finished) stop_verify(true, false);
}

void Replicator::on_verify_result(const net::Frame& frame) {
  proto::VerifyResult m;
  if (!wire::parse(frame, m)) return protocol_error("malformed VerifyResult");
  const bool stop_only = m.length() == 0 && m.finished();
  if (!stop_only &&
      (m.length() % kSectorBytes != 0 || m.offset() % kSectorBytes != 0 || m.length() == 0 ||
       m.offset() > device_size() || m.length() > device_size() - m.offset())) {
    return protocol_error("VerifyResult of " + std::to_string(m.length()) + " bytes at offset " +
                          std::to_string(m.offset()) + " does not fit the device");
  }
  if (!verify_running_ || verify_source_) return;  // we stopped following this run
  ++acks_since_check_;
  if (!stop_only) {
    verify_done_ = std::min(verify_total_, verify_done_ + m.length());
    if (!m.in_sync()) {
      verify_mismatch_ += m.length();
      if (has_data(disk_) && !detaching_) mark_out_of_sync(m.offset(), m.length());
    }
  }
  if (m.finished()) stop_verify(!stop_only, false);
}

// completed: the run reached its end (not stopped early); then a run that
// found differences starts the out-of-sync handler, as DRBD does.
void Replicator::stop_verify(bool completed, bool notify_peer) {
  if (!verify_running_) return;
  const bool was_source = verify_source_;
  verify_running_ = false;
  verify_source_ = false;
  drop_chunks(ChunkKind::kVerify);
  if (was_source) cancel(TimerId::kResync);
  if (notify_peer && was_source && handshake_done_) {
    proto::VerifyResult m;
    m.set_finished(true);
    send(net::FrameType::kVerifyResult, m);
  }
  if (!completed) return;
  log_event(verify_mismatch_ > 0 ? 5 : 6,
            std::string("online verify ") + (was_source ? "walked " : "followed ") +
                std::to_string(verify_done_) + " bytes, " + std::to_string(verify_mismatch_) +
                " bytes out of sync" +
                (verify_mismatch_ > 0 ? " (marked; disconnect and connect to resync them)" : ""));
  if (verify_mismatch_ > 0) run_handler(Handler::kOutOfSync);
}

void Replicator::check_verify_conditions() {
  if (!verify_running_) return;
  const bool ok = conn_ == ConnState::kConnected && have_peer_state_ &&
                  repl_ == ReplState::kEstablished && local_authoritative() &&
                  peer_disk_ == DiskState::kUpToDate;
  if (!ok) stop_verify(false, handshake_done_);
}

}  // namespace tandem::core
