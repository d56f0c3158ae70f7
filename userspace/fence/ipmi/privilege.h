// IPMI privilege levels and the names fence agents use for them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::ipmi {

enum class Privilege : std::uint8_t {
  kCallback = 1,
  kUser = 2,
  kOperator = 3,
  kAdministrator = 4,
  kOem = 5,
};

// Accepts callback, user, operator, administrator/admin, oem (any case).
std::optional<Privilege> parse_privilege(std::string_view name);
std::string privilege_name(Privilege p);

}  // namespace tandem::ipmi
