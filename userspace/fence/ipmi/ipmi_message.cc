#include "fence/ipmi/ipmi_message.h"

#include <cstdio>

namespace tandem::ipmi {

namespace {

std::string hex2(std::uint8_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", v);
  return buf;
}

Bytes frame(std::uint8_t rs_addr, std::uint8_t netfn, std::uint8_t rq_addr, std::uint8_t rq_seq,
            std::uint8_t cmd, ByteSpan body) {
  Bytes out;
  ByteWriter w(out);
  w.u8(rs_addr);
  w.u8(static_cast<std::uint8_t>(netfn << 2));  // LUN 0
  w.u8(ipmi_checksum(ByteSpan(out.data(), 2)));
  w.u8(rq_addr);
  w.u8(static_cast<std::uint8_t>((rq_seq & 0x3f) << 2));
  w.u8(cmd);
  w.bytes(body);
  w.u8(ipmi_checksum(ByteSpan(out.data() + 3, out.size() - 3)));
  return out;
}

struct Frame {
  std::uint8_t first_addr, netfn, second_addr, seq, cmd;
  ByteSpan body;
};

Result<Frame> unframe(ByteSpan message) {
  if (message.size() < 7) {
    return make_error("IPMI message too short (" + std::to_string(message.size()) + " bytes)");
  }
  if (message.size() > kMaxIpmiMessage) {
    return make_error("IPMI message too long (" + std::to_string(message.size()) + " bytes)");
  }
  if (ipmi_checksum(message.first(2)) != message[2]) {
    return make_error("IPMI message header checksum mismatch");
  }
  if (ipmi_checksum(message.subspan(3, message.size() - 4)) != message.back()) {
    return make_error("IPMI message data checksum mismatch");
  }
  Frame f{};
  f.first_addr = message[0];
  f.netfn = static_cast<std::uint8_t>(message[1] >> 2);
  f.second_addr = message[3];
  f.seq = static_cast<std::uint8_t>(message[4] >> 2);
  f.cmd = message[5];
  f.body = message.subspan(6, message.size() - 7);
  return f;
}

}  // namespace

std::uint8_t ipmi_checksum(ByteSpan bytes) {
  std::uint8_t sum = 0;
  for (std::uint8_t b : bytes) sum = static_cast<std::uint8_t>(sum + b);
  return static_cast<std::uint8_t>(-sum);
}

Bytes encode_request(const IpmiRequest& request, std::uint8_t rq_seq) {
  return frame(kBmcSlaveAddress, request.netfn, kRemoteConsoleSoftwareId, rq_seq, request.cmd,
               request.data);
}

Bytes encode_response(const IpmiRequest& request, std::uint8_t rq_seq, std::uint8_t completion_code,
                      ByteSpan data) {
  Bytes body{completion_code};
  body.insert(body.end(), data.begin(), data.end());
  return frame(kRemoteConsoleSoftwareId, static_cast<std::uint8_t>(request.netfn | 1),
               kBmcSlaveAddress, rq_seq, request.cmd, body);
}

Result<IpmiResponse> decode_response(ByteSpan message) {
  auto f = unframe(message);
  if (!f) return f.error();
  if (f->first_addr != kRemoteConsoleSoftwareId || f->second_addr != kBmcSlaveAddress) {
    return make_error("IPMI response addressed " + hex2(f->second_addr) + " -> " +
                      hex2(f->first_addr) + ", expected BMC 0x20 -> console 0x81");
  }
  if ((f->netfn & 1) == 0) return make_error("IPMI message is a request, not a response");
  if (f->body.empty()) return make_error("IPMI response without a completion code");
  IpmiResponse r;
  r.netfn = f->netfn;
  r.cmd = f->cmd;
  r.rq_seq = f->seq;
  r.completion_code = f->body[0];
  r.data.assign(f->body.begin() + 1, f->body.end());
  return r;
}

Result<IpmiRequest> decode_request(ByteSpan message, std::uint8_t& rq_seq) {
  auto f = unframe(message);
  if (!f) return f.error();
  if (f->first_addr != kBmcSlaveAddress || (f->netfn & 1) != 0) {
    return make_error("IPMI message is not a request to the BMC");
  }
  rq_seq = f->seq;
  return IpmiRequest{f->netfn, f->cmd, Bytes(f->body.begin(), f->body.end())};
}

Result<void> check_response_matches(const IpmiResponse& response, const IpmiRequest& request,
                                    std::uint8_t rq_seq) {
  if (response.netfn != (request.netfn | 1) || response.cmd != request.cmd) {
    return make_error("reply is for " + command_name(response.netfn, response.cmd) + ", not " +
                      command_name(request.netfn, request.cmd));
  }
  if (response.rq_seq != (rq_seq & 0x3f)) {
    return make_error("reply has request sequence " + std::to_string(response.rq_seq) +
                      ", expected " + std::to_string(rq_seq & 0x3f) + " (stale or forged)");
  }
  return {};
}

std::string command_name(std::uint8_t netfn, std::uint8_t cmd) {
  const std::uint8_t base = static_cast<std::uint8_t>(netfn & ~1);
  if (base == kNetFnChassis) {
    if (cmd == kCmdGetChassisStatus) return "Get Chassis Status";
    if (cmd == kCmdChassisControl) return "Chassis Control";
  }
  if (base == kNetFnApp) {
    switch (cmd) {
      case kCmdGetChannelAuthCapabilities:
        return "Get Channel Authentication Capabilities";
      case kCmdGetSessionChallenge:
        return "Get Session Challenge";
      case kCmdActivateSession:
        return "Activate Session";
      case kCmdSetSessionPrivilegeLevel:
        return "Set Session Privilege Level";
      case kCmdCloseSession:
        return "Close Session";
      default:
        break;
    }
  }
  return "command netfn " + hex2(base) + " cmd " + hex2(cmd);
}

std::string completion_code_text(std::uint8_t code) {
  const char* text = nullptr;
  switch (code) {
    case 0x00:
      text = "success";
      break;
    case 0xc0:
      text = "node busy";
      break;
    case 0xc1:
      text = "invalid command";
      break;
    case 0xc3:
      text = "timeout while processing command";
      break;
    case 0xc4:
      text = "out of space";
      break;
    case 0xc7:
      text = "request data length invalid";
      break;
    case 0xc9:
      text = "parameter out of range";
      break;
    case 0xcc:
      text = "invalid data field in request";
      break;
    case 0xcd:
      text = "command illegal for sensor or record type";
      break;
    case 0xce:
      text = "command response could not be provided";
      break;
    case 0xd4:
      text = "insufficient privilege level";
      break;
    case 0xd5:
      text = "command not supported in present state";
      break;
    case 0xff:
      text = "unspecified error";
      break;
    default:
      break;
  }
  std::string out = "completion code " + hex2(code);
  if (text) out += std::string(" (") + text + ")";
  return out;
}

}  // namespace tandem::ipmi
