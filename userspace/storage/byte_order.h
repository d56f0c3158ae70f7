// Every multi-byte integer tandem writes to disk is little-endian. These
// helpers read and write them at a byte offset, independent of the host's
// byte order and alignment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tandem::storage {

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

}  // namespace tandem::storage
