#include "fence/fence_node.h"

#include <chrono>
#include <thread>

#include "common/log.h"
#include "fence/fence_history.h"
#include "fence/manual_ack.h"

namespace tandem::fence {

FenceRuntime FenceRuntime::real(std::string history_path) {
  FenceRuntime r;
  r.history_path = std::move(history_path);
  r.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  r.now_unix_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const AgentSearchPath path = r.search_path;
  r.run_agent = [path](const DeviceInvocation& d) { return run_agent_process(d, path); };
  return r;
}

proto::FenceEvent make_fence_event(const FenceSequence& sequence, const FenceRequest& request,
                                   std::int64_t started_unix_ms, std::int64_t finished_unix_ms) {
  proto::FenceEvent event;
  event.set_victim(sequence.plan().victim);
  event.set_victim_nodeid(sequence.plan().victim_nodeid);
  event.set_requester(request.requester);
  event.set_started_unix_ms(started_unix_ms);
  event.set_finished_unix_ms(finished_unix_ms);
  event.set_success(sequence.succeeded());
  event.set_method(sequence.succeeded()          ? sequence.successful_method()
                   : sequence.attempts().empty() ? std::string()
                                                 : sequence.attempts().back().method);
  for (const DeviceAttempt& a : sequence.attempts()) {
    proto::FenceDeviceAttempt* out = event.add_attempts();
    out->set_device(a.device);
    out->set_agent(a.agent);
    out->set_action(a.action);
    out->set_exit_code(a.outcome.exit_code);
    out->set_detail(a.outcome.timed_out && a.outcome.detail.empty() ? "timed out"
                                                                    : a.outcome.detail);
  }
  return event;
}

Result<FenceResult> fence_node(const cluster::ClusterConf& conf, const FenceRequest& request,
                               const FenceRuntime& runtime) {
  auto plan = plan_fencing(conf, request.victim, request.action);
  if (!plan) return plan.error();
  const std::int64_t started = runtime.now_unix_ms();
  if (request.after_failure && plan->post_fail_delay > 0) {
    TLOG(LOG_INFO, "node %s: waiting post_fail_delay %u s before fencing", request.victim.c_str(),
         plan->post_fail_delay);
    runtime.sleep(std::chrono::seconds(plan->post_fail_delay));
  }
  FenceSequence sequence(std::move(*plan));
  while (const DeviceInvocation* device = sequence.next()) {
    TLOG(LOG_INFO, "node %s: method %s: running %s for device %s", request.victim.c_str(),
         device->method.c_str(), device->agent.c_str(), device->device.c_str());
    const AgentOutcome outcome = runtime.run_agent(*device);
    if (outcome.exit_code == 0 && !outcome.timed_out) {
      TLOG(LOG_INFO, "node %s: device %s succeeded", request.victim.c_str(),
           device->device.c_str());
    } else {
      TLOG(LOG_WARNING, "node %s: method %s: device %s failed (exit %d%s): %s",
           request.victim.c_str(), device->method.c_str(), device->device.c_str(),
           outcome.exit_code, outcome.timed_out ? ", timed out" : "", outcome.detail.c_str());
    }
    sequence.record(outcome);
  }
  FenceResult result;
  result.success = sequence.succeeded();
  result.method = sequence.successful_method();
  result.event = make_fence_event(sequence, request, started, runtime.now_unix_ms());
  result.message = result.success
                       ? "node " + sequence.plan().victim + " was fenced by method " + result.method
                       : sequence.failure_summary();
  if (result.success) {
    TLOG(LOG_NOTICE, "%s", result.message.c_str());
  } else {
    TLOG(LOG_ERR, "%s", result.message.c_str());
  }
  if (!runtime.history_path.empty()) {
    if (auto r = append_history(runtime.history_path, result.event); !r) {
      result.history_problem = r.error().message;
      TLOG(LOG_ERR, "%s", r.error().message.c_str());
    }
  }
  return result;
}

Result<void> cancel_manual_fencing(const std::string& run_dir, const std::string& node,
                                   const std::string& reason) {
  ManualFenceDir dir(run_dir);
  return dir.cancel_because_rejoined(node, reason);
}

}  // namespace tandem::fence
