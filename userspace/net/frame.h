// Peer wire framing. Every message between two tandem nodes is one frame:
//
//   offset size  field (big-endian)
//   0      4     magic 0x544E4431 ("TND1")
//   4      2     type (FrameType)
//   6      2     flags (per type; unknown bits must be zero)
//   8      4     message length: protobuf-encoded message that follows
//   12     4     payload length: raw bytes (block data) after the message
//   16     ...   message, then payload
//
// Block data never goes through protobuf: it travels as the raw payload so
// the receiver can land it in an aligned buffer. Both lengths are bounded
// before anything is buffered; a frame that breaks a bound is a protocol
// error that closes the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/io_buffer.h"
#include "common/result.h"

namespace tandem::net {

inline constexpr uint32_t kFrameMagic = 0x544E4431;  // "TND1"
inline constexpr size_t kFrameHeaderBytes = 16;
inline constexpr uint32_t kMaxMessageBytes = 64 * 1024;
inline constexpr uint32_t kMaxPayloadBytes = 1024 * 1024;

enum class FrameType : uint16_t {
  kHello = 1,
  kAuthChallenge = 2,
  kAuthResponse = 3,
  kAuthVerdict = 4,
  kNodeState = 5,
  kPing = 6,
  kPingAck = 7,
  kWrite = 8,      // payload: the data
  kRecvAck = 9,    // protocol B completion
  kWriteAck = 10,  // protocol C completion
  kBarrier = 11,
  kBarrierAck = 12,
  kReadRequest = 13,
  kReadReply = 14,  // payload: the data
  kResyncData = 15,
  kResyncAck = 16,
  kDisconnect = 17,
  kOutOfSync = 18,      // a node's out-of-sync ranges, sent when a resync starts
  kDigestRequest = 19,  // csums resync / online verify: digest of a block, please
  kDigestReply = 20,
  kResyncInSync = 21,  // csums resync: the digests matched, no data follows
  kVerifyResult = 22,  // online verify: one block compared
};
inline constexpr uint16_t kMaxFrameType = 22;

bool payload_allowed(FrameType type);

struct FrameHeader {
  FrameType type = FrameType::kHello;
  uint16_t flags = 0;
  uint32_t message_bytes = 0;
  uint32_t payload_bytes = 0;
};

struct Frame {
  FrameHeader header;
  std::vector<std::byte> message;  // protobuf bytes
  IoBuffer payload;                // raw data, page-aligned for O_DIRECT
};

// Appends one encoded frame to `out`. Lengths beyond the limits are a
// programming error in the sender and are reported as an error value.
Result<void> encode_frame(FrameType type, uint16_t flags, std::span<const std::byte> message,
                          std::span<const std::byte> payload, std::vector<std::byte>& out);
// The same without the payload: header and message for a payload of
// `payload_bytes` that the caller sends from its own buffer.
Result<void> encode_frame_head(FrameType type, uint16_t flags, std::span<const std::byte> message,
                               size_t payload_bytes, std::vector<std::byte>& out);

// Decodes and checks a header (magic, known type, lengths within limits,
// payload only on types that carry data).
Result<FrameHeader> decode_frame_header(std::span<const std::byte, kFrameHeaderBytes> bytes);

// Incremental decoder for a byte stream. Feed it what the socket returned,
// then take frames until next() yields nothing. After an error it stays
// failed: the connection must be closed.
//
// Once a frame's header and message are in and its payload is not, the
// decoder allocates the frame's payload buffer and prepare() hands out the
// rest of the payload itself, so that a large payload is read from the
// socket straight into the buffer the disk write uses.
class FrameDecoder {
 public:
  void feed(std::span<const std::byte> bytes);
  // For reading straight into the decoder (one copy fewer than feed()):
  // prepare() returns at most `max` writable bytes at the end of the
  // stream (fewer while a payload is being filled: only what it still
  // lacks), the caller fills some and commit()s how many. The space is
  // valid until the next call to any member.
  std::span<std::byte> prepare(size_t max);
  void commit(size_t n);
  Result<std::optional<Frame>> next();
  // Received bytes not yet handed out as frames.
  size_t buffered_bytes() const { return end_ - begin_ + payload_have_; }
  bool failed() const { return failed_; }

 private:
  void reserve_tail(size_t n);
  bool filling_payload() const {
    return partial_.has_value() && payload_have_ < partial_->payload.size();
  }

  // Bytes [begin_, end_) of buffer_ are received and not yet decoded. Not a
  // vector: growing it must not zero what a read overwrites anyway.
  std::unique_ptr<std::byte[]> buffer_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
  // A frame whose payload is being received into partial_->payload; the
  // first payload_have_ bytes are there.
  std::optional<Frame> partial_;
  size_t payload_have_ = 0;
  bool prepared_payload_ = false;  // the last prepare() handed out payload space
  bool failed_ = false;
  std::string error_;
};

}  // namespace tandem::net
