#include "fake_bmc.h"

#include <algorithm>

#include "fence/ipmi/lan15_session.h"
#include "fence/ipmi/session_commands.h"

namespace tandem::ipmi::testing {

RandomSource counter_random(std::uint8_t seed) {
  auto next = std::make_shared<std::uint8_t>(seed);
  return [next](std::span<std::uint8_t> out) {
    for (auto& b : out) b = (*next)++;
  };
}

std::optional<Bytes> FakeBmc::handle(ByteSpan datagram) {
  auto auth = peek_auth_type(datagram);
  if (!auth) return std::nullopt;
  if (*auth == kAuthTypeRmcpPlus) return handle_lanplus(datagram);
  return handle_lan15(datagram);
}

Bytes FakeBmc::answer(const IpmiRequest& request, std::uint8_t rq_seq) {
  std::uint8_t cc = 0;
  Bytes data;
  if (request.netfn == kNetFnApp && request.cmd == kCmdSetSessionPrivilegeLevel) {
    cc = set_privilege_cc;
    if (!request.data.empty() && request.data[0] > static_cast<std::uint8_t>(user_.max_privilege)) {
      cc = 0x81;
    }
    data = {granted_privilege.value_or(request.data.empty() ? std::uint8_t{0} : request.data[0])};
  } else if (request.netfn == kNetFnChassis && request.cmd == kCmdGetChassisStatus) {
    data = {static_cast<std::uint8_t>(power_on ? 1 : 0), 0, 0};
  } else if (request.netfn == kNetFnChassis && request.cmd == kCmdChassisControl) {
    const std::uint8_t control = request.data.empty() ? 0xff : request.data[0];
    controls.push_back(control);
    if (control == 0) power_on = false;
    if (control == 1 || control == 2 || control == 3) power_on = true;
  } else if (request.netfn == kNetFnApp && request.cmd == kCmdCloseSession) {
    session_closed = true;
  } else {
    cc = 0xc1;
  }
  return encode_response(request, rq_seq, cc, data);
}

std::array<std::uint8_t, 16> FakeBmc::lan15_auth_code(std::uint32_t session_id, ByteSpan message,
                                                      std::uint32_t seq) const {
  std::array<std::uint8_t, 16> code{};
  if (lan15_auth_ == kAuthTypeMd5) {
    code = lan15_md5_auth_code(user_.password, session_id, message, seq);
  } else if (lan15_auth_ == kAuthTypePassword) {
    std::copy_n(user_.password.begin(), std::min<std::size_t>(user_.password.size(), 16),
                code.begin());
  }
  return code;
}

std::optional<Bytes> FakeBmc::handle_lan15(ByteSpan datagram) {
  auto packet = decode_lan15(datagram);
  if (!packet) return std::nullopt;
  std::uint8_t rq_seq = 0;
  auto request = decode_request(packet->message, rq_seq);
  if (!request) return std::nullopt;
  Lan15Packet reply;
  if (packet->session_id == 0) {
    if (request->cmd == kCmdGetChannelAuthCapabilities) {
      const Bytes caps{1,
                       static_cast<std::uint8_t>((offer_ipmi20 ? 0x80 : 0) | 0x15),
                       static_cast<std::uint8_t>(kg ? 0x24 : 0x04),
                       static_cast<std::uint8_t>(offer_ipmi20 ? 0x03 : 0x01),
                       0,
                       0,
                       0,
                       0};
      reply.message = encode_response(*request, rq_seq, 0, caps);
    } else if (request->cmd == kCmdGetSessionChallenge) {
      std::string name(request->data.begin() + 1, request->data.end());
      name.erase(std::find(name.begin(), name.end(), '\0'), name.end());
      lan15_auth_ = request->data[0];
      if (name != user_.name) {
        reply.message = encode_response(*request, rq_seq, 0x81, {});
      } else {
        Bytes data;
        ByteWriter w(data);
        w.u32(temp_session_id_);
        w.bytes(challenge_);
        reply.message = encode_response(*request, rq_seq, 0, data);
      }
    } else {
      return std::nullopt;
    }
    return encode_lan15(reply);
  }
  // In session (temporary id for Activate Session): check the MD5 code.
  if (packet->auth_type != lan15_auth_) return std::nullopt;
  if (packet->auth_code !=
      lan15_auth_code(packet->session_id, packet->message, packet->session_seq)) {
    return std::nullopt;  // a real BMC drops packets it cannot authenticate
  }
  reply.auth_type = lan15_auth_;
  if (packet->session_id == temp_session_id_ && request->cmd == kCmdActivateSession) {
    reply.session_id = temp_session_id_;
    const std::uint8_t priv = request->data[1];
    if (priv > static_cast<std::uint8_t>(user_.max_privilege)) {
      reply.message = encode_response(*request, rq_seq, 0x86, {});
    } else {
      ByteReader r(ByteSpan(request->data).subspan(18));
      r.u32(lan15_out_seq_);
      Bytes data;
      ByteWriter w(data);
      w.u8(lan15_auth_);
      w.u32(lan15_session_id_);
      w.u32(lan15_expected_in_);
      w.u8(priv);
      reply.message = encode_response(*request, rq_seq, 0, data);
      lan15_active_ = true;
    }
  } else if (lan15_active_ && packet->session_id == lan15_session_id_) {
    if (packet->session_seq < lan15_expected_in_) return std::nullopt;
    lan15_expected_in_ = packet->session_seq + 1;
    reply.session_id = lan15_session_id_;
    reply.session_seq = lan15_out_seq_++;
    reply.message = answer(*request, rq_seq);
  } else {
    return std::nullopt;
  }
  reply.auth_code = lan15_auth_code(reply.session_id, reply.message, reply.session_seq);
  return encode_lan15(reply);
}

Bytes FakeBmc::lanplus_reply(std::uint32_t session_id, std::uint32_t seq, ByteSpan message) {
  const Bytes iv(16, 0x3c);
  auto out = encode_lanplus(kPayloadIpmi, session_id, seq, message, &protection_, iv);
  return out ? *out : Bytes{};
}

std::optional<Bytes> FakeBmc::handle_lanplus(ByteSpan datagram) {
  if (active_) {
    auto packet = decode_lanplus(datagram, &protection_);
    if (!packet || packet->session_id != bmc_session_id) return std::nullopt;
    std::uint8_t rq_seq = 0;
    auto request = decode_request(packet->payload, rq_seq);
    if (!request) return std::nullopt;
    return lanplus_reply(transcript_.console_session_id, next_out_seq(), answer(*request, rq_seq));
  }
  auto packet = decode_lanplus(datagram, nullptr);
  if (!packet) return std::nullopt;
  auto send = [](std::uint8_t type, const Bytes& payload) -> std::optional<Bytes> {
    auto out = encode_lanplus(type, 0, 0, payload, nullptr, {});
    if (!out) return std::nullopt;
    return *out;
  };
  switch (packet->payload_type) {
    case kPayloadOpenSessionRequest: {
      auto open = decode_open_session_request(packet->payload);
      if (!open) return std::nullopt;
      transcript_.console_session_id = open->console_session_id;
      transcript_.bmc_session_id = bmc_session_id;
      suite_ = open->suite;
      OpenSessionResponse r;
      r.tag = open->tag;
      r.max_privilege = open->max_privilege;
      r.console_session_id = open->console_session_id;
      r.bmc_session_id = bmc_session_id;
      r.authentication = open->suite.authentication;
      r.integrity = open->suite.integrity;
      r.confidentiality = open->suite.confidentiality;
      return send(kPayloadOpenSessionResponse, encode_open_session_response(r));
    }
    case kPayloadRakp1: {
      auto rakp1 = decode_rakp1(packet->payload);
      if (!rakp1 || rakp1->bmc_session_id != bmc_session_id) return std::nullopt;
      transcript_.console_random = rakp1->console_random;
      transcript_.role = rakp1->role;
      transcript_.username = rakp1->username;
      for (std::size_t i = 0; i < 16; ++i) {
        transcript_.bmc_random[i] = static_cast<std::uint8_t>(0x10 + i);
      }
      transcript_.bmc_guid = guid;
      Rakp2 r;
      r.tag = rakp1->tag;
      r.status = rakp2_status;
      if (rakp1->username != user_.name) r.status = 0x0d;
      r.console_session_id = transcript_.console_session_id;
      r.bmc_random = transcript_.bmc_random;
      r.bmc_guid = guid;
      if (suite_.authentication == kAuthRakpHmacSha1) {
        const auto code = rakp2_key_exchange_code(password_key(user_.password), transcript_);
        r.key_exchange_code.assign(code.begin(), code.end());
      }
      return send(kPayloadRakp2, encode_rakp2(r));
    }
    case kPayloadRakp3: {
      auto rakp3 = decode_rakp3(packet->payload, suite_.key_exchange_code_size());
      if (!rakp3) return std::nullopt;
      Rakp4 r;
      r.tag = rakp3->tag;
      r.console_session_id = transcript_.console_session_id;
      if (rakp3->status != 0) return std::nullopt;
      const Key20 kuid = password_key(user_.password);
      if (suite_.authentication == kAuthRakpHmacSha1) {
        const auto expected = rakp3_key_exchange_code(kuid, transcript_);
        if (!std::equal(expected.begin(), expected.end(), rakp3->key_exchange_code.begin(),
                        rakp3->key_exchange_code.end())) {
          r.status = 0x0f;
          return send(kPayloadRakp4, encode_rakp4(r));
        }
        const auto sik = session_integrity_key(kg ? ByteSpan(*kg) : ByteSpan(kuid), transcript_);
        const auto icv = rakp4_integrity_check_value(sik, transcript_);
        r.integrity_check_value.assign(icv.begin(), icv.begin() + 12);
        const auto k1 = derive_additional_key(sik, 1);
        const auto k2 = derive_additional_key(sik, 2);
        std::copy(k1.begin(), k1.end(), protection_.k1.begin());
        std::copy(k2.begin(), k2.end(), protection_.k2.begin());
      }
      protection_.integrity = suite_.integrity == kIntegrityHmacSha1_96;
      protection_.confidentiality = suite_.confidentiality == kConfidentialityAesCbc128;
      active_ = true;
      return send(kPayloadRakp4, encode_rakp4(r));
    }
    default:
      return std::nullopt;
  }
}

}  // namespace tandem::ipmi::testing
