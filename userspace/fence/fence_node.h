// Fencing one node as configured in cluster.conf: the runtime around the
// FenceSequence decision logic (fence_plan.h). It waits post_fail_delay when
// fencing follows a failure, runs the agents one by one, and appends the
// attempt to the fencing history.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cluster/cluster_conf.h"
#include "common/result.h"
#include "fence.pb.h"
#include "fence/agent_process.h"
#include "fence/fence_plan.h"

namespace tandem::fence {

struct FenceRequest {
  std::string victim;
  std::string requester;          // who asked: a node name or a program
  std::string action = "reboot";  // what agents are asked (reboot or off)
  bool after_failure = false;     // the victim failed: wait post_fail_delay first
};

struct FenceRuntime {
  AgentSearchPath search_path;
  std::string history_path;  // empty: no history is written
  // Directory for one lock file per victim (empty: no locking). Requests
  // for the same victim run one after the other; a request that waited
  // while another one fenced the node succeeds without fencing it again
  // (two replicated resources losing the same peer must not reboot it twice).
  std::string lock_dir;
  std::function<void(std::chrono::milliseconds)> sleep;
  std::function<std::int64_t()> now_unix_ms;
  // Runs one agent; tests may replace it. Defaults to run_agent_process.
  std::function<AgentOutcome(const DeviceInvocation&)> run_agent;
  // Locks in default_manual_run_dir().
  static FenceRuntime real(std::string history_path);
};

struct FenceResult {
  bool success = false;
  bool already_fenced = false;  // another request fenced the node while this one waited
  std::string method;           // the method that fenced the node
  std::string message;          // one line for the administrator
  proto::FenceEvent event;
  std::string history_problem;  // non-empty when the history could not be written
};

// Errors only for requests that cannot be planned (unknown node, node
// without fence methods); a fencing attempt that failed is a FenceResult
// with success == false, and is recorded in the history like a success.
Result<FenceResult> fence_node(const cluster::ClusterConf& conf, const FenceRequest& request,
                               const FenceRuntime& runtime);

// A successful fencing of `victim` that finished at or after `since_unix_ms`
// in `history`, if any (pure).
const proto::FenceEvent* recent_success(const std::vector<proto::FenceEvent>& history,
                                        const std::string& victim, std::int64_t since_unix_ms);

// Builds the history record from a finished sequence (pure).
proto::FenceEvent make_fence_event(const FenceSequence& sequence, const FenceRequest& request,
                                   std::int64_t started_unix_ms, std::int64_t finished_unix_ms);

// The victim rejoined the cluster cleanly: a fence_tandem_manual waiting
// for an acknowledgement for it stops waiting (and reports success).
Result<void> cancel_manual_fencing(const std::string& run_dir, const std::string& node,
                                   const std::string& reason);

}  // namespace tandem::fence
