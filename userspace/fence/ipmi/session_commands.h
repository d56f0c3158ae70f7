// Requests and reply parsers for the App-netFn commands that set up,
// tune and end a session. Reply parsers take the data after the completion
// code and check its length.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "common/result.h"
#include "fence/ipmi/byte_io.h"
#include "fence/ipmi/ipmi_message.h"
#include "fence/ipmi/privilege.h"

namespace tandem::ipmi {

// Bits of the "authentication type support" byte (IPMI 1.5 types).
inline constexpr std::uint8_t kAuthSupportNone = 0x01;
inline constexpr std::uint8_t kAuthSupportMd2 = 0x02;
inline constexpr std::uint8_t kAuthSupportMd5 = 0x04;
inline constexpr std::uint8_t kAuthSupportPassword = 0x10;

struct ChannelAuthCapabilities {
  std::uint8_t channel = 0;
  std::uint8_t auth_types = 0;  // kAuthSupport* bits
  bool ipmi20 = false;          // RMCP+ sessions supported
  bool kg_set = false;          // the BMC has a non-default key KG
  bool per_message_auth_disabled = false;
  bool user_level_auth_disabled = false;
  bool non_null_usernames = false;
  bool null_usernames = false;
  bool anonymous_login = false;
};

// Asks about the current channel; `ipmi20` sets the bit that requests the
// IPMI 2.0 extended capabilities.
IpmiRequest get_channel_auth_capabilities_request(Privilege privilege, bool ipmi20);
Result<ChannelAuthCapabilities> decode_channel_auth_capabilities(ByteSpan data);

IpmiRequest set_session_privilege_request(Privilege privilege);
Result<Privilege> decode_set_session_privilege(ByteSpan data);
// Set Session Privilege Level has command-specific completion codes.
std::string set_session_privilege_error(std::uint8_t completion_code, Privilege requested);
// Succeeds when the reply grants exactly the requested level.
Result<void> check_privilege_granted(std::uint8_t completion_code, ByteSpan data,
                                     Privilege requested);

IpmiRequest close_session_request(std::uint32_t bmc_session_id);

// IPMI 1.5 session start.
struct SessionChallenge {
  std::uint32_t temporary_session_id = 0;
  std::array<std::uint8_t, 16> challenge{};
};
IpmiRequest get_session_challenge_request(std::uint8_t auth_type, std::string_view username);
Result<SessionChallenge> decode_session_challenge(ByteSpan data);

struct ActivatedSession {
  std::uint8_t auth_type = 0;
  std::uint32_t session_id = 0;
  std::uint32_t initial_outbound_seq = 0;  // the first sequence number we must send
  std::uint8_t max_privilege = 0;
};
IpmiRequest activate_session_request(std::uint8_t auth_type, Privilege privilege,
                                     const std::array<std::uint8_t, 16>& challenge,
                                     std::uint32_t initial_inbound_seq);
Result<ActivatedSession> decode_activate_session(ByteSpan data);

}  // namespace tandem::ipmi
