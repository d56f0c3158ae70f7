#include "core/replication_types.h"

#include "core/replication_actions.h"

namespace tandem::core {

std::string_view to_string(Role v) {
  switch (v) {
    case Role::kUnknown:
      return "Unknown";
    case Role::kPrimary:
      return "Primary";
    case Role::kSecondary:
      return "Secondary";
  }
  return "?";
}

std::string_view to_string(DiskState v) {
  switch (v) {
    case DiskState::kDUnknown:
      return "DUnknown";
    case DiskState::kDiskless:
      return "Diskless";
    case DiskState::kAttaching:
      return "Attaching";
    case DiskState::kFailed:
      return "Failed";
    case DiskState::kInconsistent:
      return "Inconsistent";
    case DiskState::kOutdated:
      return "Outdated";
    case DiskState::kConsistent:
      return "Consistent";
    case DiskState::kUpToDate:
      return "UpToDate";
  }
  return "?";
}

std::string_view to_string(ConnState v) {
  switch (v) {
    case ConnState::kStandAlone:
      return "StandAlone";
    case ConnState::kDisconnecting:
      return "Disconnecting";
    case ConnState::kNetworkFailure:
      return "NetworkFailure";
    case ConnState::kProtocolError:
      return "ProtocolError";
    case ConnState::kConnecting:
      return "Connecting";
    case ConnState::kConnected:
      return "Connected";
  }
  return "?";
}

std::string_view to_string(ReplState v) {
  switch (v) {
    case ReplState::kOff:
      return "Off";
    case ReplState::kEstablished:
      return "Established";
    case ReplState::kSyncSource:
      return "SyncSource";
    case ReplState::kSyncTarget:
      return "SyncTarget";
  }
  return "?";
}

std::string_view to_string(WireProtocol v) {
  switch (v) {
    case WireProtocol::kA:
      return "A";
    case WireProtocol::kB:
      return "B";
    case WireProtocol::kC:
      return "C";
  }
  return "?";
}

std::string_view to_string(DigestAlg v) {
  switch (v) {
    case DigestAlg::kNone:
      return "none";
    case DigestAlg::kCrc32c:
      return "crc32c";
    case DigestAlg::kMd5:
      return "md5";
    case DigestAlg::kSha1:
      return "sha1";
    case DigestAlg::kSha256:
      return "sha256";
  }
  return "?";
}

std::string_view to_string(TimerId id) {
  switch (id) {
    case TimerId::kPing:
      return "ping";
    case TimerId::kPingTimeout:
      return "ping-timeout";
    case TimerId::kAckTimeout:
      return "ack-timeout";
    case TimerId::kResync:
      return "resync";
  }
  return "?";
}

}  // namespace tandem::core
