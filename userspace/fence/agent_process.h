// Runs one fence agent as a child process: finds the program, feeds it its
// name=value options on stdin, collects its output (bounded), kills it (and
// its process group) when it runs past its timeout.
#pragma once

#include <string>
#include <vector>

#include "fence/fence_plan.h"

namespace tandem::fence {

struct AgentSearchPath {
  // Directories searched for agents named without a '/'. The environment
  // variable TANDEM_FENCE_AGENT_PATH (colon-separated) is searched first.
  std::vector<std::string> directories = {"/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin"};
};

// Absolute path of the agent program, or an error naming the directories searched.
Result<std::string> find_agent(const std::string& agent, const AgentSearchPath& path);

// Runs the agent for `device` and waits for it. Never throws; a program
// that cannot be found or started yields exit_code -1 and a detail saying why.
AgentOutcome run_agent_process(const DeviceInvocation& device, const AgentSearchPath& path);

}  // namespace tandem::fence
