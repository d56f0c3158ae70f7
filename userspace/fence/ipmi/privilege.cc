#include "fence/ipmi/privilege.h"

#include <algorithm>
#include <cctype>

namespace tandem::ipmi {

std::optional<Privilege> parse_privilege(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "callback") return Privilege::kCallback;
  if (lower == "user") return Privilege::kUser;
  if (lower == "operator") return Privilege::kOperator;
  if (lower == "administrator" || lower == "admin") return Privilege::kAdministrator;
  if (lower == "oem") return Privilege::kOem;
  return std::nullopt;
}

std::string privilege_name(Privilege p) {
  switch (p) {
    case Privilege::kCallback:
      return "callback";
    case Privilege::kUser:
      return "user";
    case Privilege::kOperator:
      return "operator";
    case Privilege::kAdministrator:
      return "administrator";
    case Privilege::kOem:
      return "oem";
  }
  return "unknown";
}

}  // namespace tandem::ipmi
