#include "net/frame.h"

#include <algorithm>
#include <cstdio>

#include "common/byte_order.h"

namespace tandem::net {

bool payload_allowed(FrameType type) {
  return type == FrameType::kWrite || type == FrameType::kReadReply ||
         type == FrameType::kResyncData;
}

Result<void> encode_frame(FrameType type, uint16_t flags, std::span<const std::byte> message,
                          std::span<const std::byte> payload, std::vector<std::byte>& out) {
  if (message.size() > kMaxMessageBytes) {
    return make_error("frame message of " + std::to_string(message.size()) +
                      " bytes exceeds the limit of " + std::to_string(kMaxMessageBytes));
  }
  if (payload.size() > kMaxPayloadBytes) {
    return make_error("frame payload of " + std::to_string(payload.size()) +
                      " bytes exceeds the limit of " + std::to_string(kMaxPayloadBytes));
  }
  if (!payload.empty() && !payload_allowed(type)) {
    return make_error("frame type " + std::to_string(static_cast<unsigned>(type)) +
                      " cannot carry a payload");
  }
  out.reserve(out.size() + kFrameHeaderBytes + message.size() + payload.size());
  put_be(out, kFrameMagic, 4);
  put_be(out, static_cast<uint16_t>(type), 2);
  put_be(out, flags, 2);
  put_be(out, message.size(), 4);
  put_be(out, payload.size(), 4);
  out.insert(out.end(), message.begin(), message.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return {};
}

Result<FrameHeader> decode_frame_header(std::span<const std::byte, kFrameHeaderBytes> bytes) {
  const auto magic = static_cast<uint32_t>(get_be(bytes, 0, 4));
  if (magic != kFrameMagic) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", magic);
    return make_error(std::string("bad frame magic ") + hex +
                      " (not a tandem peer, or the stream lost sync)");
  }
  const auto type = static_cast<uint16_t>(get_be(bytes, 4, 2));
  if (type == 0 || type > kMaxFrameType) {
    return make_error("unknown frame type " + std::to_string(type));
  }
  FrameHeader h;
  h.type = static_cast<FrameType>(type);
  h.flags = static_cast<uint16_t>(get_be(bytes, 6, 2));
  h.message_bytes = static_cast<uint32_t>(get_be(bytes, 8, 4));
  h.payload_bytes = static_cast<uint32_t>(get_be(bytes, 12, 4));
  if (h.message_bytes > kMaxMessageBytes) {
    return make_error("frame type " + std::to_string(type) + " announces a message of " +
                      std::to_string(h.message_bytes) + " bytes, limit " +
                      std::to_string(kMaxMessageBytes));
  }
  if (h.payload_bytes > kMaxPayloadBytes) {
    return make_error("frame type " + std::to_string(type) + " announces a payload of " +
                      std::to_string(h.payload_bytes) + " bytes, limit " +
                      std::to_string(kMaxPayloadBytes));
  }
  if (h.payload_bytes != 0 && !payload_allowed(h.type)) {
    return make_error("frame type " + std::to_string(type) + " cannot carry a payload");
  }
  return h;
}

void FrameDecoder::feed(std::span<const std::byte> bytes) {
  if (failed_) return;
  // Drop consumed bytes before growing, so the buffer stays bounded by one
  // frame plus one read.
  if (consumed_ > 0 && consumed_ >= buffer_.size() / 2) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

Result<std::optional<Frame>> FrameDecoder::next() {
  if (failed_) return make_error(error_);
  const std::span<const std::byte> pending(buffer_.data() + consumed_, buffer_.size() - consumed_);
  if (pending.size() < kFrameHeaderBytes) return std::optional<Frame>{};
  auto header = decode_frame_header(pending.first<kFrameHeaderBytes>());
  if (!header) {
    failed_ = true;
    error_ = header.error().message;
    return header.error();
  }
  const size_t total = kFrameHeaderBytes + size_t{header->message_bytes} + header->payload_bytes;
  if (pending.size() < total) return std::optional<Frame>{};
  Frame frame;
  frame.header = *header;
  const auto msg = pending.subspan(kFrameHeaderBytes, header->message_bytes);
  const auto payload =
      pending.subspan(kFrameHeaderBytes + header->message_bytes, header->payload_bytes);
  frame.message.assign(msg.begin(), msg.end());
  frame.payload.assign(payload.begin(), payload.end());
  consumed_ += total;
  return std::optional<Frame>{std::move(frame)};
}

}  // namespace tandem::net
