// The fence agent framework. An agent implements `Agent` (how to read and
// set the power of one device) and describes itself in `AgentInfo`; its
// main() calls run_agent(), which does everything fence-agents callers
// expect: options from argv or stdin name=value lines, the actions
// (on, off, reboot, status, monitor, list, metadata, validate-all), the
// reboot sequence, power_wait/power_timeout, exit codes, metadata XML and
// keeping passwords out of logs, argv and error messages.
//
// Exit codes (fence-agents convention): 0 success; 1 failure or device
// unreachable (also bad options); 2 for status/monitor when the device
// answered and the power is off.
//
// run_agent() also sets up libqb logging (stderr with --verbose, the
// debug_file, syslog), so an agent's main() does not call log::init().
// Agents that log text which may contain a secret pass it through redact()
// (fence/agent/secrets.h).
#pragma once

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "fence/agent/options.h"
#include "fence/agent/parameter.h"

namespace tandem::fence {

inline constexpr int kAgentExitSuccess = 0;
inline constexpr int kAgentExitFailure = 1;
inline constexpr int kAgentExitPowerOff = 2;

enum class PowerState { kOff, kOn };

enum class Action { kOn, kOff, kReboot, kStatus, kMonitor, kList, kMetadata, kValidateAll };

const char* action_name(Action action);
Result<Action> parse_action(std::string_view text);

struct Outlet {  // one line of `list` output
  std::string plug;
  std::string alias;
};

class Agent {
 public:
  virtual ~Agent() = default;

  // Called once before any device action with the parsed, validated
  // options (password already resolved from password_script). An error
  // here fails the action (and validate-all).
  virtual Result<void> configure(const AgentOptions& options) = 0;

  virtual Result<PowerState> power_status() = 0;
  // Asks the device to switch; run_agent then polls power_status() until
  // it reads back `target` (unless AgentInfo::power_state_readback is false).
  virtual Result<void> set_power(PowerState target) = 0;
  // Only called when AgentInfo::supports_cycle and method=cycle.
  virtual Result<void> power_cycle() { return make_error("power cycle is not supported"); }
  // Only called when AgentInfo::supports_list.
  virtual Result<std::vector<Outlet>> list() {
    return make_error("this agent cannot list outlets");
  }
  // Called after the action, successful or not, once configure() was called
  // (close sessions etc.).
  virtual void finish() {}
};

struct AgentInfo {
  std::string name;       // program name, e.g. "fence_tandem_ipmilan"
  std::string shortdesc;  // one line
  std::string longdesc;   // a paragraph for metadata
  std::string vendor_url;
  // Agent-specific parameters, in addition to common_parameters() (and
  // connection_parameters() when the agent adds them here itself).
  std::vector<ParameterSpec> parameters;
  bool uses_plug = false;       // offers --plug/-n (alias port)
  bool plug_required = false;   // ... and fencing actions need it
  bool supports_cycle = false;  // offers --method onoff|cycle
  bool supports_list = false;
  // false for agents whose power state cannot be read back from a device
  // (manual fencing): set_power() returning success is the confirmation.
  bool power_state_readback = true;
  double default_power_timeout = 20;  // seconds
  double default_power_wait = 0;      // seconds
};

// What run_agent needs from the outside world; tests replace it.
struct AgentRuntime {
  std::function<void(std::chrono::milliseconds)> sleep;
  std::function<std::chrono::steady_clock::time_point()> now;
  std::FILE* out = stdout;   // action output (status line, list, metadata)
  std::FILE* err = stderr;   // error messages (already redacted)
  bool init_logging = true;  // run_agent sets up libqb logging (verbose, debug_file)
  bool to_syslog = true;     // fencing actions are worth an audit trail
  static AgentRuntime real();
};

// Runs the agent as a fence-agents compatible program. Reads options from
// argv; when argv holds no options, from `in` (name=value lines). Scrubs
// secret option values from argv. Returns the exit code.
int run_agent(Agent& agent, const AgentInfo& info, int argc, char** argv, std::FILE* in);
int run_agent(Agent& agent, const AgentInfo& info, int argc, char** argv, std::FILE* in,
              const AgentRuntime& runtime);

// Every parameter of the agent: common + connection (if any) + its own.
std::vector<ParameterSpec> all_parameters(const AgentInfo& info);

}  // namespace tandem::fence
