// The IPMI LAN message that travels inside every session packet:
//   rsAddr, netFn/rsLUN, checksum1, rqAddr, rqSeq/rqLUN, cmd, data..., checksum2
// Requests go from the remote console (software id 0x81) to the BMC (0x20);
// responses come back with the addresses swapped, netFn + 1 and a completion
// code as their first data byte.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "fence/ipmi/byte_io.h"

namespace tandem::ipmi {

inline constexpr std::uint8_t kBmcSlaveAddress = 0x20;
inline constexpr std::uint8_t kRemoteConsoleSoftwareId = 0x81;

inline constexpr std::uint8_t kNetFnChassis = 0x00;
inline constexpr std::uint8_t kNetFnApp = 0x06;

inline constexpr std::uint8_t kCmdGetChassisStatus = 0x01;
inline constexpr std::uint8_t kCmdChassisControl = 0x02;
inline constexpr std::uint8_t kCmdGetChannelAuthCapabilities = 0x38;
inline constexpr std::uint8_t kCmdGetSessionChallenge = 0x39;
inline constexpr std::uint8_t kCmdActivateSession = 0x3a;
inline constexpr std::uint8_t kCmdSetSessionPrivilegeLevel = 0x3b;
inline constexpr std::uint8_t kCmdCloseSession = 0x3c;

// An IPMI message is at most a few dozen bytes for the commands we send;
// anything longer than this from the wire is refused.
inline constexpr std::size_t kMaxIpmiMessage = 255;

struct IpmiRequest {
  std::uint8_t netfn = 0;
  std::uint8_t cmd = 0;
  Bytes data;
};

struct IpmiResponse {
  std::uint8_t netfn = 0;  // the response netFn (request netFn + 1)
  std::uint8_t cmd = 0;
  std::uint8_t rq_seq = 0;
  std::uint8_t completion_code = 0;
  Bytes data;  // after the completion code
};

// Two's-complement checksum: the bytes plus the checksum sum to zero.
std::uint8_t ipmi_checksum(ByteSpan bytes);

Bytes encode_request(const IpmiRequest& request, std::uint8_t rq_seq);
// The BMC side, used by tests and fuzz seeds.
Bytes encode_response(const IpmiRequest& request, std::uint8_t rq_seq, std::uint8_t completion_code,
                      ByteSpan data);

// Parses and validates a response message: length bounds, both checksums,
// addresses, response netFn. Does not check that it answers a given request.
Result<IpmiResponse> decode_response(ByteSpan message);
// Parses a request as the BMC sees it (tests and the fake BMC).
Result<IpmiRequest> decode_request(ByteSpan message, std::uint8_t& rq_seq);

// Checks that `response` answers `request` sent with `rq_seq`.
Result<void> check_response_matches(const IpmiResponse& response, const IpmiRequest& request,
                                    std::uint8_t rq_seq);

std::string command_name(std::uint8_t netfn, std::uint8_t cmd);
std::string completion_code_text(std::uint8_t code);

}  // namespace tandem::ipmi
