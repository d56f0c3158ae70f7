// The cryptographic primitives IPMI needs, over OpenSSL's libcrypto:
// HMAC-SHA1 (RAKP and integrity), AES-CBC-128 without padding (RMCP+
// confidentiality adds its own pad), MD5 (IPMI 1.5 authentication).
#pragma once

#include <array>
#include <cstdint>

#include "common/result.h"
#include "fence/ipmi/byte_io.h"

namespace tandem::ipmi {

using Sha1Digest = std::array<std::uint8_t, 20>;
using Md5Digest = std::array<std::uint8_t, 16>;

Sha1Digest hmac_sha1(ByteSpan key, ByteSpan data);
Md5Digest md5(ByteSpan data);

// Both take a 16-byte key and IV; data length must be a multiple of 16.
Result<Bytes> aes_cbc_128_encrypt(ByteSpan key, ByteSpan iv, ByteSpan plaintext);
Result<Bytes> aes_cbc_128_decrypt(ByteSpan key, ByteSpan iv, ByteSpan ciphertext);

// Constant-time comparison for authentication codes.
bool equal_digest(ByteSpan a, ByteSpan b);

}  // namespace tandem::ipmi
