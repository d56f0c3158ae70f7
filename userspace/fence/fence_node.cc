#include "fence/fence_node.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/log.h"
#include "fence/fence_history.h"
#include "fence/manual_ack.h"

namespace tandem::fence {

namespace {

// An exclusive flock on LOCK_DIR/VICTIM.lock, released on destruction.
class VictimLock {
 public:
  VictimLock() = default;
  VictimLock(const VictimLock&) = delete;
  VictimLock& operator=(const VictimLock&) = delete;
  ~VictimLock() {
    if (fd_ >= 0) close(fd_);  // closing releases the lock
  }

  Result<void> acquire(const std::string& dir, const std::string& victim) {
    if (auto r = check_node_name(victim); !r) return r;
    std::string partial;
    for (std::size_t pos = 1; pos != std::string::npos;) {
      pos = dir.find('/', pos + 1);
      partial = dir.substr(0, pos);
      if (mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
        return make_error("cannot create lock directory " + partial + ": " + std::strerror(errno));
      }
    }
    const std::string path = dir + "/" + victim + ".lock";
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return make_error("cannot open lock " + path + ": " + std::strerror(errno));
    while (flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) return make_error("cannot lock " + path + ": " + std::strerror(errno));
    }
    return {};
  }

 private:
  int fd_ = -1;
};

}  // namespace

const proto::FenceEvent* recent_success(const std::vector<proto::FenceEvent>& history,
                                        const std::string& victim, std::int64_t since_unix_ms) {
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    if (it->victim() == victim && it->success() && it->finished_unix_ms() >= since_unix_ms) {
      return &*it;
    }
  }
  return nullptr;
}

FenceRuntime FenceRuntime::real(std::string history_path) {
  FenceRuntime r;
  r.history_path = std::move(history_path);
  r.lock_dir = default_manual_run_dir();
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
  VictimLock lock;
  if (!runtime.lock_dir.empty()) {
    // Fencing must never be blocked by a lock problem: go on without it.
    if (auto r = lock.acquire(runtime.lock_dir, plan->victim); !r) {
      TLOG(LOG_WARNING, "node %s: fencing without serialisation: %s", plan->victim.c_str(),
           r.error().message.c_str());
    } else if (!runtime.history_path.empty()) {
      auto history = read_history(runtime.history_path);
      const proto::FenceEvent* done =
          history ? recent_success(history->events, plan->victim, started) : nullptr;
      if (done != nullptr) {
        FenceResult result;
        result.success = true;
        result.already_fenced = true;
        result.method = done->method();
        result.event = *done;
        result.message = "node " + plan->victim + " was fenced by method " + done->method() +
                         " (requested by " + done->requester() +
                         ") while this request waited; not fencing it again";
        TLOG(LOG_NOTICE, "%s", result.message.c_str());
        return result;
      }
    }
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
