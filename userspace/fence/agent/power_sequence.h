// The power actions shared by every agent: set a state and wait until the
// device reads it back, and the reboot sequence (off, wait off, on, wait on;
// or one power cycle).
#pragma once

#include <string>

#include "common/result.h"
#include "fence/agent/agent.h"

namespace tandem::fence {

struct PowerTiming {
  double power_wait = 0;      // seconds to wait after a power command before reading status
  double power_timeout = 20;  // seconds to keep reading status until it matches
  double poll_interval = 1;   // seconds between status reads
  int retry_on = 1;           // attempts to switch on
  bool readback = true;       // AgentInfo::power_state_readback
};

// Switches to `target` (does nothing but confirm when already there).
Result<void> set_power_and_wait(Agent& agent, PowerState target, const PowerTiming& timing,
                                const AgentRuntime& runtime);

// reboot: off (confirmed), then on. Success once off is confirmed; a failed
// power-on afterwards is reported as a warning in `warning`, because the
// node is fenced either way. With `cycle` a single power cycle is used.
Result<void> reboot(Agent& agent, bool cycle, const PowerTiming& timing,
                    const AgentRuntime& runtime, std::string* warning);

}  // namespace tandem::fence
