// Manual fencing hand-shake between fence_tandem_manual (which waits) and
// `tandemadm fence-ack NODE` (the administrator's word that NODE was reset).
//
// State lives in one directory (default /run/tandem/fence, or
// TANDEM_FENCE_RUN_DIR), per node:
//   NODE.request   written by the waiting agent: pid, start time, requester
//   NODE.ack       written by fence-ack while a request is pending
//   NODE.rejoined  written by the orchestration when the node rejoined cleanly
// Files are written to a temporary name and renamed, so readers never see
// half a file. An acknowledgement only counts while the agent that asked
// for it is still waiting: the agent removes all three files when it ends.
#pragma once

#include <sys/types.h>
#include <chrono>
#include <string>

#include "common/result.h"

namespace tandem::fence {

inline constexpr const char* kDefaultManualRunDir = "/run/tandem/fence";

// TANDEM_FENCE_RUN_DIR when set, else kDefaultManualRunDir.
std::string default_manual_run_dir();

// Node names become file names: letters, digits, '-', '_', '.', not
// starting with '.', at most 255 bytes.
Result<void> check_node_name(const std::string& node);

struct ManualRequest {
  std::string node;
  pid_t pid = 0;               // the waiting agent
  long long started_unix = 0;  // seconds
  std::string host;            // where the agent runs
};

enum class ManualOutcome { kPending, kAcknowledged, kRejoined };

class ManualFenceDir {
 public:
  explicit ManualFenceDir(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }

  // Agent side.
  Result<void> create_request(const ManualRequest& request);
  Result<ManualOutcome> check(const std::string& node) const;
  // Waits (inotify, with a periodic re-check) until acknowledged, rejoined
  // or `timeout` passed (then kPending).
  Result<ManualOutcome> wait(const std::string& node, std::chrono::milliseconds timeout) const;
  void clear(const std::string& node);
  // Who acknowledged (the by= line of NODE.ack), empty when unknown.
  std::string acknowledged_by(const std::string& node) const;

  // Administrator / orchestration side. Both refuse unless a request for
  // the node is pending and its agent is still running.
  Result<ManualRequest> pending_request(const std::string& node) const;
  Result<void> acknowledge(const std::string& node, const std::string& by);
  // "The node rejoined the cluster cleanly": the waiting agent stops
  // waiting and reports success, since the node no longer needs fencing.
  Result<void> cancel_because_rejoined(const std::string& node, const std::string& reason);

 private:
  std::string file(const std::string& node, const char* suffix) const;
  Result<void> write_atomically(const std::string& target, const std::string& content) const;
  std::string path_;
};

}  // namespace tandem::fence
