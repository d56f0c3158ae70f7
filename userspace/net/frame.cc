#include "net/frame.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/byte_order.h"

namespace tandem::net {

bool payload_allowed(FrameType type) {
  return type == FrameType::kWrite || type == FrameType::kReadReply ||
         type == FrameType::kResyncData;
}

Result<void> encode_frame(FrameType type, uint16_t flags, std::span<const std::byte> message,
                          std::span<const std::byte> payload, std::vector<std::byte>& out) {
  out.reserve(out.size() + kFrameHeaderBytes + message.size() + payload.size());
  if (auto r = encode_frame_head(type, flags, message, payload.size(), out); !r) return r;
  out.insert(out.end(), payload.begin(), payload.end());
  return {};
}

Result<void> encode_frame_head(FrameType type, uint16_t flags, std::span<const std::byte> message,
                               size_t payload_bytes, std::vector<std::byte>& out) {
  if (message.size() > kMaxMessageBytes) {
    return make_error("frame message of " + std::to_string(message.size()) +
                      " bytes exceeds the limit of " + std::to_string(kMaxMessageBytes));
  }
  if (payload_bytes > kMaxPayloadBytes) {
    return make_error("frame payload of " + std::to_string(payload_bytes) +
                      " bytes exceeds the limit of " + std::to_string(kMaxPayloadBytes));
  }
  if (payload_bytes != 0 && !payload_allowed(type)) {
    return make_error("frame type " + std::to_string(static_cast<unsigned>(type)) +
                      " cannot carry a payload");
  }
  put_be(out, kFrameMagic, 4);
  put_be(out, static_cast<uint16_t>(type), 2);
  put_be(out, flags, 2);
  put_be(out, message.size(), 4);
  put_be(out, payload_bytes, 4);
  out.insert(out.end(), message.begin(), message.end());
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

void FrameDecoder::reserve_tail(size_t n) {
  if (capacity_ - end_ >= n) return;
  const size_t live = end_ - begin_;
  if (begin_ > 0 && capacity_ - live >= n) {
    // Enough room once the decoded head is dropped.
    std::memmove(buffer_.get(), buffer_.get() + begin_, live);
  } else {
    // Bounded by one frame (header, message and payload limits) plus one
    // read: next() consumes every complete frame before the caller reads
    // again.
    const size_t capacity = std::max(capacity_ * 2, live + n);
    std::unique_ptr<std::byte[]> grown(new std::byte[capacity]);
    if (live > 0) std::memcpy(grown.get(), buffer_.get() + begin_, live);
    buffer_ = std::move(grown);
    capacity_ = capacity;
  }
  begin_ = 0;
  end_ = live;
}

void FrameDecoder::feed(std::span<const std::byte> bytes) {
  while (!failed_ && !bytes.empty()) {
    const std::span<std::byte> space = prepare(bytes.size());
    const size_t n = std::min(space.size(), bytes.size());
    std::memcpy(space.data(), bytes.data(), n);
    commit(n);
    bytes = bytes.subspan(n);
  }
}

std::span<std::byte> FrameDecoder::prepare(size_t max) {
  prepared_payload_ = filling_payload();
  if (prepared_payload_) {
    const size_t n = std::min(max, partial_->payload.size() - payload_have_);
    return {partial_->payload.data() + payload_have_, n};
  }
  reserve_tail(max);
  return {buffer_.get() + end_, max};
}

void FrameDecoder::commit(size_t n) {
  if (prepared_payload_) {
    payload_have_ = std::min(payload_have_ + n, partial_->payload.size());
  } else {
    end_ = std::min(end_ + n, capacity_);
  }
  prepared_payload_ = false;
}

Result<std::optional<Frame>> FrameDecoder::next() {
  if (failed_) return make_error(error_);
  if (partial_.has_value()) {
    if (filling_payload()) return std::optional<Frame>{};
    std::optional<Frame> done = std::move(partial_);
    partial_.reset();
    payload_have_ = 0;
    return done;
  }
  const std::span<const std::byte> pending(buffer_.get() + begin_, end_ - begin_);
  if (pending.size() < kFrameHeaderBytes) return std::optional<Frame>{};
  auto header = decode_frame_header(pending.first<kFrameHeaderBytes>());
  if (!header) {
    failed_ = true;
    error_ = header.error().message;
    return header.error();
  }
  const size_t head = kFrameHeaderBytes + size_t{header->message_bytes};
  const size_t total = head + header->payload_bytes;
  if (pending.size() < head) return std::optional<Frame>{};
  Frame frame;
  frame.header = *header;
  const auto msg = pending.subspan(kFrameHeaderBytes, header->message_bytes);
  frame.message.assign(msg.begin(), msg.end());
  const auto payload = pending.subspan(head, std::min(pending.size(), total) - head);
  frame.payload.resize(header->payload_bytes);
  if (!payload.empty()) std::memcpy(frame.payload.data(), payload.data(), payload.size());
  begin_ += head + payload.size();
  if (begin_ == end_) begin_ = end_ = 0;  // the next read starts at the front
  if (payload.size() < header->payload_bytes) {
    // The rest of the payload goes straight into the frame's buffer.
    partial_ = std::move(frame);
    payload_have_ = payload.size();
    return std::optional<Frame>{};
  }
  return std::optional<Frame>{std::move(frame)};
}

}  // namespace tandem::net
