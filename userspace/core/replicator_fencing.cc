// Replicator: fencing hooks. A primary that loses its peer (fencing
// resource-only or resource-and-stonith) runs the fence-peer handler and
// interprets its exit status as DRBD does; with resource-and-stonith new
// application writes wait (Status::io_suspended) until the handler has
// decided or the administrator runs resume-io. After a resync that brought
// the peer back to UpToDate, unfence-peer runs. docs/split-brain.md
// ("Fencing") has the table.
#include "core/replicator.h"

namespace tandem::core {

void Replicator::fence_peer_if_needed() {
  if (config_.fencing == FencingPolicy::kDontCare || role_ != Role::kPrimary ||
      disk_ != DiskState::kUpToDate || fence_handler_id_ != 0) {
    return;
  }
  fence_handler_id_ = next_handler_id_++;
  emit(RunHandler{fence_handler_id_, Handler::kFencePeer});
  if (config_.fencing == FencingPolicy::kResourceAndStonith) io_suspended_ = true;
  log_event(4, std::string("lost the peer while primary: running fence-peer (fencing ") +
                   std::string(to_string(config_.fencing)) + ")" +
                   (io_suspended_ ? "; application writes are frozen until it decides" : ""));
}

void Replicator::unfence_peer_if_needed() {
  if (config_.fencing == FencingPolicy::kDontCare) return;
  run_handler(Handler::kUnfencePeer);
}

void Replicator::on_handler_done(uint64_t handler_id, int exit_code) {
  begin_event();
  if (handler_id != 0 && handler_id == fence_handler_id_) {
    fence_handler_id_ = 0;
    on_fence_peer_done(exit_code);
  }
  pump();
  note_state();
}

void Replicator::on_fence_peer_done(int code) {
  const std::string status = "fence-peer exited with " + std::to_string(code);
  if (conn_ == ConnState::kConnected) {
    // The peer came back meanwhile: replication decides again, not fencing.
    log_event(5, status + " after the peer reconnected; ignored");
    io_suspended_ = false;
    return;
  }
  switch (code) {
    case 3:
    case 4:
    case 5:
    case 7: {
      const char* what = code == 3   ? "the peer's disk is Inconsistent"
                         : code == 4 ? "the peer's disk was outdated"
                         : code == 5 ? "the peer is unreachable, assumed dead"
                                     : "the peer was fenced (STONITH)";
      log_event(5, status + ": " + what + "; continuing as the only UpToDate node");
      io_suspended_ = false;
      return;
    }
    case 6:
      // The peer is primary: its data is the newer, so this node's is not.
      log_event(3, status + ": the peer is primary; outdating this node's disk");
      if (disk_ == DiskState::kUpToDate) {
        set_disk(DiskState::kOutdated);
        md_.up_to_date = false;
        md_.outdated = true;
        persist_metadata();
      }
      io_suspended_ = false;
      return;
    default:
      break;
  }
  const std::string why = code == kHandlerNotConfigured ? "no fence-peer handler is configured"
                          : code == kHandlerFailed
                              ? "the fence-peer handler could not run or timed out"
                              : "the fence-peer handler is broken (exit status " +
                                    std::to_string(code) + ", expected 3 to 7)";
  log_event(3, why + (io_suspended_ ? "; application writes stay frozen: check the peer, "
                                      "then run `tandemadm resume-io " +
                                          config_.resource + "`"
                                    : ""));
}

Result<void> Replicator::resume_io() {
  begin_event();
  if (!io_suspended_) {
    return make_error("resource " + config_.resource + ": application I/O is not frozen");
  }
  io_suspended_ = false;
  log_event(4, "application I/O resumed by the administrator (resume-io)");
  pump();
  note_state();
  return {};
}

}  // namespace tandem::core
