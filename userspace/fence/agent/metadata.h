// fence-agents compatible metadata XML (`-o metadata`).
#pragma once

#include <string>

#include "fence/agent/agent.h"

namespace tandem::fence {

std::string metadata_xml(const AgentInfo& info);
std::string xml_escape(std::string_view text);

}  // namespace tandem::fence
