#include "fence/ipmi/session_packet.h"

#include "fence/ipmi/crypto.h"

namespace tandem::ipmi {

namespace {

constexpr std::uint8_t kRmcpVersion = 0x06;
constexpr std::uint8_t kRmcpNoAck = 0xff;
constexpr std::uint8_t kRmcpClassIpmi = 0x07;
constexpr std::uint8_t kNextHeader = 0x07;
constexpr std::uint8_t kEncryptedBit = 0x80;
constexpr std::uint8_t kAuthenticatedBit = 0x40;

void write_rmcp_header(ByteWriter& w) {
  w.u8(kRmcpVersion);
  w.u8(0);
  w.u8(kRmcpNoAck);
  w.u8(kRmcpClassIpmi);
}

Result<void> read_rmcp_header(ByteReader& r, ByteSpan datagram) {
  if (datagram.size() > kMaxDatagram) {
    return make_error("datagram of " + std::to_string(datagram.size()) +
                      " bytes exceeds the IPMI limit of " + std::to_string(kMaxDatagram));
  }
  std::uint8_t version = 0, reserved = 0, seq = 0, klass = 0;
  if (!r.u8(version) || !r.u8(reserved) || !r.u8(seq) || !r.u8(klass)) {
    return make_error("datagram too short for an RMCP header");
  }
  if (version != kRmcpVersion) return make_error("not an RMCP 1.0 datagram (version byte)");
  if ((klass & 0x1f) != kRmcpClassIpmi) return make_error("RMCP message class is not IPMI");
  return {};
}

Result<Bytes> encrypt_payload(const SessionProtection& p, ByteSpan iv, ByteSpan payload) {
  if (iv.size() != kAesBlock) return make_error("AES-CBC-128 needs a 16-byte IV");
  Bytes plain(payload.begin(), payload.end());
  const std::size_t pad = (kAesBlock - (payload.size() + 1) % kAesBlock) % kAesBlock;
  for (std::size_t i = 1; i <= pad; ++i) plain.push_back(static_cast<std::uint8_t>(i));
  plain.push_back(static_cast<std::uint8_t>(pad));
  auto cipher = aes_cbc_128_encrypt(ByteSpan(p.k2.data(), 16), iv, plain);
  if (!cipher) return cipher.error();
  Bytes out(iv.begin(), iv.end());
  out.insert(out.end(), cipher->begin(), cipher->end());
  return out;
}

Result<Bytes> decrypt_payload(const SessionProtection& p, ByteSpan payload) {
  if (payload.size() < 2 * kAesBlock || payload.size() % kAesBlock != 0) {
    return make_error("encrypted payload of " + std::to_string(payload.size()) +
                      " bytes is not an IV plus whole AES blocks");
  }
  auto plain = aes_cbc_128_decrypt(ByteSpan(p.k2.data(), 16), payload.first(kAesBlock),
                                   payload.subspan(kAesBlock));
  if (!plain) return plain.error();
  const std::size_t pad = plain->back();
  if (pad >= kAesBlock || pad + 1 > plain->size()) {
    return make_error("confidentiality pad length " + std::to_string(pad) +
                      " is invalid (wrong key or forged packet)");
  }
  const std::size_t data_len = plain->size() - pad - 1;
  for (std::size_t i = 0; i < pad; ++i) {
    if ((*plain)[data_len + i] != i + 1) {
      return make_error("confidentiality pad bytes are wrong (wrong key or forged packet)");
    }
  }
  plain->resize(data_len);
  return plain;
}

}  // namespace

Result<std::uint8_t> peek_auth_type(ByteSpan datagram) {
  ByteReader r(datagram);
  if (auto h = read_rmcp_header(r, datagram); !h) return h.error();
  std::uint8_t auth_type = 0;
  if (!r.u8(auth_type)) return make_error("datagram too short for an IPMI session header");
  return auth_type;
}

Bytes encode_lan15(const Lan15Packet& packet) {
  Bytes out;
  ByteWriter w(out);
  write_rmcp_header(w);
  w.u8(packet.auth_type);
  w.u32(packet.session_seq);
  w.u32(packet.session_id);
  if (packet.auth_type != kAuthTypeNone) w.bytes(packet.auth_code);
  w.u8(static_cast<std::uint8_t>(packet.message.size()));
  w.bytes(packet.message);
  return out;
}

Result<Lan15Packet> decode_lan15(ByteSpan datagram) {
  ByteReader r(datagram);
  if (auto h = read_rmcp_header(r, datagram); !h) return h.error();
  Lan15Packet p;
  if (!r.u8(p.auth_type) || !r.u32(p.session_seq) || !r.u32(p.session_id)) {
    return make_error("IPMI 1.5 session header truncated");
  }
  if (p.auth_type == kAuthTypeRmcpPlus) return make_error("packet is RMCP+, not IPMI 1.5");
  if (p.auth_type > 0x05) {
    return make_error("unknown IPMI 1.5 authentication type " + std::to_string(p.auth_type));
  }
  if (p.auth_type != kAuthTypeNone) {
    ByteSpan code;
    if (!r.bytes(16, code)) return make_error("IPMI 1.5 authentication code truncated");
    std::copy(code.begin(), code.end(), p.auth_code.begin());
  }
  std::uint8_t length = 0;
  ByteSpan message;
  if (!r.u8(length) || !r.bytes(length, message)) {
    return make_error("IPMI 1.5 message length exceeds the datagram");
  }
  // Some BMCs append one legacy pad byte; anything more is malformed.
  if (r.remaining() > 1) return make_error("trailing bytes after the IPMI 1.5 message");
  p.message.assign(message.begin(), message.end());
  return p;
}

Result<Bytes> encode_lanplus(std::uint8_t payload_type, std::uint32_t session_id,
                             std::uint32_t session_seq, ByteSpan payload,
                             const SessionProtection* protection, ByteSpan iv) {
  Bytes body(payload.begin(), payload.end());
  const bool encrypt = protection && protection->confidentiality;
  const bool sign = protection && protection->integrity;
  if (encrypt) {
    auto enc = encrypt_payload(*protection, iv, payload);
    if (!enc) return enc.error();
    body = std::move(*enc);
  }
  if (body.size() > kMaxDatagram) return make_error("RMCP+ payload too large");
  Bytes out;
  ByteWriter w(out);
  write_rmcp_header(w);
  w.u8(kAuthTypeRmcpPlus);
  std::uint8_t type = static_cast<std::uint8_t>(payload_type & 0x3f);
  if (encrypt) type |= kEncryptedBit;
  if (sign) type |= kAuthenticatedBit;
  w.u8(type);
  w.u32(session_id);
  w.u32(session_seq);
  w.u16(static_cast<std::uint16_t>(body.size()));
  w.bytes(body);
  if (sign) {
    // The pad aligns authType..nextHeader (everything after the RMCP
    // header, plus pad length and next header) to a multiple of 4.
    const std::size_t covered = out.size() - kRmcpHeaderSize + 2;
    const std::size_t pad = (4 - covered % 4) % 4;
    for (std::size_t i = 0; i < pad; ++i) w.u8(0xff);
    w.u8(static_cast<std::uint8_t>(pad));
    w.u8(kNextHeader);
    const auto mac = hmac_sha1(protection->k1, ByteSpan(out).subspan(kRmcpHeaderSize));
    w.bytes(ByteSpan(mac.data(), kIntegrityCodeSize));
  }
  return out;
}

Result<LanplusPacket> decode_lanplus(ByteSpan datagram, const SessionProtection* protection) {
  ByteReader r(datagram);
  if (auto h = read_rmcp_header(r, datagram); !h) return h.error();
  std::uint8_t auth_type = 0, type = 0;
  LanplusPacket p;
  std::uint16_t length = 0;
  if (!r.u8(auth_type) || !r.u8(type) || !r.u32(p.session_id) || !r.u32(p.session_seq) ||
      !r.u16(length)) {
    return make_error("RMCP+ session header truncated");
  }
  if (auth_type != kAuthTypeRmcpPlus) return make_error("packet is not RMCP+ (IPMI 2.0)");
  p.payload_type = static_cast<std::uint8_t>(type & 0x3f);
  p.encrypted = (type & kEncryptedBit) != 0;
  p.authenticated = (type & kAuthenticatedBit) != 0;
  if (p.payload_type == 0x02) return make_error("OEM explicit payloads are not supported");
  ByteSpan body;
  if (!r.bytes(length, body)) {
    return make_error("RMCP+ payload length " + std::to_string(length) + " exceeds the datagram");
  }
  const bool need_integrity = protection && protection->integrity;
  const bool need_confidentiality = protection && protection->confidentiality;
  if (p.authenticated != need_integrity) {
    return make_error(p.authenticated ? "packet is signed but the session has no integrity key"
                                      : "packet lacks the integrity code the session requires");
  }
  if (p.encrypted != need_confidentiality) {
    return make_error(p.encrypted ? "packet is encrypted but the session has no encryption key"
                                  : "packet is not encrypted but the session requires it");
  }
  if (p.authenticated) {
    const std::size_t covered_end = datagram.size() - kIntegrityCodeSize;
    if (datagram.size() < r.position() + 2 + kIntegrityCodeSize) {
      return make_error("RMCP+ integrity trailer truncated");
    }
    const std::size_t pad = covered_end - 2 - r.position();
    if (pad > 3) return make_error("RMCP+ integrity pad longer than 3 bytes");
    ByteSpan pad_bytes;
    std::uint8_t pad_len = 0, next_header = 0;
    ByteSpan code;
    if (!r.bytes(pad, pad_bytes) || !r.u8(pad_len) || !r.u8(next_header) ||
        !r.bytes(kIntegrityCodeSize, code)) {
      return make_error("RMCP+ integrity trailer truncated");
    }
    if (pad_len != pad || next_header != kNextHeader) {
      return make_error("RMCP+ integrity trailer malformed (pad length or next header)");
    }
    const auto mac =
        hmac_sha1(protection->k1, datagram.subspan(kRmcpHeaderSize, covered_end - kRmcpHeaderSize));
    if (!equal_digest(ByteSpan(mac.data(), kIntegrityCodeSize), code)) {
      return make_error("bad integrity code (forged or corrupted packet)");
    }
  } else if (r.remaining() != 0) {
    return make_error("trailing bytes after the RMCP+ payload");
  }
  if (p.encrypted) {
    auto plain = decrypt_payload(*protection, body);
    if (!plain) return plain.error();
    p.payload = std::move(*plain);
  } else {
    p.payload.assign(body.begin(), body.end());
  }
  return p;
}

}  // namespace tandem::ipmi
