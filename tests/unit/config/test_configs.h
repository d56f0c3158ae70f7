// Building blocks for configuration texts used by several test files.
#pragma once

#include <string>

#include "config/config.h"

namespace tandem::config::test {

// Two well-formed hosts for resource bodies.
inline std::string two_hosts(const std::string& extra_first = "") {
  return "  on alpha { " + extra_first +
         "device /dev/drbd0; disk /dev/sda1; meta-disk internal; address 10.0.0.1:7789; }\n"
         "  on beta { device /dev/drbd0; disk /dev/sda1; meta-disk internal; "
         "address 10.0.0.2:7789; }\n";
}

// A complete configuration with one resource r0 whose body gets `body`
// in front of the two hosts.
inline std::string resource_with(const std::string& body) {
  return "resource r0 {\n" + body + "\n" + two_hosts() + "}\n";
}

// The error message of a load that must fail.
inline std::string load_error(const std::string& text, const std::string& name = "t.conf") {
  Result<Config> c = load_string(text, name);
  return c.ok() ? std::string("<loaded without error>") : c.error().message;
}

}  // namespace tandem::config::test
