// Framing on the control socket: a 4-byte big-endian length, then that many
// bytes of one encoded protobuf message. The length is bounded so that a
// confused or hostile local client cannot make the daemon buffer without
// limit; a frame over the bound is an error that closes the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace tandem::daemon {

inline constexpr uint32_t kMaxControlMessageBytes = 1u << 20;

// Appends the length prefix and `message` to `out`.
Result<void> append_control_frame(std::span<const std::byte> message, std::vector<std::byte>& out);
Result<void> append_control_frame(const std::string& message, std::vector<std::byte>& out);

// Incremental reader: feed what the socket returned, take messages until
// next() yields nothing. After an error it stays failed.
class ControlFrameReader {
 public:
  void feed(std::span<const std::byte> bytes);
  Result<std::optional<std::string>> next();
  bool failed() const { return failed_; }
  size_t buffered_bytes() const { return buffer_.size() - consumed_; }

 private:
  std::vector<std::byte> buffer_;
  size_t consumed_ = 0;
  bool failed_ = false;
};

}  // namespace tandem::daemon
