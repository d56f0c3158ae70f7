// fence_tandem_ipmilan: fences a node through its BMC with tandem's own
// IPMI client (RMCP+ by default, IPMI 1.5 with lanplus off). One IPMI
// session serves the whole action; finish() closes it.
#pragma once

#include <memory>
#include <optional>

#include "fence/agent/agent.h"
#include "fence/ipmi/lan_client.h"

namespace tandem::fence {

AgentInfo ipmilan_agent_info();

class IpmilanAgent : public Agent {
 public:
  Result<void> configure(const AgentOptions& options) override;
  Result<PowerState> power_status() override;
  Result<void> set_power(PowerState target) override;
  Result<void> power_cycle() override;
  void finish() override;

 private:
  Result<ipmi::LanClient*> client();
  // A failed call may have left the session unusable (BMC restarted,
  // replies lost): drop it so that the next call opens a fresh one.
  template <typename T>
  Result<T> keep_or_drop(Result<T> result);

  ipmi::BmcAddress bmc_;
  ipmi::LanClientOptions options_;
  std::unique_ptr<ipmi::LanClient> client_;
};

}  // namespace tandem::fence
