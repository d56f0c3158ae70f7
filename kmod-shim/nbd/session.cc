// NbdSession: input buffering, phase changes and output. The handshake and
// the transmission phase live in session_handshake.cc and
// session_transmission.cc.
#include "nbd/session.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "common/log.h"
#include "nbd/protocol.h"

namespace tandem::nbd {

namespace {
// Consumed input is dropped from the front of the buffer once this much has
// piled up, so a long session does not keep a growing buffer.
constexpr size_t kCompactBytes = 64 * 1024;
}  // namespace

NbdSession::NbdSession(std::vector<ExportInfo> exports, std::string peer, SessionLimits limits)
    : exports_(std::move(exports)), peer_(std::move(peer)), limits_(limits) {
  if (exports_.empty()) {
    close("no export is configured", false);
    return;
  }
  send_greeting();
}

void NbdSession::receive(std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    const std::span<std::byte> space = prepare(bytes.size());
    const size_t n = std::min(space.size(), bytes.size());
    std::memcpy(space.data(), bytes.data(), n);
    commit(n);
    bytes = bytes.subspan(n);
  }
}

std::span<std::byte> NbdSession::prepare(size_t max) {
  // Only while a payload still lacks bytes: after close() cleared it, an
  // empty span here would stall a caller that loops until its bytes are in.
  prepared_payload_ =
      input_ == Input::kWritePayload && buffered() == 0 && payload_have_ < payload_.size();
  if (prepared_payload_) {
    const size_t n = std::min(max, payload_.size() - payload_have_);
    return {payload_.data() + payload_have_, n};
  }
  if (in_.size() < in_used_ + max) in_.resize(in_used_ + max);
  return {in_.data() + in_used_, max};
}

void NbdSession::commit(size_t n) {
  // After NBD_CMD_DISC the client must not send anything; whatever arrives
  // is ignored rather than parsed.
  if (phase_ != Phase::kHandshake && phase_ != Phase::kTransmission) {
    prepared_payload_ = false;
    return;
  }
  if (prepared_payload_) {
    payload_have_ = std::min(payload_have_ + n, payload_.size());
  } else {
    in_used_ = std::min(in_used_ + n, in_.size());
  }
  prepared_payload_ = false;
  pump();
}

void NbdSession::peer_closed() {
  if (phase_ == Phase::kClosed) return;
  if (phase_ == Phase::kHandshake) {
    close("client closed the connection during the handshake", false);
  } else if (input_ == Input::kWritePayload) {
    close("client closed the connection in the middle of a write payload", false);
  } else if (buffered() >= kRequestHeaderBytes) {
    close("client closed the connection with requests not yet processed", false);
  } else if (buffered() > 0) {
    close("client closed the connection in the middle of a request header", false);
  } else {
    close("client closed the connection", false);
  }
}

void NbdSession::shutdown(std::string reason) {
  close(std::move(reason), false);
  output_.clear();
}

bool NbdSession::paused() const {
  return inflight_.size() >= limits_.max_inflight_requests ||
         inflight_bytes_ >= limits_.max_inflight_bytes;
}

bool NbdSession::wants_input() const {
  if (phase_ == Phase::kHandshake) return true;
  if (phase_ != Phase::kTransmission) return false;
  // Mid-payload the rest of the write must come in; between requests new
  // ones are only taken while the in-flight budget allows.
  return input_ == Input::kWritePayload || !paused();
}

std::span<const std::byte> NbdSession::peek(size_t n) const {
  return std::span<const std::byte>(in_).subspan(in_pos_, n);
}

void NbdSession::consume(size_t n) {
  in_pos_ += n;
}

void NbdSession::pump() {
  while (phase_ == Phase::kHandshake || phase_ == Phase::kTransmission) {
    if (input_ == Input::kClientFlags) {
      if (buffered() < 4) break;
      on_client_flags(peek(4));
      consume(4);
    } else if (input_ == Input::kOptionHeader) {
      if (buffered() < kOptionHeaderBytes) break;
      on_option_header(peek(kOptionHeaderBytes));
      consume(kOptionHeaderBytes);
    } else if (input_ == Input::kOptionData) {
      if (buffered() < pending_option_length_) break;
      const size_t n = pending_option_length_;
      input_ = Input::kOptionHeader;
      on_option(pending_option_, peek(n));
      consume(n);
    } else if (input_ == Input::kRequestHeader) {
      if (paused() || buffered() < kRequestHeaderBytes) break;
      on_request_header(peek(kRequestHeaderBytes));
      consume(kRequestHeaderBytes);
    } else {  // kWritePayload
      const size_t n = std::min(payload_.size() - payload_have_, buffered());
      if (n > 0) std::memcpy(payload_.data() + payload_have_, peek(n).data(), n);
      payload_have_ += n;
      consume(n);
      if (payload_have_ < payload_.size()) break;
      input_ = Input::kRequestHeader;
      on_request(pending_header_, std::move(payload_));
      payload_ = {};
      payload_have_ = 0;
    }
  }
  if (phase_ == Phase::kClosed || in_pos_ == in_used_) {
    in_used_ = 0;
    in_pos_ = 0;
  } else if (in_pos_ >= kCompactBytes) {
    const size_t live = in_used_ - in_pos_;
    std::memmove(in_.data(), in_.data() + in_pos_, live);
    in_used_ = live;
    in_pos_ = 0;
  }
}

std::optional<BlockRequest> NbdSession::next_request() {
  if (ready_.empty()) return std::nullopt;
  BlockRequest r = std::move(ready_.front());
  ready_.pop_front();
  return r;
}

std::vector<std::vector<std::byte>> NbdSession::take_output() {
  return std::exchange(output_, {});
}

void NbdSession::emit(std::vector<std::byte> bytes) {
  if (!bytes.empty()) output_.push_back(std::move(bytes));
}

void NbdSession::close(std::string reason, bool violation) {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  close_reason_ = std::move(reason);
  if (violation) {
    TLOG(LOG_WARNING, "nbd: closing connection from %s: %s", peer_.c_str(), close_reason_.c_str());
    // A hard disconnect: nothing more is sent, not even queued replies.
    output_.clear();
  } else {
    TLOG(LOG_INFO, "nbd: connection from %s ends: %s", peer_.c_str(), close_reason_.c_str());
  }
  if (refused_writes_ > 0) {
    TLOG(LOG_INFO, "nbd: %llu write request(s) from %s were refused on a read-only export",
         static_cast<unsigned long long>(refused_writes_), peer_.c_str());
  }
  // Requests not handed out yet will never run: forget them.
  for (const BlockRequest& r : ready_) {
    auto it = inflight_.find(r.id);
    if (it != inflight_.end()) {
      if (r.op == BlockOp::kRead || r.op == BlockOp::kWrite) inflight_bytes_ -= r.length;
      inflight_.erase(it);
    }
  }
  ready_.clear();
  // The input buffer is left to pump(), which may still be reading from it.
  payload_.clear();
  payload_have_ = 0;
}

}  // namespace tandem::nbd
