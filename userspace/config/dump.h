// The canonical form of a configuration: every option spelled out with its
// effective value, inheritance resolved (nothing in common { }, per-volume
// disk options only where they differ from the resource's). The text parses
// back into an equal configuration.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace tandem::config {

std::string dump_global(const GlobalOptions& global);

// `this_host` only adds a "# this host" marker to the matching section.
std::string dump_resource(const ResourceConfig& resource, std::string_view this_host);

// global { } followed by every resource (or only `resource` when given).
std::string dump_config(const Config& config, std::string_view this_host,
                        std::optional<std::string_view> resource = std::nullopt);

// A word as written in a configuration file: bare when it is a plain
// word, otherwise in double quotes with '"' and '\' escaped.
std::string quote_if_needed(std::string_view word);

}  // namespace tandem::config
