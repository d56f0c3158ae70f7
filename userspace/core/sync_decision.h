// Which way data flows when two nodes connect, from what each knows about
// its own and its peer's disk. A pure function of both views, so both nodes
// reach mirrored verdicts from the same pair of NodeState messages.
//
// This is deliberately conservative: it only syncs when one side's data is
// provably newer (UpToDate against Inconsistent, or against a peer whose
// current generation is our bitmap generation, i.e. the peer has not
// written since we diverged from it). Anything else is refused with a
// reason rather than guessed; split-brain policies come later.
#pragma once

#include <string>

#include "core/replication_types.h"

namespace tandem::core {

struct DiskView {
  DiskState disk = DiskState::kDiskless;
  uint64_t current_uuid = 0;
  uint64_t bitmap_uuid = 0;
  std::array<uint64_t, 2> history_uuids{};
  // The node crashed while primary and has not been synced since.
  bool crashed_primary = false;
  uint32_t node_id = 0;  // breaks the tie when both crashed while primary
};

enum class SyncVerdict {
  kNoSync,         // data equal (or a side has no disk): stay Established
  kAdoptUpToDate,  // no sync; our Outdated/Consistent disk holds the peer's data: UpToDate
  kSource,         // full sync from us to the peer
  kTarget,         // full sync from the peer to us
  kRefuse,         // cannot tell safely: disconnect with `reason`
};

struct SyncDecision {
  SyncVerdict verdict = SyncVerdict::kNoSync;
  std::string reason;  // set for kRefuse
};

std::string_view to_string(SyncVerdict v);

SyncDecision decide_sync(const DiskView& local, const DiskView& peer);

}  // namespace tandem::core
