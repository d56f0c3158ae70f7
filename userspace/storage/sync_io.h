// Blocking helpers over a BlockDevice for the admin verbs and the metadata
// store: each submits one request and waits for its completion. They
// require an idle device (no other request outstanding), so that no other
// caller's completion can be swallowed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/result.h"
#include "storage/block_device.h"

namespace tandem::storage {

Result<void> read_sync(BlockDevice& device, uint64_t offset, std::span<std::byte> buffer);
Result<void> write_sync(BlockDevice& device, uint64_t offset, std::span<const std::byte> data,
                        bool fua);
Result<void> flush_sync(BlockDevice& device);
// Zeroes a range, in pieces of at most 1 GiB.
Result<void> zero_sync(BlockDevice& device, uint64_t offset, uint64_t length);

}  // namespace tandem::storage
