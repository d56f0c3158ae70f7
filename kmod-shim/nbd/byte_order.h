// Big-endian encoding helpers for the NBD wire format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace tandem::nbd {

inline void put_be(std::vector<std::byte>& out, uint64_t value, size_t bytes) {
  for (size_t i = bytes; i > 0; --i) {
    out.push_back(static_cast<std::byte>((value >> (8 * (i - 1))) & 0xffu));
  }
}
inline void put_u16(std::vector<std::byte>& out, uint16_t v) {
  put_be(out, v, 2);
}
inline void put_u32(std::vector<std::byte>& out, uint32_t v) {
  put_be(out, v, 4);
}
inline void put_u64(std::vector<std::byte>& out, uint64_t v) {
  put_be(out, v, 8);
}
inline void put_text(std::vector<std::byte>& out, std::string_view text) {
  for (char c : text) out.push_back(static_cast<std::byte>(c));
}

// Reads `bytes` big-endian bytes at `at`; the caller has checked the bounds.
inline uint64_t get_be(std::span<const std::byte> in, size_t at, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint64_t>(in[at + i]);
  return v;
}
inline uint16_t get_u16(std::span<const std::byte> in, size_t at) {
  return static_cast<uint16_t>(get_be(in, at, 2));
}
inline uint32_t get_u32(std::span<const std::byte> in, size_t at) {
  return static_cast<uint32_t>(get_be(in, at, 4));
}
inline uint64_t get_u64(std::span<const std::byte> in, size_t at) {
  return get_be(in, at, 8);
}

}  // namespace tandem::nbd
