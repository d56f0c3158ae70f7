// NbdSession, transmission phase: requests in, simple replies out.
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/byte_order.h"
#include "common/log.h"
#include "nbd/protocol.h"
#include "nbd/session.h"

namespace tandem::nbd {

namespace {

bool changes_data(BlockOp op) {
  return op == BlockOp::kWrite || op == BlockOp::kTrim || op == BlockOp::kWriteZeroes;
}

// Bytes a request holds in memory while in flight.
uint64_t buffered_bytes(BlockOp op, uint32_t length) {
  return op == BlockOp::kRead || op == BlockOp::kWrite ? length : 0;
}

}  // namespace

void NbdSession::on_request_header(std::span<const std::byte> bytes) {
  const uint32_t magic = get_u32(bytes, 0);
  if (magic != kRequestMagic) {
    char text[96];
    std::snprintf(text, sizeof text, "bad request magic 0x%08" PRIx32 " (expected 0x%08" PRIx32 ")",
                  magic, kRequestMagic);
    close(text, true);
    return;
  }
  RequestHeader h;
  h.flags = get_u16(bytes, 4);
  h.type = get_u16(bytes, 6);
  h.cookie = get_u64(bytes, 8);
  h.offset = get_u64(bytes, 16);
  h.length = get_u32(bytes, 24);
  if (h.type == kCmdWrite) {
    // The payload follows the header whatever the verdict on the request,
    // so its length is bounded before a single byte of it is buffered.
    if (h.length > kMaxPayloadBytes) {
      close("NBD_CMD_WRITE of " + std::to_string(h.length) + " bytes exceeds the limit of " +
                std::to_string(kMaxPayloadBytes) + " bytes",
            true);
      return;
    }
    pending_header_ = h;
    payload_.resize(h.length);  // not zero-filled: the client's bytes overwrite it
    payload_have_ = 0;
    input_ = Input::kWritePayload;
    return;
  }
  on_request(h, {});
}

std::optional<NbdSession::Refusal> NbdSession::check_request(const RequestHeader& h,
                                                             BlockOp op) const {
  const ExportInfo& e = exports_[*export_index_];
  uint16_t allowed = kCmdFlagFua;
  if (op == BlockOp::kWriteZeroes) allowed |= kCmdFlagNoHole;
  // A read is always answered with one data chunk, so "don't fragment" holds.
  if (op == BlockOp::kRead && structured_) allowed |= kCmdFlagDf;
  if ((h.flags & ~allowed) != 0) {
    return Refusal{kErrInval, std::string("flags not valid for ") + command_name(h.type)};
  }
  if (op == BlockOp::kFlush) {
    if (h.offset == 0 && h.length == 0) return std::nullopt;
    return Refusal{kErrInval, "NBD_CMD_FLUSH needs offset and length 0"};
  }
  if (e.read_only && changes_data(op)) {
    return Refusal{kErrPerm, "export '" + e.name + "' is read-only"};
  }
  if (h.offset > e.size || h.length > e.size - h.offset) {
    const bool writes = op == BlockOp::kWrite || op == BlockOp::kWriteZeroes;
    return Refusal{writes ? kErrNoSpc : kErrInval, "request goes past the end of the export (" +
                                                       std::to_string(e.size) + " bytes)"};
  }
  // Reads and writes hold their data in memory: they are bounded by the
  // advertised maximum block size. Trim and write-zeroes carry no data, and
  // real clients (nbdcopy zeroing a sparse extent) send them far larger than
  // the maximum, so they are bounded only by the export size.
  if ((op == BlockOp::kRead || op == BlockOp::kWrite) && h.length > e.limits.maximum) {
    return Refusal{kErrInval, "length exceeds the maximum block size of " +
                                  std::to_string(e.limits.maximum) + " bytes"};
  }
  const uint32_t min = e.limits.minimum;
  if (min > 1 && (h.offset % min != 0 || h.length % min != 0)) {
    return Refusal{kErrInval, "offset and length must be multiples of the minimum block size of " +
                                  std::to_string(min) + " bytes"};
  }
  return std::nullopt;
}

void NbdSession::on_request(const RequestHeader& h, IoBuffer payload) {
  BlockOp op;
  switch (h.type) {
    case kCmdRead:
      op = BlockOp::kRead;
      break;
    case kCmdWrite:
      op = BlockOp::kWrite;
      break;
    case kCmdFlush:
      op = BlockOp::kFlush;
      break;
    case kCmdTrim:
      op = BlockOp::kTrim;
      break;
    case kCmdWriteZeroes:
      op = BlockOp::kWriteZeroes;
      break;
    case kCmdDisc:
      // Requests already received still run and are answered; then close.
      phase_ = Phase::kDraining;
      maybe_finish_draining();
      return;
    default:
      TLOG(LOG_DEBUG, "nbd: %s sent unsupported command %u; replying EINVAL", peer_.c_str(),
           unsigned{h.type});
      send_reply(h.cookie, false, 0, kErrInval,
                 "command " + std::to_string(h.type) + " is not supported by this server");
      return;
  }

  const auto refusal = check_request(h, op);
  if (refusal) {
    if (refusal->error == kErrPerm) {
      // How a secondary refuses writes: loud once per connection, then quiet.
      if (refused_writes_++ == 0) {
        TLOG(LOG_WARNING,
             "nbd: refusing %s of %" PRIu32 " bytes at offset %" PRIu64
             " from %s: export '%s' is read-only (further refusals are logged at debug level)",
             command_name(h.type), h.length, h.offset, peer_.c_str(),
             exports_[*export_index_].name.c_str());
      } else {
        TLOG(LOG_DEBUG, "nbd: refusing %s at offset %" PRIu64 " from %s: export is read-only",
             command_name(h.type), h.offset, peer_.c_str());
      }
    } else {
      TLOG(LOG_DEBUG,
           "nbd: %s: %s flags 0x%x offset %" PRIu64 " length %" PRIu32 " refused with error %u",
           peer_.c_str(), command_name(h.type), unsigned{h.flags}, h.offset, h.length,
           unsigned{refusal->error});
    }
    send_reply(h.cookie, op == BlockOp::kRead, h.offset, refusal->error, refusal->message);
    return;
  }
  if (h.length == 0 && op != BlockOp::kFlush) {
    // Nothing to do; the protocol leaves the result open, success is kind.
    send_reply(h.cookie, op == BlockOp::kRead, h.offset, 0, {});
    return;
  }

  BlockRequest r;
  r.id = next_id_++;
  r.cookie = h.cookie;
  r.op = op;
  r.offset = h.offset;
  r.length = h.length;
  r.fua = (h.flags & kCmdFlagFua) != 0;
  r.no_hole = (h.flags & kCmdFlagNoHole) != 0;
  if (op == BlockOp::kWrite) r.data = std::move(payload);
  inflight_.emplace(r.id, Inflight{r.cookie, r.offset, op, r.length});
  inflight_bytes_ += buffered_bytes(op, r.length);
  ready_.push_back(std::move(r));
}

void NbdSession::complete(BlockRequest request, int error) {
  auto it = inflight_.find(request.id);
  if (it == inflight_.end()) {
    TLOG(LOG_ERR, "nbd: %s: completion for unknown request id %" PRIu64 " ignored", peer_.c_str(),
         request.id);
    return;
  }
  const Inflight info = it->second;
  inflight_.erase(it);
  inflight_bytes_ -= buffered_bytes(info.op, info.length);
  if (phase_ == Phase::kClosed) return;

  uint32_t wire_error = to_wire_error(error);
  std::string message;
  if (wire_error != 0) {
    message = std::string(block_op_name(info.op)) + " failed on the volume: " + errno_text(error);
  }
  std::vector<std::byte> data;
  if (info.op == BlockOp::kRead && wire_error == 0) {
    if (request.data.size() != info.length) {
      TLOG(LOG_ERR, "nbd: %s: volume returned %zu bytes for a read of %" PRIu32 "; replying EIO",
           peer_.c_str(), request.data.size(), info.length);
      wire_error = kErrIo;
      message = "read returned the wrong number of bytes";
    } else {
      data.assign(request.data.begin(), request.data.end());
    }
  }
  send_reply(info.cookie, info.op == BlockOp::kRead, info.offset, wire_error, message,
             std::move(data));

  if (phase_ == Phase::kDraining) {
    maybe_finish_draining();
  } else {
    pump();  // the in-flight budget may have opened up
  }
}

void NbdSession::send_reply(uint64_t cookie, bool is_read, uint64_t offset, uint32_t error,
                            std::string_view message, std::vector<std::byte> data) {
  if (!structured_ || (error == 0 && !is_read)) {
    // Simple replies: always without structured replies, and for successes
    // without data even with them.
    std::vector<std::byte> header;
    header.reserve(kSimpleReplyBytes);
    put_u32(header, kSimpleReplyMagic);
    put_u32(header, error);
    put_u64(header, cookie);
    emit(std::move(header));
    emit(std::move(data));
    return;
  }
  std::vector<std::byte> chunk;
  chunk.reserve(kStructuredReplyBytes + 8);
  put_u32(chunk, kStructuredReplyMagic);
  put_u16(chunk, kReplyFlagDone);
  if (error != 0) {
    // The message is for a human; the protocol caps strings at 4096 bytes.
    message = message.substr(0, kMaxStringBytes);
    put_u16(chunk, kReplyTypeError);
    put_u64(chunk, cookie);
    put_u32(chunk, static_cast<uint32_t>(6 + message.size()));
    put_u32(chunk, error);
    put_u16(chunk, static_cast<uint16_t>(message.size()));
    put_text(chunk, message);
    emit(std::move(chunk));
  } else if (data.empty()) {
    put_u16(chunk, kReplyTypeNone);  // a zero-length read
    put_u64(chunk, cookie);
    put_u32(chunk, 0);
    emit(std::move(chunk));
  } else {
    // One data chunk for the whole read: lengths are capped at 32 MiB, far
    // below the 4 GiB a chunk can describe.
    put_u16(chunk, kReplyTypeOffsetData);
    put_u64(chunk, cookie);
    put_u32(chunk, static_cast<uint32_t>(8 + data.size()));
    put_u64(chunk, offset);
    emit(std::move(chunk));
    emit(std::move(data));
  }
}

void NbdSession::maybe_finish_draining() {
  if (phase_ == Phase::kDraining && inflight_.empty()) {
    close("client disconnected (NBD_CMD_DISC)", false);
  }
}

}  // namespace tandem::nbd
