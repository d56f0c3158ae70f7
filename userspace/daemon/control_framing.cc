#include "daemon/control_framing.h"

#include "common/byte_order.h"

namespace tandem::daemon {

Result<void> append_control_frame(std::span<const std::byte> message, std::vector<std::byte>& out) {
  if (message.size() > kMaxControlMessageBytes) {
    return make_error("control message of " + std::to_string(message.size()) +
                      " bytes exceeds the limit of " + std::to_string(kMaxControlMessageBytes));
  }
  put_u32(out, static_cast<uint32_t>(message.size()));
  out.insert(out.end(), message.begin(), message.end());
  return {};
}

Result<void> append_control_frame(const std::string& message, std::vector<std::byte>& out) {
  return append_control_frame(std::as_bytes(std::span(message.data(), message.size())), out);
}

void ControlFrameReader::feed(std::span<const std::byte> bytes) {
  if (failed_) {
    return;
  }
  // Drop consumed bytes before growing, so the buffer holds at most one
  // partial frame plus what was just fed.
  if (consumed_ > 0) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

Result<std::optional<std::string>> ControlFrameReader::next() {
  if (failed_) {
    return make_error("control stream already failed");
  }
  const size_t avail = buffer_.size() - consumed_;
  if (avail < 4) {
    return std::optional<std::string>();
  }
  const std::byte* p = buffer_.data() + consumed_;
  const uint32_t n = get_u32(std::span<const std::byte>(p, 4), 0);
  if (n > kMaxControlMessageBytes) {
    failed_ = true;
    return make_error("control message length " + std::to_string(n) + " exceeds the limit of " +
                      std::to_string(kMaxControlMessageBytes) + " bytes");
  }
  if (avail - 4 < n) {
    return std::optional<std::string>();
  }
  std::string message(reinterpret_cast<const char*>(p + 4), n);
  consumed_ += 4 + n;
  return std::optional<std::string>(std::move(message));
}

}  // namespace tandem::daemon
