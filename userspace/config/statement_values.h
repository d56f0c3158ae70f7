// Values of the structured statements of hosts and volumes: meta-disk and
// address (device: config/device_statement.h), plus the number and name
// rules they share. Each parser returns an error message without location
// that says what to write.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "config/syntax_tree.h"

namespace tandem::config {

// Resource and host names: no spaces, quotes, '/' or punctuation of the
// grammar, at most limits::kMaxNameBytes.
bool valid_name(std::string_view name);

// A plain decimal number in [min, max]; `what` names it in the error.
Result<uint32_t> parse_u32(std::string_view text, uint32_t min, uint32_t max,
                           std::string_view what);

// meta-disk internal | PATH | PATH [N] | PATH[N]; flexible-meta-disk PATH
Result<MetaDisk> parse_meta_disk(const std::vector<Argument>& args, bool flexible);

// address [ipv4|ipv6] IP:PORT (IPv6 in brackets); the host part is
// returned in canonical spelling.
Result<Address> parse_address(const std::vector<Argument>& args);

}  // namespace tandem::config
