// Parses tokens into statements (config/syntax_tree.h), enforcing the
// nesting and argument-count limits. Includes are not followed here (the
// loader does that), so parsing is a pure function of the text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.h"
#include "config/syntax_tree.h"

namespace tandem::config {

std::vector<Statement> parse_statements(std::string_view text, const std::string& file,
                                        Diagnostics& diag);

}  // namespace tandem::config
