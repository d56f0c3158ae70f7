#include "fence/ipmi/chassis.h"

namespace tandem::ipmi {

IpmiRequest get_chassis_status_request() {
  return {kNetFnChassis, kCmdGetChassisStatus, {}};
}

Result<ChassisStatus> decode_chassis_status(ByteSpan data) {
  // Current power state, last power event and misc chassis state are
  // mandatory; the front panel byte is optional.
  if (data.size() < 3 || data.size() > 4) {
    return make_error("Get Chassis Status reply has " + std::to_string(data.size()) +
                      " data bytes, expected 3 or 4");
  }
  ChassisStatus s;
  s.power_on = (data[0] & 0x01) != 0;
  s.power_overload = (data[0] & 0x02) != 0;
  s.power_fault = (data[0] & 0x08) != 0;
  s.restore_policy = static_cast<std::uint8_t>((data[0] >> 5) & 0x03);
  return s;
}

IpmiRequest chassis_control_request(ChassisControl control) {
  return {kNetFnChassis, kCmdChassisControl, {static_cast<std::uint8_t>(control)}};
}

std::string chassis_control_name(ChassisControl control) {
  switch (control) {
    case ChassisControl::kPowerDown:
      return "power down";
    case ChassisControl::kPowerUp:
      return "power up";
    case ChassisControl::kPowerCycle:
      return "power cycle";
    case ChassisControl::kHardReset:
      return "hard reset";
    case ChassisControl::kDiagnosticInterrupt:
      return "diagnostic interrupt";
    case ChassisControl::kSoftShutdown:
      return "soft shutdown";
  }
  return "unknown chassis control";
}

}  // namespace tandem::ipmi
