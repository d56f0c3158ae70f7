// RMCP+ session establishment (IPMI 2.0 section 13.17-13.31): Open Session
// Request/Response and the four RAKP messages, plus the HMAC-SHA1 key
// exchange codes and key derivation:
//   RAKP2 code = HMAC(Kuid, SIDm SIDc Rm Rc GUIDc ROLEm ULENGTHm UNAMEm)
//   RAKP3 code = HMAC(Kuid, Rc SIDm ROLEm ULENGTHm UNAMEm)
//   SIK        = HMAC(KG,   Rm Rc ROLEm ULENGTHm UNAMEm)
//   RAKP4 ICV  = HMAC(SIK,  Rm SIDc GUIDc) truncated to 12 bytes
//   K1 = HMAC(SIK, 20 x 0x01), K2 = HMAC(SIK, 20 x 0x02)
// where m is the remote console (us) and c the managed system (the BMC).
// Kuid is the user's password zero-padded to 20 bytes; KG is the BMC key,
// or Kuid when the BMC has none.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "common/result.h"
#include "fence/ipmi/byte_io.h"
#include "fence/ipmi/cipher_suite.h"
#include "fence/ipmi/crypto.h"

namespace tandem::ipmi {

inline constexpr std::size_t kMaxUsername = 16;
inline constexpr std::size_t kMaxPassword = 20;
using Random16 = std::array<std::uint8_t, 16>;
using Key20 = std::array<std::uint8_t, 20>;

// RAKP1 role byte: bit 4 asks for name-only user lookup.
inline constexpr std::uint8_t kRoleNameOnlyLookup = 0x10;

struct OpenSessionRequest {
  std::uint8_t tag = 0;
  std::uint8_t max_privilege = 0;  // 0 = highest the suite allows
  std::uint32_t console_session_id = 0;
  CipherSuite suite;
};

struct OpenSessionResponse {
  std::uint8_t tag = 0;
  std::uint8_t status = 0;
  std::uint8_t max_privilege = 0;
  std::uint32_t console_session_id = 0;
  std::uint32_t bmc_session_id = 0;  // only when status is 0
  std::uint8_t authentication = 0, integrity = 0, confidentiality = 0;
};

struct Rakp1 {
  std::uint8_t tag = 0;
  std::uint32_t bmc_session_id = 0;
  Random16 console_random{};
  std::uint8_t role = 0;
  std::string username;
};

struct Rakp2 {
  std::uint8_t tag = 0;
  std::uint8_t status = 0;
  std::uint32_t console_session_id = 0;
  Random16 bmc_random{};
  Random16 bmc_guid{};
  Bytes key_exchange_code;
};

struct Rakp3 {
  std::uint8_t tag = 0;
  std::uint8_t status = 0;
  std::uint32_t bmc_session_id = 0;
  Bytes key_exchange_code;
};

struct Rakp4 {
  std::uint8_t tag = 0;
  std::uint8_t status = 0;
  std::uint32_t console_session_id = 0;
  Bytes integrity_check_value;
};

Bytes encode_open_session_request(const OpenSessionRequest& m);
Result<OpenSessionRequest> decode_open_session_request(ByteSpan payload);
Bytes encode_open_session_response(const OpenSessionResponse& m);
Result<OpenSessionResponse> decode_open_session_response(ByteSpan payload);

Bytes encode_rakp1(const Rakp1& m);
Result<Rakp1> decode_rakp1(ByteSpan payload);
Bytes encode_rakp2(const Rakp2& m);
// code_size: the key exchange code length the negotiated suite implies.
Result<Rakp2> decode_rakp2(ByteSpan payload, std::size_t code_size);
Bytes encode_rakp3(const Rakp3& m);
Result<Rakp3> decode_rakp3(ByteSpan payload, std::size_t code_size);
Bytes encode_rakp4(const Rakp4& m);
Result<Rakp4> decode_rakp4(ByteSpan payload, std::size_t icv_size);

// Everything both sides know once RAKP2 has arrived.
struct RakpTranscript {
  std::uint32_t console_session_id = 0;  // SIDm
  std::uint32_t bmc_session_id = 0;      // SIDc
  Random16 console_random{};             // Rm
  Random16 bmc_random{};                 // Rc
  Random16 bmc_guid{};                   // GUIDc
  std::uint8_t role = 0;                 // ROLEm as sent in RAKP1
  std::string username;                  // UNAMEm
};

// Zero-pads a password (at most 20 bytes) to the 20-byte key Kuid.
Key20 password_key(std::string_view password);

Sha1Digest rakp2_key_exchange_code(ByteSpan kuid, const RakpTranscript& t);
Sha1Digest rakp3_key_exchange_code(ByteSpan kuid, const RakpTranscript& t);
Sha1Digest session_integrity_key(ByteSpan kg, const RakpTranscript& t);
Sha1Digest rakp4_integrity_check_value(ByteSpan sik, const RakpTranscript& t);
// K1 (constant 0x01) and K2 (constant 0x02).
Sha1Digest derive_additional_key(ByteSpan sik, std::uint8_t constant);

std::string rakp_status_text(std::uint8_t status);

}  // namespace tandem::ipmi
