// The replication core's Metadata <-> the on-disk superblock's generation
// identifiers and flags. One mapping, used by tandemd and by the simulator,
// so that the simulated nodes persist exactly what the daemon persists.
#pragma once

#include "core/replication_types.h"
#include "storage/superblock.h"

namespace tandem::daemon {

inline core::Metadata metadata_of(const storage::Superblock& sb) {
  core::Metadata md;
  md.current_uuid = sb.gi.current;
  md.bitmap_uuid = sb.gi.bitmap;
  md.history_uuids = sb.gi.history;
  md.consistent = (sb.flags & storage::kFlagConsistent) != 0;
  md.up_to_date = md.consistent && (sb.flags & storage::kFlagWasUpToDate) != 0;
  md.outdated = md.consistent && !md.up_to_date;
  md.primary = (sb.flags & storage::kFlagPrimary) != 0;
  return md;
}

// Writes `md` into `sb`, leaving the flags the core does not own as they are.
inline void apply_metadata(storage::Superblock& sb, const core::Metadata& md) {
  sb.gi.current = md.current_uuid;
  sb.gi.bitmap = md.bitmap_uuid;
  sb.gi.history = md.history_uuids;
  sb.flags &= ~(storage::kFlagConsistent | storage::kFlagWasUpToDate | storage::kFlagPrimary);
  if (md.consistent) sb.flags |= storage::kFlagConsistent;
  if (md.up_to_date) sb.flags |= storage::kFlagWasUpToDate;
  if (md.primary) sb.flags |= storage::kFlagPrimary;
}

}  // namespace tandem::daemon
