// fence_tandem_manual: fencing by a human. "Off" (and reboot) records a
// request, tells the administrator to reset the node by hand and how to
// acknowledge it (`tandemadm fence-ack NODE`), and waits for that
// acknowledgement, for the node rejoining cleanly, or for ack_timeout.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "fence/agent/agent.h"
#include "fence/manual_ack.h"

namespace tandem::fence {

inline constexpr double kDefaultManualAckTimeout = 300;  // seconds

AgentInfo manual_agent_info();

class ManualAgent : public Agent {
 public:
  explicit ManualAgent(std::FILE* notice_out = stderr) : notice_out_(notice_out) {}

  Result<void> configure(const AgentOptions& options) override;
  // The agent cannot see power; a node counts as on until fenced.
  Result<PowerState> power_status() override { return PowerState::kOn; }
  Result<void> set_power(PowerState target) override;

 private:
  std::FILE* notice_out_;
  std::string node_;
  std::string run_dir_;
  bool run_dir_given_ = false;
  std::chrono::milliseconds ack_timeout_{0};
};

}  // namespace tandem::fence
