// Replicator: the application data path (writes, reads, flushes), their
// acknowledgements from the peer, local I/O completions and local disk
// failure.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/invariant.h"
#include "core/replicator.h"
#include "core/replicator_wire.h"
#include "peer.pb.h"

namespace tandem::core {

namespace {

// EINVAL for malformed requests, ENOSPC beyond the end (what NBD expects).
int check_request(uint64_t offset, uint32_t length, uint64_t device_size) {
  if (length == 0 || length > net::kMaxPayloadBytes || offset % kSectorBytes != 0 ||
      length % kSectorBytes != 0) {
    return EINVAL;
  }
  if (offset > device_size || length > device_size - offset) return ENOSPC;
  return 0;
}

}  // namespace

void Replicator::complete_request(uint64_t request_id, int error) {
  emit(CompleteRequest{request_id, error});
}

// ---------------------------------------------------------------- writes

void Replicator::submit_write(uint64_t request_id, uint64_t offset, ConstBuffer data, bool fua) {
  begin_event();
  int error = 0;
  if (role_ != Role::kPrimary) {
    error = EROFS;
  } else if (!local_authoritative() && !peer_authoritative()) {
    // No UpToDate copy is reachable (also: no known device size). A write
    // to an Inconsistent disk alone would be overwritten by the next sync.
    error = EIO;
  } else {
    error = check_request(offset, data.length, device_size());
  }
  if (error != 0) {
    complete_request(request_id, error);
    note_state();
    return;
  }
  app_io_bytes_ += data.length;  // the resync controller yields to application I/O
  AppWrite w;
  w.request_id = request_id;
  w.offset = offset;
  w.length = data.length;
  w.data = data.data;
  w.fua = fua;
  w.seq = next_write_seq_++;
  waiting_writes_.push_back(writes_.insert(w));
  pump();
  note_state();
}

// A write waits while it overlaps (1) an earlier application write that has
// not completed, so that both disks apply overlapping writes in the same
// order; (2) a peer write or resync data received and not yet written and
// acknowledged (dual-primary rule a; also keeps resync data from landing
// after a newer write on a sync target); (3) a resync chunk being read and
// sent (sync source), so its frame follows the chunk on the wire.
bool Replicator::write_may_issue(uint64_t id, const AppWrite& w) {
  if (io_suspended_) return false;  // fencing: frozen until fence-peer decided
  bool blocked = false;
  writes_.for_each([&](uint64_t oid, AppWrite& o) {
    if (!blocked && oid != id && o.seq < w.seq && !o.completed &&
        overlaps(o.offset, o.length, w.offset, w.length)) {
      blocked = true;
    }
  });
  if (blocked) return false;
  received_.for_each([&](uint64_t, Received& r) {
    if (!blocked && r.kind != ReceivedKind::kBarrier &&
        overlaps(r.offset, r.length, w.offset, w.length)) {
      blocked = true;
    }
  });
  if (blocked) return false;
  chunks_.for_each([&](uint64_t, ResyncChunk& c) {
    if (!blocked && c.stage != ChunkStage::kBlocked && !c.abandoned &&
        overlaps(c.offset, c.length, w.offset, w.length)) {
      blocked = true;
    }
  });
  return !blocked;
}

void Replicator::issue_write(uint64_t id, AppWrite& w) {
  w.issued = true;
  const bool local = local_usable();
  // The peer's copy is the longer way (network, its disk, the ack back):
  // it leaves first, and the local disk write is submitted right after.
  if (peer_gets_writes()) {
    if (epoch_close_pending_) {
      ++epoch_;
      epoch_close_pending_ = false;
    }
    proto::Write m;
    m.set_id(id);
    m.set_offset(w.offset);
    m.set_epoch(epoch_);
    m.set_fua(w.fua);
    m.set_digest(integrity_digest(w.data, w.length));
    send(net::FrameType::kWrite, m, w.data, w.length);
    w.sent = true;
    w.conn_gen = conn_gen_;
  } else if (local) {
    mark_out_of_sync(w.offset, w.length);
  }
  if (local) {
    w.local_in_flight = true;
    // SubmitIo::data is non-const for reads; writes only read from it.
    submit_io(IoOwner::kAppWrite, id, LocalIoKind::kWrite, w.offset, w.length,
              const_cast<std::byte*>(w.data), w.fua);
  }
  try_finish_write(id);
}

void Replicator::try_finish_write(uint64_t id) {
  AppWrite* w = writes_.find(id);
  if (w == nullptr || !w->issued) return;
  if (!w->completed && !w->local_in_flight) {
    // The local copy counts only while the local disk is still UpToDate: a
    // write that reached a disk which failed, was detached or was never
    // UpToDate exists nowhere the data will be read from.
    const bool local_good = w->local_ok && local_authoritative();
    bool peer_done;
    if (!w->sent || w->peer_gone) {
      peer_done = true;
    } else if (!local_good) {
      peer_done = w->write_acked;  // the peer's copy is the only one: wait for it
    } else {
      switch (config_.protocol) {
        case WireProtocol::kA:
          peer_done = true;  // the frame is queued for sending
          break;
        case WireProtocol::kB:
          peer_done = w->recv_acked || w->write_acked;
          break;
        case WireProtocol::kC:
        default:
          peer_done = w->write_acked;
          break;
      }
    }
    if (peer_done) {
      w->completed = true;
      epoch_close_pending_ = true;
      const bool ok = !w->local_error_passed_on && (local_good || w->peer_has_it);
      complete_request(w->request_id, ok ? 0 : EIO);
    }
  }
  if (w->completed && !w->local_in_flight && (!w->sent || w->write_acked || w->peer_gone)) {
    writes_.erase(id);
  }
}

void Replicator::on_write_ack(const net::Frame& frame, bool recv_ack_only) {
  uint64_t id;
  uint32_t error = 0;
  if (recv_ack_only) {
    proto::RecvAck a;
    if (!wire::parse(frame, a)) return protocol_error("malformed RecvAck");
    id = a.id();
  } else {
    proto::WriteAck a;
    if (!wire::parse(frame, a)) return protocol_error("malformed WriteAck");
    id = a.id();
    error = a.error();
  }
  AppWrite* w = writes_.find(id);
  if (w == nullptr || !w->sent || w->conn_gen != conn_gen_ || w->peer_gone || w->write_acked ||
      (recv_ack_only && w->recv_acked)) {
    return protocol_error(std::string(recv_ack_only ? "RecvAck" : "WriteAck") +
                          " for unknown write " + std::to_string(id));
  }
  ++acks_since_check_;
  if (recv_ack_only) {
    w->recv_acked = true;
  } else {
    w->write_acked = true;
    w->peer_has_it = error == 0;
    if (error != 0) mark_out_of_sync(w->offset, w->length);
  }
  try_finish_write(id);
}

// ---------------------------------------------------------------- reads

void Replicator::submit_read(uint64_t request_id, uint64_t offset, MutableBuffer dest) {
  begin_event();
  const uint64_t size = device_size();
  const int error = size == 0 ? EIO : check_request(offset, dest.length, size);
  if (error != 0) {
    complete_request(request_id, error);
    note_state();
    return;
  }
  app_io_bytes_ += dest.length;
  AppRead r;
  r.request_id = request_id;
  r.offset = offset;
  r.length = dest.length;
  r.dest = dest.data;
  start_read(reads_.insert(r));
  pump();
  note_state();
}

// Local when our disk is UpToDate, else from an UpToDate peer, else EIO.
void Replicator::start_read(uint64_t id) {
  AppRead* found = reads_.find(id);
  TANDEM_INVARIANT(found != nullptr, "read request lost");
  AppRead& r = *found;
  if (local_usable() && disk_ == DiskState::kUpToDate) {
    r.via_peer = false;
    submit_io(IoOwner::kAppRead, id, LocalIoKind::kRead, r.offset, r.length, r.dest, false);
  } else if (peer_readable()) {
    r.via_peer = true;
    r.conn_gen = conn_gen_;
    proto::ReadRequest m;
    m.set_id(id);
    m.set_offset(r.offset);
    m.set_length(r.length);
    send(net::FrameType::kReadRequest, m);
  } else {
    complete_request(r.request_id, EIO);
    reads_.erase(id);
  }
}

void Replicator::on_read_reply(net::Frame&& frame) {
  proto::ReadReply m;
  if (!wire::parse(frame, m)) return protocol_error("malformed ReadReply");
  AppRead* r = reads_.find(m.id());
  if (r == nullptr || !r->via_peer || r->conn_gen != conn_gen_) {
    return protocol_error("ReadReply for unknown read " + std::to_string(m.id()));
  }
  if (m.error() == 0 && frame.payload.size() != r->length) {
    return protocol_error("ReadReply with " + std::to_string(frame.payload.size()) +
                          " bytes for a read of " + std::to_string(r->length));
  }
  if (m.error() == 0 && !integrity_ok("ReadReply", r->offset, m.digest(), frame.payload)) return;
  ++acks_since_check_;
  if (m.error() == 0) std::memcpy(r->dest, frame.payload.data(), r->length);
  complete_request(r->request_id, m.error() == 0 ? 0 : EIO);
  reads_.erase(m.id());
}

// ---------------------------------------------------------------- flushes

void Replicator::submit_flush(uint64_t request_id) {
  begin_event();
  const bool local = local_usable();
  const bool peer = peer_gets_writes();
  if (!local && !peer) {
    complete_request(request_id, EIO);
    note_state();
    return;
  }
  AppFlush f;
  f.request_id = request_id;
  f.used_local = local;
  f.local_pending = local;
  f.sent = peer;
  f.conn_gen = conn_gen_;
  const uint64_t id = flushes_.insert(f);
  if (local) submit_io(IoOwner::kAppFlush, id, LocalIoKind::kFlush, 0, 0, nullptr, false);
  if (peer) {
    proto::Barrier b;
    b.set_id(id);
    send(net::FrameType::kBarrier, b);
  }
  try_finish_flush(id);
  pump();
  note_state();
}

void Replicator::try_finish_flush(uint64_t id) {
  AppFlush* f = flushes_.find(id);
  if (f == nullptr) return;
  if (!f->completed && !f->local_pending) {
    const bool local_ok = f->used_local && f->local_ok;
    bool peer_done = !f->sent || f->peer_gone || f->barrier_acked;
    if (config_.protocol == WireProtocol::kA && local_ok) peer_done = true;
    if (peer_done) {
      f->completed = true;
      complete_request(f->request_id, local_ok || (f->barrier_acked && f->peer_ok) ? 0 : EIO);
    }
  }
  if (f->completed && !f->local_pending && (!f->sent || f->barrier_acked || f->peer_gone)) {
    flushes_.erase(id);
  }
}

void Replicator::on_barrier_ack(const net::Frame& frame) {
  proto::BarrierAck m;
  if (!wire::parse(frame, m)) return protocol_error("malformed BarrierAck");
  AppFlush* f = flushes_.find(m.id());
  if (f == nullptr || !f->sent || f->barrier_acked || f->peer_gone || f->conn_gen != conn_gen_) {
    return protocol_error("BarrierAck for unknown flush " + std::to_string(m.id()));
  }
  ++acks_since_check_;
  f->barrier_acked = true;
  f->peer_ok = m.error() == 0;
  try_finish_flush(m.id());
}

// ---------------------------------------------------------------- local I/O

void Replicator::on_io_complete(uint64_t io_id, int error) {
  begin_event();
  LocalIo* found = ios_.find(io_id);
  TANDEM_INVARIANT(found != nullptr, "completion for an I/O the core did not submit");
  const LocalIo io = *found;
  ios_.erase(io_id);
  // on-io-error pass_on hands an application request's error to the
  // application and keeps the disk; any other error (and every error under
  // detach / call-local-io-error) fails the disk.
  const bool app_io = io.owner == IoOwner::kAppWrite || io.owner == IoOwner::kAppRead ||
                      io.owner == IoOwner::kAppFlush;
  if (error != 0 && !(app_io && config_.on_io_error == OnIoError::kPassOn)) handle_local_error();
  switch (io.owner) {
    case IoOwner::kAppWrite: {
      AppWrite* w = writes_.find(io.owner_id);
      TANDEM_INVARIANT(w != nullptr && w->local_in_flight, "write I/O without its request");
      w->local_in_flight = false;
      w->local_ok = error == 0;
      if (error != 0 && config_.on_io_error == OnIoError::kPassOn) {
        // The disk stays; this range may now differ from the peer's.
        w->local_error_passed_on = true;
        mark_out_of_sync(w->offset, w->length);
      }
      try_finish_write(io.owner_id);
      break;
    }
    case IoOwner::kAppRead: {
      AppRead* r = reads_.find(io.owner_id);
      TANDEM_INVARIANT(r != nullptr, "read I/O without its request");
      if (error == 0 || config_.on_io_error == OnIoError::kPassOn) {
        complete_request(r->request_id, error);
        reads_.erase(io.owner_id);
      } else {
        start_read(io.owner_id);  // the disk is Failed now: the peer, or EIO
      }
      break;
    }
    case IoOwner::kAppFlush: {
      AppFlush* f = flushes_.find(io.owner_id);
      TANDEM_INVARIANT(f != nullptr && f->local_pending, "flush I/O without its request");
      f->local_pending = false;
      f->local_ok = error == 0;
      try_finish_flush(io.owner_id);
      break;
    }
    case IoOwner::kReceived: {
      Received* item = received_.find(io.owner_id);
      TANDEM_INVARIANT(item != nullptr && item->ios_in_flight > 0, "received item lost");
      --item->ios_in_flight;
      if (error != 0) item->error = error;
      if (item->ios_in_flight == 0) finish_received(io.owner_id);
      break;
    }
    case IoOwner::kPeerRead: {
      PeerRead* pr = peer_reads_.find(io.owner_id);
      TANDEM_INVARIANT(pr != nullptr, "peer read lost");
      if (handshake_done_ && pr->conn_gen == conn_gen_) {
        proto::ReadReply m;
        m.set_id(pr->wire_id);
        if (error == 0) {
          m.set_digest(integrity_digest(pr->data.data(), static_cast<uint32_t>(pr->data.size())));
          send(net::FrameType::kReadReply, m, pr->data.data(),
               static_cast<uint32_t>(pr->data.size()));
        } else {
          m.set_error(static_cast<uint32_t>(EIO));
          send(net::FrameType::kReadReply, m);
        }
      }
      retire_buffer(std::move(pr->data));
      peer_reads_.erase(io.owner_id);
      break;
    }
    case IoOwner::kResyncRead:
      on_resync_read_done(io.owner_id, error);
      break;
  }
  finish_detach_if_drained();
  pump();
  note_state();
}

// on-io-error detach: the disk is Failed at once (no new I/O goes to it) and
// becomes Diskless once its in-flight requests have drained. The metadata is
// marked inconsistent (best effort: the disk may refuse the write) so that a
// later attach resynchronizes it fully.
void Replicator::handle_local_error() {
  if (!has_data(disk_)) return;  // already Failed or Diskless
  if (config_.on_io_error == OnIoError::kCallLocalIoError) run_handler(Handler::kLocalIoError);
  if (repl_ == ReplState::kSyncSource || repl_ == ReplState::kSyncTarget) abort_sync();
  set_disk(DiskState::kFailed);
  md_.consistent = false;
  md_.up_to_date = false;
  persist_metadata();
  send_node_state();
}

void Replicator::finish_detach_if_drained() {
  if (!(detaching_ || disk_ == DiskState::kFailed) || !ios_.empty()) return;
  // A detach also waits for the peer writes and barriers received before
  // the disk goes away (those not yet submitted wait behind earlier ones).
  bool received_pending = false;
  received_.for_each([&](uint64_t, const Received& r) {
    if (received_goes_to_disk(r)) received_pending = true;
  });
  if (received_pending) return;
  detaching_ = false;
  set_disk(DiskState::kDiskless);
  size_ = 0;
  send_node_state();
}

}  // namespace tandem::core
