// tandemd as a whole: the resources of this host (one ResourceRuntime
// each) and the control socket that administers them.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "control.pb.h"
#include "daemon/control_server.h"
#include "daemon/event_loop.h"
#include "daemon/resource_runtime.h"

namespace tandem::daemon {

struct DaemonOptions {
  std::string config_path;
  std::string node;     // this host's name in the configuration
  std::string run_dir;  // control socket, NBD exports
  ControlAccess access;
};

class Daemon {
 public:
  // Loads and resolves the configuration, creates a runtime for every
  // resource this host is part of, and opens the control socket. Nothing is
  // attached or connected until a verb asks for it.
  static Result<std::unique_ptr<Daemon>> start(EventLoop& loop, const DaemonOptions& options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  proto::ControlReply handle(const proto::ControlRequest& request);

  // Orderly stop: every resource disconnects and detaches; local I/O in
  // flight is waited for (at most a few seconds) before the runtimes go.
  void shutdown();

  size_t resource_count() const { return resources_.size(); }
  // resync-after between the resources of this daemon: holds each
  // resource's resync while the one it follows syncs (called after every
  // state change of a resource).
  void update_sync_dependencies();

 private:
  explicit Daemon(EventLoop& loop) : loop_(loop) {}

  EventLoop& loop_;
  DaemonOptions options_;
  std::map<std::string, std::unique_ptr<ResourceRuntime>> resources_;
  std::unique_ptr<ControlServer> control_;
};

}  // namespace tandem::daemon
