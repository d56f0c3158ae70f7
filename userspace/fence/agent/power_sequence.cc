#include "fence/agent/power_sequence.h"

#include <chrono>
#include <cstdio>
#include <string>

#include "fence/agent/secrets.h"

namespace tandem::fence {

namespace {

const char* state_name(PowerState s) {
  return s == PowerState::kOn ? "on" : "off";
}

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000.0));
}

std::string format_seconds(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", seconds);
  return buf;
}

}  // namespace

Result<void> set_power_and_wait(Agent& agent, PowerState target, const PowerTiming& timing,
                                const AgentRuntime& runtime) {
  if (timing.readback) {
    auto current = agent.power_status();
    if (!current) return current.error();
    if (*current == target) return {};
  }
  const int attempts = (target == PowerState::kOn && timing.retry_on > 1) ? timing.retry_on : 1;
  std::string last_problem;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (auto r = agent.set_power(target); !r) {
      // Without a status read-back the agent's own message says it all.
      if (!timing.readback && attempt == attempts) return r;
      last_problem = r.error().message;
      continue;
    }
    if (timing.power_wait > 0) runtime.sleep(to_ms(timing.power_wait));
    if (!timing.readback) return {};

    const auto deadline = runtime.now() + to_ms(timing.power_timeout);
    while (true) {
      auto state = agent.power_status();
      if (state && *state == target) return {};
      last_problem = state ? std::string("the device still reports power ") + state_name(*state)
                           : "reading the power status failed: " + state.error().message;
      if (runtime.now() >= deadline) break;
      runtime.sleep(to_ms(timing.poll_interval));
    }
  }
  return make_error(redact(std::string("could not switch power ") + state_name(target) +
                           " (waited " + format_seconds(timing.power_timeout) +
                           " s, power_timeout): " + last_problem));
}

Result<void> reboot(Agent& agent, bool cycle, const PowerTiming& timing,
                    const AgentRuntime& runtime, std::string* warning) {
  if (cycle) {
    if (auto r = agent.power_cycle(); !r) return r.error();
    if (timing.power_wait > 0) runtime.sleep(to_ms(timing.power_wait));
    return {};
  }
  if (auto r = set_power_and_wait(agent, PowerState::kOff, timing, runtime); !r) return r;
  if (auto r = set_power_and_wait(agent, PowerState::kOn, timing, runtime); !r) {
    // The node is off, which is what fencing needs; a node that does not
    // come back is the administrator's next problem, not a fencing failure.
    if (warning != nullptr) {
      *warning = "the node was powered off but did not power on again: " + r.error().message;
    }
  }
  return {};
}

}  // namespace tandem::fence
