#include "fence/ipmi/rakp.h"

#include <algorithm>

namespace tandem::ipmi {

namespace {

constexpr std::uint8_t kAlgAuthentication = 0x00;
constexpr std::uint8_t kAlgIntegrity = 0x01;
constexpr std::uint8_t kAlgConfidentiality = 0x02;
constexpr std::size_t kAlgorithmRecordSize = 8;

void write_algorithm(ByteWriter& w, std::uint8_t kind, std::uint8_t algorithm) {
  w.u8(kind);
  w.zeros(2);
  w.u8(kAlgorithmRecordSize);
  w.u8(algorithm);
  w.zeros(3);
}

bool read_algorithm(ByteReader& r, std::uint8_t kind, std::uint8_t& algorithm) {
  std::uint8_t got_kind = 0, length = 0;
  return r.u8(got_kind) && got_kind == kind && r.skip(2) && r.u8(length) &&
         length == kAlgorithmRecordSize && r.u8(algorithm) && r.skip(3);
}

Error truncated(const char* what) {
  return make_error(std::string(what) + " truncated");
}

void copy16(ByteSpan src, Random16& dst) {
  std::copy(src.begin(), src.end(), dst.begin());
}

}  // namespace

Bytes encode_open_session_request(const OpenSessionRequest& m) {
  Bytes out;
  ByteWriter w(out);
  w.u8(m.tag);
  w.u8(m.max_privilege);
  w.zeros(2);
  w.u32(m.console_session_id);
  write_algorithm(w, kAlgAuthentication, m.suite.authentication);
  write_algorithm(w, kAlgIntegrity, m.suite.integrity);
  write_algorithm(w, kAlgConfidentiality, m.suite.confidentiality);
  return out;
}

Result<OpenSessionRequest> decode_open_session_request(ByteSpan payload) {
  ByteReader r(payload);
  OpenSessionRequest m;
  if (!r.u8(m.tag) || !r.u8(m.max_privilege) || !r.skip(2) || !r.u32(m.console_session_id) ||
      !read_algorithm(r, kAlgAuthentication, m.suite.authentication) ||
      !read_algorithm(r, kAlgIntegrity, m.suite.integrity) ||
      !read_algorithm(r, kAlgConfidentiality, m.suite.confidentiality)) {
    return truncated("Open Session Request");
  }
  m.suite.id = -1;
  return m;
}

Bytes encode_open_session_response(const OpenSessionResponse& m) {
  Bytes out;
  ByteWriter w(out);
  w.u8(m.tag);
  w.u8(m.status);
  w.u8(m.max_privilege);
  w.u8(0);
  w.u32(m.console_session_id);
  if (m.status != 0) return out;
  w.u32(m.bmc_session_id);
  write_algorithm(w, kAlgAuthentication, m.authentication);
  write_algorithm(w, kAlgIntegrity, m.integrity);
  write_algorithm(w, kAlgConfidentiality, m.confidentiality);
  return out;
}

Result<OpenSessionResponse> decode_open_session_response(ByteSpan payload) {
  ByteReader r(payload);
  OpenSessionResponse m;
  if (!r.u8(m.tag) || !r.u8(m.status) || !r.u8(m.max_privilege) || !r.skip(1) ||
      !r.u32(m.console_session_id)) {
    return truncated("Open Session Response");
  }
  if (m.status != 0) return m;  // an error response stops after the console session id
  if (!r.u32(m.bmc_session_id) || !read_algorithm(r, kAlgAuthentication, m.authentication) ||
      !read_algorithm(r, kAlgIntegrity, m.integrity) ||
      !read_algorithm(r, kAlgConfidentiality, m.confidentiality)) {
    return make_error("Open Session Response truncated or its algorithm records malformed");
  }
  if (r.remaining() != 0) return make_error("trailing bytes after the Open Session Response");
  return m;
}

Bytes encode_rakp1(const Rakp1& m) {
  Bytes out;
  ByteWriter w(out);
  w.u8(m.tag);
  w.zeros(3);
  w.u32(m.bmc_session_id);
  w.bytes(m.console_random);
  w.u8(m.role);
  w.zeros(2);
  w.u8(static_cast<std::uint8_t>(m.username.size()));
  w.bytes(ByteSpan(reinterpret_cast<const std::uint8_t*>(m.username.data()), m.username.size()));
  return out;
}

Result<Rakp1> decode_rakp1(ByteSpan payload) {
  ByteReader r(payload);
  Rakp1 m;
  ByteSpan random, name;
  std::uint8_t name_len = 0;
  if (!r.u8(m.tag) || !r.skip(3) || !r.u32(m.bmc_session_id) || !r.bytes(16, random) ||
      !r.u8(m.role) || !r.skip(2) || !r.u8(name_len)) {
    return truncated("RAKP Message 1");
  }
  if (name_len > kMaxUsername || !r.bytes(name_len, name)) {
    return make_error("RAKP Message 1 user name length invalid");
  }
  copy16(random, m.console_random);
  m.username.assign(name.begin(), name.end());
  return m;
}

Bytes encode_rakp2(const Rakp2& m) {
  Bytes out;
  ByteWriter w(out);
  w.u8(m.tag);
  w.u8(m.status);
  w.zeros(2);
  w.u32(m.console_session_id);
  if (m.status != 0) return out;
  w.bytes(m.bmc_random);
  w.bytes(m.bmc_guid);
  w.bytes(m.key_exchange_code);
  return out;
}

Result<Rakp2> decode_rakp2(ByteSpan payload, std::size_t code_size) {
  ByteReader r(payload);
  Rakp2 m;
  if (!r.u8(m.tag) || !r.u8(m.status) || !r.skip(2) || !r.u32(m.console_session_id)) {
    return truncated("RAKP Message 2");
  }
  if (m.status != 0) return m;
  ByteSpan random, guid, code;
  if (!r.bytes(16, random) || !r.bytes(16, guid) || !r.bytes(code_size, code)) {
    return truncated("RAKP Message 2");
  }
  if (r.remaining() != 0) {
    return make_error("RAKP Message 2 key exchange code is longer than the cipher suite's " +
                      std::to_string(code_size) + " bytes");
  }
  copy16(random, m.bmc_random);
  copy16(guid, m.bmc_guid);
  m.key_exchange_code.assign(code.begin(), code.end());
  return m;
}

Bytes encode_rakp3(const Rakp3& m) {
  Bytes out;
  ByteWriter w(out);
  w.u8(m.tag);
  w.u8(m.status);
  w.zeros(2);
  w.u32(m.bmc_session_id);
  w.bytes(m.key_exchange_code);
  return out;
}

Result<Rakp3> decode_rakp3(ByteSpan payload, std::size_t code_size) {
  ByteReader r(payload);
  Rakp3 m;
  if (!r.u8(m.tag) || !r.u8(m.status) || !r.skip(2) || !r.u32(m.bmc_session_id)) {
    return truncated("RAKP Message 3");
  }
  if (m.status != 0) return m;
  ByteSpan code;
  if (!r.bytes(code_size, code) || r.remaining() != 0) {
    return make_error("RAKP Message 3 key exchange code has the wrong length");
  }
  m.key_exchange_code.assign(code.begin(), code.end());
  return m;
}

Bytes encode_rakp4(const Rakp4& m) {
  Bytes out;
  ByteWriter w(out);
  w.u8(m.tag);
  w.u8(m.status);
  w.zeros(2);
  w.u32(m.console_session_id);
  if (m.status != 0) return out;
  w.bytes(m.integrity_check_value);
  return out;
}

Result<Rakp4> decode_rakp4(ByteSpan payload, std::size_t icv_size) {
  ByteReader r(payload);
  Rakp4 m;
  if (!r.u8(m.tag) || !r.u8(m.status) || !r.skip(2) || !r.u32(m.console_session_id)) {
    return truncated("RAKP Message 4");
  }
  if (m.status != 0) return m;
  ByteSpan icv;
  if (!r.bytes(icv_size, icv) || r.remaining() != 0) {
    return make_error("RAKP Message 4 integrity check value has the wrong length");
  }
  m.integrity_check_value.assign(icv.begin(), icv.end());
  return m;
}

Key20 password_key(std::string_view password) {
  Key20 key{};
  std::copy_n(password.begin(), std::min(password.size(), key.size()), key.begin());
  return key;
}

namespace {

void write_name(ByteWriter& w, const RakpTranscript& t) {
  w.u8(t.role);
  w.u8(static_cast<std::uint8_t>(t.username.size()));
  w.bytes(ByteSpan(reinterpret_cast<const std::uint8_t*>(t.username.data()), t.username.size()));
}

}  // namespace

Sha1Digest rakp2_key_exchange_code(ByteSpan kuid, const RakpTranscript& t) {
  Bytes in;
  ByteWriter w(in);
  w.u32(t.console_session_id);
  w.u32(t.bmc_session_id);
  w.bytes(t.console_random);
  w.bytes(t.bmc_random);
  w.bytes(t.bmc_guid);
  write_name(w, t);
  return hmac_sha1(kuid, in);
}

Sha1Digest rakp3_key_exchange_code(ByteSpan kuid, const RakpTranscript& t) {
  Bytes in;
  ByteWriter w(in);
  w.bytes(t.bmc_random);
  w.u32(t.console_session_id);
  write_name(w, t);
  return hmac_sha1(kuid, in);
}

Sha1Digest session_integrity_key(ByteSpan kg, const RakpTranscript& t) {
  Bytes in;
  ByteWriter w(in);
  w.bytes(t.console_random);
  w.bytes(t.bmc_random);
  write_name(w, t);
  return hmac_sha1(kg, in);
}

Sha1Digest rakp4_integrity_check_value(ByteSpan sik, const RakpTranscript& t) {
  Bytes in;
  ByteWriter w(in);
  w.bytes(t.console_random);
  w.u32(t.bmc_session_id);
  w.bytes(t.bmc_guid);
  return hmac_sha1(sik, in);
}

Sha1Digest derive_additional_key(ByteSpan sik, std::uint8_t constant) {
  const Bytes c(20, constant);
  return hmac_sha1(sik, c);
}

std::string rakp_status_text(std::uint8_t status) {
  switch (status) {
    case 0x00:
      return "no errors";
    case 0x01:
      return "insufficient resources to create a session";
    case 0x02:
      return "invalid session ID";
    case 0x03:
      return "invalid payload type";
    case 0x04:
      return "invalid authentication algorithm";
    case 0x05:
      return "invalid integrity algorithm";
    case 0x06:
      return "no matching authentication payload";
    case 0x07:
      return "no matching integrity payload";
    case 0x08:
      return "inactive session ID";
    case 0x09:
      return "invalid role";
    case 0x0a:
      return "unauthorized role or privilege level requested";
    case 0x0b:
      return "insufficient resources to create a session at the requested role";
    case 0x0c:
      return "invalid name length";
    case 0x0d:
      return "unauthorized name (unknown user)";
    case 0x0e:
      return "unauthorized GUID";
    case 0x0f:
      return "invalid integrity check value";
    case 0x10:
      return "invalid confidentiality algorithm";
    case 0x11:
      return "no cipher suite match with proposed security algorithms";
    case 0x12:
      return "illegal or unrecognized parameter";
    default:
      return "RMCP+ status " + std::to_string(status);
  }
}

}  // namespace tandem::ipmi
