// Conversions between the core's enums and the peer protobuf messages,
// shared by the replicator's source files (internal header).
#pragma once

#include "core/replication_types.h"
#include "net/frame.h"
#include "peer.pb.h"

namespace tandem::core::wire {

template <typename Msg>
bool parse(const net::Frame& frame, Msg& msg) {
  return msg.ParseFromArray(frame.message.data(), static_cast<int>(frame.message.size()));
}

inline proto::PeerRole to_proto(Role r) {
  switch (r) {
    case Role::kPrimary:
      return proto::ROLE_PRIMARY;
    case Role::kSecondary:
      return proto::ROLE_SECONDARY;
    case Role::kUnknown:
      break;
  }
  return proto::ROLE_UNKNOWN;
}

inline Role from_proto(proto::PeerRole r) {
  switch (r) {
    case proto::ROLE_PRIMARY:
      return Role::kPrimary;
    case proto::ROLE_SECONDARY:
      return Role::kSecondary;
    default:
      return Role::kUnknown;
  }
}

inline proto::PeerDiskState to_proto(DiskState d) {
  switch (d) {
    case DiskState::kDUnknown:
      return proto::DISK_DUNKNOWN;
    case DiskState::kDiskless:
      return proto::DISK_DISKLESS;
    case DiskState::kAttaching:
      return proto::DISK_ATTACHING;
    case DiskState::kFailed:
      return proto::DISK_FAILED;
    case DiskState::kInconsistent:
      return proto::DISK_INCONSISTENT;
    case DiskState::kOutdated:
      return proto::DISK_OUTDATED;
    case DiskState::kConsistent:
      return proto::DISK_CONSISTENT;
    case DiskState::kUpToDate:
      return proto::DISK_UPTODATE;
  }
  return proto::DISK_DUNKNOWN;
}

inline DiskState from_proto(proto::PeerDiskState d) {
  switch (d) {
    case proto::DISK_DISKLESS:
      return DiskState::kDiskless;
    case proto::DISK_ATTACHING:
      return DiskState::kAttaching;
    case proto::DISK_FAILED:
      return DiskState::kFailed;
    case proto::DISK_INCONSISTENT:
      return DiskState::kInconsistent;
    case proto::DISK_OUTDATED:
      return DiskState::kOutdated;
    case proto::DISK_CONSISTENT:
      return DiskState::kConsistent;
    case proto::DISK_UPTODATE:
      return DiskState::kUpToDate;
    default:
      return DiskState::kDUnknown;
  }
}

inline proto::WireProtocol to_proto(WireProtocol p) {
  switch (p) {
    case WireProtocol::kA:
      return proto::WIRE_PROTOCOL_A;
    case WireProtocol::kB:
      return proto::WIRE_PROTOCOL_B;
    case WireProtocol::kC:
      return proto::WIRE_PROTOCOL_C;
  }
  return proto::WIRE_PROTOCOL_UNSET;
}

inline WireProtocol from_proto(proto::WireProtocol p) {
  switch (p) {
    case proto::WIRE_PROTOCOL_A:
      return WireProtocol::kA;
    case proto::WIRE_PROTOCOL_B:
      return WireProtocol::kB;
    default:
      return WireProtocol::kC;
  }
}

}  // namespace tandem::core::wire
