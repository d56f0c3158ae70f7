// Gives meaning to parsed statements: knows which keyword may appear in
// which section, checks every value (config/options.h) and records what was
// declared, with locations, for the resolver.
#pragma once

#include <vector>

#include "config/declarations.h"
#include "config/diagnostics.h"
#include "config/syntax_tree.h"

namespace tandem::config {

// `statements` are the top-level statements of the main file with includes
// already spliced in by the loader.
Declarations declare(const std::vector<Statement>& statements, Diagnostics& diag);

}  // namespace tandem::config
