// The fencing decision logic, as cman's fenced did it, without any I/O:
// build the list of methods and devices for a victim from cluster.conf, then
// walk it one agent run at a time. Methods are tried in order; within a
// method every device must succeed; the first method whose devices all
// succeed fences the node; when every method failed, fencing failed and the
// caller tries again later.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cluster/cluster_conf.h"
#include "common/result.h"

namespace tandem::fence {

// Seconds an agent may run before the orchestration kills it, unless the
// device sets agent_timeout="N" (that attribute is not passed to the agent).
inline constexpr double kDefaultAgentTimeoutSeconds = 600;

struct DeviceInvocation {
  std::string method;  // <method name>
  std::string device;  // <fencedevice name>
  std::string agent;   // program name or absolute path
  // name=value lines for the agent's stdin, in order: the <fencedevice>
  // attributes, overridden by the <device> attributes, then nodename= and
  // action= when the configuration did not give them.
  std::vector<std::pair<std::string, std::string>> parameters;
  double timeout_seconds = kDefaultAgentTimeoutSeconds;
  int config_line = 0;  // line of the <device> element
};

struct PlannedMethod {
  std::string name;
  std::vector<DeviceInvocation> devices;
};

struct FencePlan {
  std::string victim;
  std::uint32_t victim_nodeid = 0;
  std::vector<PlannedMethod> methods;
  std::uint32_t post_fail_delay = 0;  // seconds, from <fence_daemon>
};

// `action` is what the agents are asked to do (reboot or off) unless a
// device's configuration names an action itself.
Result<FencePlan> plan_fencing(const cluster::ClusterConf& conf, std::string_view victim,
                               std::string_view action);

// The stdin text for an agent: one name=value per line.
std::string agent_stdin(const DeviceInvocation& device);

// Result of one agent run, as the runtime observed it.
struct AgentOutcome {
  int exit_code = -1;      // -1 when the agent could not be started or was killed
  bool timed_out = false;  // killed after its timeout
  std::string detail;      // last line of its output, secrets removed
};

struct DeviceAttempt {
  std::string method;
  std::string device;
  std::string agent;
  std::string action;
  AgentOutcome outcome;
};

// Walks a plan: next() names the agent run to do, record() takes its outcome.
class FenceSequence {
 public:
  explicit FenceSequence(FencePlan plan) : plan_(std::move(plan)) {}

  // The device to run now, or nullptr when the sequence is finished.
  const DeviceInvocation* next() const;
  void record(const AgentOutcome& outcome);

  bool finished() const { return finished_; }
  bool succeeded() const { return succeeded_; }
  // The method whose devices all succeeded (empty unless succeeded()).
  const std::string& successful_method() const { return successful_method_; }
  const std::vector<DeviceAttempt>& attempts() const { return attempts_; }
  const FencePlan& plan() const { return plan_; }
  // A one-line account of why fencing failed, naming every method tried.
  std::string failure_summary() const;

 private:
  FencePlan plan_;
  std::size_t method_ = 0;
  std::size_t device_ = 0;
  bool finished_ = false;
  bool succeeded_ = false;
  std::string successful_method_;
  std::vector<DeviceAttempt> attempts_;
};

}  // namespace tandem::fence
