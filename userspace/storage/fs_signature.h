// Recognises the start of a file system, partition table or volume format
// from the first 68 KiB of a device, so that create-md does not silently
// destroy data (internal metadata shrinks the device under a file system).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

namespace tandem::storage {

inline constexpr size_t kSignatureProbeBytes = 68 * 1024;

// Name of what `head` (the device's first bytes, shorter when the device
// is) starts with, e.g. "ext4 file system"; none when nothing is recognised.
std::optional<std::string> detect_signature(std::span<const std::byte> head);

}  // namespace tandem::storage
