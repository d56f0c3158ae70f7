// Session wrappers around IPMI payloads, both behind the 4-byte RMCP header
// (version 0x06, reserved, sequence 0xff = no ack, class 0x07 = IPMI):
//
// IPMI 1.5:  authType, sessionSeq(4), sessionId(4), [authCode(16)], length(1),
//            IPMI message
// IPMI 2.0 (RMCP+, authType 0x06): payloadType (bit7 encrypted, bit6
//            authenticated), sessionId(4), sessionSeq(4), length(2), payload,
//            and when authenticated: 0xff pad to a multiple of 4, pad length,
//            next header 0x07, integrity code (HMAC-SHA1-96 over authType
//            through next header, keyed with K1).
// Encrypted payloads are IV(16) + AES-CBC-128(K2[0..15], payload + pad
// 1,2,..,n + n).
//
// All integers are little-endian. Decoders bound every length by the
// datagram and by kMaxDatagram.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "common/result.h"
#include "fence/ipmi/byte_io.h"

namespace tandem::ipmi {

inline constexpr std::size_t kMaxDatagram = 1024;
inline constexpr std::size_t kRmcpHeaderSize = 4;
inline constexpr std::size_t kIntegrityCodeSize = 12;  // HMAC-SHA1-96
inline constexpr std::size_t kAesBlock = 16;

// IPMI 1.5 authentication types (also the first byte of the session header).
inline constexpr std::uint8_t kAuthTypeNone = 0x00;
inline constexpr std::uint8_t kAuthTypeMd5 = 0x02;
inline constexpr std::uint8_t kAuthTypePassword = 0x04;
inline constexpr std::uint8_t kAuthTypeRmcpPlus = 0x06;

// RMCP+ payload types.
inline constexpr std::uint8_t kPayloadIpmi = 0x00;
inline constexpr std::uint8_t kPayloadOpenSessionRequest = 0x10;
inline constexpr std::uint8_t kPayloadOpenSessionResponse = 0x11;
inline constexpr std::uint8_t kPayloadRakp1 = 0x12;
inline constexpr std::uint8_t kPayloadRakp2 = 0x13;
inline constexpr std::uint8_t kPayloadRakp3 = 0x14;
inline constexpr std::uint8_t kPayloadRakp4 = 0x15;

// Reads the RMCP header and returns the session auth type byte, so that a
// receiver can tell an IPMI 1.5 packet from an RMCP+ one.
Result<std::uint8_t> peek_auth_type(ByteSpan datagram);

struct Lan15Packet {
  std::uint8_t auth_type = kAuthTypeNone;
  std::uint32_t session_seq = 0;
  std::uint32_t session_id = 0;
  std::array<std::uint8_t, 16> auth_code{};  // present on the wire unless auth_type is none
  Bytes message;
};

Bytes encode_lan15(const Lan15Packet& packet);
Result<Lan15Packet> decode_lan15(ByteSpan datagram);

// Keys and algorithms of an established RMCP+ session.
struct SessionProtection {
  bool integrity = false;        // HMAC-SHA1-96 with k1
  bool confidentiality = false;  // AES-CBC-128 with k2[0..15]
  std::array<std::uint8_t, 20> k1{};
  std::array<std::uint8_t, 20> k2{};
};

struct LanplusPacket {
  std::uint8_t payload_type = kPayloadIpmi;
  bool authenticated = false;
  bool encrypted = false;
  std::uint32_t session_id = 0;
  std::uint32_t session_seq = 0;
  Bytes payload;  // plaintext
};

// Encodes a packet. With `protection` null (session set-up) the packet is
// sent in the clear; otherwise it is encrypted and signed as the session's
// algorithms require. `iv` (16 bytes) is used only when encrypting.
Result<Bytes> encode_lanplus(std::uint8_t payload_type, std::uint32_t session_id,
                             std::uint32_t session_seq, ByteSpan payload,
                             const SessionProtection* protection, ByteSpan iv);

// Decodes a packet. With `protection` non-null the packet must carry every
// protection the session requires: a missing or wrong integrity code, or a
// bad confidentiality pad, is rejected.
Result<LanplusPacket> decode_lanplus(ByteSpan datagram, const SessionProtection* protection);

}  // namespace tandem::ipmi
