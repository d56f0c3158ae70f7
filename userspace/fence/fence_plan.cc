#include "fence/fence_plan.h"

#include <cstdlib>
#include <string>

namespace tandem::fence {

namespace {

void set_parameter(std::vector<std::pair<std::string, std::string>>& params,
                   const std::string& name, const std::string& value) {
  for (auto& [k, v] : params) {
    if (k == name) {
      v = value;
      return;
    }
  }
  params.emplace_back(name, value);
}

bool has_parameter(const std::vector<std::pair<std::string, std::string>>& params,
                   std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return true;
  }
  return false;
}

bool parse_timeout(const std::string& text, double* out) {
  if (text.empty() || text.size() > 12) return false;
  for (char c : text) {
    if ((c < '0' || c > '9') && c != '.') return false;
  }
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || v <= 0 || v > 86400) return false;
  *out = v;
  return true;
}

// Values end up on one stdin line each: a newline would inject options.
bool value_is_one_line(const std::string& value) {
  return value.find_first_of("\r\n") == std::string::npos && value.find('\0') == std::string::npos;
}

}  // namespace

Result<FencePlan> plan_fencing(const cluster::ClusterConf& conf, std::string_view victim,
                               std::string_view action) {
  const cluster::ClusterNode* node = conf.find_node(victim);
  if (node == nullptr) {
    std::string known;
    for (const auto& n : conf.nodes) known += (known.empty() ? "" : ", ") + n.name;
    return make_error("node " + std::string(victim) + " is not defined in " + conf.source +
                      " (nodes: " + known + ")");
  }
  FencePlan plan;
  plan.victim = node->name;
  plan.victim_nodeid = node->nodeid;
  plan.post_fail_delay = conf.fence_daemon.post_fail_delay;
  if (node->fence_methods.empty()) {
    return make_error(conf.source + ":" + std::to_string(node->line) + ": node " + node->name +
                      " has no <fence><method> configured, so it cannot be fenced; add a method "
                      "(an IPMI device, or fence_tandem_manual as a last resort)");
  }
  for (const cluster::FenceMethod& m : node->fence_methods) {
    PlannedMethod method;
    method.name = m.name;
    for (const cluster::FenceDeviceRef& ref : m.devices) {
      const cluster::FenceDevice* dev = conf.find_fence_device(ref.name);
      if (dev == nullptr) {  // parse_cluster_conf already refuses this
        return make_error(conf.source + ":" + std::to_string(ref.line) + ": fence device " +
                          ref.name + " is not defined");
      }
      DeviceInvocation inv;
      inv.method = m.name;
      inv.device = dev->name;
      inv.agent = dev->agent;
      inv.config_line = ref.line;
      for (const auto* attrs : {&dev->attributes, &ref.attributes}) {
        for (const auto& [k, v] : *attrs) {
          if (k == "agent_timeout") {
            if (!parse_timeout(v, &inv.timeout_seconds)) {
              return make_error(conf.source + ":" + std::to_string(ref.line) + ": device " +
                                ref.name + ": agent_timeout=\"" + v.substr(0, 32) +
                                "\" is not a number of seconds from 1 to 86400");
            }
            continue;
          }
          if (!value_is_one_line(v)) {
            return make_error(conf.source + ":" + std::to_string(ref.line) + ": device " +
                              ref.name + ": attribute " + k +
                              " holds a line break, which the agent protocol cannot carry");
          }
          set_parameter(inv.parameters, k, v);
        }
      }
      if (!has_parameter(inv.parameters, "nodename")) {
        inv.parameters.emplace_back("nodename", node->name);
      }
      if (!has_parameter(inv.parameters, "action") && !has_parameter(inv.parameters, "option")) {
        inv.parameters.emplace_back("action", std::string(action));
      }
      method.devices.push_back(std::move(inv));
    }
    plan.methods.push_back(std::move(method));
  }
  return plan;
}

std::string agent_stdin(const DeviceInvocation& device) {
  std::string text;
  for (const auto& [k, v] : device.parameters) text += k + "=" + v + "\n";
  return text;
}

const DeviceInvocation* FenceSequence::next() const {
  if (finished_ || method_ >= plan_.methods.size()) return nullptr;
  const PlannedMethod& m = plan_.methods[method_];
  if (device_ >= m.devices.size()) return nullptr;
  return &m.devices[device_];
}

void FenceSequence::record(const AgentOutcome& outcome) {
  const DeviceInvocation* dev = next();
  if (dev == nullptr) return;
  DeviceAttempt attempt;
  attempt.method = dev->method;
  attempt.device = dev->device;
  attempt.agent = dev->agent;
  for (const auto& [k, v] : dev->parameters) {
    if (k == "action" || k == "option") attempt.action = v;
  }
  attempt.outcome = outcome;
  attempts_.push_back(std::move(attempt));

  const bool ok = !outcome.timed_out && outcome.exit_code == 0;
  if (ok) {
    ++device_;
    if (device_ >= plan_.methods[method_].devices.size()) {
      finished_ = true;
      succeeded_ = true;
      successful_method_ = plan_.methods[method_].name;
    }
    return;
  }
  // One device of the method failed: the method failed; try the next one.
  ++method_;
  device_ = 0;
  if (method_ >= plan_.methods.size()) finished_ = true;
}

std::string FenceSequence::failure_summary() const {
  std::string out = "fencing node " + plan_.victim + " failed:";
  for (const DeviceAttempt& a : attempts_) {
    if (a.outcome.timed_out) {
      out += " method " + a.method + " device " + a.device + " (" + a.agent + ") timed out;";
    } else if (a.outcome.exit_code != 0) {
      out += " method " + a.method + " device " + a.device + " (" + a.agent + ") exit " +
             std::to_string(a.outcome.exit_code);
      if (!a.outcome.detail.empty()) out += ": " + a.outcome.detail;
      out += ";";
    }
  }
  if (!out.empty() && out.back() == ';') out.pop_back();
  return out;
}

}  // namespace tandem::fence
