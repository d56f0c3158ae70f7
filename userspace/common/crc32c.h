// CRC-32C (Castagnoli polynomial, reflected, init and final xor 0xFFFFFFFF):
// the checksum of tandem's on-disk metadata and wire frames. Uses the SSE4.2
// crc32 instruction when the CPU has it, a table-driven loop otherwise; both
// give identical results.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tandem {

// Checksum of `data`. crc32c("123456789") == 0xE3069283.
uint32_t crc32c(std::span<const std::byte> data);

// Continues a checksum: crc32c(a ++ b) == crc32c_extend(crc32c(a), b).
uint32_t crc32c_extend(uint32_t crc, std::span<const std::byte> data);

// The portable implementation, exposed so tests can compare it with the
// hardware path on the same input.
uint32_t crc32c_extend_portable(uint32_t crc, std::span<const std::byte> data);

// True when crc32c() uses the SSE4.2 instruction on this CPU.
bool crc32c_is_hardware_accelerated();

}  // namespace tandem
