// RMCP+ cipher suites 0-3: the authentication (RAKP), integrity and
// confidentiality algorithms negotiated in Open Session.
#pragma once

#include <cstdint>
#include <optional>

namespace tandem::ipmi {

inline constexpr std::uint8_t kAuthRakpNone = 0x00;
inline constexpr std::uint8_t kAuthRakpHmacSha1 = 0x01;
inline constexpr std::uint8_t kIntegrityNone = 0x00;
inline constexpr std::uint8_t kIntegrityHmacSha1_96 = 0x01;
inline constexpr std::uint8_t kConfidentialityNone = 0x00;
inline constexpr std::uint8_t kConfidentialityAesCbc128 = 0x01;

struct CipherSuite {
  int id = 3;
  std::uint8_t authentication = kAuthRakpHmacSha1;
  std::uint8_t integrity = kIntegrityHmacSha1_96;
  std::uint8_t confidentiality = kConfidentialityAesCbc128;

  // Length of the RAKP2/RAKP3 key exchange codes and of the RAKP4 integrity
  // check value under this suite's authentication algorithm.
  std::size_t key_exchange_code_size() const {
    return authentication == kAuthRakpHmacSha1 ? 20 : 0;
  }
  std::size_t rakp4_icv_size() const { return authentication == kAuthRakpHmacSha1 ? 12 : 0; }
};

inline constexpr int kDefaultCipherSuite = 3;

// Suites 0 (no authentication) to 3 (HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128).
std::optional<CipherSuite> cipher_suite(int id);

}  // namespace tandem::ipmi
