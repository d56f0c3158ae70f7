// Loading the configuration for a tandemadm verb: every verb that needs the
// resource configuration calls these, so that all verbs report a bad file
// the same way (errors with file:line on stderr, exit code kExitConfig).
#pragma once

#include <optional>
#include <string_view>

#include "config/config.h"
#include "verbs.h"

namespace tandem::adm {

// Loads and validates options.config_path. On failure prints every error to
// stderr and returns nullopt; the verb then returns kExitConfig.
std::optional<config::Config> load_config_or_report(const GlobalOptions& options);

// Loads the configuration and resolves `resource` as seen from
// options.node. On failure (bad file, unknown resource, this node not a host
// of the resource) prints why and returns nullopt; return kExitConfig.
std::optional<config::ResolvedResource> load_resource_or_report(const GlobalOptions& options,
                                                                std::string_view resource);

}  // namespace tandem::adm
