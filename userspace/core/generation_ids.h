// Generation identifiers (the UUIDs in Metadata): how they change on role
// changes, divergence and resync, and how two nodes' sets compare. Pure
// functions; the Replicator calls them and persists the result
// (PersistMetadata) before anything that depends on it.
//
// Bit 0 of a current UUID is the primary indicator: set while the node is
// primary, so the bitmap UUID made from it at a divergence records whether
// the node was primary when the nodes parted (after-sb-0pri
// discard-younger-primary / discard-older-primary use it). Comparisons
// ignore the bit.
#pragma once

#include <cstdint>
#include <string>

#include "core/replication_types.h"

namespace tandem::core {

inline constexpr uint64_t kPrimaryIndicator = 1;
// Added to the bitmap UUID at the start of a sync, so that the target can
// adopt a UUID that names "synchronized from this source" (DRBD does the same).
inline constexpr uint64_t kSyncUuidStep = uint64_t{1} << 48;

// Same generation, ignoring the primary indicator; 0 matches nothing.
inline bool same_generation(uint64_t a, uint64_t b) {
  return a != 0 && b != 0 && (a | kPrimaryIndicator) == (b | kPrimaryIndicator);
}

// The current UUID `create-md` writes (storage::kGiJustCreated): "no data
// yet". Pushed into the history by the first `primary --force`, it is no
// common past: two nodes that were each forced primary from fresh metadata
// hold unrelated data, not a split brain.
inline constexpr uint64_t kJustCreatedUuid = 4;

// A UUID that can name shared history (not 0, not the just-created marker).
inline bool names_history(uint64_t uuid) {
  return uuid != 0 && (uuid | kPrimaryIndicator) != (kJustCreatedUuid | kPrimaryIndicator);
}

inline uint64_t with_role(uint64_t uuid, bool primary) {
  if (uuid == 0) return 0;
  return primary ? (uuid | kPrimaryIndicator) : (uuid & ~kPrimaryIndicator);
}

// A sync UUID made from the current UUID (begin_sync_as_source with no
// bitmap UUID, then moved on by whole sync steps): the node sourced a sync
// from the generation it shared with the peer and the sync has not ended.
// The peer may never have adopted it (then it is still at `current`).
inline bool sync_uuid_from_current(uint64_t bitmap_uuid, uint64_t current_uuid) {
  constexpr uint64_t kLowBits = (kSyncUuidStep - 1) & ~kPrimaryIndicator;
  return names_history(current_uuid) && bitmap_uuid != 0 &&
         !same_generation(bitmap_uuid, current_uuid) &&
         ((bitmap_uuid ^ current_uuid) & kLowBits) == 0;
}

// The node's writes stop reaching the peer: `bitmap := current`,
// `current := fresh` at the first divergence (bitmap UUID 0). With a
// bitmap UUID that is a sync UUID made from the current UUID (an
// interrupted sync this node sourced over equal generations), the peer may
// still be at the current UUID, so it must not stay current either:
// `history := current`, `current := fresh`, the bitmap UUID is kept (its
// bitmap covers what the sync had left and what is written from now on).
// Otherwise (the node already diverged) nothing changes. Returns whether
// anything changed.
bool start_new_generation(Metadata& md, uint64_t fresh, bool primary);

// Role change: the primary indicator of the current UUID follows the role.
bool set_primary_indicator(Metadata& md, bool primary);

// Start of a sync as source: the bitmap UUID becomes the sync UUID (bitmap +
// kSyncUuidStep, or current + kSyncUuidStep when there was none, so that
// it stays recognisable as one; `fresh` when the current UUID names no
// history). Returns the sync UUID.
uint64_t begin_sync_as_source(Metadata& md, uint64_t fresh);

// Start of a sync as target: current := the source's sync UUID, bitmap := 0.
// An interrupted sync then resumes bitmap-based (current == source's bitmap).
bool begin_sync_as_target(Metadata& md, uint64_t sync_uuid, bool primary);

// "current:bitmap:history0:history1" in hex, for log lines.
std::string format_generations(const Metadata& md);
std::string format_generations(uint64_t current, uint64_t bitmap, uint64_t history0,
                               uint64_t history1);

}  // namespace tandem::core
