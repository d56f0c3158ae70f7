#include "storm_pattern.h"

#include <cstring>

namespace tandem::lab {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// One 8-byte word per device position: a write's data differs from every
// other write's and from the same write's data at any other offset.
uint64_t word_at(uint64_t seed, uint64_t write_id, uint64_t position) {
  return splitmix64(seed ^ splitmix64(write_id ^ splitmix64(position)));
}

}  // namespace

void fill_storm_pattern(uint64_t seed, uint64_t write_id, uint64_t offset,
                        std::span<std::byte> out) {
  for (size_t i = 0; i + 8 <= out.size(); i += 8) {
    const uint64_t w = word_at(seed, write_id, (offset + i) / 8);
    std::memcpy(out.data() + i, &w, 8);
  }
}

bool matches_storm_pattern(uint64_t seed, uint64_t write_id, uint64_t offset,
                           std::span<const std::byte> data) {
  for (size_t i = 0; i + 8 <= data.size(); i += 8) {
    const uint64_t w = word_at(seed, write_id, (offset + i) / 8);
    if (std::memcmp(data.data() + i, &w, 8) != 0) return false;
  }
  return true;
}

}  // namespace tandem::lab
