#include "fence/ipmi/session_commands.h"

#include <algorithm>

namespace tandem::ipmi {

namespace {
constexpr std::uint8_t kCurrentChannel = 0x0e;
constexpr std::uint8_t kRequestIpmi20Data = 0x80;
}  // namespace

IpmiRequest get_channel_auth_capabilities_request(Privilege privilege, bool ipmi20) {
  const auto channel =
      static_cast<std::uint8_t>(kCurrentChannel | (ipmi20 ? kRequestIpmi20Data : 0));
  return {
      kNetFnApp, kCmdGetChannelAuthCapabilities, {channel, static_cast<std::uint8_t>(privilege)}};
}

Result<ChannelAuthCapabilities> decode_channel_auth_capabilities(ByteSpan data) {
  if (data.size() < 8) {
    return make_error("Get Channel Authentication Capabilities reply has " +
                      std::to_string(data.size()) + " data bytes, expected 8");
  }
  ChannelAuthCapabilities c;
  c.channel = data[0];
  c.auth_types = static_cast<std::uint8_t>(data[1] & 0x3f);
  const bool extended = (data[1] & 0x80) != 0;
  c.kg_set = (data[2] & 0x20) != 0;
  c.per_message_auth_disabled = (data[2] & 0x10) != 0;
  c.user_level_auth_disabled = (data[2] & 0x08) != 0;
  c.non_null_usernames = (data[2] & 0x04) != 0;
  c.null_usernames = (data[2] & 0x02) != 0;
  c.anonymous_login = (data[2] & 0x01) != 0;
  c.ipmi20 = extended && (data[3] & 0x02) != 0;
  return c;
}

IpmiRequest set_session_privilege_request(Privilege privilege) {
  return {kNetFnApp, kCmdSetSessionPrivilegeLevel, {static_cast<std::uint8_t>(privilege)}};
}

Result<Privilege> decode_set_session_privilege(ByteSpan data) {
  if (data.empty()) return make_error("Set Session Privilege Level reply lacks the new level");
  const std::uint8_t level = data[0] & 0x0f;
  if (level < 1 || level > 5) {
    return make_error("Set Session Privilege Level reply has invalid level " +
                      std::to_string(level));
  }
  return static_cast<Privilege>(level);
}

std::string set_session_privilege_error(std::uint8_t completion_code, Privilege requested) {
  const std::string level = privilege_name(requested);
  switch (completion_code) {
    case 0x80:
      return "the BMC refused privilege level " + level +
             ": level not available for this user (use a lower --privlvl or give the user more "
             "rights on the BMC)";
    case 0x81:
      return "the BMC refused privilege level " + level +
             ": it exceeds the user's or the channel's privilege limit (use a lower --privlvl "
             "or raise the limit on the BMC)";
    case 0x82:
      return "the BMC refused privilege level " + level +
             ": cannot disable user-level authentication";
    default:
      return "Set Session Privilege Level to " + level +
             " failed: " + completion_code_text(completion_code);
  }
}

Result<void> check_privilege_granted(std::uint8_t completion_code, ByteSpan data,
                                     Privilege requested) {
  if (completion_code != 0) {
    return make_error(set_session_privilege_error(completion_code, requested));
  }
  auto granted = decode_set_session_privilege(data);
  if (!granted) return granted.error();
  if (*granted != requested) {
    return make_error("the BMC set the session to privilege " + privilege_name(*granted) +
                      " instead of the requested " + privilege_name(requested));
  }
  return {};
}

IpmiRequest close_session_request(std::uint32_t bmc_session_id) {
  Bytes data;
  ByteWriter(data).u32(bmc_session_id);
  return {kNetFnApp, kCmdCloseSession, data};
}

IpmiRequest get_session_challenge_request(std::uint8_t auth_type, std::string_view username) {
  Bytes data{auth_type};
  Bytes name(16, 0);
  std::copy_n(username.begin(), std::min<std::size_t>(username.size(), 16), name.begin());
  data.insert(data.end(), name.begin(), name.end());
  return {kNetFnApp, kCmdGetSessionChallenge, data};
}

Result<SessionChallenge> decode_session_challenge(ByteSpan data) {
  ByteReader r(data);
  SessionChallenge c;
  ByteSpan challenge;
  if (!r.u32(c.temporary_session_id) || !r.bytes(16, challenge)) {
    return make_error("Get Session Challenge reply truncated");
  }
  std::copy(challenge.begin(), challenge.end(), c.challenge.begin());
  return c;
}

IpmiRequest activate_session_request(std::uint8_t auth_type, Privilege privilege,
                                     const std::array<std::uint8_t, 16>& challenge,
                                     std::uint32_t initial_inbound_seq) {
  Bytes data;
  ByteWriter w(data);
  w.u8(auth_type);
  w.u8(static_cast<std::uint8_t>(privilege));
  w.bytes(challenge);
  w.u32(initial_inbound_seq);
  return {kNetFnApp, kCmdActivateSession, data};
}

Result<ActivatedSession> decode_activate_session(ByteSpan data) {
  ByteReader r(data);
  ActivatedSession a;
  if (!r.u8(a.auth_type) || !r.u32(a.session_id) || !r.u32(a.initial_outbound_seq) ||
      !r.u8(a.max_privilege)) {
    return make_error("Activate Session reply truncated");
  }
  a.auth_type &= 0x0f;
  a.max_privilege &= 0x0f;
  return a;
}

}  // namespace tandem::ipmi
