// Block digests for checksum-based resync (csums-alg) and online verify
// (verify-alg). Pure computation: crc32c from common/, the others through
// OpenSSL's EVP interface.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/replication_types.h"

namespace tandem::core {

// Digest length in bytes; 0 for DigestAlg::kNone.
size_t digest_size(DigestAlg alg);

// drbd.conf spelling ("crc32c", "md5", "sha1", "sha256"); nullopt otherwise.
std::optional<DigestAlg> parse_digest_alg(std::string_view name);

// A DigestAlg value received from the peer, or nullopt when unknown/kNone.
std::optional<DigestAlg> digest_alg_from_wire(uint32_t value);

// The raw digest (digest_size(alg) bytes; crc32c in big-endian order).
// Empty for kNone.
std::string compute_digest(DigestAlg alg, std::span<const std::byte> data);

}  // namespace tandem::core
