// The data a write-storm write carries, derived from (seed, write id, byte
// position) so that the checker can regenerate any part of it instead of
// storing it: a log line per write is enough to prove every byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tandem::lab {

// Fills `out` with write `write_id`'s bytes for the device range starting
// at `offset` (offset and out.size() multiples of 8).
void fill_storm_pattern(uint64_t seed, uint64_t write_id, uint64_t offset,
                        std::span<std::byte> out);

// True when `data` (device range starting at `offset`) holds write
// `write_id`'s bytes.
bool matches_storm_pattern(uint64_t seed, uint64_t write_id, uint64_t offset,
                           std::span<const std::byte> data);

}  // namespace tandem::lab
