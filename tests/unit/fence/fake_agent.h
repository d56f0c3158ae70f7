// An in-memory Agent for framework tests: a power switch that can be told
// to fail, to lag behind, or to refuse to switch, and that records calls.
#pragma once

#include <string>
#include <vector>

#include "fence/agent/agent.h"

namespace tandem::fence::testing {

class FakeAgent : public Agent {
 public:
  PowerState power = PowerState::kOn;
  bool unreachable = false;
  bool stuck = false;  // set_power succeeds but nothing changes
  int lag_reads = 0;   // status reads before a switch becomes visible
  std::string error_text = "device did not answer";
  std::vector<std::string> calls;
  AgentOptions seen;

  Result<void> configure(const AgentOptions& options) override {
    seen = options;
    calls.push_back("configure");
    if (options.get_or("ip", "") == "bad") return make_error("cannot resolve bad");
    return {};
  }
  Result<PowerState> power_status() override {
    calls.push_back("status");
    if (unreachable) return make_error(error_text);
    if (pending_ && --pending_reads_ <= 0) {
      power = *pending_;
      pending_.reset();
    }
    return power;
  }
  Result<void> set_power(PowerState target) override {
    calls.push_back(target == PowerState::kOn ? "set_on" : "set_off");
    if (unreachable) return make_error(error_text);
    if (stuck) return {};
    if (lag_reads > 0) {
      pending_ = target;
      pending_reads_ = lag_reads;
    } else {
      power = target;
    }
    return {};
  }
  Result<void> power_cycle() override {
    calls.push_back("cycle");
    if (unreachable) return make_error(error_text);
    power = PowerState::kOn;
    return {};
  }
  Result<std::vector<Outlet>> list() override {
    calls.push_back("list");
    return std::vector<Outlet>{{"1", "mail01"}, {"2", "mail02"}};
  }
  void finish() override { calls.push_back("finish"); }

 private:
  std::optional<PowerState> pending_;
  int pending_reads_ = 0;
};

}  // namespace tandem::fence::testing
