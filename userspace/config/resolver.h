// Applies inheritance (defaults -> common -> resource -> volume) to the
// declarations and checks the rules that span statements: hosts and
// addresses, volumes, dual-primary requirements, resync-after references.
#pragma once

#include <optional>

#include "config/config.h"
#include "config/declarations.h"
#include "config/diagnostics.h"

namespace tandem::config {

std::optional<Config> resolve_declarations(const Declarations& decls, Diagnostics& diag);

}  // namespace tandem::config
