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

std::string_view to_string(AfterSb0Pri v) {
  switch (v) {
    case AfterSb0Pri::kDisconnect:
      return "disconnect";
    case AfterSb0Pri::kDiscardYoungerPrimary:
      return "discard-younger-primary";
    case AfterSb0Pri::kDiscardOlderPrimary:
      return "discard-older-primary";
    case AfterSb0Pri::kDiscardZeroChanges:
      return "discard-zero-changes";
    case AfterSb0Pri::kDiscardLeastChanges:
      return "discard-least-changes";
    case AfterSb0Pri::kDiscardNode:
      return "discard-node";
  }
  return "?";
}

std::string_view to_string(AfterSb1Pri v) {
  switch (v) {
    case AfterSb1Pri::kDisconnect:
      return "disconnect";
    case AfterSb1Pri::kConsensus:
      return "consensus";
    case AfterSb1Pri::kViolentlyAs0p:
      return "violently-as0p";
    case AfterSb1Pri::kDiscardSecondary:
      return "discard-secondary";
    case AfterSb1Pri::kCallPriLostAfterSb:
      return "call-pri-lost-after-sb";
  }
  return "?";
}

std::string_view to_string(AfterSb2Pri v) {
  switch (v) {
    case AfterSb2Pri::kDisconnect:
      return "disconnect";
    case AfterSb2Pri::kViolentlyAs0p:
      return "violently-as0p";
    case AfterSb2Pri::kCallPriLostAfterSb:
      return "call-pri-lost-after-sb";
  }
  return "?";
}

std::string_view to_string(RrConflict v) {
  switch (v) {
    case RrConflict::kDisconnect:
      return "disconnect";
    case RrConflict::kRetryConnect:
      return "retry-connect";
    case RrConflict::kViolently:
      return "violently";
    case RrConflict::kCallPriLost:
      return "call-pri-lost";
  }
  return "?";
}

std::string_view to_string(FencingPolicy v) {
  switch (v) {
    case FencingPolicy::kDontCare:
      return "dont-care";
    case FencingPolicy::kResourceOnly:
      return "resource-only";
    case FencingPolicy::kResourceAndStonith:
      return "resource-and-stonith";
  }
  return "?";
}

std::string_view to_string(OnIoError v) {
  switch (v) {
    case OnIoError::kPassOn:
      return "pass_on";
    case OnIoError::kDetach:
      return "detach";
    case OnIoError::kCallLocalIoError:
      return "call-local-io-error";
  }
  return "?";
}

std::string_view to_string(Handler v) {
  switch (v) {
    case Handler::kSplitBrain:
      return "split-brain";
    case Handler::kPriLostAfterSb:
      return "pri-lost-after-sb";
    case Handler::kPriLost:
      return "pri-lost";
    case Handler::kLocalIoError:
      return "local-io-error";
    case Handler::kBeforeResyncTarget:
      return "before-resync-target";
    case Handler::kAfterResyncTarget:
      return "after-resync-target";
    case Handler::kOutOfSync:
      return "out-of-sync";
    case Handler::kFencePeer:
      return "fence-peer";
    case Handler::kUnfencePeer:
      return "unfence-peer";
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
