// Byte-order helpers for everything tandem encodes: wire formats (peer
// frames, the control socket, NBD) are big-endian, on-disk metadata is
// little-endian. All of them work at byte granularity, independent of the
// host's byte order and alignment; callers check bounds first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace tandem {

// ---- big-endian, appended to a growing buffer / read at an offset

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

// ---- little-endian, in place at an offset (on-disk structures)

template <typename T>
inline void store_le(std::span<std::byte> out, size_t offset, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    out[offset + i] = static_cast<std::byte>((static_cast<uint64_t>(value) >> (8 * i)) & 0xFFU);
  }
}

template <typename T>
inline T load_le(std::span<const std::byte> in, size_t offset) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    v |= static_cast<uint64_t>(in[offset + i]) << (8 * i);
  }
  return static_cast<T>(v);
}

}  // namespace tandem
