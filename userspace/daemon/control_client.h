// The client side of tandemd's control socket (used by tandemadm): one
// blocking request/reply exchange per call, with a deadline.
#pragma once

#include <chrono>
#include <string>

#include "common/result.h"
#include "control.pb.h"

namespace tandem::daemon {

inline constexpr const char* kControlSocketName = "tandemd.sock";

// RUN_DIR/tandemd.sock
std::string control_socket_path(const std::string& run_dir);

// Sends `request` to the tandemd serving `run_dir` and waits for its reply.
// Errors say whether tandemd is not running, refused access, or went away.
Result<proto::ControlReply> control_call(const std::string& run_dir,
                                         const proto::ControlRequest& request,
                                         std::chrono::milliseconds timeout);

}  // namespace tandem::daemon
