// What the replication core asks its runtime to do. The runtime drains the
// actions after every event (Replicator::take_actions) and executes them in
// order; the order matters (a SendFrame that references application data
// precedes the CompleteRequest that releases it).
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "core/replication_types.h"
#include "net/frame.h"

namespace tandem::core {

// Send one frame to the peer. `payload` points either into an application
// write buffer (valid until the request completes, which is ordered after
// this action) or into a core buffer valid until the next call into the
// core; the runtime copies or transmits it before either happens.
struct SendFrame {
  net::FrameType type = net::FrameType::kPing;
  uint16_t flags = 0;
  std::string message;  // serialized protobuf
  const std::byte* payload = nullptr;
  uint32_t payload_length = 0;
};

enum class LocalIoKind : uint8_t { kRead, kWrite, kFlush };

// Submit one request to the local backing device; report its result with
// Replicator::on_io_complete(io_id, errno). `data` stays valid until then.
struct SubmitIo {
  uint64_t io_id = 0;
  LocalIoKind kind = LocalIoKind::kRead;
  uint64_t offset = 0;
  uint32_t length = 0;
  std::byte* data = nullptr;  // read destination or write source (not written for writes)
  bool fua = false;
};

// An application request (write, read or flush) is finished.
struct CompleteRequest {
  uint64_t request_id = 0;
  int error = 0;  // 0 or an errno (EIO, EROFS, EINVAL, ENOSPC)
};

// The peer does not have this range: set the bitmap bits covering it.
struct MarkOutOfSync {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// Both disks hold this range again: clear the bitmap bits inside it.
struct ClearOutOfSync {
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct PersistMetadata {
  Metadata metadata;
};

enum class TimerId : uint8_t {
  kPing,         // ping-int elapsed: send a Ping
  kPingTimeout,  // no PingAck within ping-timeout
  kAckTimeout,   // one `timeout` period of the ko-count watchdog
  kResync,       // resync/verify rate controller tick (ResyncController::kTickMs)
};
inline constexpr size_t kTimerCount = 4;
std::string_view to_string(TimerId id);

// (Re)arm a one-shot timer; arming an armed timer replaces its deadline.
struct ArmTimer {
  TimerId timer = TimerId::kPing;
  uint32_t after_ms = 0;
};

struct CancelTimer {
  TimerId timer = TimerId::kPing;
};

// Close the peer connection. `reconnect` says whether the runtime should
// keep trying to connect (connection state Connecting) or stop (StandAlone).
struct CloseConnection {
  std::string reason;  // names resource and peer
  bool reconnect = true;
};

// Role, disk, connection or replication state changed.
struct StateChanged {
  Status status;
  std::string what;  // "disk Inconsistent -> UpToDate", for the log
};

// Run the administrator's handler program. The runtime reports its end with
// Replicator::on_handler_done(handler_id, exit_code): the exit status, or
// one of the constants below.
struct RunHandler {
  uint64_t handler_id = 0;
  Handler handler = Handler::kSplitBrain;
};
inline constexpr int kHandlerNotConfigured = -1;  // the resource has no such handler
inline constexpr int kHandlerFailed = -2;         // could not start, killed or timed out

// A decision worth a log line (syslog priority, LOG_INFO = 6), e.g. the sync
// handshake's outcome with both nodes' generation identifiers.
struct LogEvent {
  int priority = 6;
  std::string text;
};

using Action = std::variant<SendFrame, SubmitIo, CompleteRequest, MarkOutOfSync, ClearOutOfSync,
                            PersistMetadata, ArmTimer, CancelTimer, CloseConnection, StateChanged,
                            RunHandler, LogEvent>;

}  // namespace tandem::core
