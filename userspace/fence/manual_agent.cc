#include "fence/manual_agent.h"

#include <unistd.h>

#include <cerrno>

#include <ctime>
#include <string>

#include "common/log.h"

namespace tandem::fence {

AgentInfo manual_agent_info() {
  AgentInfo info;
  info.name = "fence_tandem_manual";
  info.shortdesc = "Fence agent for fencing by hand, with acknowledgement";
  info.longdesc =
      "fence_tandem_manual asks the administrator to reset a node by hand and waits until "
      "the reset is acknowledged with 'tandemadm fence-ack NODE' on the same host, until the "
      "node rejoins the cluster cleanly, or until ack_timeout passes. Use it as the last "
      "fencing method, after devices that can cut power by themselves. Acknowledging a node "
      "that was not really reset can corrupt shared data.";
  info.vendor_url = "";
  info.uses_plug = true;
  info.plug_required = true;
  info.power_state_readback = false;

  ParameterSpec run_dir;
  run_dir.name = "run_dir";
  run_dir.long_option = "run-dir";
  run_dir.type = ParameterType::kString;
  run_dir.default_value = kDefaultManualRunDir;
  run_dir.value_name = "dir";
  run_dir.shortdesc = "Directory for pending requests and acknowledgements";
  info.parameters.push_back(run_dir);

  ParameterSpec timeout;
  timeout.name = "ack_timeout";
  timeout.long_option = "ack-timeout";
  timeout.type = ParameterType::kSecond;
  timeout.default_value = "300";
  timeout.shortdesc = "Wait X seconds for the acknowledgement before failing";
  info.parameters.push_back(timeout);
  return info;
}

Result<void> ManualAgent::configure(const AgentOptions& options) {
  node_ = options.get_or("plug", "");
  // monitor runs without a plug (Pacemaker checks the device that way);
  // every action that needs the node has it checked by run_agent first.
  if (!node_.empty()) {
    if (auto r = check_node_name(node_); !r) return make_error("--plug: " + r.error().message);
  }
  run_dir_given_ = options.has("run_dir");
  run_dir_ = options.get_or("run_dir", default_manual_run_dir());
  const double seconds = options.seconds("ack_timeout", kDefaultManualAckTimeout);
  ack_timeout_ = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
  if (access(run_dir_.c_str(), W_OK) != 0 && errno != ENOENT) {
    return make_error("run directory " + run_dir_ +
                      " is not writable; run as root or give --run-dir");
  }
  return {};
}

Result<void> ManualAgent::set_power(PowerState target) {
  if (target == PowerState::kOn) {
    std::fprintf(notice_out_,
                 "fence_tandem_manual: node %s: nothing to switch on here; power it on by hand "
                 "when it is safe\n",
                 node_.c_str());
    return {};
  }
  if (auto r = check_node_name(node_); !r) return make_error("--plug: " + r.error().message);
  ManualFenceDir dir(run_dir_);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  ManualRequest request{node_, getpid(), static_cast<long long>(std::time(nullptr)), host};
  if (auto r = dir.create_request(request); !r) {
    return make_error("cannot record the manual fencing request for " + node_ + ": " +
                      r.error().message);
  }
  const std::string ack_command = run_dir_ == kDefaultManualRunDir && !run_dir_given_
                                      ? "tandemadm fence-ack " + node_
                                      : "tandemadm fence-ack --run-dir " + run_dir_ + " " + node_;
  const long long seconds = ack_timeout_.count() / 1000;
  TLOG(LOG_CRIT, "node %s must be reset by hand; acknowledge with '%s' on %s", node_.c_str(),
       ack_command.c_str(), host);
  std::fprintf(notice_out_,
               "fence_tandem_manual: node %s must be fenced BY HAND.\n"
               "  1. Power off or reset %s now (cut its power if it does not respond) and make\n"
               "     sure it is really down.\n"
               "  2. Then acknowledge on %s with:\n"
               "       %s\n"
               "  Waiting up to %lld s. Acknowledging a node that is still running can corrupt "
               "data.\n",
               node_.c_str(), node_.c_str(), host, ack_command.c_str(), seconds);
  std::fflush(notice_out_);

  auto outcome = dir.wait(node_, ack_timeout_);
  std::string by = outcome && *outcome == ManualOutcome::kAcknowledged ? dir.acknowledged_by(node_)
                                                                       : std::string();
  if (by.empty()) by = "an administrator";
  dir.clear(node_);
  if (!outcome) return outcome.error();
  switch (*outcome) {
    case ManualOutcome::kAcknowledged:
      TLOG(LOG_NOTICE, "node %s: manual fencing acknowledged by %s", node_.c_str(), by.c_str());
      std::fprintf(notice_out_, "fence_tandem_manual: node %s: reset acknowledged by %s\n",
                   node_.c_str(), by.c_str());
      return {};
    case ManualOutcome::kRejoined:
      TLOG(LOG_NOTICE, "node %s rejoined the cluster cleanly; manual fencing no longer needed",
           node_.c_str());
      std::fprintf(notice_out_,
                   "fence_tandem_manual: node %s rejoined the cluster cleanly; fencing is no "
                   "longer needed\n",
                   node_.c_str());
      return {};
    case ManualOutcome::kPending:
      break;
  }
  return make_error("no acknowledgement for node " + node_ + " within " + std::to_string(seconds) +
                    " s (ack_timeout); the node is NOT fenced");
}

}  // namespace tandem::fence
