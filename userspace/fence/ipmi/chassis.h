// Chassis commands (netFn 0x00): the power operations a fence agent needs.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "fence/ipmi/byte_io.h"
#include "fence/ipmi/ipmi_message.h"

namespace tandem::ipmi {

enum class ChassisControl : std::uint8_t {
  kPowerDown = 0x00,
  kPowerUp = 0x01,
  kPowerCycle = 0x02,
  kHardReset = 0x03,
  kDiagnosticInterrupt = 0x04,
  kSoftShutdown = 0x05,
};

struct ChassisStatus {
  bool power_on = false;
  bool power_overload = false;
  bool power_fault = false;
  std::uint8_t restore_policy = 0;  // 0 stay off, 1 restore, 2 power on, 3 unknown
};

IpmiRequest get_chassis_status_request();
Result<ChassisStatus> decode_chassis_status(ByteSpan data);
IpmiRequest chassis_control_request(ChassisControl control);
std::string chassis_control_name(ChassisControl control);

}  // namespace tandem::ipmi
